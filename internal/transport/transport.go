// Package transport builds the HTTP client that every Azure client of the
// app shares (Key Vault, Microsoft Graph, the identity endpoint), sized for
// the handler's fan-out and following no redirect.
//
// azcore's default transport keeps at most 10 idle connections per host. An
// invocation reads its secrets in parallel (up to vault.DefaultMaxConcurrency
// at once) and the host runs up to 16 invocations at once
// (maxConcurrentCalls), so over HTTP/1.1 up to 256 requests to one vault are
// in flight together; with 10 kept, almost every burst opened new
// connections, each a TLS handshake that cost more CPU than the rest of the
// invocation (2.8 new connections per invocation with 3 references at
// concurrency 16, measured by `make bench`). Over HTTP/2 one connection
// carries them all and the limit does not matter.
//
// Redirects are never followed (docs/contract.md §7): Go's client re-sends a PUT
// body on 307 and 308, so a Graph redirect would carry the secret values to
// whatever host its Location names, and a Key Vault redirect would make
// another host's answer the secret. Every 3xx but 304 is a *RedirectError
// instead, which azcore's retry policy does not retry.
//
// Everything else is Go's default transport, as azcore's is: the proxy from
// HTTPS_PROXY/NO_PROXY, the system roots (which honour SSL_CERT_FILE and
// SSL_CERT_DIR), HTTP/2 when the server offers it, and azcore's TLS 1.2
// minimum and HTTP/2 health checks.
package transport

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// MaxIdleConnsPerHost is how many idle connections are kept per host: the
// largest number of requests to one vault in flight together over HTTP/1.1,
// 16 invocations × 16 reads.
const MaxIdleConnsPerHost = 16 * 16

// MaxIdleConns bounds the idle connections kept across all hosts (a few
// vaults and Graph). Idle connections close after IdleConnTimeout anyway.
const MaxIdleConns = 2 * MaxIdleConnsPerHost

// New returns a new client over a clone of http.DefaultTransport with the
// limits above, answering every redirect with a *RedirectError. It does no
// I/O.
func New() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = MaxIdleConns
	t.MaxIdleConnsPerHost = MaxIdleConnsPerHost
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	// As azcore does (golang/go#59690): ping an HTTP/2 connection idle for
	// 10 s and drop it when no answer comes within 5 s.
	t.HTTP2 = &http.HTTP2Config{SendPingTimeout: 10 * time.Second, PingTimeout: 5 * time.Second}
	return &http.Client{
		Transport: &noRedirect{base: t},
		// noRedirect turns a 3xx into an error before the client sees it;
		// should the transport be swapped, the client still follows nothing
		// and hands the 3xx to the caller as an answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// noRedirect is the round tripper of New: it passes requests to base and
// turns every 3xx answer but 304 Not Modified (a cache answer, not a
// redirect) into a *RedirectError, closing the answer's body unread.
type noRedirect struct {
	base http.RoundTripper
}

// RoundTrip sends req through base and refuses a redirect answer.
func (n *noRedirect) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := n.base.RoundTrip(req)
	if err != nil || resp.StatusCode < 300 || resp.StatusCode > 399 || resp.StatusCode == http.StatusNotModified {
		return resp, err
	}
	_ = resp.Body.Close()
	rerr := &RedirectError{StatusCode: resp.StatusCode, From: req.URL.Host, To: locationHost(req, resp)}
	if slot, ok := req.Context().Value(redirectKey{}).(*atomic.Pointer[RedirectError]); ok {
		slot.CompareAndSwap(nil, rerr)
	}
	return nil, rerr
}

// CloseIdleConnections closes base's idle connections, so that
// http.Client.CloseIdleConnections still reaches them.
func (n *noRedirect) CloseIdleConnections() {
	if c, ok := n.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// maxHostLen bounds the host a RedirectError names: a DNS name is at most
// 253 characters, and a port adds at most 6.
const maxHostLen = 253 + 6

// locationHost is the host a redirect pointed to: the Location header
// resolved against the request's URL (a relative Location points to the
// request's own host). Only the host is kept; the path and the query string
// of a Location could carry anything. "" when there is no Location or it
// cannot be read.
func locationHost(req *http.Request, resp *http.Response) string {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return ""
	}
	u, err := req.URL.Parse(loc)
	if err != nil || len(u.Host) > maxHostLen {
		return ""
	}
	return u.Host
}

// RedirectError reports that a dependency answered with a redirect, which
// the app does not follow: requests go only to the hosts they were built
// for. Its text names the status and the two hosts, never the Location's
// path or query string.
type RedirectError struct {
	// StatusCode is the 3xx answered.
	StatusCode int
	// From is the host the request was sent to.
	From string
	// To is the host the Location header pointed to; "" when the answer had
	// no usable Location.
	To string
}

// Error names the status and the hosts.
func (e *RedirectError) Error() string {
	to := "no usable Location"
	if e.To != "" {
		to = "Location host " + e.To
	}
	return fmt.Sprintf("%s answered %d %s (%s); redirects are never followed", e.From, e.StatusCode, http.StatusText(e.StatusCode), to)
}

// NonRetriable tells azcore's retry policy not to retry: the same request
// would meet the same redirect.
func (*RedirectError) NonRetriable() {}

type redirectKey struct{}

// WatchRedirects returns a context under which the clients of New record the
// first redirect they refuse, and a function that returns it (nil when none
// was). It recovers the redirect where a library keeps only an error's text:
// azidentity reports a transport failure of the identity endpoint as a
// message, without the error it came from.
func WatchRedirects(ctx context.Context) (context.Context, func() *RedirectError) {
	slot := new(atomic.Pointer[RedirectError])
	return context.WithValue(ctx, redirectKey{}, slot), slot.Load
}
