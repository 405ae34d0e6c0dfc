package request

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/putsecrets/putsecrets/internal/secret"
)

const spid = "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"

// testPolicy is the policy of the tests and golden files: the public cloud,
// one allowed vault, no literal credentials, a store for kept states.
func testPolicy() *Policy {
	return &Policy{
		KeyVaultSuffix: "vault.azure.net",
		AllowedVaults:  map[string]bool{"contoso-kv.vault.azure.net": true},
		StateStore:     true,
	}
}

// doc builds a document with the test service principal, the given secrets
// entries and extra top-level members (each `"name": value`).
func doc(extra string, secrets ...string) string {
	s := `{"servicePrincipalId": "` + spid + `", "secrets": [` + strings.Join(secrets, ", ") + `]`
	if extra != "" {
		s += ", " + extra
	}
	return s + "}"
}

// base is a valid entry for tests that are about something else.
const base = `{"key": "BaseAddress", "value": "https://scim.example.com"}`

func lit(key, field, v string) Entry {
	return Entry{Key: key, Field: field, Value: secret.New(v)}
}

func kvRef(key, field, name, version string) Entry {
	return Entry{Key: key, Field: field, Ref: &Reference{
		Vault: "contoso-kv", Host: "contoso-kv.vault.azure.net", Name: name, Version: version,
		Field: field + ".secretUri",
	}}
}

func kvValueRef(key, field, name, version string) Entry {
	e := kvRef(key, field, name, version)
	e.Ref.Field = field + ".value"
	return e
}

func baseEntry(field string) Entry { return lit("BaseAddress", field, "https://scim.example.com") }

func request(entries ...Entry) *Request {
	return &Request{ServicePrincipalID: spid, Secrets: entries, APIVersion: "v1.0"}
}

// prob is an expected problem; msg is a substring of the message.
type prob struct {
	field  string
	msg    string
	policy bool
}

type parseCase struct {
	name   string
	body   string
	policy func(*Policy)
	want   *Request
	probs  []prob // every problem, in order
	some   []prob // problems that must be among others
}

func runParseCases(t *testing.T, tests []parseCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pol := testPolicy()
			if tt.policy != nil {
				tt.policy(pol)
			}
			got, err := Parse([]byte(tt.body), pol)
			if tt.want != nil {
				if err != nil {
					t.Fatalf("Parse() error = %v", err)
				}
				compareRequests(t, tt.want, got)
				return
			}
			if err == nil {
				t.Fatalf("Parse() = a request, want problems %v", append(tt.probs, tt.some...))
			}
			if got != nil {
				t.Errorf("Parse() returned a request with its error")
			}
			var perr *Error
			if !errorsAs(err, &perr) {
				t.Fatalf("Parse() error is %T, want *Error", err)
			}
			checkMessages(t, perr)
			if tt.probs != nil {
				if len(perr.Problems) != len(tt.probs) {
					t.Fatalf("got %d problems, want %d:\n%s", len(perr.Problems), len(tt.probs), listProblems(perr.Problems))
				}
				for i, w := range tt.probs {
					if !matches(perr.Problems[i], w) {
						t.Errorf("problem %d = %+v, want %+v\nall:\n%s", i, perr.Problems[i], w, listProblems(perr.Problems))
					}
				}
				wantPolicy := true
				for _, w := range tt.probs {
					wantPolicy = wantPolicy && w.policy
				}
				if perr.PolicyOnly() != wantPolicy {
					t.Errorf("PolicyOnly() = %v, want %v", perr.PolicyOnly(), wantPolicy)
				}
			}
			for _, w := range tt.some {
				found := false
				for _, p := range perr.Problems {
					found = found || matches(p, w)
				}
				if !found {
					t.Errorf("no problem %+v among:\n%s", w, listProblems(perr.Problems))
				}
			}
		})
	}
}

// checkMessages asserts the style every problem follows: a message that
// starts with a lower-case letter or a quote and does not end in a period.
func checkMessages(t *testing.T, perr *Error) {
	t.Helper()
	for _, p := range perr.Problems {
		if p.Message == "" {
			t.Errorf("problem at %q has no message", p.Field)
			continue
		}
		if c := p.Message[0]; ('A' <= c && c <= 'Z') || strings.HasSuffix(p.Message, ".") {
			t.Errorf("problem at %q: message %q is not lowercase-first without a final period", p.Field, p.Message)
		}
	}
}

func errorsAs(err error, target **Error) bool {
	e, ok := err.(*Error)
	*target = e
	return ok
}

func matches(p Problem, w prob) bool {
	return p.Field == w.field && p.Policy == w.policy && strings.Contains(p.Message, w.msg)
}

func listProblems(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "  %s: %s (policy %v)\n", p.Field, p.Message, p.Policy)
	}
	return b.String()
}

// compareRequests compares everything but values with go-cmp, and values
// with secret.Value.Equal, so that a failure never prints one.
func compareRequests(t *testing.T, want, got *Request) {
	t.Helper()
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(Entry{}, "Value")); diff != "" {
		t.Errorf("Parse() mismatch (-want +got):\n%s", diff)
	}
	if len(want.Secrets) != len(got.Secrets) {
		return
	}
	for i := range want.Secrets {
		if w, g := want.Secrets[i].Value, got.Secrets[i].Value; !w.Equal(g) {
			t.Errorf("secrets[%d] value differs: got %d bytes, want %d bytes", i, len(g.Reveal()), len(w.Reveal()))
		}
	}
}

