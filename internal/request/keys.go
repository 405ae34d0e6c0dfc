package request

// Keys lists the 45 synchronizationSecret names of Microsoft Graph in wire
// casing and in the order of the Graph metadata (docs/platform.md §2). It
// includes None, which CanonicalKey refuses: it names no secret.
//
// Keys is for documentation and listings; the validator keeps its own copy,
// so changing this slice changes nothing.
var Keys = append([]string(nil), keyNames[:]...)

// keyNames is the validator's copy of Keys.
var keyNames = [...]string{
	"None", "UserName", "Password", "SecretToken", "AppKey", "BaseAddress",
	"ClientIdentifier", "ClientSecret", "SingleSignOnType", "Sandbox", "Url",
	"Domain", "ConsumerKey", "ConsumerSecret", "TokenKey", "TokenExpiration",
	"Oauth2AccessToken", "Oauth2AccessTokenCreationTime", "Oauth2RefreshToken",
	"SyncAll", "InstanceName", "Oauth2ClientId", "Oauth2ClientSecret",
	"CompanyId", "UpdateKeyOnSoftDelete", "SynchronizationSchedule",
	"SystemOfRecord", "SandboxName", "EnforceDomain",
	"SyncNotificationSettings", "SkipOutOfScopeDeletions",
	"Oauth2AuthorizationCode", "Oauth2RedirectUri",
	"ApplicationTemplateIdentifier", "Oauth2TokenExchangeUri",
	"Oauth2AuthorizationUri", "AuthenticationType", "Server",
	"PerformInboundEntitlementGrants", "HardDeletesEnabled",
	"SyncAgentCompatibilityKey", "SyncAgentADContainer", "ValidateDomain",
	"TestReferences", "ConnectionString",
}

// credentialKeys are the keys whose values are credentials and so must come
// from Key Vault (docs/contract.md §2). It is the contract's list and no more: of
// the other 45 names, UserName, ClientIdentifier, ConsumerKey and
// Oauth2ClientId identify an account or client rather than prove it (each has
// a separate secret partner above), the Oauth2*Uri and BaseAddress keys are
// endpoints, and SyncAgentCompatibilityKey is an agent version marker, not a
// shared secret. None of them is clearly a credential, and refusing their
// literals would only push harmless configuration into Key Vault.
var credentialKeys = map[string]bool{
	"Password":                true,
	"SecretToken":             true,
	"ClientSecret":            true,
	"AppKey":                  true,
	"ConsumerSecret":          true,
	"TokenKey":                true,
	"Oauth2ClientSecret":      true,
	"Oauth2AccessToken":       true,
	"Oauth2RefreshToken":      true,
	"Oauth2AuthorizationCode": true,
	"ConnectionString":        true,
}

// syncNotificationSettings is the one key whose literal must hold a JSON
// object: Graph answers InvalidNotificationSettings otherwise, "" included.
const syncNotificationSettings = "SyncNotificationSettings"

// CanonicalKey returns the wire casing of a synchronizationSecret name,
// matched ASCII case-insensitively ("oauth2clientid" gives "Oauth2ClientId").
// It reports false for unknown names and for None, which names no secret.
func CanonicalKey(s string) (string, bool) {
	i := keyIndex(s)
	if i < 0 {
		return "", false
	}
	return keyNames[i], true
}

// keyIndex is CanonicalKey's index into keyNames, or -1. Index 0 (None) is
// never returned.
func keyIndex[T string | []byte](s T) int {
	for i := 1; i < len(keyNames); i++ {
		if equalFoldASCII(s, keyNames[i]) {
			return i
		}
	}
	return -1
}

// suggestKey returns the one canonical key within edit distance 2 of s,
// ignoring case, for "did you mean" hints; "" when there is none or more
// than one.
func suggestKey(s string) string {
	if len(s) > 64 {
		return ""
	}
	best, bestDist, ties := "", 3, 0
	for _, k := range keyNames[1:] {
		if len(s)-len(k) > 2 || len(k)-len(s) > 2 {
			continue // the distance is at least the difference in length
		}
		d := editDistanceFold(s, k)
		switch {
		case d < bestDist:
			best, bestDist, ties = k, d, 0
		case d == bestDist:
			ties++
		}
	}
	if ties > 0 {
		return ""
	}
	return best
}

// editDistanceFold is the Levenshtein distance between a and b, comparing
// bytes ASCII case-insensitively.
func editDistanceFold(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if lowerASCII(a[i-1]) == lowerASCII(b[j-1]) {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// lowerASCII lowercases an ASCII letter and leaves every other byte alone.
func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFoldASCII compares a and b ignoring ASCII case only. strings.EqualFold
// also folds Unicode (the Kelvin sign matches "k"), which would let
// look-alike names through.
func equalFoldASCII[T string | []byte](a T, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

// hasPrefixFoldASCII reports whether s begins with prefix, ignoring ASCII case.
func hasPrefixFoldASCII(s, prefix string) bool {
	return len(s) >= len(prefix) && equalFoldASCII(s[:len(prefix)], prefix)
}
