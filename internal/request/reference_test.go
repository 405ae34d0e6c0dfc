package request

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	publicSuffix = "vault.azure.net"
	version32    = "ec96f02080254f109c51a1f14cdb1931"
)

func TestParseSecretURI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		uri     string
		suffix  string
		want    Reference
		wantErr string // substring of the error; "" = valid
	}{
		{name: "plain", uri: "https://contoso-kv.vault.azure.net/secrets/scim-token",
			want: Reference{Vault: "contoso-kv", Host: "contoso-kv.vault.azure.net", Name: "scim-token"}},
		{name: "trailing slash", uri: "https://contoso-kv.vault.azure.net/secrets/scim-token/",
			want: Reference{Vault: "contoso-kv", Host: "contoso-kv.vault.azure.net", Name: "scim-token"}},
		{name: "version", uri: "https://contoso-kv.vault.azure.net/secrets/scim-token/" + version32,
			want: Reference{Vault: "contoso-kv", Host: "contoso-kv.vault.azure.net", Name: "scim-token", Version: version32}},
		{name: "version and slash", uri: "https://contoso-kv.vault.azure.net/secrets/scim-token/" + version32 + "/",
			want: Reference{Vault: "contoso-kv", Host: "contoso-kv.vault.azure.net", Name: "scim-token", Version: version32}},
		{name: "upper case host and scheme", uri: "HTTPS://Contoso-KV.Vault.Azure.NET/Secrets/Scim-Token",
			want: Reference{Vault: "contoso-kv", Host: "contoso-kv.vault.azure.net", Name: "Scim-Token"}},
		{name: "spaces around", uri: "  https://contoso-kv.vault.azure.net/secrets/a \n",
			want: Reference{Vault: "contoso-kv", Host: "contoso-kv.vault.azure.net", Name: "a"}},
		{name: "china", uri: "https://kv-cn.vault.azure.cn/secrets/a", suffix: "vault.azure.cn",
			want: Reference{Vault: "kv-cn", Host: "kv-cn.vault.azure.cn", Name: "a"}},
		{name: "suffix normalized", uri: "https://kvx.vault.usgovcloudapi.net/secrets/a", suffix: ".Vault.UsGovCloudApi.Net",
			want: Reference{Vault: "kvx", Host: "kvx.vault.usgovcloudapi.net", Name: "a"}},
		{name: "127 char name", uri: "https://kvx.vault.azure.net/secrets/" + strings.Repeat("a", 127),
			want: Reference{Vault: "kvx", Host: "kvx.vault.azure.net", Name: strings.Repeat("a", 127)}},
		{name: "24 char vault", uri: "https://" + "a" + strings.Repeat("b", 23) + ".vault.azure.net/secrets/a",
			want: Reference{Vault: "a" + strings.Repeat("b", 23), Host: "a" + strings.Repeat("b", 23) + ".vault.azure.net", Name: "a"}},

		{name: "empty", uri: "", wantErr: "the secret URI is empty"},
		{name: "relative", uri: "contoso-kv.vault.azure.net/secrets/a", wantErr: "not an absolute URI"},
		{name: "http", uri: "http://contoso-kv.vault.azure.net/secrets/a", wantErr: "must be https"},
		{name: "ftp", uri: "ftp://contoso-kv.vault.azure.net/secrets/a", wantErr: "must be https"},
		{name: "userinfo", uri: "https://user@contoso-kv.vault.azure.net/secrets/a", wantErr: "user information"},
		{name: "port", uri: "https://contoso-kv.vault.azure.net:443/secrets/a", wantErr: "must not name a port"},
		{name: "ipv6", uri: "https://[::1]/secrets/a", wantErr: "not an IP address"},
		{name: "query", uri: "https://contoso-kv.vault.azure.net/secrets/a?api-version=7.4", wantErr: "must not have a query"},
		{name: "fragment", uri: "https://contoso-kv.vault.azure.net/secrets/a#x", wantErr: "must not have a fragment"},
		{name: "other cloud", uri: "https://contoso-kv.vault.azure.cn/secrets/a", wantErr: "host is not under vault.azure.net, the Key Vault suffix of the configured cloud"},
		{name: "look-alike suffix", uri: "https://contoso-kv.vault.azure.net.evil.com/secrets/a", wantErr: "host is not under vault.azure.net"},
		{name: "suffix without dot", uri: "https://evilvault.azure.net/secrets/a", wantErr: "host is not under vault.azure.net"},
		{name: "bare suffix", uri: "https://vault.azure.net/secrets/a", wantErr: "host is not under vault.azure.net"},
		{name: "trailing dot host", uri: "https://kvx.vault.azure.net./secrets/a", wantErr: "host is not under"},
		{name: "subdomain", uri: "https://a.kvx.vault.azure.net/secrets/a", wantErr: "one vault name directly under the suffix"},
		{name: "vault too short", uri: "https://kv.vault.azure.net/secrets/a", wantErr: "the vault name has 2 characters"},
		{name: "vault too long", uri: "https://a" + strings.Repeat("b", 24) + ".vault.azure.net/secrets/a", wantErr: "the vault name has 25 characters"},
		{name: "vault digit first", uri: "https://1kv.vault.azure.net/secrets/a", wantErr: "start with a letter"},
		{name: "vault hyphen last", uri: "https://kvx-.vault.azure.net/secrets/a", wantErr: "end with a letter or digit"},
		{name: "vault double hyphen", uri: "https://kv--x.vault.azure.net/secrets/a", wantErr: "consecutive hyphens"},
		{name: "vault underscore", uri: "https://kv_x.vault.azure.net/secrets/a", wantErr: "only letters, digits and hyphens"},
		{name: "vault unicode", uri: "https://kvé.vault.azure.net/secrets/a", wantErr: "only letters, digits and hyphens"},
		{name: "vault kelvin", uri: "https://\u212Avx.vault.azure.net/secrets/a", wantErr: "only letters, digits and hyphens"},
		{name: "no path", uri: "https://kvx.vault.azure.net", wantErr: "must start with /secrets/"},
		{name: "root path", uri: "https://kvx.vault.azure.net/", wantErr: "must start with /secrets/"},
		{name: "keys path", uri: "https://kvx.vault.azure.net/keys/a", wantErr: "must start with /secrets/"},
		{name: "no name", uri: "https://kvx.vault.azure.net/secrets", wantErr: "names no secret"},
		{name: "no name slash", uri: "https://kvx.vault.azure.net/secrets/", wantErr: "names no secret"},
		{name: "empty name", uri: "https://kvx.vault.azure.net/secrets//", wantErr: "empty path segment"},
		{name: "double slash", uri: "https://kvx.vault.azure.net//secrets/a", wantErr: "empty path segment"},
		{name: "empty version", uri: "https://kvx.vault.azure.net/secrets/a//", wantErr: "empty path segment"},
		{name: "two trailing slashes", uri: "https://kvx.vault.azure.net/secrets/a/" + version32 + "//", wantErr: "empty path segment"},
		{name: "extra segment", uri: "https://kvx.vault.azure.net/secrets/a/" + version32 + "/x", wantErr: "extra path segments"},
		{name: "name underscore", uri: "https://kvx.vault.azure.net/secrets/a_b", wantErr: "secret name may hold only letters, digits and hyphens"},
		{name: "name escaped", uri: "https://kvx.vault.azure.net/secrets/a%2Fb", wantErr: "secret name may hold only"},
		{name: "name too long", uri: "https://kvx.vault.azure.net/secrets/" + strings.Repeat("a", 128), wantErr: "secret name has 128 characters"},
		{name: "short version", uri: "https://kvx.vault.azure.net/secrets/a/abc", wantErr: "secret version has 3 characters"},
		{name: "non-hex version", uri: "https://kvx.vault.azure.net/secrets/a/" + strings.Repeat("g", 32), wantErr: "hexadecimal"},
		{name: "no suffix configured", uri: "https://kvx.vault.azure.net/secrets/a", suffix: " ", wantErr: "no Key Vault suffix is configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			suffix := tt.suffix
			if suffix == "" {
				suffix = publicSuffix
			}
			got, err := ParseSecretURI(tt.uri, suffix)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSecretURI(%q) error = %v, want one containing %q", tt.uri, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSecretURI(%q) error = %v", tt.uri, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseSecretURI(%q) mismatch (-want +got):\n%s", tt.uri, diff)
			}
			back, err := ParseSecretURI(got.URI(), suffix)
			if err != nil || back != got {
				t.Errorf("ParseSecretURI(URI()) = %+v, %v; want %+v", back, err, got)
			}
		})
	}
}

