package host

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the emulator's output")

// envelopeFixtures holds the Functions host envelopes, one copy for the
// decoder's golden tests and the emulator's.
var envelopeFixtures = filepath.Join("..", "..", "internal", "envelope", "testdata", "host")

// The fixtures' fixed values.
var (
	fixtureSBNow   = time.Date(2024, 5, 14, 9, 31, 7, 916045300, time.UTC)
	fixtureGUID    = "6f1c9a52-93b4-4c0e-a1d7-2b8e5f4c3a19"
	fixtureClient  = sbClient{namespace: "contoso-sb.servicebus.windows.net", identifier: "contoso-sb.servicebus.windows.net-1f0e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b"}
	fixtureOrder   = []byte(`{"orderId":"A-1001","amount":42.5,"gift":false,"customer":{"id":"c-7","tier":"gold"},"items":["sku-1","sku-2"]}`)
	fixtureEnqueue = time.Date(2024, 5, 14, 9, 31, 7, 0, time.UTC)
)

func fixtureMessage(enc Encoding) Message {
	return Message{
		Body: fixtureOrder, Encoding: enc,
		DeliveryCount: 1, LockToken: "3b4c1f2e-8a9d-4e6f-b1c2-0d9e8f7a6b5c",
		EnqueuedTime: fixtureEnqueue, TimeToLive: 14 * 24 * time.Hour,
		MessageID: "order-A-1001", ContentType: "application/json", SequenceNumber: 17,
		Subject: "order.created", CorrelationID: "checkout-7f3a",
		ApplicationProperties: map[string]any{"source": "checkout", "priority": 5},
	}
}

func sbFunction(name string) function {
	return function{name: name, trigger: binding{Name: "message", Type: "serviceBusTrigger", Direction: "in"}}
}

func httpFunction(name string) function {
	return function{name: name, trigger: binding{Name: "req", Type: "httpTrigger", Direction: "in"}, httpOut: "res"}
}