func TestParseBody(t *testing.T) {
	t.Parallel()
	valid := doc("", base)
	padded := valid + strings.Repeat(" ", MaxBodyBytes-len(valid))
	runParseCases(t, []parseCase{
		{name: "minimal", body: valid, want: request(baseEntry("secrets[0]"))},
		{name: "exactly 64 KiB", body: padded, want: request(baseEntry("secrets[0]"))},
		{name: "one byte over 64 KiB", body: padded + " ", probs: []prob{{"", "larger than 65536 bytes", false}}},
		{name: "byte order mark", body: "\xEF\xBB\xBF" + valid, want: request(baseEntry("secrets[0]"))},
		{name: "invalid UTF-8", body: doc("", "{\"key\": \"BaseAddress\", \"value\": \"a\xffb\"}"), probs: []prob{{"", "not valid UTF-8", false}}},
		{name: "empty", body: "", probs: []prob{{"", "the body is empty", false}}},
		{name: "white space", body: " \n\t ", probs: []prob{{"", "the body is empty", false}}},
		{name: "array", body: "[" + valid + "]", probs: []prob{{"", "must be one JSON object, not an array", false}}},
		{name: "string", body: `"x"`, probs: []prob{{"", "must be one JSON object, not a string", false}}},
		{name: "null", body: `null`, probs: []prob{{"", "must be one JSON object, not null", false}}},
		{name: "garbage", body: `<xml/>`, probs: []prob{{"", "the body is not JSON; send one JSON object", false}}},
		{name: "two objects", body: valid + valid, probs: []prob{{"", "holds more after the JSON object", false}}},
		{name: "trailing text", body: valid + " x", probs: []prob{{"", "holds more after the JSON object", false}}},
		{name: "trailing white space", body: valid + " \r\n", want: request(baseEntry("secrets[0]"))},
		{name: "syntax error", body: "{\n  \"servicePrincipalId\": }", probs: []prob{{"", "not valid JSON: expected true, false, null, a number, a string, an array or an object (line 2, column 25)", false}}},
		{name: "truncated", body: `{"servicePrincipalId": "` + spid, probs: []prob{{"", "the document ends early", false}}},
		{name: "truncated after member", body: `{"servicePrincipalId": "` + spid + `",`, probs: []prob{{"", "ends early; expected a member name", false}}},
		{name: "problems before a syntax error stay", body: `{"servicePrincipalId": 1, "secrets": [}`, probs: []prob{
			{"servicePrincipalId", "must be a string holding a GUID, not a number", false},
			{"", "not valid JSON", false},
		}},
		{name: "single quotes", body: `{'servicePrincipalId': 1}`, probs: []prob{{"", "expected a member name in double quotes", false}}},
		{name: "comment", body: "{/* c */}", probs: []prob{{"", "not valid JSON", false}}},
	})
}

