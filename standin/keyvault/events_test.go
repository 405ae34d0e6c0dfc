package keyvault_test

import (
	"testing"

	"github.com/putsecrets/putsecrets/standin/keyvault"
	"github.com/putsecrets/putsecrets/standin/tlsca"
)

// TestOnNewVersion: SetSecret reports each version it adds, and may be
// called again from the hook (it runs outside the server's lock).
func TestOnNewVersion(t *testing.T) {
	t.Parallel()
	ca, err := tlsca.New()
	if err != nil {
		t.Fatal(err)
	}
	kv, err := keyvault.New(ca, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []keyvault.NewVersion
	kv.OnNewVersion(func(v keyvault.NewVersion) {
		got = append(got, v)
		kv.HasVault(v.Vault) // takes the lock: would deadlock inside it
	})
	kv.SetSecret("Contoso-KV.vault.azure.net", "Scim-Token", "v1", keyvault.Version("0123456789abcdef0123456789abcdef"))
	kv.SetSecret("contoso-kv.vault.azure.net", "scim-token", "v2")
	kv.OnNewVersion(nil)
	kv.SetSecret("contoso-kv.vault.azure.net", "scim-token", "v3")
	if len(got) != 2 {
		t.Fatalf("got %d notifications, want 2: %+v", len(got), got)
	}
	if got[0] != (keyvault.NewVersion{Vault: "contoso-kv.vault.azure.net", Name: "Scim-Token", Version: "0123456789abcdef0123456789abcdef"}) {
		t.Errorf("first: %+v", got[0])
	}
	if got[1].Name != "Scim-Token" || len(got[1].Version) != 32 || got[1].Version == got[0].Version {
		t.Errorf("second: %+v", got[1])
	}
}
