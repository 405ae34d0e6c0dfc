package request

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// newCanary returns a random value that no message could hold by chance. Its
// "_" keeps it from ever passing as a vault or secret name, which messages
// may name.
func newCanary(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "Cnry_" + strings.ToUpper(hex.EncodeToString(b[:8])) + hex.EncodeToString(b[8:])
}

// leaks reports whether s holds the canary or any 8-character piece of it,
// in any case.
func leaks(s, canary string) bool {
	s, canary = strings.ToLower(s), strings.ToLower(canary)
	for i := 0; i+8 <= len(canary); i++ {
		if strings.Contains(s, canary[i:i+8]) {
			return true
		}
	}
	return false
}

// TestProblemsNeverHoldValues parses invalid documents whose values (and
// every other string the caller controls, member names aside) are a random
// canary, and checks that no problem, error string or rendering of either
// holds it.
func TestProblemsNeverHoldValues(t *testing.T) {
	t.Parallel()
	c := newCanary(t)
	// \u-escaped, so that the raw text differs from the value.
	var escaped strings.Builder
	for _, r := range c {
		fmt.Fprintf(&escaped, `\u%04x`, r)
	}
	entry := func(key, member, value string) string {
		return `{"key": "` + key + `", "` + member + `": ` + value + `}`
	}
	q := func(s string) string { return `"` + s + `"` }
	values := []string{
		q(c),
		q(escaped.String()),
		q("  " + c + "  "),
		q("@Microsoft.KeyVault(" + c),
		q("@Microsoft.KeyVault(" + c + ")"),
		q("@microsoft.keyvault(" + c + "=" + c + ")"),
		q("@Microsoft.KeyVault(" + c + ";SecretName=a)"),
		q("@Microsoft.KeyVault(VaultName=" + c + ";SecretName=" + c + ")"),
		q("@Microsoft.KeyVault(VaultName=contoso-kv;SecretName=" + c + ")"),
		q("@Microsoft.KeyVault(VaultName=contoso-kv;SecretName=a;SecretVersion=" + c + ")"),
		q("@Microsoft.KeyVault(VaultName=" + c + ".vault.azure.net;SecretName=a)"),
		q("@Microsoft.KeyVault(VaultName=contoso-kv." + c + ";SecretName=a)"),
		q("@Microsoft.KeyVault(SecretUri=" + c + ")"),
		q("@Microsoft.KeyVault(SecretUri=https://" + c + ".vault.azure.net/secrets/a)"),
		q("@Microsoft.KeyVault(SecretUri=https://contoso-kv.vault.azure.net/secrets/" + c + ")"),
		q("@Microsoft.KeyVault(SecretUri=https://" + c + "@contoso-kv.vault.azure.net/secrets/a)"),
		q("@Microsoft.KeyVault(SecretUri=https://contoso-kv.vault.azure.net:" + c + "/secrets/a)"),
		q("@Microsoft.KeyVault(SecretUri=" + c + "://contoso-kv.vault.azure.net/secrets/a)"),
		q("@Microsoft.KeyVault(VaultName=a;SecretName=b;" + c + ")"),
		q("@Microsoft.KeyVault(VaultName=contoso-kv;SecretName=a)" + c),
		`{"` + c + `": 1, "` + c + `": 2}`,
		`{"a": {"` + c + `": 1, "` + c + `": 2}}`,
		`["` + c + `"]`,
		`{"a": "` + c + `", "b": [` + q(c) + `], "a": 0}`,
	}
	uris := []string{
		c,
		"https://" + c,
		"http://contoso-kv.vault.azure.net/secrets/" + c,
		c + "://contoso-kv.vault.azure.net/secrets/a",
		"https://" + c + ".vault.azure.net/secrets/a",
		"https://" + c + "/secrets/a",
		"https://" + c + "@contoso-kv.vault.azure.net/secrets/a",
		"https://contoso-kv.vault.azure.net:" + c + "/secrets/a",
		"https://contoso-kv.vault.azure.net/secrets/" + c,
		"https://contoso-kv.vault.azure.net/secrets/a/" + c,
		"https://contoso-kv.vault.azure.net/secrets/a?" + c,
		"https://contoso-kv.vault.azure.net/secrets/a#" + c,
		"https://contoso-kv.vault.azure.net/" + c + "/a",
		"https://contoso-kv.vault.azure.net/secrets/a/b/" + c,
	}

	var docs []string
	for _, v := range values {
		for _, key := range []string{"Password", "SecretToken", "BaseAddress", "SyncNotificationSettings", "Nope", c} {
			docs = append(docs,
				doc("", entry(key, "value", v)),
				doc("", base, entry(key, "value", v), entry(key, "value", v)),
				doc("", entry(key, "value", v)+`, `+entry("baseaddress", "value", v)),
				doc("", `{"key": "`+key+`", "value": `+v+`, "secretUri": `+v+`}`),
				doc("", `{"value": `+v+`}`),
				doc("", `{"key": "`+key+`", "value": `+v+`, "valeu": `+v+`}`),
				doc("", `{"key": "`+key+`", "value": `+v+`, "value": `+v+`}`),
			)
		}
	}
	for _, u := range uris {
		for _, key := range []string{"Password", "Nope"} {
			docs = append(docs, doc("", entry(key, "secretUri", q(u))))
		}
		docs = append(docs, doc("", entry("Password", "secretUri", `{"u": "`+u+`"}`)))
	}
	docs = append(docs,
		// Values in every other string the document has.
		`{"servicePrincipalId": "`+c+`", "secrets": [`+base+`]}`,
		`{"servicePrincipalId": ["`+c+`"], "secrets": [`+base+`]}`,
		doc(`"apiVersion": "`+c+`"`, base),
		doc(`"dryRun": "`+c+`"`, base),
		doc(`"validate": {"templateId": "`+c+`"}`, base),
		doc(`"validate": {"jobId": "`+c+`", "templateId": "`+c+`"}`, base),
		doc(`"validate": "`+c+`"`, base),
		doc(`"job": {"id": "`+c+`", "action": "`+c+`", "resetScope": "`+c+`"}`, base),
		doc(`"job": {"id": "a", "action": "restart", "resetScope": "Full, `+c+`"}`, base),
		doc(`"job": {"id": "a", "action": "start", "resetScope": "`+c+`"}`, base),
		doc(`"unknown": "`+c+`"`, base),
		doc("", `"`+c+`"`),
		doc("", `{"key": "`+c+`", "value": "x"}`),
		`"`+c+`"`,
		`["`+c+`"]`,
		// Syntax errors inside and after values.
		doc("", `{"key": "Password", "value": "`+c+"\n"+`"}`),
		doc("", `{"key": "Password", "value": "`+c+`\x"}`),
		doc("", `{"key": "Password", "value": "`+c+`\ud800"}`),
		doc("", `{"key": "Password", "value": "`+c+`\u12"}`),
		doc("", `{"key": "Password", "value": "`+c+`"`),
		doc("", `{"key": "Password", "value": "`+c),
		doc("", `{"key": "Password", "value": `+c+`}`),
		doc("", `{"key": "Password", "value": "`+c+`" "x"}`),
		doc("", `{"key": "Password", "value": {"`+c+`" 1}}`),
		doc("", `{"key": "Password", "value": {"a": `+c+`}}`),
		doc("", base)+c,
		doc("", base)+`"`+c+`"`,
		"{\"servicePrincipalId\": \""+spid+"\", \"secrets\": [{\"key\": \"Password\", \"value\": \""+c+"\xff\"}]}",
		doc("", `{"key": "Password", "value": "`+c+strings.Repeat(" ", MaxBodyBytes)+`"}`),
	)

	policies := map[string]*Policy{"strict": testPolicy()}
	lenient := testPolicy()
	lenient.AllowLiteralCredentials = true
	lenient.AllowedServicePrincipals = map[string]bool{"11111111-1111-1111-1111-111111111111": true}
	policies["lenient"] = lenient

	checked := 0
	for pname, pol := range policies {
		for i, d := range docs {
			req, err := Parse([]byte(d), pol)
			if err == nil {
				// Valid after all (a literal under the lenient policy):
				// the request must not render the value either.
				for _, s := range []string{fmt.Sprint(req), fmt.Sprintf("%+v", req), fmt.Sprintf("%#v", req), fmt.Sprintf("%+v", req.Secrets)} {
					if leaks(s, c) {
						t.Errorf("%s doc %d: the parsed request renders the value", pname, i)
					}
				}
				continue
			}
			checked++
			perr, ok := err.(*Error)
			if !ok {
				t.Fatalf("%s doc %d: error %T, want *Error", pname, i, err)
			}
			renderings := []string{err.Error(), fmt.Sprint(err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), fmt.Sprintf("%#v", perr.Problems)}
			for _, p := range perr.Problems {
				renderings = append(renderings, p.Field, p.Message)
			}
			for _, s := range renderings {
				if leaks(s, c) {
					// Print where, never what: the message is the leak.
					t.Errorf("%s doc %d: a problem holds the value (%d problems)", pname, i, len(perr.Problems))
					break
				}
			}
		}
	}
	if total := len(policies) * len(docs); checked < total*3/4 {
		t.Errorf("only %d of %d parses were refused; the test checks too little", checked, total)
	}
}