func TestParseTopLevel(t *testing.T) {
	t.Parallel()
	upper := strings.ToUpper(spid)
	runParseCases(t, []parseCase{
		{name: "missing both", body: `{}`, probs: []prob{
			{"servicePrincipalId", "missing; set the object ID", false},
			{"secrets", "missing; set 1 to 64 entries", false},
		}},
		{name: "unknown field", body: doc(`"dryrun": true`, base), probs: []prob{{"dryrun", "unknown field; field names are case-sensitive: write dryRun", false}}},
		{name: "unknown field lists allowed", body: doc(`"force": true`, base), probs: []prob{{"force", "unknown field; allowed: servicePrincipalId, secrets, apiVersion, dryRun, validate, job", false}}},
		{name: "odd field name quoted", body: doc(`"a b\n": 1`, base), probs: []prob{{`["a b\n"]`, "unknown field", false}}},
		{name: "long field name cut", body: doc(`"`+strings.Repeat("é", 40)+`": 1`, base), probs: []prob{{`["` + strings.Repeat("é", 32) + `…"]`, "unknown field", false}}},
		{name: "escaped field name matches", body: `{"servicePrincipal\u0049d": "` + spid + `", "secrets": [` + base + `]}`, want: request(baseEntry("secrets[0]"))},
		{name: "duplicate field", body: doc(`"servicePrincipalId": "`+spid+`"`, base), probs: []prob{{"servicePrincipalId", "duplicate field", false}}},
		{name: "duplicate secrets", body: doc(`"secrets": []`, base), probs: []prob{{"secrets", "duplicate field", false}}},

		{name: "guid upper case", body: `{"servicePrincipalId": "` + upper + `", "secrets": [` + base + `]}`, want: request(baseEntry("secrets[0]"))},
		{name: "guid braces", body: `{"servicePrincipalId": "{` + spid + `}", "secrets": [` + base + `]}`, probs: []prob{{"servicePrincipalId", "must be a GUID", false}}},
		{name: "guid no hyphens", body: `{"servicePrincipalId": "` + strings.ReplaceAll(spid, "-", "") + `", "secrets": [` + base + `]}`, probs: []prob{{"servicePrincipalId", "must be a GUID", false}}},
		{name: "guid non-hex", body: `{"servicePrincipalId": "` + strings.Replace(spid, "6", "g", 1) + `", "secrets": [` + base + `]}`, probs: []prob{{"servicePrincipalId", "must be a GUID", false}}},
		{name: "guid hyphen misplaced", body: `{"servicePrincipalId": "6a9b2c1e5-f4d-4e3a-9b8c-7d6e5f4a3b2c", "secrets": [` + base + `]}`, probs: []prob{{"servicePrincipalId", "must be a GUID", false}}},
		{name: "guid spaces", body: `{"servicePrincipalId": " ` + spid + `", "secrets": [` + base + `]}`, probs: []prob{{"servicePrincipalId", "must be a GUID", false}}},
		{name: "nil guid", body: `{"servicePrincipalId": "00000000-0000-0000-0000-000000000000", "secrets": [` + base + `]}`, probs: []prob{{"servicePrincipalId", "must not be the nil GUID", false}}},
		{name: "guid number", body: `{"servicePrincipalId": 6, "secrets": [` + base + `]}`, probs: []prob{{"servicePrincipalId", "must be a string holding a GUID, not a number", false}}},
		{name: "guid null", body: `{"servicePrincipalId": null, "secrets": [` + base + `]}`, probs: []prob{{"servicePrincipalId", "not null", false}}},
		{name: "service principal allowed", body: `{"servicePrincipalId": "` + upper + `", "secrets": [` + base + `]}`,
			policy: func(p *Policy) { p.AllowedServicePrincipals = map[string]bool{spid: true} }, want: request(baseEntry("secrets[0]"))},
		{name: "service principal refused", body: doc("", base),
			policy: func(p *Policy) {
				p.AllowedServicePrincipals = map[string]bool{"11111111-1111-1111-1111-111111111111": true}
			},
			probs: []prob{{"servicePrincipalId", "service principal " + spid + " is not in PUTSECRETS_ALLOWED_SERVICE_PRINCIPALS", true}}},

		{name: "api version beta", body: doc(`"apiVersion": "BETA"`, base), want: &Request{ServicePrincipalID: spid, Secrets: []Entry{baseEntry("secrets[0]")}, APIVersion: "beta"}},
		{name: "api version v1.0", body: doc(`"apiVersion": "V1.0"`, base), policy: func(p *Policy) { p.DefaultAPIVersion = "beta" }, want: request(baseEntry("secrets[0]"))},
		{name: "api version default from policy", body: doc("", base), policy: func(p *Policy) { p.DefaultAPIVersion = "Beta" },
			want: &Request{ServicePrincipalID: spid, Secrets: []Entry{baseEntry("secrets[0]")}, APIVersion: "beta"}},
		{name: "api version unknown policy default", body: doc("", base), policy: func(p *Policy) { p.DefaultAPIVersion = "v2" }, want: request(baseEntry("secrets[0]"))},
		{name: "api version v2", body: doc(`"apiVersion": "v2.0"`, base), probs: []prob{{"apiVersion", `must be "v1.0" or "beta"`, false}}},
		{name: "api version number", body: doc(`"apiVersion": 1.0`, base), probs: []prob{{"apiVersion", `must be "v1.0" or "beta", not a number`, false}}},

		{name: "dry run", body: doc(`"dryRun": true`, base), want: &Request{ServicePrincipalID: spid, Secrets: []Entry{baseEntry("secrets[0]")}, APIVersion: "v1.0", DryRun: true}},
		{name: "dry run false", body: doc(`"dryRun": false`, base), want: request(baseEntry("secrets[0]"))},
		{name: "dry run string", body: doc(`"dryRun": "true"`, base), probs: []prob{{"dryRun", "must be true or false, not a string", false}}},
		{name: "dry run null", body: doc(`"dryRun": null`, base), probs: []prob{{"dryRun", "must be true or false, not null", false}}},

		{name: "problems in document order", body: `{"secrets": [{"key": "Nope", "value": 1}], "apiVersion": "x", "servicePrincipalId": "y"}`, probs: []prob{
			{"secrets[0].key", "unknown key", false},
			{"apiVersion", "must be", false},
			{"servicePrincipalId", "must be a GUID", false},
		}},
	})
}

