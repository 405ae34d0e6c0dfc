package transport

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzLocationHost: whatever Location a dependency sends, the host a
// RedirectError names is bounded and is only a host: no path, query,
// fragment, user information, space or control character survives.
func FuzzLocationHost(f *testing.F) {
	for _, s := range []string{
		"https://elsewhere.example/x?sig=abc#frag", "/relative?q=1", "//other.example:8443/x", "",
		"http://[::1", "https://user:pass@evil.example/", "https://evil.example%2F..%2Fx/", "http://a b/",
		"https://" + strings.Repeat("a", 300) + "/", "https://[fe80::1%25eth0]:443/", "javascript:alert(1)",
	} {
		f.Add(s)
	}
	base, _ := url.Parse("https://graph.microsoft.com/v1.0/servicePrincipals/x/synchronization/secrets")
	f.Fuzz(func(t *testing.T, loc string) {
		req := &http.Request{URL: base}
		resp := &http.Response{Header: http.Header{"Location": {loc}}}
		h := locationHost(req, resp)
		if len(h) > maxHostLen {
			t.Fatalf("host of %d bytes", len(h))
		}
		if strings.ContainsAny(h, "/?#@ \t\r\n\x00") {
			t.Fatalf("host %q holds more than a host", h)
		}
	})
}
