package transport

import (
	"crypto/tls"
	"net/http"
	"reflect"
	"testing"
)

func TestNew(t *testing.T) {
	t.Parallel()
	c := New()
	nr, ok := c.Transport.(*noRedirect)
	if !ok {
		t.Fatalf("transport is %T, want *noRedirect", c.Transport)
	}
	tr, ok := nr.base.(*http.Transport)
	if !ok {
		t.Fatalf("base transport is %T", nr.base)
	}
	if tr == http.DefaultTransport {
		t.Fatal("New returned http.DefaultTransport itself, not a clone")
	}
	fn := func(f any) uintptr { return reflect.ValueOf(f).Pointer() }
	tests := []struct {
		name      string
		got, want any
	}{
		// HTTPS_PROXY must keep working: stand-ins and corporate proxies.
		{"proxy from the environment", tr.Proxy != nil && fn(tr.Proxy) == fn(http.ProxyFromEnvironment), true},
		// nil roots are the system roots, which honour SSL_CERT_FILE.
		{"system roots", tr.TLSClientConfig.RootCAs == nil, true},
		{"TLS minimum", tr.TLSClientConfig.MinVersion, uint16(tls.VersionTLS12)},
		{"HTTP/2 attempted", tr.ForceAttemptHTTP2, true},
		{"idle per host", tr.MaxIdleConnsPerHost, MaxIdleConnsPerHost},
		{"idle in all", tr.MaxIdleConns, MaxIdleConns},
		{"no cap on connections", tr.MaxConnsPerHost, 0},
		{"idle timeout kept", tr.IdleConnTimeout > 0, true},
		{"redirects handed back, never followed", c.CheckRedirect != nil && c.CheckRedirect(nil, nil) == http.ErrUseLastResponse, true},
		{"HTTP/2 pings", tr.HTTP2 != nil && tr.HTTP2.SendPingTimeout > 0 && tr.HTTP2.PingTimeout > 0, true},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if New().Transport.(*noRedirect).base == tr {
		t.Error("two calls share one transport")
	}
}
