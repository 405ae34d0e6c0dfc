// Package transport builds the HTTP client that the Key Vault and Graph
// clients share, sized for the handler's fan-out.
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
// Everything else is Go's default transport, as azcore's is: the proxy from
// HTTPS_PROXY/NO_PROXY, the system roots (which honour SSL_CERT_FILE and
// SSL_CERT_DIR), HTTP/2 when the server offers it, and azcore's TLS 1.2
// minimum and HTTP/2 health checks.
package transport

import (
	"crypto/tls"
	"net/http"
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
// limits above. It does no I/O.
func New() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = MaxIdleConns
	t.MaxIdleConnsPerHost = MaxIdleConnsPerHost
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	// As azcore does (golang/go#59690): ping an HTTP/2 connection idle for
	// 10 s and drop it when no answer comes within 5 s.
	t.HTTP2 = &http.HTTP2Config{SendPingTimeout: 10 * time.Second, PingTimeout: 5 * time.Second}
	return &http.Client{Transport: t}
}
