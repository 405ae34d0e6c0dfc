package request

import (
	"errors"
	"fmt"
	"strings"
)

// Reference names one Key Vault secret: where the handler reads a value with
// its managed identity instead of receiving it.
type Reference struct {
	// Vault is the vault name, lowercase ("contoso-kv").
	Vault string
	// Host is the vault's host, lowercase ("contoso-kv.vault.azure.net").
	Host string
	// Name is the secret name as written (Key Vault matches it
	// case-insensitively).
	Name string
	// Version is the secret version, or "" for the latest.
	Version string
	// Field is where the reference was written in the request, e.g.
	// "secrets[1].secretUri" or "secrets[2].value"; "" outside Parse.
	Field string
}

// VaultURL returns the vault's endpoint, e.g. "https://contoso-kv.vault.azure.net",
// as azsecrets.NewClient takes it.
func (r Reference) VaultURL() string { return "https://" + r.Host }

// kvPrefix opens an App Service style Key Vault reference.
const kvPrefix = "@Microsoft.KeyVault("

// The parameters of a Key Vault reference, in the casing messages use.
const (
	paramSecretURI     = "SecretUri"
	paramVaultName     = "VaultName"
	paramSecretName    = "SecretName"
	paramSecretVersion = "SecretVersion"
)

var referenceParams = [...]string{paramSecretURI, paramVaultName, paramSecretName, paramSecretVersion}

// Limits of Key Vault names.
const (
	minVaultName   = 3
	maxVaultName   = 24
	maxSecretName  = 127
	versionHexSize = 32
)

// isReference is ParseReference's test for the prefix alone.
func isReference(value string) bool {
	return hasPrefixFoldASCII(strings.TrimSpace(value), kvPrefix)
}

// normalizeSuffix lowercases suffix and drops surrounding dots and spaces.
func normalizeSuffix(suffix string) (string, error) {
	s := toLowerASCII(strings.Trim(strings.TrimSpace(suffix), "."))
	if s == "" {
		return "", errors.New("no Key Vault suffix is configured (the cloud's, e.g. vault.azure.net); fix the deployment's AZURE_CLOUD")
	}
	return s, nil
}

// uriForm is the expected secret URI for messages.
func uriForm(suffix string) string {
	return "https://{vault}." + suffix + "/secrets/{name}[/{version}]"
}

// uriError says what is wrong with a secret URI and shows the right form.
func uriError(msg, suffix string) error {
	return errors.New(msg + "; write " + uriForm(suffix))
}

func parseSecretURI(uri, suffix string) (Reference, error) {
	s := strings.TrimSpace(uri)
	if s == "" {
		return Reference{}, uriError("the secret URI is empty", suffix)
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return Reference{}, uriError("the secret URI is not an absolute URI", suffix)
	}
	if !equalFoldASCII(scheme, "https") {
		return Reference{}, uriError("the secret URI must be https", suffix)
	}
	if strings.ContainsRune(rest, '?') {
		return Reference{}, uriError("the secret URI must not have a query (?…)", suffix)
	}
	if strings.ContainsRune(rest, '#') {
		return Reference{}, uriError("the secret URI must not have a fragment (#…)", suffix)
	}
	authority, path, _ := strings.Cut(rest, "/")
	if strings.ContainsRune(authority, '@') {
		return Reference{}, uriError("the secret URI must not hold user information (…@)", suffix)
	}
	if strings.ContainsAny(authority, "[]") {
		return Reference{}, uriError("the secret URI must name a vault host, not an IP address", suffix)
	}
	if strings.ContainsRune(authority, ':') {
		return Reference{}, uriError("the secret URI must not name a port", suffix)
	}
	host := toLowerASCII(authority)
	vault, err := vaultFromHost(host, suffix)
	if err != nil {
		return Reference{}, fmt.Errorf("the secret URI's %w", err)
	}

	// path is what follows the authority's slash: "secrets/{name}[/{version}][/]".
	path = strings.TrimSuffix(path, "/")
	if strings.HasPrefix(path, "/") || strings.HasSuffix(path, "/") || strings.Contains(path, "//") {
		return Reference{}, uriError("the secret URI has an empty path segment", suffix)
	}
	seg, path, more := strings.Cut(path, "/")
	if !equalFoldASCII(seg, "secrets") {
		return Reference{}, uriError("the secret URI's path must start with /secrets/", suffix)
	}
	if !more {
		return Reference{}, uriError("the secret URI names no secret", suffix)
	}
	name, version, hasVersion := strings.Cut(path, "/")
	if strings.ContainsRune(version, '/') {
		return Reference{}, uriError("the secret URI has extra path segments", suffix)
	}
	if err := CheckSecretName(name); err != nil {
		return Reference{}, fmt.Errorf("the secret URI's %w", err)
	}
	if hasVersion {
		if err := CheckSecretVersion(version); err != nil {
			return Reference{}, fmt.Errorf("the secret URI's %w", err)
		}
	}
	return Reference{Vault: vault, Host: host, Name: name, Version: version}, nil
}

