package state

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

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenKept is the kept state of testdata/kept-v1.golden.json: a pinned and an unpinned
// reference, a literal that needs no HTML escaping, and a time that is not in UTC.
func goldenKept() *Kept {
	return &Kept{
		ServicePrincipalID: "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c",
		Document: json.RawMessage(`{
  "servicePrincipalId": "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c",
  "follow": true,
  "secrets": [
    { "key": "BaseAddress", "value": "https://scim.example.com/scim/v2?a=1&b=<2>" },
    { "key": "SecretToken", "secretUri": "https://contoso-kv.vault.azure.net/secrets/scim-token" },
    { "key": "Password", "value": "@Microsoft.KeyVault(VaultName=contoso-kv;SecretName=Svc-Password;SecretVersion=0123456789abcdef0123456789abcdef)" }
  ]
}`),
		References: []Reference{
			{Field: "secrets[1]", Key: "SecretToken", Vault: "contoso-kv.vault.azure.net", Name: "scim-token", Resolved: "fedcba9876543210fedcba9876543210"},
			{Field: "secrets[2]", Key: "Password", Vault: "contoso-kv.vault.azure.net", Name: "Svc-Password", Version: "0123456789abcdef0123456789abcdef", Resolved: "0123456789abcdef0123456789abcdef"},
		},
		SavedAt:        time.Date(2026, 12, 2, 15, 4, 5, 123456789, time.FixedZone("CET", 3600)),
		GraphRequestID: "4c1f7c07-0d6e-4bbd-b2f5-8a9e2b0f3e11",
	}
}

// TestGolden pins the stored form of a kept state (docs/follow.md, "Kept state"): encode
// writes the golden file byte for byte, and decode reads it back to the same Kept, the
// document compacted and the time in UTC.
func TestGolden(t *testing.T) {
	path := filepath.Join("testdata", "kept-v1.golden.json")
	got, err := encode(goldenKept())
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("encode (-golden +got):\n%s", diff)
	}
	k, err := decode(want)
	if err != nil {
		t.Fatal(err)
	}
	wantKept := goldenKept()
	var doc bytes.Buffer
	if err := json.Compact(&doc, wantKept.Document); err != nil {
		t.Fatal(err)
	}
	wantKept.Document = doc.Bytes()
	if diff := cmp.Diff(wantKept, k); diff != "" {
		t.Errorf("decode of the golden file (-want +got):\n%s", diff)
	}
	if k.SavedAt.Location() != time.UTC {
		t.Errorf("SavedAt is in %v, want UTC", k.SavedAt.Location())
	}
}