func TestParseSecrets(t *testing.T) {
	t.Parallel()
	var many []string
	for _, k := range Keys[1:] {
		many = append(many, `{"key": "`+k+`", "secretUri": "https://contoso-kv.vault.azure.net/secrets/s"}`)
	}
	var sixtyFive []string
	for i := range 65 {
		sixtyFive = append(sixtyFive, `{"key": "`+Keys[1+i%44]+`", "secretUri": "https://contoso-kv.vault.azure.net/secrets/s"}`)
	}
	var all []Entry
	for i, k := range Keys[1:] {
		all = append(all, kvRef(k, fmt.Sprintf("secrets[%d]", i), "s", ""))
	}
	runParseCases(t, []parseCase{
		{name: "not an array", body: `{"servicePrincipalId": "` + spid + `", "secrets": {}}`, probs: []prob{{"secrets", "must be an array of 1 to 64 entries, not an object", false}}},
		{name: "empty", body: doc(""), probs: []prob{{"secrets", "is empty; send 1 to 64 entries", false}}},
		{name: "every key once", body: doc("", many...), want: request(all...)},
		{name: "65 entries", body: doc("", sixtyFive...), some: []prob{{"secrets", "holds 65 entries; send at most 64", false}}},
		{name: "entry not an object", body: doc("", base, `"BaseAddress"`), probs: []prob{{"secrets[1]", `must be an object {"key": …, "value": …}`, false}}},
		{name: "entry null", body: doc("", `null`), probs: []prob{{"secrets[0]", "not null", false}}},
		{name: "entry array", body: doc("", `[]`), probs: []prob{{"secrets[0]", "not an array", false}}},
		{name: "unknown entry field", body: doc("", base, `{"key": "SyncAll", "valeu": false}`), probs: []prob{
			{"secrets[1].valeu", "unknown field; allowed: key, value, secretUri", false},
			{"secrets[1]", "has neither value nor secretUri", false},
		}},
		{name: "entry field case", body: doc("", `{"key": "SyncAll", "Value": false}`), probs: []prob{
			{"secrets[0].Value", "field names are case-sensitive: write value", false},
			{"secrets[0]", "has neither value nor secretUri", false},
		}},
		{name: "secretURI case", body: doc("", `{"key": "SecretToken", "secretURI": "https://contoso-kv.vault.azure.net/secrets/a"}`), some: []prob{
			{"secrets[0].secretURI", "write secretUri", false},
		}},
		{name: "duplicate entry field", body: doc("", `{"key": "SyncAll", "value": false, "value": true}`), probs: []prob{{"secrets[0].value", "duplicate field", false}}},
		{name: "duplicate key field", body: doc("", `{"key": "SyncAll", "key": "Url", "value": false}`), probs: []prob{{"secrets[0].key", "duplicate field", false}}},

		{name: "key canonical", body: doc("", `{"key": "oauth2clientid", "value": "abc"}`, `{"value": "x", "key": "BASEADDRESS"}`),
			want: request(lit("Oauth2ClientId", "secrets[0]", "abc"), lit("BaseAddress", "secrets[1]", "x"))},
		{name: "key missing", body: doc("", `{"value": "x"}`), probs: []prob{{"secrets[0].key", "missing; set one of Graph's synchronizationSecret names", false}}},
		{name: "key number", body: doc("", `{"key": 5, "value": "x"}`), probs: []prob{{"secrets[0].key", "must be a string naming a synchronizationSecret, e.g. BaseAddress, not a number", false}}},
		{name: "key unknown", body: doc("", `{"key": "Favourite", "value": "x"}`), probs: []prob{{"secrets[0].key", "unknown key; use one of Graph's 45 synchronizationSecret names", false}}},
		{name: "key typo", body: doc("", `{"key": "BaseAdress", "value": "x"}`), probs: []prob{{"secrets[0].key", "unknown key; did you mean BaseAddress?", false}}},
		{name: "key None", body: doc("", `{"key": "none", "value": "x"}`), probs: []prob{{"secrets[0].key", "the key None names no secret", false}}},
		{name: "key empty", body: doc("", `{"key": "", "value": "x"}`), probs: []prob{{"secrets[0].key", "unknown key", false}}},
		{name: "key duplicate", body: doc("", base, `{"key": "SyncAll", "value": true}`, `{"key": "baseaddress", "value": "y"}`),
			probs: []prob{{"secrets[2].key", "duplicate key BaseAddress: secrets[0] already sets it (keys match case-insensitively)", false}}},
		{name: "key duplicate twice", body: doc("", base, base, base), probs: []prob{
			{"secrets[1].key", "secrets[0] already sets it", false},
			{"secrets[2].key", "secrets[0] already sets it", false},
		}},

		{name: "neither", body: doc("", `{"key": "SyncAll"}`), probs: []prob{{"secrets[0]", "has neither value nor secretUri; set exactly one", false}}},
		{name: "both", body: doc("", `{"key": "SecretToken", "value": "@Microsoft.KeyVault(VaultName=contoso-kv;SecretName=a)", "secretUri": "https://contoso-kv.vault.azure.net/secrets/a"}`),
			probs: []prob{{"secrets[0]", "has both value and secretUri; set exactly one", false}}},
		{name: "both, each checked", body: doc("", `{"key": "SyncAll", "secretUri": "http://x", "value": null}`), probs: []prob{
			{"secrets[0].secretUri", "must be https", false},
			{"secrets[0].value", "must not be null", false},
			{"secrets[0]", "has both", false},
		}},
	})
}

