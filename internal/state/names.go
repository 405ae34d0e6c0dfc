package state

import (
	"strings"

	"github.com/putsecrets/putsecrets/internal/request"
)

// Blob names (docs/follow.md, "Kept state"):
//
//	states/{servicePrincipalId}.json               the kept state (keptJSON)
//	index/{vault host}/{lower(secret name)}/{spId} an empty blob: that state references the secret
//
// Blob names are case-sensitive and Key Vault names are not, so the index holds secret names
// in lower case; vault hosts are lower case already. Every segment is checked to be free of
// "/" and of anything but letters, digits, "-" and ".", so no name can reach outside its
// prefix.
const (
	statesPrefix = "states/"
	stateSuffix  = ".json"
	indexPrefix  = "index/"
)

// stateBlob is the name of the kept state of servicePrincipalID.
func stateBlob(servicePrincipalID string) string {
	return statesPrefix + servicePrincipalID + stateSuffix
}

// secretPrefix is the prefix of the index entries of one secret, ending in "/".
func secretPrefix(vault, name string) string {
	return indexPrefix + strings.ToLower(vault) + "/" + strings.ToLower(name) + "/"
}

// indexBlob is the index entry saying that servicePrincipalID references the secret.
func indexBlob(vault, name, servicePrincipalID string) string {
	return secretPrefix(vault, name) + servicePrincipalID
}

// indexBlobs returns the index entries of k, one per distinct secret, in reference order.
func indexBlobs(k *Kept) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range k.References {
		b := indexBlob(r.Vault, r.Name, k.ServicePrincipalID)
		if !seen[b] {
			seen[b] = true
			out = append(out, b)
		}
	}
	return out
}

// isGUID reports whether s is a service principal ID in the form the store
// names its blobs with: a GUID as request.ParseGUID accepts it, in lower case.
func isGUID(s string) bool {
	id, ok := request.ParseGUID(s)
	return ok && id == s
}

// isVaultHost reports whether s can be a vault's host as an index path segment: lower-case
// DNS labels of letters, digits and inner hyphens, at least two of them, at most 253 bytes.
func isVaultHost(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || l[0] == '-' || l[len(l)-1] == '-' || !madeOf(l, 63, isLowerLabelByte) {
			return false
		}
	}
	return true
}

// isSecretName reports whether s follows Key Vault's rule for object names: 1 to 127 ASCII
// letters, digits and hyphens.
func isSecretName(s string) bool {
	return madeOf(s, 127, func(c byte) bool { return isAlnum(c) || c == '-' })
}

// isVersion reports whether s can be a Key Vault object version: 1 to 64 ASCII letters and
// digits (Key Vault issues 32 lower-case hex digits).
func isVersion(s string) bool {
	return madeOf(s, 64, isAlnum)
}

// madeOf reports whether s is 1 to max bytes, each one that ok accepts.
func madeOf(s string, max int, ok func(byte) bool) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// isAlnum reports whether c is an ASCII letter or digit.
func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// isLowerLabelByte reports whether c may appear in a lower-case DNS label.
func isLowerLabelByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-'
}
