// Package azure wires the stand-ins into one fake Azure for end-to-end
// tests and the demo: a test CA, the managed identity endpoint, Key Vault,
// Microsoft Graph and the CONNECT proxy that routes the vault and Graph
// host names of every cloud to them.
//
// A handler process reaches it with nothing but environment variables
// (HandlerEnv): IDENTITY_ENDPOINT and IDENTITY_HEADER for azidentity,
// HTTPS_PROXY for Go's ProxyFromEnvironment, SSL_CERT_FILE for Go's system
// roots. Its production code paths stay unchanged.
package azure

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"testing"

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

	dir    string
	ownDir bool
}

// New starts a fake Azure. The CA certificate is written to dir/ca.pem; with
// dir "" a temporary directory is created and Close removes it. Call Close
// when done.
func New(dir string) (*Env, error) {
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
// start.
func Start(tb testing.TB) *Env {
	tb.Helper()
	e, err := New(tb.TempDir())
	if err != nil {
		tb.Fatalf("start fake Azure: %v", err)
	}
	tb.Cleanup(func() {
		if err := e.Close(); err != nil {
			tb.Errorf("stop fake Azure: %v", err)
		}
	})
	return e
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
func (e *Env) HandlerEnv() []string {
	return []string{
		"IDENTITY_ENDPOINT=" + e.Identity.Endpoint(),
		"IDENTITY_HEADER=" + e.Identity.Header(),
		"HTTPS_PROXY=" + e.Proxy.URL(),
		"SSL_CERT_FILE=" + e.CAFile,
		"NO_PROXY=",
		"no_proxy=",
	}
}

// Transport returns an HTTP transport wired to the fake Azure the way
// HandlerEnv wires a handler process (the proxy and the test CA), for
// in-process clients such as azsecrets or an azcore pipeline under test.
func (e *Env) Transport() *http.Transport {
	u, _ := url.Parse(e.Proxy.URL())
	return &http.Transport{
		Proxy:             http.ProxyURL(u),
		TLSClientConfig:   &tls.Config{RootCAs: e.CA.Pool(), MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
	}
}

// HTTPClient returns an *http.Client over Transport, usable as
// azcore.ClientOptions.Transport.
func (e *Env) HTTPClient() *http.Client { return &http.Client{Transport: e.Transport()} }