func TestParseValues(t *testing.T) {
	t.Parallel()
	entry := func(key, value string) string { return `{"key": "` + key + `", "value": ` + value + `}` }
	one := func(key, value string) string { return doc("", entry(key, value)) }
	allowLiteral := func(p *Policy) { p.AllowLiteralCredentials = true }
	runParseCases(t, []parseCase{
		{name: "string", body: one("Url", `"https://x.example.com"`), want: request(lit("Url", "secrets[0]", "https://x.example.com"))},
		{name: "string kept exactly", body: one("Domain", `"  a\tb\u00e9 "`), want: request(lit("Domain", "secrets[0]", "  a\tbé "))},
		{name: "empty string", body: one("Domain", `""`), want: request(lit("Domain", "secrets[0]", ""))},
		{name: "false", body: one("SyncAll", `false`), want: request(lit("SyncAll", "secrets[0]", "false"))},
		{name: "true", body: one("SyncAll", `true`), want: request(lit("SyncAll", "secrets[0]", "true"))},
		{name: "integer", body: one("TokenExpiration", `50`), want: request(lit("TokenExpiration", "secrets[0]", "50"))},
		{name: "exponent as written", body: one("TokenExpiration", `1e3`), want: request(lit("TokenExpiration", "secrets[0]", "1e3"))},
		{name: "negative fraction", body: one("TokenExpiration", `-0.50`), want: request(lit("TokenExpiration", "secrets[0]", "-0.50"))},
		{name: "big number", body: one("TokenExpiration", `123456789012345678901234567890`), want: request(lit("TokenExpiration", "secrets[0]", "123456789012345678901234567890"))},
		{name: "object compacted in order", body: one("SynchronizationSchedule", "{ \"z\" : 1 ,\n \"a\" : [ true , null ], \"s\": \" x \\u00e9 \" }"),
			want: request(lit("SynchronizationSchedule", "secrets[0]", `{"z":1,"a":[true,null],"s":" x \u00e9 "}`))},
		{name: "null", body: one("SyncAll", `null`), probs: []prob{{"secrets[0].value", "must not be null; send a string, boolean, number or object, or use secretUri", false}}},
		{name: "array", body: one("SyncAll", `[true]`), probs: []prob{{"secrets[0].value", "must not be an array", false}}},
		{name: "object repeats member", body: one("SynchronizationSchedule", `{"a": 1, "a": 2}`), probs: []prob{{"secrets[0].value", "holds an object that repeats a member name", false}}},
		{name: "nested object repeats member", body: one("SynchronizationSchedule", `{"a": {"b": 1, "b": 2}}`), probs: []prob{{"secrets[0].value", "repeats a member name", false}}},

		{name: "credential literal refused", body: one("Password", `"hunter2"`), probs: []prob{{"secrets[0].value", "a literal value is refused for the credential key Password; use a secretUri or an @Microsoft.KeyVault(…) reference", true}}},
		{name: "credential empty literal refused", body: one("ClientSecret", `""`), probs: []prob{{"secrets[0].value", "credential key ClientSecret", true}}},
		{name: "credential number refused", body: one("AppKey", `12345`), probs: []prob{{"secrets[0].value", "credential key AppKey", true}}},
		{name: "credential literal, lower-case key", body: one("connectionstring", `"Server=x"`), probs: []prob{{"secrets[0].value", "credential key ConnectionString", true}}},
		{name: "credential literal allowed", body: one("Password", `"hunter2"`), policy: allowLiteral, want: request(lit("Password", "secrets[0]", "hunter2"))},
		{name: "look-alike prefix is a literal", body: one("Password", `"@Microsoft.KeyVaults(x)"`), probs: []prob{{"secrets[0].value", "credential key Password", true}}},

		{name: "reference", body: one("Password", `"@Microsoft.KeyVault(VaultName=contoso-kv;SecretName=svc-password)"`),
			want: request(kvValueRef("Password", "secrets[0]", "svc-password", ""))},
		{name: "reference secret uri", body: one("Password", `"@Microsoft.KeyVault(SecretUri=https://contoso-kv.vault.azure.net/secrets/p/`+version32+`/)"`),
			want: request(kvValueRef("Password", "secrets[0]", "p", version32))},
		{name: "reference any case, spaces", body: one("Password", `"  @microsoft.KEYVAULT(vaultname=Contoso-KV; secretname=p)  "`),
			want: request(kvValueRef("Password", "secrets[0]", "p", ""))},
		{name: "reference for a non-credential", body: one("BaseAddress", `"@Microsoft.KeyVault(VaultName=contoso-kv;SecretName=scim-url)"`),
			want: request(kvValueRef("BaseAddress", "secrets[0]", "scim-url", ""))},
		{name: "malformed reference is never a literal", body: one("BaseAddress", `"@Microsoft.KeyVault(VaultName=contoso-kv)"`), policy: allowLiteral,
			probs: []prob{{"secrets[0].value", "the Key Vault reference has no SecretName", false}}},
		{name: "reference vault not allowed", body: one("Password", `"@Microsoft.KeyVault(VaultName=evil;SecretName=p)"`),
			probs: []prob{{"secrets[0].value", `vault "evil" is not in PUTSECRETS_ALLOWED_VAULTS`, true}}},
		{name: "reference other cloud", body: one("Password", `"@Microsoft.KeyVault(SecretUri=https://contoso-kv.vault.azure.cn/secrets/p)"`),
			probs: []prob{{"secrets[0].value", "host is not under vault.azure.net", false}}},

		{name: "notification object", body: one("SyncNotificationSettings", `{"Enabled": true, "Recipients": "ops@example.com", "DeleteThresholdEnabled": true, "DeleteThresholdValue": 50}`),
			want: request(lit("SyncNotificationSettings", "secrets[0]", `{"Enabled":true,"Recipients":"ops@example.com","DeleteThresholdEnabled":true,"DeleteThresholdValue":50}`))},
		{name: "notification empty object", body: one("SyncNotificationSettings", `{}`), want: request(lit("SyncNotificationSettings", "secrets[0]", `{}`))},
		{name: "notification string object", body: one("syncnotificationsettings", `" {\"Enabled\": false} "`),
			want: request(lit("SyncNotificationSettings", "secrets[0]", ` {"Enabled": false} `))},
		{name: "notification empty string", body: one("SyncNotificationSettings", `""`), probs: []prob{{"secrets[0].value", `must be a JSON object for SyncNotificationSettings, or a string holding one; Graph refuses anything else, "" included`, false}}},
		{name: "notification boolean", body: one("SyncNotificationSettings", `false`), probs: []prob{{"secrets[0].value", "must be a JSON object for SyncNotificationSettings", false}}},
		{name: "notification string array", body: one("SyncNotificationSettings", `"[]"`), probs: []prob{{"secrets[0].value", "must be a JSON object", false}}},
		{name: "notification string broken", body: one("SyncNotificationSettings", `"{\"Enabled\": }"`), probs: []prob{{"secrets[0].value", "must be a JSON object", false}}},
		{name: "notification string trailing", body: one("SyncNotificationSettings", `"{} {}"`), probs: []prob{{"secrets[0].value", "must be a JSON object", false}}},
		{name: "notification string repeats", body: one("SyncNotificationSettings", `"{\"a\":1,\"a\":2}"`), probs: []prob{{"secrets[0].value", "must be a JSON object", false}}},
		{name: "notification reference", body: one("SyncNotificationSettings", `"@Microsoft.KeyVault(VaultName=contoso-kv;SecretName=n)"`),
			want: request(kvValueRef("SyncNotificationSettings", "secrets[0]", "n", ""))},
	})
}

