package proxy_test

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/putsecrets/putsecrets/standin/proxy"
	"github.com/putsecrets/putsecrets/standin/tlsca"
)

// backend starts a TLS server for hosts that answers with its own name and
// the Host header it saw.
func backend(t *testing.T, ca *tlsca.CA, name string, hosts ...string) string {
	t.Helper()
	cfg, err := ca.ServerConfig(hosts...)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, name+" "+r.Host)
	}), ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func TestTunnel(t *testing.T) {
	t.Parallel()
	ca, err := tlsca.New()
	if err != nil {
		t.Fatal(err)
	}
	kv := backend(t, ca, "kv", "*.vault.azure.net")
	graph := backend(t, ca, "graph", "graph.microsoft.com")
	p := proxy.New(
		proxy.Route{Suffix: ".vault.azure.net", Addr: kv, Known: func(h string) bool { return h != "nosuch.vault.azure.net" }},
		proxy.Route{Suffix: "graph.microsoft.com", Addr: graph},
		proxy.Route{Suffix: "login.microsoftonline.com", Addr: graph}, // routed, but the certificate is graph's
	)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	proxyURL, _ := url.Parse(p.URL())
	client := &http.Client{Transport: &http.Transport{
		Proxy:           http.ProxyURL(proxyURL),
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()},
	}}

	tests := []struct {
		url      string
		wantBody string
		wantErr  string
	}{
		{"https://contoso-kv.vault.azure.net/secrets/x", "kv contoso-kv.vault.azure.net", ""},
		{"https://CONTOSO-KV.Vault.Azure.Net/secrets/x", "kv CONTOSO-KV.Vault.Azure.Net", ""},
		{"https://graph.microsoft.com/v1.0/", "graph graph.microsoft.com", ""},
		{"https://nosuch.vault.azure.net/secrets/x", "", "Bad Gateway"},
		{"https://vault.azure.net/", "", "Forbidden"},
		{"https://evil.example.com/", "", "Forbidden"},
		{"https://graph.microsoft.com:8443/", "", "Forbidden"},
		{"https://login.microsoftonline.com/", "", "certificate"},
	}
	for _, tt := range tests {
		resp, err := client.Get(tt.url)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("GET %s: got error %v, want one containing %q", tt.url, err, tt.wantErr)
			}
			if err == nil {
				resp.Body.Close()
			}
			continue
		}
		if err != nil {
			t.Errorf("GET %s: %v", tt.url, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != tt.wantBody {
			t.Errorf("GET %s: got body %q, want %q", tt.url, body, tt.wantBody)
		}
	}
	client.CloseIdleConnections()

	want := []proxy.Connect{
		{"contoso-kv.vault.azure.net:443", 200},
		{"CONTOSO-KV.Vault.Azure.Net:443", 200},
		{"graph.microsoft.com:443", 200},
		{"nosuch.vault.azure.net:443", 502},
		{"vault.azure.net:443", 403},
		{"evil.example.com:443", 403},
		{"graph.microsoft.com:8443", 403},
		{"login.microsoftonline.com:443", 200},
	}
	if diff := cmp.Diff(want, p.Log()); diff != "" {
		t.Errorf("Log (-want +got):\n%s", diff)
	}
	if got := p.Connects(); len(got) != len(want) || got[0] != want[0].Target {
		t.Errorf("Connects: got %v", got)
	}
}

func TestRefusesPlainProxying(t *testing.T) {
	t.Parallel()
	p := proxy.New()
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	proxyURL, _ := url.Parse(p.URL())
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	resp, err := client.Get("http://example.com/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("plain GET through proxy: got %d, want 405", resp.StatusCode)
	}
}

func TestCloseEndsOpenTunnels(t *testing.T) {
	t.Parallel()
	ca, err := tlsca.New()
	if err != nil {
		t.Fatal(err)
	}
	addr := backend(t, ca, "graph", "graph.microsoft.com")
	p := proxy.New(proxy.Route{Suffix: "graph.microsoft.com", Addr: addr})
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "CONNECT graph.microsoft.com:443 HTTP/1.1\r\nHost: graph.microsoft.com:443\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	head := make([]byte, len("HTTP/1.1 200"))
	if _, err := io.ReadFull(conn, head); err != nil || string(head) != "HTTP/1.1 200" {
		t.Fatalf("CONNECT answer %q, %v", head, err)
	}
	p.Close() // must not hang on the open tunnel
	if _, err := io.ReadAll(conn); err != nil && !strings.Contains(err.Error(), "reset") {
		t.Errorf("reading closed tunnel: %v", err)
	}
}

// TestAddRoute: a host refused before its route is added is tunnelled after,
// and routes given to New still win.
func TestAddRoute(t *testing.T) {
	t.Parallel()
	ca, err := tlsca.New()
	if err != nil {
		t.Fatal(err)
	}
	first := backend(t, ca, "first", "elsewhere.example")
	later := backend(t, ca, "later", "elsewhere.example", "other.example")
	p := proxy.New(proxy.Route{Suffix: "elsewhere.example", Addr: first})
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	proxyURL, _ := url.Parse(p.URL())
	client := &http.Client{Transport: &http.Transport{
		Proxy:           http.ProxyURL(proxyURL),
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()},
	}}
	get := func(u string) string {
		resp, err := client.Get(u)
		if err != nil {
			return "error"
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := get("https://other.example/"); got != "error" {
		t.Errorf("before AddRoute: got %q, want the proxy's refusal", got)
	}
	p.AddRoute(proxy.Route{Suffix: "other.example", Addr: later})
	p.AddRoute(proxy.Route{Suffix: "elsewhere.example", Addr: later})
	if got := get("https://other.example/"); got != "later other.example" {
		t.Errorf("after AddRoute: got %q", got)
	}
	if got := get("https://elsewhere.example/"); got != "first elsewhere.example" {
		t.Errorf("the route given to New: got %q, want it to win", got)
	}
	want := []proxy.Connect{{Target: "other.example:443", Status: 403}, {Target: "other.example:443", Status: 200}, {Target: "elsewhere.example:443", Status: 200}}
	if diff := cmp.Diff(want, p.Log()); diff != "" {
		t.Errorf("CONNECT log (-want +got):\n%s", diff)
	}
}
