package kvevent

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const suffix = "vault.azure.net"

// TestGolden decodes the shared fixtures (one copy, in testdata) and compares
// the result with its .golden file.
func TestGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) != 3 {
		t.Fatalf("got fixtures %v (%v), want the three shared ones", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			e, err := Decode(body, suffix)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(e, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(f, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

const (
	testID      = "00eccf70-95a7-4e7c-8299-2eb17ee9ad64"
	testVersion = "ee059b2bb5bc48398a53b168c6cdcb10"
	testURI     = "https://contoso-kv.vault.azure.net/secrets/scim-token/" + testVersion
)

// eventGrid builds an Event Grid schema body with data as given.
func eventGrid(typ, data string) string {
	return `{"id":"` + testID + `","topic":"/subscriptions/x/providers/Microsoft.KeyVault/vaults/contoso-kv","subject":"scim-token","eventType":"` +
		typ + `","eventTime":"2026-12-02T01:08:33Z","data":` + data + `,"dataVersion":"1","metadataVersion":"1"}`
}

func TestDecodeQuirks(t *testing.T) {
	t.Parallel()
	nbf := time.Unix(1764637713, 0).UTC()
	exp := time.Unix(1772413713, 0).UTC()
	want := Event{ID: testID, Type: SecretNewVersionCreated, Schema: EventGrid, Vault: "contoso-kv.vault.azure.net",
		Name: "scim-token", Version: testVersion, NotBefore: nbf, Expires: exp}
	tests := []struct {
		name string
		body string
		edit func(*Event)
	}{
		{"PascalCase data, numbers", eventGrid(SecretNewVersionCreated, `{"Id":"`+testURI+`","NBF":1764637713,"EXP":1772413713}`), nil},
		{"camelCase data, strings", eventGrid(SecretNewVersionCreated, `{"id":"`+testURI+`","nbf":"1764637713","exp":"1772413713"}`), nil},
		{"UPPER and spaced keys", eventGrid(SecretNewVersionCreated, `{" ID ":"`+testURI+`"," Nbf":" 1764637713 ","exp ":1772413713}`), nil},
		{"spaces around the Id value", eventGrid(SecretNewVersionCreated, `{"Id":"  `+testURI+` ","NBF":1764637713,"EXP":1772413713}`), nil},
		{"PascalCase envelope keys", strings.NewReplacer(`"id"`, `"Id"`, `"eventType"`, `"EventType"`).Replace(
			eventGrid(SecretNewVersionCreated, `{"Id":"`+testURI+`","NBF":1764637713,"EXP":1772413713}`)), nil},
		{"type in another casing and spaced", eventGrid(" microsoft.keyvault.secretnewversioncreated ", `{"Id":"`+testURI+`","NBF":1764637713,"EXP":1772413713}`), nil},
		{"data.Version and ObjectName disagree: data.Id wins", eventGrid(SecretNewVersionCreated,
			`{"Id":"`+testURI+`","ObjectName":"other","Version":"ffffffffffffffffffffffffffffffff","NBF":1764637713,"EXP":1772413713}`), nil},
		{"no NBF or EXP", eventGrid(SecretNewVersionCreated, `{"Id":"`+testURI+`"}`), func(e *Event) { e.NotBefore, e.Expires = time.Time{}, time.Time{} }},
		{"null and empty NBF/EXP", eventGrid(SecretNewVersionCreated, `{"Id":"`+testURI+`","NBF":null,"EXP":""}`), func(e *Event) { e.NotBefore, e.Expires = time.Time{}, time.Time{} }},
		{"fractional seconds", eventGrid(SecretNewVersionCreated, `{"Id":"`+testURI+`","NBF":1764637713.5,"EXP":"1772413713.25"}`), func(e *Event) {
			e.NotBefore, e.Expires = nbf.Add(500*time.Millisecond), exp.Add(250*time.Millisecond)
		}},
		{"upper-case vault host and scheme", eventGrid(SecretNewVersionCreated, `{"Id":"HTTPS://Contoso-KV.Vault.Azure.Net/secrets/scim-token/`+testVersion+`","NBF":1764637713,"EXP":1772413713}`), nil},
		{"secret name casing kept", eventGrid(SecretNewVersionCreated, `{"Id":"https://contoso-kv.vault.azure.net/secrets/SCIM-Token/`+testVersion+`","NBF":1764637713,"EXP":1772413713}`), func(e *Event) { e.Name = "SCIM-Token" }},
		{"data as a JSON string", eventGrid(SecretNewVersionCreated, `"{\"Id\":\"`+testURI+`\",\"NBF\":1764637713,\"EXP\":1772413713}"`), nil},
		{"CloudEvents", `{"specversion":"1.0","id":"` + testID + `","source":"/x","type":"` + SecretNewVersionCreated +
			`","subject":"scim-token","data":{"Id":"` + testURI + `","NBF":1764637713,"EXP":1772413713}}`, func(e *Event) { e.Schema = CloudEvents }},
		{"CloudEvents, PascalCase keys", `{"SpecVersion":"1.0","Id":"` + testID + `","Type":"` + SecretNewVersionCreated +
			`","Data":{"id":"` + testURI + `","nbf":"1764637713","exp":"1772413713"}}`, func(e *Event) { e.Schema = CloudEvents }},
		{"near expiry", eventGrid(SecretNearExpiry, `{"Id":"`+testURI+`","NBF":1764637713,"EXP":1772413713}`), func(e *Event) { e.Type = SecretNearExpiry }},
		{"expired", eventGrid(SecretExpired, `{"Id":"`+testURI+`","NBF":1764637713,"EXP":1772413713}`), func(e *Event) { e.Type = SecretExpired }},
		{"other type: data not read", eventGrid("Microsoft.KeyVault.KeyNewVersionCreated", `{"Id":"https://contoso-kv.vault.azure.net/keys/k/1"}`), func(e *Event) {
			*e = Event{ID: testID, Type: "Microsoft.KeyVault.KeyNewVersionCreated", Schema: EventGrid}
		}},
		{"other type without data", `{"id":"` + testID + `","eventType":"Microsoft.KeyVault.VaultAccessPolicyChanged"}`, func(e *Event) {
			*e = Event{ID: testID, Type: "Microsoft.KeyVault.VaultAccessPolicyChanged", Schema: EventGrid}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := want
			if tt.edit != nil {
				tt.edit(&w)
			}
			got, err := Decode([]byte(tt.body), suffix)
			if err != nil {
				t.Fatal(err)
			}
			if *got != w {
				t.Errorf("got  %+v\nwant %+v", *got, w)
			}
			if got.Ours() != (w.Vault != "") {
				t.Errorf("Ours: got %v", got.Ours())
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	data := func(d string) string { return eventGrid(SecretNewVersionCreated, d) }
	tests := []struct {
		name, body, want string
	}{
		{"empty", ``, "not a JSON object"},
		{"not JSON", `hello`, "not a JSON object"},
		{"broken JSON", `{"id":`, "not valid JSON"},
		{"array of events", `[` + data(`{"Id":"`+testURI+`"}`) + `]`, "not a JSON object"},
		{"two values", data(`{"Id":"`+testURI+`"}`) + `{}`, "more than one JSON value"},
		{"no id", `{"eventType":"` + SecretNewVersionCreated + `","data":{"Id":"` + testURI + `"}}`, "has no id"},
		{"blank id", `{"id":"  ","eventType":"` + SecretNewVersionCreated + `","data":{"Id":"` + testURI + `"}}`, "has no id"},
		{"id a number", `{"id":7,"eventType":"x"}`, "id is not a string"},
		{"no type", `{"id":"a","data":{}}`, "has no eventType"},
		{"CloudEvents without type", `{"specversion":"1.0","id":"a","eventType":"` + SecretExpired + `"}`, "has no type"},
		{"CloudEvents 0.3", `{"specversion":"0.3","id":"a","type":"` + SecretExpired + `"}`, "specversion"},
		{"duplicate keys in another casing", `{"id":"a","Id":"b","eventType":"x"}`, "more than once"},
		{"duplicate data keys", data(`{"Id":"` + testURI + `","id ":"https://evil.vault.azure.net/secrets/s/` + testVersion + `"}`), "more than once"},
		{"no data", `{"id":"a","eventType":"` + SecretNewVersionCreated + `"}`, "has no data"},
		{"data null", data(`null`), "has no data"},
		{"data an array", data(`[]`), "not an object"},
		{"no data.Id", data(`{"ObjectName":"scim-token","VaultName":"contoso-kv"}`), "no Id"},
		{"data.Id a number", data(`{"Id":5}`), "data.id is not a string"},
		{"data.Id without version", data(`{"Id":"https://contoso-kv.vault.azure.net/secrets/scim-token"}`), "names no secret version"},
		{"data.Id another cloud", data(`{"Id":"https://contoso-kv.vault.azure.cn/secrets/scim-token/` + testVersion + `"}`), "data.Id"},
		{"data.Id look-alike host", data(`{"Id":"https://contoso-kv.vault.azure.net.evil.com/secrets/scim-token/` + testVersion + `"}`), "data.Id"},
		{"data.Id http", data(`{"Id":"http://contoso-kv.vault.azure.net/secrets/scim-token/` + testVersion + `"}`), "data.Id"},
		{"data.Id a key", data(`{"Id":"https://contoso-kv.vault.azure.net/keys/scim-token/` + testVersion + `"}`), "data.Id"},
		{"data.Id with port", data(`{"Id":"https://contoso-kv.vault.azure.net:8443/secrets/scim-token/` + testVersion + `"}`), "data.Id"},
		{"data.Id with query", data(`{"Id":"https://contoso-kv.vault.azure.net/secrets/scim-token/` + testVersion + `?x=1"}`), "data.Id"},
		{"data.Id percent-encoded slash", data(`{"Id":"https://contoso-kv.vault.azure.net/secrets/scim%2Ftoken/` + testVersion + `"}`), "data.Id"},
		{"data.Id bad version", data(`{"Id":"https://contoso-kv.vault.azure.net/secrets/scim-token/zz"}`), "data.Id"},
		{"NBF garbage", data(`{"Id":"` + testURI + `","NBF":"soon"}`), "data.NBF"},
		{"NBF negative", data(`{"Id":"` + testURI + `","NBF":-1}`), "data.NBF"},
		{"EXP past year 9999", data(`{"Id":"` + testURI + `","EXP":253402300800}`), "data.EXP"},
		{"EXP an object", data(`{"Id":"` + testURI + `","EXP":{}}`), "data.EXP"},
		{"EXP NaN", data(`{"Id":"` + testURI + `","EXP":"NaN"}`), "data.EXP"},
		{"huge body", `{"id":"a","eventType":"x","pad":"` + strings.Repeat("a", MaxBody) + `"}`, "over the"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := Decode([]byte(tt.body), suffix)
			if err == nil {
				t.Fatalf("got %+v, want an error saying %q", e, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to say %q", err, tt.want)
			}
		})
	}
}

// TestDecodeOtherClouds checks that the suffix is the configured cloud's.
func TestDecodeOtherClouds(t *testing.T) {
	t.Parallel()
	body := eventGrid(SecretExpired, `{"Id":"https://gov-kv.vault.usgovcloudapi.net/secrets/s/`+testVersion+`"}`)
	e, err := Decode([]byte(body), "vault.usgovcloudapi.net")
	if err != nil {
		t.Fatal(err)
	}
	if e.Vault != "gov-kv.vault.usgovcloudapi.net" {
		t.Errorf("vault: got %q", e.Vault)
	}
	if _, err := Decode([]byte(body), suffix); err == nil {
		t.Error("a US Government vault decoded under the public cloud's suffix")
	}
}