// TestFixtures builds each fixture's envelope from the fixture's own values
// and compares: same JSON value, same Metadata key order.
func TestFixtures(t *testing.T) {
	t.Parallel()
	textMsg := Message{
		Body: []byte("hello world"), DeliveryCount: 1, LockToken: "9d2e7c41-5b6a-4f30-8e1d-7a6c5b4d3e2f",
		EnqueuedTime: fixtureEnqueue, TimeToLive: 14 * 24 * time.Hour,
		MessageID: "msg-0002", ContentType: "text/plain", SequenceNumber: 18,
		ApplicationProperties: map[string]any{"source": "checkout", "priority": 5},
	}
	sbIC := invocation{now: fixtureSBNow, randGUID: fixtureGUID}
	tests := []struct {
		fixture string
		build   func() ([]byte, error)
	}{
		{"sb-request-json-body.json", func() ([]byte, error) {
			return serviceBusEnvelope(sbFunction("ProcessOrder"), fixtureMessage(EncodingDefault), fixtureClient, sbIC)
		}},
		{"sb-request-json-body-VARIANT-single-encoded.json", func() ([]byte, error) {
			return serviceBusEnvelope(sbFunction("ProcessOrder"), fixtureMessage(EncodingSingle), fixtureClient, sbIC)
		}},
		{"sb-request-json-body-datatype-binary.json", func() ([]byte, error) {
			f := sbFunction("ProcessOrder")
			f.trigger.DataType = "binary"
			return serviceBusEnvelope(f, fixtureMessage(EncodingDefault), fixtureClient, sbIC)
		}},
		{"sb-request-text-body.json", func() ([]byte, error) {
			return serviceBusEnvelope(sbFunction("ProcessOrder"), textMsg, fixtureClient, sbIC)
		}},
		{"http-request-post-json.json", func() ([]byte, error) {
			return httpEnvelope(httpFunction("CreateOrder"), HTTPRequest{
				Method: "POST", URL: "http://localhost:7071/api/orders?dryRun=true",
				Headers:   map[string]string{"Accept": "*/*", "User-Agent": "curl/8.5.0", "Content-Type": "application/json"},
				Body:      fixtureOrder,
				AuthLevel: "Admin",
			}, invocation{now: time.Date(2024, 5, 14, 9, 40, 12, 84773100, time.UTC), randGUID: "c2b8e0d4-7a61-4f3e-9b25-18d6e4a0f7c3"})
		}},
		{"http-request-get-route-param.json", func() ([]byte, error) {
			return httpEnvelope(httpFunction("GetOrder"), HTTPRequest{
				Method: "GET", URL: "http://localhost:7071/api/orders/A-1001",
				Headers:   map[string]string{"Accept": "*/*", "User-Agent": "curl/8.5.0"},
				Params:    map[string]string{"id": "A-1001"},
				AuthLevel: "Admin",
			}, invocation{now: time.Date(2024, 5, 14, 9, 41, 55, 331028400, time.UTC), randGUID: "0a9f8e7d-6c5b-4a39-8271-605f4e3d2c1b"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			t.Parallel()
			want, err := os.ReadFile(filepath.Join(envelopeFixtures, tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			got, err := tt.build()
			if err != nil {
				t.Fatal(err)
			}
			var w, g any
			if err := json.Unmarshal(want, &w); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("emulator envelope is not JSON: %v\n%s", err, got)
			}
			if diff := cmp.Diff(w, g); diff != "" {
				t.Errorf("envelope differs from the fixture (-fixture +emulator):\n%s", diff)
			}
			if diff := cmp.Diff(metadataKeys(t, want), metadataKeys(t, got)); diff != "" {
				t.Errorf("Metadata key order (-fixture +emulator):\n%s", diff)
			}
		})
	}
}

// metadataKeys returns the top-level Metadata keys in document order.
func metadataKeys(t *testing.T, envelope []byte) []string {
	t.Helper()
	var doc struct{ Metadata json.RawMessage }
	if err := json.Unmarshal(envelope, &doc); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(doc.Metadata))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// TestGolden pins the envelopes the emulator produces for the project's own
// functions. Run with -update to rewrite testdata/golden.
func TestGolden(t *testing.T) {
	t.Parallel()
	ic := invocation{now: time.Date(2026, 1, 2, 3, 4, 5, 600000000, time.UTC), randGUID: "00000000-0000-4000-8000-000000000001"}
	request := []byte(`{"servicePrincipalId":"6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c","secrets":[{"key":"SecretToken","secretUri":"https://contoso-kv.vault.azure.net/secrets/scim-token"},{"key":"SyncAll","value":false}],"dryRun":false,"apiVersion":"v1.0"}`)
	msg := func(enc Encoding, body []byte) Message {
		return Message{
			Body: body, Encoding: enc, DeliveryCount: 2, LockToken: "00000000-0000-4000-8000-00000000000a",
			EnqueuedTime: time.Date(2026, 1, 2, 3, 4, 5, 123000000, time.UTC), TimeToLive: 14 * 24 * time.Hour,
			MessageID: "req-1", CorrelationID: "corr-1", ReplyTo: "putsecrets-results", ReplyToSessionID: "s-1",
			SessionID: "s-1", Subject: "PutSecrets", ContentType: "application/json", SequenceNumber: 42,
			ApplicationProperties: map[string]any{"tenant": "contoso", "attempt": 1, "urgent": true},
		}
	}
	client := sbClient{namespace: "putsecrets-sb.servicebus.windows.net", identifier: "putsecrets-sb.servicebus.windows.net-00000000-0000-4000-8000-00000000000b"}
	tests := []struct {
		name  string
		build func() ([]byte, error)
	}{
		{"http-putsecrets", func() ([]byte, error) {
			return httpEnvelope(httpFunction("PutSecrets"), HTTPRequest{
				URL:     "https://putsecrets.azurewebsites.net/api/PutSecrets?code=FUNCTION-KEY&dryRun=true",
				Headers: map[string]string{"Content-Type": "application/json", "User-Agent": "azure-logic-apps/1.0", "x-ms-client-tracking-id": "run-9"},
				Body:    request,
			}, ic)
		}},
		{"http-putsecrets-chunked", func() ([]byte, error) {
			return httpEnvelope(httpFunction("PutSecrets"), HTTPRequest{
				Headers: map[string]string{"Content-Type": "application/json"}, Body: request, NoContentLength: true,
			}, ic)
		}},
		{"http-putsecrets-easyauth", func() ([]byte, error) {
			return httpEnvelope(httpFunction("PutSecrets"), HTTPRequest{
				Headers:   map[string]string{"Content-Type": "application/json"},
				Body:      request,
				Principal: &ClientPrincipal{ID: "11111111-2222-4333-8444-555555555555", Name: "pipeline", Roles: []string{"PutSecrets.Write"}},
			}, ic)
		}},
		{"sb-putsecrets-double", func() ([]byte, error) {
			return serviceBusEnvelope(sbFunction("PutSecretsFromQueue"), msg(EncodingDefault, request), client, ic)
		}},
		{"sb-putsecrets-single", func() ([]byte, error) {
			return serviceBusEnvelope(sbFunction("PutSecretsFromQueue"), msg(EncodingSingle, request), client, ic)
		}},
		{"sb-putsecrets-object", func() ([]byte, error) {
			return serviceBusEnvelope(sbFunction("PutSecretsFromQueue"), msg(EncodingObject, request), client, ic)
		}},
		{"sb-putsecrets-binary", func() ([]byte, error) {
			return serviceBusEnvelope(sbFunction("PutSecretsFromQueue"), msg(EncodingBinary, request), client, ic)
		}},
		{"sb-putsecrets-shadowing", func() ([]byte, error) {
			// Body fields named like message properties overwrite them.
			body := []byte(`{"messageId":"from-body","CORRELATIONID":"from-body","sys":"x","servicePrincipalId":"6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"}`)
			return serviceBusEnvelope(sbFunction("PutSecretsFromQueue"), msg(EncodingDefault, body), client, ic)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.build()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", tt.name+".json")
			if *update {
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if diff := cmp.Diff(string(bytes.TrimSuffix(want, []byte("\n"))), string(got)); diff != "" {
				t.Errorf("envelope differs from %s (-golden +got):\n%s", path, diff)
			}
		})
	}
}

func TestPromoted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want string // promoted members as a JSON object, "" for none
	}{
		{"fixture rules", `{"s":"x","n":42.5,"i":50,"t":true,"f":false,"o":{"a":[1]},"arr":[1],"z":null}`,
			`{"s":"\"x\"","n":"\"42.5\"","i":"\"50\"","t":"\"True\"","f":"\"False\"","o":{"a":[1]}}`},
		{"case-insensitive overwrite keeps first spelling and place", `{"Key":"a","other":"b","KEY":"c"}`, `{"Key":"\"c\"","other":"\"b\""}`},
		{"floats in .NET form", `{"a":1.0,"b":1e15,"c":0.00001,"d":123456789012345.5,"e":-0.5}`,
			`{"a":"\"1\"","b":"\"1E+15\"","c":"\"1E-05\"","d":"\"123456789012345.5\"","e":"\"-0.5\""}`},
		{"array body", `[{"a":1}]`, ""},
		{"not JSON", `{"a":`, ""},
		{"trailing data", `{"a":1} {"b":2}`, ""},
		{"text", `hello`, ""},
		{"empty object", `{}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := promoted([]byte(tt.body))
			if tt.want == "" {
				if len(got) != 0 {
					t.Errorf("got %v, want nothing promoted", got)
				}
				return
			}
			b, err := json.Marshal(object(got))
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("got  %s\nwant %s", b, tt.want)
			}
		})
	}
}

func TestParseTimeSpan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"00:05:00", 5 * time.Minute, false},
		{"00:00:00.80", 800 * time.Millisecond, false},
		{"1.02:00:00", 26 * time.Hour, false},
		{"5m", 0, true},
	}
	for _, tt := range tests {
		got, err := parseTimeSpan(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseTimeSpan(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// FuzzPromoted checks that promotion never panics and only ever promotes
// from a body that is one JSON object.
func FuzzPromoted(f *testing.F) {
	f.Add(fixtureOrder)
	f.Add([]byte(`{"a":{"b":[1,2]},"A":null}`))
	f.Add([]byte(`"text"`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got := promoted(body)
		if len(got) == 0 {
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("promoted %d members from a body that is not a JSON object: %q", len(got), body)
		}
		if _, err := json.Marshal(object(got)); err != nil {
			t.Fatalf("promoted members do not marshal: %v", err)
		}
	})
}

// FuzzDecode checks that no handler answer makes the host side panic and
// that a failed invocation always says why.
func FuzzDecode(f *testing.F) {
	f.Add(200, "application/json", []byte(`{"Outputs":{"res":{"statusCode":400,"body":"x"}},"Logs":["a"],"ReturnValue":null}`))
	f.Add(200, "text/plain", []byte(`{}`))
	f.Add(500, "application/json", []byte(`null`))
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		r := &HTTPResult{}
		r.decode(status, contentType, body)
		r.caller("res")
		if r.Failed && r.Reason == "" {
			t.Fatal("failed without a reason")
		}
		if r.Failed && r.CallerStatus != 500 {
			t.Fatalf("failed invocation gave the caller %d", r.CallerStatus)
		}
	})
}