func TestParseSecretURIs(t *testing.T) {
	t.Parallel()
	one := func(uri string) string {
		return doc("", `{"key": "SecretToken", "secretUri": "`+uri+`"}`)
	}
	runParseCases(t, []parseCase{
		{name: "uri", body: one("https://contoso-kv.vault.azure.net/secrets/scim-token"), want: request(kvRef("SecretToken", "secrets[0]", "scim-token", ""))},
		{name: "uri upper-case host, slash", body: one("https://CONTOSO-KV.vault.azure.net/secrets/scim-token/"), want: request(kvRef("SecretToken", "secrets[0]", "scim-token", ""))},
		{name: "uri version", body: one("https://contoso-kv.vault.azure.net/secrets/scim-token/" + version32), want: request(kvRef("SecretToken", "secrets[0]", "scim-token", version32))},
		{name: "uri not a string", body: doc("", `{"key": "SecretToken", "secretUri": {"vault": "contoso-kv"}}`),
			probs: []prob{{"secrets[0].secretUri", "must be a string https://{vault}.vault.azure.net/secrets/{name}[/{version}], not an object", false}}},
		{name: "http", body: one("http://contoso-kv.vault.azure.net/secrets/a"), probs: []prob{{"secrets[0].secretUri", "the secret URI must be https", false}}},
		{name: "port", body: one("https://contoso-kv.vault.azure.net:8443/secrets/a"), probs: []prob{{"secrets[0].secretUri", "port", false}}},
		{name: "other cloud", body: one("https://contoso-kv.vault.usgovcloudapi.net/secrets/a"),
			probs: []prob{{"secrets[0].secretUri", "host is not under vault.azure.net, the Key Vault suffix of the configured cloud", false}}},
		{name: "other cloud configured", body: one("https://contoso-kv.vault.usgovcloudapi.net/secrets/a"),
			policy: func(p *Policy) {
				p.KeyVaultSuffix = "vault.usgovcloudapi.net"
				p.AllowedVaults = map[string]bool{"contoso-kv.vault.usgovcloudapi.net": true}
			},
			want: request(Entry{Key: "SecretToken", Field: "secrets[0]", Ref: &Reference{
				Vault: "contoso-kv", Host: "contoso-kv.vault.usgovcloudapi.net", Name: "a", Field: "secrets[0].secretUri"}})},
		{name: "vault not allowed", body: one("https://evil.vault.azure.net/secrets/a"), probs: []prob{{"secrets[0].secretUri", `vault "evil" is not in PUTSECRETS_ALLOWED_VAULTS`, true}}},
		{name: "no vault allowed", body: one("https://contoso-kv.vault.azure.net/secrets/a"), policy: func(p *Policy) { p.AllowedVaults = nil },
			probs: []prob{{"secrets[0].secretUri", `vault "contoso-kv" is not in PUTSECRETS_ALLOWED_VAULTS`, true}}},
		{name: "no suffix configured", body: one("https://contoso-kv.vault.azure.net/secrets/a"), policy: func(p *Policy) { p.KeyVaultSuffix = "" },
			probs: []prob{{"secrets[0].secretUri", "no Key Vault suffix is configured", false}}},
		{name: "policy problems only", body: doc("",
			`{"key": "SecretToken", "secretUri": "https://evil.vault.azure.net/secrets/a"}`,
			`{"key": "Password", "value": "x"}`),
			probs: []prob{
				{"secrets[0].secretUri", `vault "evil"`, true},
				{"secrets[1].value", "credential key Password", true},
			}},
		{name: "policy and other problems", body: doc("",
			`{"key": "SecretToken", "secretUri": "https://evil.vault.azure.net/secrets/a"}`,
			`{"key": "Nope", "value": "x"}`),
			probs: []prob{
				{"secrets[0].secretUri", `vault "evil"`, true},
				{"secrets[1].key", "unknown key", false},
			}},
	})
}

