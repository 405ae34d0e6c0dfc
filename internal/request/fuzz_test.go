package request

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks Parse on arbitrary bodies: no panic; a refusal is an
// *Error whose every problem has a message; an acceptance is syntactically
// valid JSON by encoding/json's reading too, holds 1 to 64 entries with
// canonical, unique keys, each exactly one of a literal or an allowed
// reference under the suffix, and literals equal to what encoding/json reads.
func FuzzParse(f *testing.F) {
	inputs, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, in := range inputs {
		b, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false, true)
		f.Add(b, true, true)
		f.Add(b, true, false)
	}
	f.Add([]byte(doc("", `{"key": "Password", "value": "\ud83d\ude42\u0000"}`)), true, true)
	f.Add([]byte(doc(`"job": {"id": "j", "action": "restart", "resetScope": "full"}`, base)), false, true)
	f.Add([]byte(doc(`"follow": true`, `{"key": "Password", "value": "p"}`)), true, true)
	f.Add([]byte(doc(`"follow": false`, base)), false, false)
	f.Fuzz(func(t *testing.T, body []byte, lenient, store bool) {
		pol := testPolicy()
		pol.AllowLiteralCredentials = lenient
		pol.StateStore = store
		req, err := Parse(body, pol)
		if err != nil {
			if req != nil {
				t.Fatal("Parse returned a request and an error")
			}
			perr, ok := err.(*Error)
			if !ok || len(perr.Problems) == 0 {
				t.Fatalf("Parse error %T with no problems", err)
			}
			checkMessages(t, perr)
			for _, p := range perr.Problems {
				// The lexer refuses valid JSON only for its two stated reasons.
				if strings.HasPrefix(p.Message, "the body is not valid JSON: ") && json.Valid(bytes.TrimPrefix(body, bom)) &&
					!strings.Contains(p.Message, "surrogate") && !strings.Contains(p.Message, "deeper than 64") {
					t.Fatalf("the lexer refuses what encoding/json accepts: %s", p.Message)
				}
			}
			return
		}
		checkRequest(t, bytes.TrimPrefix(body, bom), req, pol)
	})
}

// checkRequest asserts the invariants of an accepted request.
func checkRequest(t *testing.T, body []byte, req *Request, pol *Policy) {
	t.Helper()
	if !json.Valid(body) {
		t.Fatal("Parse accepted what encoding/json calls invalid")
	}
	if id, ok := parseGUID([]byte(req.ServicePrincipalID)); !ok || id != req.ServicePrincipalID {
		t.Fatalf("servicePrincipalId %q is not a lowercase GUID", req.ServicePrincipalID)
	}
	if req.APIVersion != "v1.0" && req.APIVersion != "beta" {
		t.Fatalf("apiVersion %q", req.APIVersion)
	}
	if n := len(req.Secrets); n < 1 || n > MaxSecrets {
		t.Fatalf("%d secrets", n)
	}
	var std0 struct {
		Follow *bool `json:"follow"`
	}
	if err := json.Unmarshal(body, &std0); err != nil {
		t.Fatalf("encoding/json reads the accepted document differently: %v", err)
	}
	switch {
	case req.Follow != FollowAbsent && !pol.StateStore:
		t.Fatalf("follow %v accepted without a state store", req.Follow)
	case std0.Follow == nil && req.Follow != FollowAbsent,
		std0.Follow != nil && *std0.Follow && req.Follow != FollowOn,
		std0.Follow != nil && !*std0.Follow && req.Follow != FollowOff:
		t.Fatalf("follow %v, encoding/json reads %v", req.Follow, std0.Follow)
	}
	// encoding/json's reading of the same document, to compare literals.
	var std struct {
		Secrets []struct {
			Value json.RawMessage `json:"value"`
		} `json:"secrets"`
	}
	if err := json.Unmarshal(body, &std); err != nil || len(std.Secrets) != len(req.Secrets) {
		t.Fatalf("encoding/json reads the accepted document differently: %v", err)
	}
	seen := map[string]bool{}
	for i, e := range req.Secrets {
		if c, ok := CanonicalKey(e.Key); !ok || c != e.Key {
			t.Fatalf("secrets[%d] key %q is not canonical", i, e.Key)
		}
		if seen[e.Key] {
			t.Fatalf("key %s twice", e.Key)
		}
		seen[e.Key] = true
		if e.Ref == nil {
			if IsCredential(e.Key) && !pol.AllowLiteralCredentials {
				t.Fatalf("literal for credential %s accepted", e.Key)
			}
			if IsCredential(e.Key) && req.Follow == FollowOn {
				t.Fatalf("literal for credential %s accepted with follow: true", e.Key)
			}
			if want := stdLiteral(t, std.Secrets[i].Value); !e.Value.Equal(stdValue(want)) {
				t.Fatalf("secrets[%d] literal differs from encoding/json's reading (%d bytes, want %d)", i, len(e.Value.Reveal()), len(want))
			}
			continue
		}
		if len(e.Value.Reveal()) != 0 {
			t.Fatalf("secrets[%d] has both a value and a reference", i)
		}
		r := *e.Ref
		if !pol.AllowedVaults[r.Host] || r.Host != r.Vault+"."+pol.KeyVaultSuffix || !strings.HasPrefix(r.Field, e.Field+".") {
			t.Fatalf("secrets[%d] reference %+v escapes the policy", i, r)
		}
		back, err := ParseSecretURI(r.URI(), pol.KeyVaultSuffix)
		r.Field = ""
		if err != nil || back != r {
			t.Fatalf("secrets[%d] reference does not round-trip: %+v, %v", i, back, err)
		}
	}
}

