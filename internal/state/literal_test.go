package state

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestLiteralCredentialNeverKept tries to get a literal value of a
// credential-bearing key past the kept state's last check: a malformed
// reference whose text is the value, and documents that encoding/json reads
// differently from a strict parser (a field given twice, or twice in two
// casings; the last one wins in encoding/json, so a literal before a
// reference went unchecked). Each must be refused, without repeating the
// value; well-formed references of every cloud must still be kept.
func TestLiteralCredentialNeverKept(t *testing.T) {
	t.Parallel()
	const canary = "CANARY-kept-literal-5e81c"
	const ref = `@Microsoft.KeyVault(VaultName=contoso-kv;SecretName=scim-token)`
	doc := func(entries string) json.RawMessage {
		return json.RawMessage(`{"servicePrincipalId":"6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c","secrets":[` + entries + `]}`)
	}
	refused := []struct{ name, doc, raw string }{
		{"reference prefix, no closing parenthesis", `{"key":"Password","value":"@Microsoft.KeyVault(` + canary + `"}`, ""},
		{"reference prefix around the value", `{"key":"Password","value":"@Microsoft.KeyVault(` + canary + `)"}`, ""},
		{"reference with an unknown parameter", `{"key":"Password","value":"@Microsoft.KeyVault(VaultName=contoso-kv;SecretName=x;Pw=` + canary + `)"}`, ""},
		{"reference naming no secret", `{"key":"ClientSecret","value":"@microsoft.keyvault(VaultName=` + canary + `)"}`, ""},
		{"value twice, literal first", `{"key":"Password","value":"` + canary + `","value":"` + ref + `"}`, ""},
		{"value twice in two casings", `{"key":"Password","Value":"` + canary + `","value":"` + ref + `"}`, ""},
		{"key twice, credential first", `{"key":"Password","key":"BaseAddress","value":"` + canary + `"}`, ""},
		{name: "secrets twice in two casings", raw: `{"secrets":[{"key":"Password","value":"` + canary + `"}],"Secrets":[{"key":"Password","value":"` + ref + `"}]}`},
		{name: "secrets twice, once with a long s", raw: `{"secrets":[{"key":"Password","value":"` + canary + `"}],"\u017fecrets":[{"key":"Password","value":"` + ref + `"}]}`},
		{name: "key twice, once with a Kelvin sign", raw: `{"secrets":[{"\u212aey":"Password","key":"Password","value":"` + canary + `"}]}`},
		{name: "duplicate deeper down", raw: `{"secrets":[{"key":"Password","value":"` + ref + `"}],"job":{"id":"a","ID":"` + canary + `"}}`},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := json.RawMessage(tt.raw)
			if tt.raw == "" {
				d = doc(tt.doc)
			}
			k := &Kept{ServicePrincipalID: "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c", Document: d, SavedAt: time.Now()}
			_, err := encode(k)
			if err == nil {
				t.Fatal("encode kept a document holding a literal credential")
			}
			if strings.Contains(err.Error(), canary[8:]) {
				t.Error("the error repeats the literal value")
			}
		})
	}
	kept := []string{
		ref,
		` @microsoft.keyvault(VaultName=contoso-kv;SecretName=scim-token) `,
		`@Microsoft.KeyVault(SecretUri=https://contoso-kv.vault.azure.net/secrets/scim-token)`,
		`@Microsoft.KeyVault(SecretUri=https://contoso-kv.vault.usgovcloudapi.net/secrets/scim-token/)`,
		`@Microsoft.KeyVault(SecretUri=https://contoso-kv.vault.azure.cn/secrets/scim-token/0123456789abcdef0123456789abcdef)`,
		`@Microsoft.KeyVault(VaultName=contoso-kv.vault.usgovcloudapi.net;SecretName=scim-token)`,
	}
	for _, r := range kept {
		k := &Kept{ServicePrincipalID: "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c",
			Document: doc(`{"key":"BaseAddress","value":"https://x"},{"key":"Password","value":"` + r + `"}`), SavedAt: time.Now()}
		if _, err := encode(k); err != nil {
			t.Errorf("encode of reference %s: %v", r, err)
		}
	}
}