func TestParseValidateAndJob(t *testing.T) {
	t.Parallel()
	with := func(extra string) string { return doc(extra, base) }
	withReq := func(v *Validate, j *Job) *Request {
		r := request(baseEntry("secrets[0]"))
		r.Validate, r.Job = v, j
		return r
	}
	long := strings.Repeat("a", 257)
	runParseCases(t, []parseCase{
		{name: "validate template", body: with(`"validate": {"templateId": "scim"}`), want: withReq(&Validate{TemplateID: "scim"}, nil)},
		{name: "validate job", body: with(`"validate": {"jobId": "scim.e8c9f7d0a1b24c3d.1a2b3c4d-0000-1111-2222-333344445555"}`),
			want: withReq(&Validate{JobID: "scim.e8c9f7d0a1b24c3d.1a2b3c4d-0000-1111-2222-333344445555"}, nil)},
		{name: "validate both", body: with(`"validate": {"templateId": "scim", "jobId": "j"}`), probs: []prob{{"validate", "has both templateId and jobId; set exactly one", false}}},
		{name: "validate neither", body: with(`"validate": {}`), probs: []prob{{"validate", "has neither templateId nor jobId", false}}},
		{name: "validate not an object", body: with(`"validate": true`), probs: []prob{{"validate", "must be an object with templateId or jobId, not a boolean", false}}},
		{name: "validate empty id", body: with(`"validate": {"templateId": ""}`), probs: []prob{{"validate.templateId", "is empty", false}}},
		{name: "validate long id", body: with(`"validate": {"templateId": "` + long + `"}`), probs: []prob{{"validate.templateId", "is 257 characters long; a template ID has at most 128", false}}},
		{name: "validate 256 chars", body: with(`"validate": {"jobId": "` + long[1:] + `"}`), want: withReq(&Validate{JobID: long[1:]}, nil)},
		{name: "validate bad char", body: with(`"validate": {"jobId": "a/b"}`), probs: []prob{{"validate.jobId", "may hold only letters, digits, '_' and '-'", false}}},
		{name: "validate number", body: with(`"validate": {"jobId": 1}`), probs: []prob{{"validate.jobId", "must be a string, not a number", false}}},
		{name: "validate unknown", body: with(`"validate": {"templateid": "scim"}`), probs: []prob{
			{"validate.templateid", "write templateId", false},
			{"validate", "has neither", false},
		}},
		{name: "validate duplicate", body: with(`"validate": {"jobId": "a", "jobId": "b"}`), probs: []prob{{"validate.jobId", "duplicate field", false}}},

		{name: "job start", body: with(`"job": {"id": "j1", "action": "start"}`), want: withReq(nil, &Job{ID: "j1", Action: "start"})},
		{name: "job restart default scope", body: with(`"job": {"id": "j1", "action": "Restart"}`), want: withReq(nil, &Job{ID: "j1", Action: "restart", ResetScope: DefaultResetScope})},
		{name: "job restart scope", body: with(`"job": {"action": "restart", "resetScope": " watermark,FULL ,connectordatastore", "id": "j1"}`),
			want: withReq(nil, &Job{ID: "j1", Action: "restart", ResetScope: "Watermark, Full, ConnectorDataStore"})},
		{name: "job with validate", body: with(`"validate": {"jobId": "j1"}, "job": {"id": "j1", "action": "start"}`),
			want: withReq(&Validate{JobID: "j1"}, &Job{ID: "j1", Action: "start"})},
		{name: "job start with scope", body: with(`"job": {"id": "j1", "action": "start", "resetScope": "Full"}`),
			probs: []prob{{"job.resetScope", `is allowed only with action "restart"`, false}}},
		{name: "job scope unknown", body: with(`"job": {"id": "j1", "action": "restart", "resetScope": "Watermark, Everything"}`),
			probs: []prob{{"job.resetScope", "item 2 is not one of Watermark, Escrows, QuarantineState, Full, ConnectorDataStore", false}}},
		{name: "job scope twice", body: with(`"job": {"id": "j1", "action": "restart", "resetScope": "Full, full"}`),
			probs: []prob{{"job.resetScope", "names Full twice", false}}},
		{name: "job scope empty", body: with(`"job": {"id": "j1", "action": "restart", "resetScope": ""}`),
			probs: []prob{{"job.resetScope", "item 1 is empty", false}}},
		{name: "job scope empty item", body: with(`"job": {"id": "j1", "action": "restart", "resetScope": "Full,,Escrows"}`),
			probs: []prob{{"job.resetScope", "item 2 is empty", false}}},
		{name: "job scope not a string", body: with(`"job": {"id": "j1", "action": "restart", "resetScope": ["Full"]}`),
			probs: []prob{{"job.resetScope", "must be a string such as", false}}},
		{name: "job action unknown", body: with(`"job": {"id": "j1", "action": "stop"}`), probs: []prob{{"job.action", `must be "start" or "restart"`, false}}},
		{name: "job missing", body: with(`"job": {}`), probs: []prob{
			{"job.id", "missing; set the synchronization job ID", false},
			{"job.action", `missing; set "start" or "restart"`, false},
		}},
		{name: "job bad id", body: with(`"job": {"id": "a b", "action": "start"}`), probs: []prob{{"job.id", "may hold only", false}}},
		{name: "job unknown field", body: with(`"job": {"id": "j", "action": "start", "criteria": {}}`), probs: []prob{{"job.criteria", "unknown field; allowed: id, action, resetScope", false}}},
		{name: "job not an object", body: with(`"job": "start"`), probs: []prob{{"job", "must be an object", false}}},
	})
}

