// Package azure wires the stand-ins into one fake Azure for end-to-end
// tests and the demo: a test CA, the managed identity endpoint, Key Vault,
// Microsoft Graph and the CONNECT proxy that routes the vault and Graph
// host names of every cloud to them; with WithStorage, also Azurite, the blob
// store of kept states (docs/contract.md §8).
//
// A handler process reaches it with nothing but environment variables
// (HandlerEnv): IDENTITY_ENDPOINT and IDENTITY_HEADER for azidentity,
// HTTPS_PROXY for Go's ProxyFromEnvironment, SSL_CERT_FILE for Go's system
// roots, and PUTSECRETS_STATE_URL with WithStorage. Its production code paths
// stay unchanged.
package azure

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/putsecrets/putsecrets/standin/azurite"
	"github.com/putsecrets/putsecrets/standin/graph"
	"github.com/putsecrets/putsecrets/standin/identity"
	"github.com/putsecrets/putsecrets/standin/keyvault"
	"github.com/putsecrets/putsecrets/standin/proxy"
	"github.com/putsecrets/putsecrets/standin/tlsca"
)

// Env is a running fake Azure.
type Env struct {
	// CA issued the stand-ins' certificates; CAFile holds its PEM.
	CA     *tlsca.CA
	CAFile string
	// Identity is the managed identity endpoint.
	Identity *identity.Server
	// KeyVault serves every *.vault.azure.net, *.vault.usgovcloudapi.net
	// and *.vault.azure.cn host.
	KeyVault *keyvault.Server
	// Graph serves the Graph hosts of the four clouds.
	Graph *graph.Server
	// Proxy is the HTTPS_PROXY that routes to KeyVault and Graph.
	Proxy *proxy.Proxy
	// Storage is Azurite, reached directly on 127.0.0.1 (Go never proxies
	// loopback); nil without WithStorage.
	Storage *azurite.Server
	// StateURL is a container of Storage for kept states, of this Env alone
	// (PUTSECRETS_STATE_URL); "" without WithStorage. The container does not
	// exist until the first write creates it.
	StateURL string

	dir        string
	ownDir     bool
	ownStorage bool
	roots      *x509.CertPool
}

// Option changes what New and Start start.
type Option func(*options)

type options struct {
	storage bool
}

// WithStorage also starts the blob store: Env.Storage, Env.StateURL and
// PUTSECRETS_STATE_URL in HandlerEnv. Start shares one Azurite among the
// tests of a binary (each Env has its own container); New starts one of its
// own, which Close stops. Without it nothing of storage runs, so tests that
// do not need it stay cheap.
func WithStorage() Option { return func(o *options) { o.storage = true } }

// New starts a fake Azure. The CA certificate is written to dir/ca.pem; with
// dir "" a temporary directory is created and Close removes it. Call Close
// when done.
func New(dir string, opts ...Option) (*Env, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	e, err := newEnv(dir)
	if err != nil {
		return nil, err
	}
	if o.storage {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		s, err := azurite.StartProcess(ctx, e.CA)
		if err != nil {
			return nil, errors.Join(err, e.Close())
		}
		e.ownStorage = true
		e.useStorage(s)
	}
	return e, nil
}

func newEnv(dir string) (*Env, error) {
	e := &Env{dir: dir}
	if dir == "" {
		d, err := os.MkdirTemp("", "putsecrets-standin-")
		if err != nil {
			return nil, fmt.Errorf("azure: %w", err)
		}
		e.dir, e.ownDir = d, true
	}
	if err := e.start(); err != nil {
		return nil, errors.Join(err, e.Close())
	}
	return e, nil
}

func (e *Env) start() error {
	var err error
	if e.CA, err = tlsca.New(); err != nil {
		return err
	}
	if e.CAFile, err = e.CA.WriteCertFile(e.dir); err != nil {
		return err
	}
	e.roots = e.CA.Pool()
	e.Identity = identity.New()
	if err := e.Identity.Start(); err != nil {
		return err
	}
	if e.KeyVault, err = keyvault.New(e.CA, e.Identity); err != nil {
		return err
	}
	if err := e.KeyVault.Start(); err != nil {
		return err
	}
	if e.Graph, err = graph.New(e.CA, e.Identity); err != nil {
		return err
	}
	if err := e.Graph.Start(); err != nil {
		return err
	}
	var routes []proxy.Route
	for _, c := range keyvault.Clouds {
		routes = append(routes, proxy.Route{Suffix: "." + c.Suffix, Addr: e.KeyVault.Addr(), Known: e.KeyVault.HasVault})
	}
	for _, h := range graph.Hosts {
		routes = append(routes, proxy.Route{Suffix: h, Addr: e.Graph.Addr()})
	}
	e.Proxy = proxy.New(routes...)
	return e.Proxy.Start()
}

