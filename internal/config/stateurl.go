package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/putsecrets/putsecrets/internal/cloud"
)

// defaultStateURL is the state container in the host storage account:
// {blobServiceUri}/putsecrets-state, else the account's blob endpoint in the
// cloud. It returns the URL and the setting it came from ("" when neither is
// set: then nothing can be kept).
func defaultStateURL(blobServiceURI, accountName string, c cloud.Cloud) (string, string) {
	switch {
	case blobServiceURI != "":
		return strings.TrimRight(blobServiceURI, "/") + "/" + DefaultStateContainer, SettingStorageBlobServiceURI
	case accountName != "":
		return "https://" + accountName + ".blob." + c.StorageSuffix + "/" + DefaultStateContainer, SettingStorageAccountName
	}
	return "", ""
}

// checkStateURL checks a blob container URL and returns it normalised
// (lower-case host, no trailing slash). It must be https, under the cloud's
// storage suffix ({account}.blob.{suffix}/{container}) or on the loopback
// (Azurite's path style, https://127.0.0.1:10000/{account}/{container}), with
// no user, query or fragment: a SAS in the URL would be a secret in a
// setting, and the app's token must go only to a storage endpoint.
func checkStateURL(raw string, c cloud.Cloud) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("not a URL (the value is not repeated: it may hold a SAS)")
	}
	switch {
	case !strings.EqualFold(u.Scheme, "https"):
		return "", fmt.Errorf("%q is not https: the app's token goes with every request", redactQuery(u))
	case u.User != nil:
		return "", fmt.Errorf("%q carries a user: give the container URL alone", redactQuery(u))
	case u.RawQuery != "" || u.ForceQuery:
		return "", fmt.Errorf("%q has a query (a SAS token is a secret and does not belong in a setting): "+
			"give the container URL alone; the app reaches it with its managed identity", redactQuery(u))
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", fmt.Errorf("%q has a fragment: give the container URL alone", redactQuery(u))
	case u.Opaque != "" || u.RawPath != "":
		return "", fmt.Errorf("%q is not a plain container URL", redactQuery(u))
	}
	host := strings.ToLower(u.Hostname())
	segments := strings.Split(strings.TrimSuffix(strings.TrimPrefix(u.Path, "/"), "/"), "/")
	var container string
	if loopback(host) {
		if len(segments) != 2 || !isStorageAccount(segments[0]) {
			return "", fmt.Errorf("%q is not a loopback (Azurite) container URL such as https://127.0.0.1:10000/devstoreaccount1/%s",
				raw, DefaultStateContainer)
		}
		container = segments[1]
	} else {
		suffix := ".blob." + c.StorageSuffix
		account, ok := strings.CutSuffix(host, suffix)
		if !ok || !isStorageAccount(account) {
			return "", fmt.Errorf("%q is not a blob endpoint of the %s cloud ({account}%s)", raw, c.Name, suffix)
		}
		if p := u.Port(); p != "" && p != "443" {
			return "", fmt.Errorf("%q names port %s: Azure Storage answers on 443", raw, p)
		}
		if len(segments) != 1 {
			return "", fmt.Errorf("%q is not a container URL: give https://%s/{container}, one path segment", raw, host)
		}
		container = segments[0]
	}
	if !isContainerName(container) {
		return "", fmt.Errorf("%q: %q is not a container name (3-63 lower-case letters, digits and single hyphens)", raw, container)
	}
	out := url.URL{Scheme: "https", Host: strings.ToLower(u.Host), Path: "/" + strings.Join(segments, "/")}
	return out.String(), nil
}

// loopback reports whether host is the local machine (Azurite).
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// redactQuery is u without its query and fragment, so that an error never
// repeats a SAS signature.
func redactQuery(u *url.URL) string {
	c := *u
	c.User = nil
	if c.RawQuery != "" || c.ForceQuery {
		c.RawQuery, c.ForceQuery = "REDACTED", false
	}
	if c.Fragment != "" {
		c.Fragment, c.RawFragment = "REDACTED", ""
	}
	return c.String()
}

// isStorageAccount reports whether s is a storage account name: 3 to 24
// lower-case letters and digits.
func isStorageAccount(s string) bool {
	if len(s) < 3 || len(s) > 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// isContainerName reports whether s is a blob container name: 3 to 63
// lower-case letters, digits and single hyphens, starting and ending with a
// letter or digit.
func isContainerName(s string) bool {
	if len(s) < 3 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