// parseReference parses what follows "@Microsoft.KeyVault(".
func parseReference(s, suffix string) (Reference, error) {
	const form = "; write @Microsoft.KeyVault(SecretUri=…) or @Microsoft.KeyVault(VaultName=…;SecretName=…[;SecretVersion=…])"
	body, ok := strings.CutSuffix(s, ")")
	if !ok {
		return Reference{}, errors.New(`the Key Vault reference must end with ")"` + form)
	}
	body = strings.TrimSpace(body)
	body = strings.TrimSuffix(body, ";")
	var vals [len(referenceParams)]string
	var set [len(referenceParams)]bool
	for n := 1; ; n++ {
		seg, rest, more := strings.Cut(body, ";")
		seg = strings.TrimSpace(seg)
		if seg == "" {
			return Reference{}, fmt.Errorf("the Key Vault reference's parameter %d is empty%s", n, form)
		}
		name, val, ok := strings.Cut(seg, "=")
		if !ok {
			return Reference{}, fmt.Errorf(`the Key Vault reference's parameter %d has no "="%s`, n, form)
		}
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		i := referenceParam(name)
		if i < 0 {
			return Reference{}, fmt.Errorf("the Key Vault reference's parameter %d is not one of SecretUri, VaultName, SecretName, SecretVersion%s", n, form)
		}
		if set[i] {
			return Reference{}, fmt.Errorf("the Key Vault reference sets %s twice%s", referenceParams[i], form)
		}
		if val == "" {
			return Reference{}, fmt.Errorf("the Key Vault reference's %s is empty%s", referenceParams[i], form)
		}
		vals[i], set[i] = val, true
		if !more {
			break
		}
		body = rest
	}

	if set[0] {
		if set[1] || set[2] || set[3] {
			return Reference{}, errors.New("the Key Vault reference combines SecretUri with VaultName, SecretName or SecretVersion; use one form" + form)
		}
		ref, err := parseSecretURI(vals[0], suffix)
		if err != nil {
			return Reference{}, fmt.Errorf("the Key Vault reference's SecretUri is invalid: %w", err)
		}
		return ref, nil
	}
	if !set[1] {
		return Reference{}, errors.New("the Key Vault reference has no VaultName" + form)
	}
	if !set[2] {
		return Reference{}, errors.New("the Key Vault reference has no SecretName" + form)
	}
	var ref Reference
	vault := toLowerASCII(vals[1])
	if strings.ContainsRune(vault, '.') {
		v, err := vaultFromHost(vault, suffix)
		if err != nil {
			return Reference{}, fmt.Errorf("the Key Vault reference's VaultName holds a dot, so it must be a vault host, but its %w", err)
		}
		ref.Vault, ref.Host = v, vault
	} else {
		if err := CheckVaultName(vault); err != nil {
			return Reference{}, fmt.Errorf("the Key Vault reference's VaultName: %w", err)
		}
		ref.Vault, ref.Host = vault, vault+"."+suffix
	}
	if err := CheckSecretName(vals[2]); err != nil {
		return Reference{}, fmt.Errorf("the Key Vault reference's SecretName: %w", err)
	}
	ref.Name = vals[2]
	if set[3] {
		if err := CheckSecretVersion(vals[3]); err != nil {
			return Reference{}, fmt.Errorf("the Key Vault reference's SecretVersion: %w", err)
		}
		ref.Version = vals[3]
	}
	return ref, nil
}

