package state

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecode feeds decode, the reader of kept-state blobs (untrusted input from storage),
// arbitrary bytes: it never panics, and what it accepts passes check, encodes again, and
// decodes to the same Kept (round trip).
func FuzzDecode(f *testing.F) {
	good, err := encode(&Kept{
		ServicePrincipalID: "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c",
		Document:           json.RawMessage(`{"secrets":[{"key":"SecretToken","secretUri":"https://contoso-kv.vault.azure.net/secrets/scim-token"}]}`),
		References:         []Reference{{Field: "secrets[0]", Key: "SecretToken", Vault: "contoso-kv.vault.azure.net", Name: "scim-token", Resolved: "0123456789abcdef0123456789abcdef"}},
		SavedAt:            time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC),
		GraphRequestID:     "4c1f7c07-0d6e-4bbd-b2f5-8a9e2b0f3e11",
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(bytes.Replace(good, []byte(`"schema":1`), []byte(`"schema":2`), 1))
	f.Add(bytes.Replace(good, []byte(`scim-token"`), []byte(`scim/../token"`), 1))
	f.Add([]byte(`{"schema":1,"servicePrincipalId":"6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c","document":{"secrets":[{"key":"Password","value":"x"}]},"savedAt":"2026-12-02T14:00:00Z"}`))
	f.Add([]byte(`{"schema":1,"document":null,"references":null}`))
	f.Add([]byte("\ufeff{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := decode(data)
		if err != nil {
			return
		}
		if err := check(k); err != nil {
			t.Fatalf("decode accepted a Kept that check refuses: %v", err)
		}
		again, err := encode(k)
		if err != nil {
			t.Fatalf("encode of a decoded Kept: %v", err)
		}
		k2, err := decode(again)
		if err != nil {
			t.Fatalf("decode of a re-encoded Kept: %v", err)
		}
		var d1, d2 bytes.Buffer
		_ = json.Compact(&d1, k.Document)
		_ = json.Compact(&d2, k2.Document)
		k.Document, k2.Document = d1.Bytes(), d2.Bytes()
		if diff := cmp.Diff(k, k2); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}
