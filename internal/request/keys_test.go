package request

import (
	"strings"
	"testing"
)

func TestKeys(t *testing.T) {
	t.Parallel()
	if got, want := len(Keys), 45; got != want {
		t.Fatalf("len(Keys) = %d, want %d", got, want)
	}
	// docs/platform.md §2, verbatim.
	const facts = `None UserName Password SecretToken AppKey BaseAddress ClientIdentifier ClientSecret
  SingleSignOnType Sandbox Url Domain ConsumerKey ConsumerSecret TokenKey TokenExpiration
  Oauth2AccessToken Oauth2AccessTokenCreationTime Oauth2RefreshToken SyncAll InstanceName
  Oauth2ClientId Oauth2ClientSecret CompanyId UpdateKeyOnSoftDelete SynchronizationSchedule
  SystemOfRecord SandboxName EnforceDomain SyncNotificationSettings SkipOutOfScopeDeletions
  Oauth2AuthorizationCode Oauth2RedirectUri ApplicationTemplateIdentifier Oauth2TokenExchangeUri
  Oauth2AuthorizationUri AuthenticationType Server PerformInboundEntitlementGrants
  HardDeletesEnabled SyncAgentCompatibilityKey SyncAgentADContainer ValidateDomain TestReferences
  ConnectionString`
	if got, want := strings.Join(Keys, " "), strings.Join(strings.Fields(facts), " "); got != want {
		t.Errorf("Keys = %s\nwant %s", got, want)
	}
	for k := range credentialKeys {
		if c, ok := CanonicalKey(k); !ok || c != k {
			t.Errorf("credential key %s is not a canonical key", k)
		}
	}
}

func TestKeysIsACopy(t *testing.T) {
	t.Parallel()
	if &Keys[0] == &keyNames[0] {
		t.Fatal("Keys shares its array with the validator")
	}
}

func TestCanonicalKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"Oauth2ClientId", "Oauth2ClientId", true},
		{"oauth2clientid", "Oauth2ClientId", true},
		{"OAUTH2CLIENTID", "Oauth2ClientId", true},
		{"OAuth2ClientId", "Oauth2ClientId", true},
		{"baseaddress", "BaseAddress", true},
		{"ConnectionString", "ConnectionString", true},
		{"syncagentadcontainer", "SyncAgentADContainer", true},
		{"None", "", false},
		{"none", "", false},
		{"", "", false},
		{"Passwort", "", false},
		{" Password", "", false},
		{"Password ", "", false},
		{"Sec\u212Aet", "", false}, // Kelvin sign: only ASCII case folds
		{"Secret\u212Aoken", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, ok := CanonicalKey(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("CanonicalKey(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
	for _, k := range Keys[1:] {
		if got, ok := CanonicalKey(strings.ToLower(k)); !ok || got != k {
			t.Errorf("CanonicalKey(%q) = %q, %v; want %q, true", strings.ToLower(k), got, ok, k)
		}
	}
}

func TestIsCredential(t *testing.T) {
	t.Parallel()
	want := []string{
		"Password", "SecretToken", "ClientSecret", "AppKey", "ConsumerSecret", "TokenKey",
		"Oauth2ClientSecret", "Oauth2AccessToken", "Oauth2RefreshToken",
		"Oauth2AuthorizationCode", "ConnectionString",
	}
	for _, k := range want {
		if !IsCredential(k) || !IsCredential(strings.ToUpper(k)) {
			t.Errorf("IsCredential(%s) = false, want true", k)
		}
	}
	for _, k := range []string{"BaseAddress", "UserName", "ClientIdentifier", "Oauth2ClientId", "SyncAll", "None", "nonsense", ""} {
		if IsCredential(k) {
			t.Errorf("IsCredential(%s) = true, want false", k)
		}
	}
}

func TestSuggestKey(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"Passwrd":               "Password",
		"secrettoken":           "SecretToken",
		"SecretTokens":          "SecretToken",
		"BaseAdress":            "BaseAddress",
		"xyz":                   "",
		"Url2":                  "Url",
		strings.Repeat("a", 65): "",
	}
	for in, want := range tests {
		if got := suggestKey(in); got != want {
			t.Errorf("suggestKey(%q) = %q, want %q", in, got, want)
		}
	}
}