// referenceParam returns the index of name in referenceParams, ignoring
// ASCII case, or -1.
func referenceParam(name string) int {
	for i, p := range referenceParams {
		if equalFoldASCII(name, p) {
			return i
		}
	}
	return -1
}

// vaultFromHost returns the vault name of a lowercase host
// "{vault}.{suffix}". Its errors read after "the secret URI's ".
func vaultFromHost(host, suffix string) (string, error) {
	vault, ok := strings.CutSuffix(host, "."+suffix)
	if !ok {
		return "", fmt.Errorf("host is not under %s, the Key Vault suffix of the configured cloud; write %s", suffix, uriForm(suffix))
	}
	if strings.ContainsRune(vault, '.') {
		return "", fmt.Errorf("host must be {vault}.%s, one vault name directly under the suffix", suffix)
	}
	if err := CheckVaultName(vault); err != nil {
		return "", fmt.Errorf("host: %w", err)
	}
	return vault, nil
}

// CheckVaultName applies Key Vault's naming rules: 3 to 24 letters, digits
// and hyphens, starting with a letter, ending with a letter or digit, no
// consecutive hyphens.
func CheckVaultName(v string) error {
	if len(v) < minVaultName || len(v) > maxVaultName {
		return fmt.Errorf("the vault name has %d characters; Key Vault names have %d to %d", len(v), minVaultName, maxVaultName)
	}
	for i := 0; i < len(v); i++ {
		if !isNameByte(v[i]) {
			return errors.New("the vault name may hold only letters, digits and hyphens")
		}
	}
	if !isLetter(v[0]) {
		return errors.New("the vault name must start with a letter")
	}
	if v[len(v)-1] == '-' {
		return errors.New("the vault name must end with a letter or digit")
	}
	if strings.Contains(v, "--") {
		return errors.New("the vault name must not contain consecutive hyphens")
	}
	return nil
}

// CheckSecretName applies Key Vault's rule for secret names: 1 to 127
// letters, digits and hyphens.
func CheckSecretName(n string) error {
	if len(n) < 1 || len(n) > maxSecretName {
		return fmt.Errorf("secret name has %d characters; Key Vault secret names have 1 to %d", len(n), maxSecretName)
	}
	for i := 0; i < len(n); i++ {
		if !isNameByte(n[i]) {
			return errors.New("secret name may hold only letters, digits and hyphens")
		}
	}
	return nil
}

// CheckSecretVersion accepts a Key Vault object version: 32 hexadecimal
// digits. Key Vault documents a version as "a system-generated, 32 character
// string identifier" and issues lowercase hex; identifiers compare
// case-insensitively, so either case is accepted.
//
// CheckVaultName, CheckSecretName and CheckSecretVersion are the one
// definition of Key Vault's names: the parser and the vault package use
// them.
func CheckSecretVersion(v string) error {
	if len(v) != versionHexSize {
		return fmt.Errorf("secret version has %d characters; a version has %d hexadecimal digits (omit it for the latest)", len(v), versionHexSize)
	}
	for i := 0; i < len(v); i++ {
		if !isHex(v[i]) {
			return errors.New("secret version must be hexadecimal digits (omit it for the latest)")
		}
	}
	return nil
}

func isLetter(c byte) bool   { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool    { return '0' <= c && c <= '9' }
func isHex(c byte) bool      { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }
func isNameByte(c byte) bool { return isLetter(c) || isDigit(c) || c == '-' }

// toLowerASCII lowercases ASCII letters only, so that no Unicode look-alike
// (the Kelvin sign) turns into a valid name. It allocates only when s
// changes.
func toLowerASCII(s string) string {
	i := 0
	for i < len(s) && !('A' <= s[i] && s[i] <= 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		b[i] = lowerASCII(b[i])
	}
	return string(b)
}