func TestParseCapsProblems(t *testing.T) {
	t.Parallel()
	var extra []string
	for i := range 150 {
		extra = append(extra, fmt.Sprintf(`"x%d": 0`, i))
	}
	_, err := Parse([]byte(doc(strings.Join(extra, ", "), base)), testPolicy())
	var perr *Error
	if !errorsAs(err, &perr) {
		t.Fatalf("Parse() error = %v, want *Error", err)
	}
	if got, want := len(perr.Problems), maxProblems+1; got != want {
		t.Fatalf("got %d problems, want %d", got, want)
	}
	last := perr.Problems[maxProblems]
	if last.Field != "" || last.Message != "50 more problems are not listed; fix these first" {
		t.Errorf("last problem = %+v", last)
	}
	if perr.Problems[0].Field != "x0" || perr.Problems[maxProblems-1].Field != "x99" {
		t.Errorf("problems = %s … %s, want x0 … x99", perr.Problems[0].Field, perr.Problems[maxProblems-1].Field)
	}
}

func TestErrorString(t *testing.T) {
	t.Parallel()
	e := &Error{Problems: []Problem{
		{Message: "the body is empty"},
		{Field: "secrets[1].secretUri", Message: `vault "evil" is not in PUTSECRETS_ALLOWED_VAULTS`, Policy: true},
	}}
	want := `invalid request: the body is empty; secrets[1].secretUri: vault "evil" is not in PUTSECRETS_ALLOWED_VAULTS`
	if got := e.Error(); got != want {
		t.Errorf("Error() = %s\nwant %s", got, want)
	}
	if e.PolicyOnly() {
		t.Error("PolicyOnly() = true with a 400 problem")
	}
	if (&Error{}).PolicyOnly() {
		t.Error("PolicyOnly() = true without problems")
	}
	if !(&Error{Problems: e.Problems[1:]}).PolicyOnly() {
		t.Error("PolicyOnly() = false with only a policy problem")
	}
}

func TestParseNilPolicy(t *testing.T) {
	t.Parallel()
	got, err := Parse([]byte(doc("", base)), nil)
	if err != nil {
		t.Fatalf("Parse(nil policy) error = %v", err)
	}
	compareRequests(t, request(baseEntry("secrets[0]")), got)
	_, err = Parse([]byte(doc("", `{"key": "SecretToken", "secretUri": "https://contoso-kv.vault.azure.net/secrets/a"}`)), nil)
	if err == nil || !strings.Contains(err.Error(), "no Key Vault suffix is configured") {
		t.Errorf("Parse(nil policy, reference) error = %v, want no suffix", err)
	}
}

func TestParseResetScope(t *testing.T) {
	t.Parallel()
	got, err := parseResetScope(DefaultResetScope)
	if err != nil || got != DefaultResetScope {
		t.Errorf("parseResetScope(default) = %q, %v", got, err)
	}
}

func stdValue(s string) secret.Value { return secret.New(s) }

// BenchmarkParse parses the docs/contract.md §2 example.
func BenchmarkParse(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("testdata", "contract-example.json"))
	if err != nil {
		b.Fatal(err)
	}
	pol := testPolicy()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := Parse(body, pol); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseWorstCase parses 64 KiB bodies built to make the parser
// work hard per byte: unknown keys near real ones (suggestions), one big
// value object (duplicate checks), many references.
func BenchmarkParseWorstCase(b *testing.B) {
	fill := func(entry string) string {
		var es []string
		for len(strings.Join(es, ", ")) < MaxBodyBytes-len(entry)-200 {
			es = append(es, entry)
		}
		return doc("", es...)
	}
	var members []string
	for i := 0; len(members)*13 < MaxBodyBytes-400; i++ {
		members = append(members, fmt.Sprintf(`"m%07d":0`, i))
	}
	bodies := map[string]string{
		"unknown keys": fill(`{"key":"Oauth2AccessTokenCreationTimf","value":1}`),
		"big object":   doc("", `{"key":"SynchronizationSchedule","value":{`+strings.Join(members, ",")+`}}`),
		"references":   fill(`{"key":"Password","value":"@Microsoft.KeyVault(VaultName=contoso-kv;SecretName=p)"}`),
	}
	pol := testPolicy()
	for name, body := range bodies {
		if len(body) > MaxBodyBytes {
			b.Fatalf("%s: %d bytes", name, len(body))
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				Parse([]byte(body), pol)
			}
		})
	}
}