func TestParseReference(t *testing.T) {
	t.Parallel()
	kv := Reference{Vault: "contoso-kv", Host: "contoso-kv.vault.azure.net", Name: "svc-password"}
	kvVersion := kv
	kvVersion.Version = version32
	tests := []struct {
		name    string
		value   string
		want    Reference
		isRef   bool
		wantErr string
	}{
		{name: "not a reference", value: "hunter2"},
		{name: "empty", value: ""},
		{name: "prefix inside", value: "x@Microsoft.KeyVault(SecretUri=https://contoso-kv.vault.azure.net/secrets/svc-password)"},
		{name: "no parenthesis", value: "@Microsoft.KeyVault"},
		{name: "secret uri", value: "@Microsoft.KeyVault(SecretUri=https://contoso-kv.vault.azure.net/secrets/svc-password)", want: kv, isRef: true},
		{name: "secret uri app service form", value: "@Microsoft.KeyVault(SecretUri=https://contoso-kv.vault.azure.net/secrets/svc-password/)", want: kv, isRef: true},
		{name: "secret uri version", value: "@Microsoft.KeyVault(SecretUri=https://contoso-kv.vault.azure.net/secrets/svc-password/" + version32 + ")", want: kvVersion, isRef: true},
		{name: "vault and name", value: "@Microsoft.KeyVault(VaultName=contoso-kv;SecretName=svc-password)", want: kv, isRef: true},
		{name: "vault name and version", value: "@Microsoft.KeyVault(VaultName=contoso-kv;SecretName=svc-password;SecretVersion=" + version32 + ")", want: kvVersion, isRef: true},
		{name: "any order", value: "@Microsoft.KeyVault(SecretName=svc-password;VaultName=Contoso-KV)", want: kv, isRef: true},
		{name: "case-insensitive", value: "@microsoft.keyvault(vaultname=contoso-kv;secretname=svc-password)", want: kv, isRef: true},
		{name: "spaces", value: "  @Microsoft.KeyVault( VaultName = contoso-kv ; SecretName = svc-password )  ", want: kv, isRef: true},
		{name: "trailing semicolon", value: "@Microsoft.KeyVault(VaultName=contoso-kv;SecretName=svc-password;)", want: kv, isRef: true},
		{name: "vault host", value: "@Microsoft.KeyVault(VaultName=contoso-kv.vault.azure.net;SecretName=svc-password)", want: kv, isRef: true},

		{name: "unterminated", value: "@Microsoft.KeyVault(VaultName=contoso-kv;SecretName=svc-password", isRef: true, wantErr: `must end with ")"`},
		{name: "prefix only", value: "@Microsoft.KeyVault(", isRef: true, wantErr: `must end with ")"`},
		{name: "empty parens", value: "@Microsoft.KeyVault()", isRef: true, wantErr: "parameter 1 is empty"},
		{name: "empty parameter", value: "@Microsoft.KeyVault(VaultName=contoso-kv;;SecretName=svc-password)", isRef: true, wantErr: "parameter 2 is empty"},
		{name: "no equals", value: "@Microsoft.KeyVault(hunter2)", isRef: true, wantErr: `parameter 1 has no "="`},
		{name: "unknown parameter", value: "@Microsoft.KeyVault(VaultName=contoso-kv;SecretName=a;Password=b)", isRef: true, wantErr: "parameter 3 is not one of SecretUri, VaultName, SecretName, SecretVersion"},
		{name: "duplicate parameter", value: "@Microsoft.KeyVault(VaultName=contoso-kv;vaultname=x;SecretName=a)", isRef: true, wantErr: "sets VaultName twice"},
		{name: "empty value", value: "@Microsoft.KeyVault(VaultName=;SecretName=a)", isRef: true, wantErr: "VaultName is empty"},
		{name: "mixed forms", value: "@Microsoft.KeyVault(SecretUri=https://contoso-kv.vault.azure.net/secrets/a;SecretVersion=" + version32 + ")", isRef: true, wantErr: "combines SecretUri"},
		{name: "no vault", value: "@Microsoft.KeyVault(SecretName=a)", isRef: true, wantErr: "has no VaultName"},
		{name: "no secret", value: "@Microsoft.KeyVault(VaultName=contoso-kv)", isRef: true, wantErr: "has no SecretName"},
		{name: "version only", value: "@Microsoft.KeyVault(SecretVersion=" + version32 + ")", isRef: true, wantErr: "has no VaultName"},
		{name: "bad uri", value: "@Microsoft.KeyVault(SecretUri=http://contoso-kv.vault.azure.net/secrets/a)", isRef: true, wantErr: "SecretUri is invalid: the secret URI must be https"},
		{name: "bad vault", value: "@Microsoft.KeyVault(VaultName=c_v;SecretName=a)", isRef: true, wantErr: "VaultName: the vault name may hold only"},
		{name: "vault host other cloud", value: "@Microsoft.KeyVault(VaultName=contoso-kv.vault.azure.cn;SecretName=a)", isRef: true, wantErr: "host is not under vault.azure.net"},
		{name: "bad secret", value: "@Microsoft.KeyVault(VaultName=contoso-kv;SecretName=a.b)", isRef: true, wantErr: "SecretName: secret name may hold only"},
		{name: "bad version", value: "@Microsoft.KeyVault(VaultName=contoso-kv;SecretName=a;SecretVersion=latest)", isRef: true, wantErr: "SecretVersion: secret version has 6 characters"},
		{name: "extra after paren", value: "@Microsoft.KeyVault(VaultName=contoso-kv;SecretName=a)x", isRef: true, wantErr: `must end with ")"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, isRef, err := ParseReference(tt.value, publicSuffix)
			if isRef != tt.isRef {
				t.Fatalf("ParseReference isRef = %v, want %v", isRef, tt.isRef)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseReference error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseReference error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseReference mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReferenceURLs(t *testing.T) {
	t.Parallel()
	r := Reference{Vault: "contoso-kv", Host: "contoso-kv.vault.azure.net", Name: "a"}
	if got, want := r.VaultURL(), "https://contoso-kv.vault.azure.net"; got != want {
		t.Errorf("VaultURL() = %s, want %s", got, want)
	}
	if got, want := r.URI(), "https://contoso-kv.vault.azure.net/secrets/a"; got != want {
		t.Errorf("URI() = %s, want %s", got, want)
	}
	r.Version = version32
	if got, want := r.URI(), "https://contoso-kv.vault.azure.net/secrets/a/"+version32; got != want {
		t.Errorf("URI() = %s, want %s", got, want)
	}
}

// TestReferenceErrorsNeverQuoteInput feeds references whose every part is a
// canary and checks that no error repeats it.
func TestReferenceErrorsNeverQuoteInput(t *testing.T) {
	t.Parallel()
	const c = "Canary_9f2c!"
	for _, v := range []string{
		"@Microsoft.KeyVault(" + c,
		"@Microsoft.KeyVault(" + c + ")",
		"@Microsoft.KeyVault(" + c + "=" + c + ")",
		"@Microsoft.KeyVault(VaultName=" + c + ";SecretName=" + c + ")",
		"@Microsoft.KeyVault(VaultName=kvx;SecretName=" + c + ")",
		"@Microsoft.KeyVault(VaultName=kvx;SecretName=a;SecretVersion=" + c + ")",
		"@Microsoft.KeyVault(VaultName=" + c + ".vault.azure.net;SecretName=a)",
		"@Microsoft.KeyVault(SecretUri=" + c + ")",
		"@Microsoft.KeyVault(SecretUri=https://" + c + "/secrets/a)",
		"@Microsoft.KeyVault(SecretUri=https://kvx.vault.azure.net/secrets/" + c + ")",
		"@Microsoft.KeyVault(SecretUri=https://kvx.vault.azure.net/secrets/a?" + c + ")",
		"@Microsoft.KeyVault(SecretUri=https://" + c + "@kvx.vault.azure.net/secrets/a)",
	} {
		_, isRef, err := ParseReference(v, publicSuffix)
		if !isRef || err == nil {
			t.Errorf("ParseReference(#%d) = %v, %v; want a malformed reference", len(v), isRef, err)
			continue
		}
		if strings.Contains(err.Error(), "Canary") {
			t.Errorf("ParseReference error repeats its input: %v", err)
		}
	}
}
