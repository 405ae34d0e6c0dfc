// Package proxy is a CONNECT proxy for HTTPS_PROXY that tunnels the Azure
// host names the handler calls to the local TLS stand-ins.
//
// Go's http.ProxyFromEnvironment sends every https request for a
// non-loopback host through HTTPS_PROXY as "CONNECT host:443". The proxy
// looks the host up in its routes and, on a match, splices the client's
// connection to the stand-in's listener; the TLS session runs end to end
// between the handler and the stand-in, which presents a certificate for the
// real host name. Hosts without a route get 403, as a corporate proxy's
// allow-list would answer; a route may also declare that a host does not
// exist, which gets 502 as when the proxy's DNS lookup fails.
package proxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/putsecrets/putsecrets/standin/internal/wire"
)

// Route sends CONNECTs for matching hosts to Addr.
type Route struct {
	// Suffix is a host name ("graph.microsoft.com"), matched exactly, or a
	// domain suffix starting with a dot (".vault.azure.net"), matched by
	// every name under it. Matching ignores case.
	Suffix string
	// Addr is the address the tunnel connects to, e.g. "127.0.0.1:41234".
	Addr string
	// Known, when set, tells whether a matching host exists. A host for
	// which it returns false gets 502 Bad Gateway, the way a proxy answers
	// when DNS has no such name (a vault that was never created).
	Known func(host string) bool
}

// Connect records one CONNECT request.
type Connect struct {
	// Target is the request's authority, "host:port".
	Target string
	// Status is the proxy's answer: 200 when tunnelled.
	Status int
}

// Proxy is the CONNECT proxy.
type Proxy struct {
	mu       sync.Mutex
	routes   []Route
	srv      *wire.Server
	conns    map[net.Conn]struct{}
	connects []Connect
	closed   bool
	wg       sync.WaitGroup
}

// New returns an unstarted proxy with the given routes; the first matching
// route wins.
func New(routes ...Route) *Proxy {
	return &Proxy{routes: routes, conns: map[net.Conn]struct{}{}}
}

// Start listens on a free port of 127.0.0.1.
func (p *Proxy) Start() error {
	srv, err := wire.Serve(http.HandlerFunc(p.handle), nil)
	if err != nil {
		return fmt.Errorf("proxy: listen: %w", err)
	}
	p.mu.Lock()
	p.srv = srv
	p.mu.Unlock()
	return nil
}

// URL returns the HTTPS_PROXY value, e.g. "http://127.0.0.1:41235".
func (p *Proxy) URL() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return "http://" + p.srv.Addr()
}

// Close stops accepting, closes every open tunnel and waits for the tunnel
// goroutines to finish.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	if p.srv != nil {
		p.srv.Close()
	}
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// Connects returns the target of every CONNECT received, in order,
// whatever the answer.
func (p *Proxy) Connects() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, len(p.connects))
	for i, c := range p.connects {
		out[i] = c.Target
	}
	return out
}

// Log returns every CONNECT received with the proxy's answer.
func (p *Proxy) Log() []Connect {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Connect(nil), p.connects...)
}

// AddRoute adds a route after the existing ones, for a host a test brings
// up later (another host a redirect points to, say).
func (p *Proxy) AddRoute(r Route) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.routes = append(p.routes, r)
}

// route returns the address for host, or the status refusing it.
func (p *Proxy) route(host string) (string, int) {
	host = strings.ToLower(host)
	p.mu.Lock()
	routes := p.routes
	p.mu.Unlock()
	for _, r := range routes {
		suffix := strings.ToLower(r.Suffix)
		match := host == suffix
		if strings.HasPrefix(suffix, ".") {
			match = strings.HasSuffix(host, suffix) && len(host) > len(suffix)
		}
		if !match {
			continue
		}
		if r.Known != nil && !r.Known(host) {
			return "", http.StatusBadGateway
		}
		return r.Addr, http.StatusOK
	}
	return "", http.StatusForbidden
}

func (p *Proxy) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		p.record(r.Host, http.StatusMethodNotAllowed)
		http.Error(w, "this proxy only tunnels CONNECT", http.StatusMethodNotAllowed)
		return
	}
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		p.record(r.Host, http.StatusBadRequest)
		http.Error(w, "CONNECT target must be host:port", http.StatusBadRequest)
		return
	}
	addr, status := p.route(host)
	if status == http.StatusOK && port != "443" {
		status = http.StatusForbidden
	}
	if status != http.StatusOK {
		p.record(r.Host, status)
		msg := "proxy policy does not allow CONNECT to " + r.Host
		if status == http.StatusBadGateway {
			msg = "cannot resolve " + host + ": no such host"
		}
		http.Error(w, msg, status)
		return
	}
	upstream, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		p.record(r.Host, http.StatusBadGateway)
		http.Error(w, "cannot reach "+r.Host+": "+err.Error(), http.StatusBadGateway)
		return
	}
	client, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		_ = upstream.Close()
		p.record(r.Host, http.StatusInternalServerError)
		http.Error(w, "cannot hijack: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if !p.track(client, upstream) {
		_ = client.Close()
		_ = upstream.Close()
		return
	}
	p.record(r.Host, http.StatusOK)
	if _, err := client.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		p.untrack(client, upstream)
		return
	}
	// Bytes the client sent after the CONNECT head (a TLS ClientHello
	// pipelined with it) sit in the hijacked reader.
	var fromClient io.Reader = client
	if n := buf.Reader.Buffered(); n > 0 {
		pending, _ := buf.Reader.Peek(n)
		fromClient = io.MultiReader(strings.NewReader(string(pending)), client)
	}
	p.wg.Add(2)
	go p.pipe(upstream, fromClient, client, upstream)
	go p.pipe(client, upstream, client, upstream)
}

// pipe copies src to dst, then closes both connections so the other
// direction ends too.
func (p *Proxy) pipe(dst io.Writer, src io.Reader, client, upstream net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src) // a reset from either side just ends the tunnel
	p.untrack(client, upstream)
}

func (p *Proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		delete(p.conns, c)
		_ = c.Close()
	}
}

func (p *Proxy) record(target string, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.connects = append(p.connects, Connect{Target: target, Status: status})
}