// Start starts a fake Azure for a test, in the test's temporary directory,
// and stops it when the test ends. It fails the test if anything does not
// start. WithStorage uses the test binary's shared Azurite (azurite.Shared),
// whose CA joins the Env's in CAFile and Transport.
func Start(tb testing.TB, opts ...Option) *Env {
	tb.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	e, err := newEnv(tb.TempDir())
	if err != nil {
		tb.Fatalf("start fake Azure: %v", err)
	}
	tb.Cleanup(func() {
		if err := e.Close(); err != nil {
			tb.Errorf("stop fake Azure: %v", err)
		}
	})
	if o.storage {
		s := azurite.Shared(tb)
		pem := append(e.CA.CertPEM(), s.CA().CertPEM()...)
		if err := os.WriteFile(e.CAFile, pem, 0o644); err != nil {
			tb.Fatalf("start fake Azure: %v", err)
		}
		e.roots.AddCert(s.CA().Certificate())
		e.useStorage(s)
	}
	return e
}

// useStorage makes s the Env's blob store, with a container of its own.
func (e *Env) useStorage(s *azurite.Server) {
	e.Storage = s
	e.StateURL = s.NewContainerURL()
}

// Close stops every stand-in and removes the directory New created.
func (e *Env) Close() error {
	if e.Proxy != nil {
		e.Proxy.Close()
	}
	if e.Graph != nil {
		e.Graph.Close()
	}
	if e.KeyVault != nil {
		e.KeyVault.Close()
	}
	if e.Identity != nil {
		e.Identity.Close()
	}
	if e.ownStorage {
		e.ownStorage = false
		e.Storage.Close()
	}
	if e.ownDir {
		e.ownDir = false
		return os.RemoveAll(e.dir)
	}
	return nil
}

// HandlerEnv returns the environment entries a handler process needs to
// reach the fake Azure. NO_PROXY and no_proxy are set empty, which Go treats
// as unset, so an inherited value cannot bypass the proxy when these entries
// are appended to another environment (exec.Cmd keeps the last duplicate).
// With WithStorage it also sets PUTSECRETS_STATE_URL to StateURL.
func (e *Env) HandlerEnv() []string {
	env := []string{
		"IDENTITY_ENDPOINT=" + e.Identity.Endpoint(),
		"IDENTITY_HEADER=" + e.Identity.Header(),
		"HTTPS_PROXY=" + e.Proxy.URL(),
		"SSL_CERT_FILE=" + e.CAFile,
		"NO_PROXY=",
		"no_proxy=",
	}
	if e.StateURL != "" {
		env = append(env, "PUTSECRETS_STATE_URL="+e.StateURL)
	}
	return env
}

// Transport returns an HTTP transport wired to the fake Azure the way
// HandlerEnv wires a handler process (the proxy for every host but loopback,
// as Go's ProxyFromEnvironment does, and the test CAs), for in-process
// clients such as azsecrets, azblob or an azcore pipeline under test.
func (e *Env) Transport() *http.Transport {
	u, _ := url.Parse(e.Proxy.URL())
	return &http.Transport{
		Proxy: func(r *http.Request) (*url.URL, error) {
			if isLoopback(r.URL.Hostname()) {
				return nil, nil
			}
			return u, nil
		},
		TLSClientConfig:   &tls.Config{RootCAs: e.roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
	}
}

// isLoopback reports a host Go's ProxyFromEnvironment never proxies.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// HTTPClient returns an *http.Client over Transport, usable as
// azcore.ClientOptions.Transport.
func (e *Env) HTTPClient() *http.Client { return &http.Client{Transport: e.Transport()} }
