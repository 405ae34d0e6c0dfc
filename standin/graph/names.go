package graph

// secretNames are the 45 synchronizationSecret members in wire casing,
// identical in v1.0, beta and every national cloud (AZURE-FACTS §2).
var secretNames = []string{
	"None", "UserName", "Password", "SecretToken", "AppKey", "BaseAddress",
	"ClientIdentifier", "ClientSecret", "SingleSignOnType", "Sandbox", "Url",
	"Domain", "ConsumerKey", "ConsumerSecret", "TokenKey", "TokenExpiration",
	"Oauth2AccessToken", "Oauth2AccessTokenCreationTime", "Oauth2RefreshToken",
	"SyncAll", "InstanceName", "Oauth2ClientId", "Oauth2ClientSecret",
	"CompanyId", "UpdateKeyOnSoftDelete", "SynchronizationSchedule",
	"SystemOfRecord", "SandboxName", "EnforceDomain", "SyncNotificationSettings",
	"SkipOutOfScopeDeletions", "Oauth2AuthorizationCode", "Oauth2RedirectUri",
	"ApplicationTemplateIdentifier", "Oauth2TokenExchangeUri",
	"Oauth2AuthorizationUri", "AuthenticationType", "Server",
	"PerformInboundEntitlementGrants", "HardDeletesEnabled",
	"SyncAgentCompatibilityKey", "SyncAgentADContainer", "ValidateDomain",
	"TestReferences", "ConnectionString",
}

// SecretNames returns the 45 synchronizationSecret names in wire casing.
func SecretNames() []string { return append([]string(nil), secretNames...) }

var secretNameSet = func() map[string]bool {
	m := make(map[string]bool, len(secretNames))
	for _, n := range secretNames {
		m[n] = true
	}
	return m
}()