// stdLiteral is Graph's string form of a value as encoding/json reads it.
func stdLiteral(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		return s
	case '{':
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	return string(raw)
}

// FuzzParseReference checks that a reference ParseReference accepts names a
// secret under the suffix and survives every way of writing it again.
func FuzzParseReference(f *testing.F) {
	for _, s := range []string{
		"@Microsoft.KeyVault(SecretUri=https://contoso-kv.vault.azure.net/secrets/a/)",
		"@Microsoft.KeyVault(VaultName=contoso-kv;SecretName=svc-password;SecretVersion=" + version32 + ")",
		" @microsoft.keyvault( vaultname = Contoso-KV.vault.azure.net ; secretname = a ; ) ",
		"@Microsoft.KeyVault(VaultName=a;SecretName=b)",
		"@Microsoft.KeyVault(",
		"@Microsoft.KeyVault(SecretUri=http://x)",
		"hunter2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		ref, isRef, err := ParseReference(value, publicSuffix)
		if isRef != isReference(value) {
			t.Fatalf("isRef = %v, isReference = %v", isRef, !isRef)
		}
		if !isRef {
			if err != nil || ref != (Reference{}) {
				t.Fatalf("not a reference, yet %+v, %v", ref, err)
			}
			return
		}
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		checkReference(t, ref)
		for _, again := range []string{
			"@Microsoft.KeyVault(SecretUri=" + ref.URI() + ")",
			"@Microsoft.KeyVault(VaultName=" + ref.Vault + ";SecretName=" + ref.Name + versionParam(ref) + ")",
		} {
			back, isRef, err := ParseReference(again, publicSuffix)
			if !isRef || err != nil || back != ref {
				t.Fatalf("%q reads back as %+v, %v; want %+v", again, back, err, ref)
			}
		}
	})
}

func versionParam(r Reference) string {
	if r.Version == "" {
		return ""
	}
	return ";SecretVersion=" + r.Version
}

// FuzzParseSecretURI checks that an accepted URI reads back from URI() as
// the same Reference, and that net/url agrees it is https with no user,
// port, query or fragment, on the same host.
func FuzzParseSecretURI(f *testing.F) {
	for _, s := range []string{
		"https://contoso-kv.vault.azure.net/secrets/scim-token",
		"https://contoso-kv.vault.azure.net/secrets/scim-token/",
		"HTTPS://Contoso-KV.vault.azure.net/Secrets/a/" + version32 + "/",
		"https://contoso-kv.vault.azure.net:443/secrets/a",
		"https://user@contoso-kv.vault.azure.net/secrets/a",
		"https://contoso-kv.vault.azure.net/secrets/a?x#y",
		"http://contoso-kv.vault.azure.net/secrets/a",
		"https://contoso-kv.vault.azure.cn/secrets/a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		ref, err := ParseSecretURI(uri, publicSuffix)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		checkReference(t, ref)
		u, err := url.Parse(strings.TrimSpace(uri))
		if err != nil {
			t.Fatalf("net/url refuses an accepted URI: %v", err)
		}
		if !strings.EqualFold(u.Scheme, "https") || u.User != nil || u.Port() != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
			t.Fatalf("net/url reads an accepted URI as %#v", u)
		}
		if toLowerASCII(u.Host) != ref.Host {
			t.Fatalf("net/url host %q, ours %q", u.Host, ref.Host)
		}
	})
}

// checkReference asserts what every accepted reference satisfies.
func checkReference(t *testing.T, ref Reference) {
	t.Helper()
	if ref.Host != ref.Vault+"."+publicSuffix || toLowerASCII(ref.Host) != ref.Host {
		t.Fatalf("host %q for vault %q", ref.Host, ref.Vault)
	}
	if CheckVaultName(ref.Vault) != nil || CheckSecretName(ref.Name) != nil || (ref.Version != "" && CheckSecretVersion(ref.Version) != nil) {
		t.Fatalf("accepted invalid names: %+v", ref)
	}
	back, err := ParseSecretURI(ref.URI(), publicSuffix)
	if err != nil || back != ref {
		t.Fatalf("URI() %q reads back as %+v, %v; want %+v", ref.URI(), back, err, ref)
	}
}
