package request

import "strings"

// The parsers below read one reference or key outside a whole document: the
// kept-state store (internal/state) re-reads the references of a kept
// document, and Key Vault events (internal/kvevent) name a secret by its
// identifier. They apply the same rules as Parse.

// ParseGUID accepts a GUID as 8-4-4-4-12 hexadecimal digits in either case,
// without braces, and returns it lowercase: the form a request's
// servicePrincipalId is checked and compared in. Settings and the kept-state
// store check their IDs with it too.
func ParseGUID(s string) (string, bool) { return parseGUID(s) }

// ParseSecretURI parses a Key Vault secret identifier,
// "https://{vault}.{suffix}/secrets/{name}[/{version}]", with at most one
// trailing slash (App Service's documented form has one). suffix is the
// configured cloud's Key Vault DNS suffix, e.g. "vault.azure.net".
//
// It refuses other schemes, user information, any port, a query, a fragment,
// empty or extra path segments, hosts outside suffix and names that break
// Key Vault's rules. Host and Vault come back lowercase; Field is empty.
// Error messages never repeat the input.
func ParseSecretURI(uri, suffix string) (Reference, error) {
	suffix, err := normalizeSuffix(suffix)
	if err != nil {
		return Reference{}, err
	}
	return parseSecretURI(uri, suffix)
}

// ParseReference parses an App Service style Key Vault reference:
// "@Microsoft.KeyVault(SecretUri=…)" or
// "@Microsoft.KeyVault(VaultName=…;SecretName=…[;SecretVersion=…])".
//
// isRef reports whether value is meant as a reference at all: whether it
// begins, after spaces, with "@Microsoft.KeyVault(" in any ASCII casing. A
// value that does is never a literal: when it is malformed, err says why and
// isRef is still true. Parameter names match case-insensitively, each at most
// once; spaces around names and values and one trailing ";" are ignored.
// VaultName is a vault name, or a vault host under suffix. Error messages
// never repeat the input.
func ParseReference(value, suffix string) (ref Reference, isRef bool, err error) {
	s := strings.TrimSpace(value)
	if !hasPrefixFoldASCII(s, kvPrefix) {
		return Reference{}, false, nil
	}
	suffix, err = normalizeSuffix(suffix)
	if err != nil {
		return Reference{}, true, err
	}
	ref, err = parseReference(s[len(kvPrefix):], suffix)
	return ref, true, err
}

// IsCredential reports whether key, in any casing, is credential-bearing:
// a literal value for it is refused unless the policy allows literal
// credentials.
func IsCredential(key string) bool {
	k, ok := CanonicalKey(key)
	return ok && credentialKeys[k]
}
