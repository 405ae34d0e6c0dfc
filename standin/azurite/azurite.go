// Package azurite runs Azurite, Microsoft's storage emulator (npm azurite, pinned in
// package.json next to this file), as the local blob store for tests and the demo, so that the
// real azblob client runs against a real implementation of the Blob service protocol.
//
// The blob service listens on a free port of 127.0.0.1 only, over HTTPS with a leaf
// certificate from a tlsca.CA (the stand-ins' CA, which the handler trusts through
// SSL_CERT_FILE), with --oauth basic: it accepts a bearer token whose JWT claims name the
// storage audience, as the identity stand-in issues (Azurite decodes the token without
// verifying it). Data lives in memory (--inMemoryPersistence, capped by --extentMemoryLimit);
// telemetry is off. The account is devstoreaccount1, named by the first path segment:
//
//	https://127.0.0.1:PORT/devstoreaccount1/CONTAINER/BLOB
//
// Azurite needs Node.js and its node_modules: run `make azurite-deps` (npm ci) first.
//
//	s := azurite.Shared(t)                     // one process per test binary
//	client, err := azblob.NewClient(s.BlobEndpoint(), cred, &azblob.ClientOptions{...})
//	containerURL := s.NewContainerURL()         // a fresh container name for this test
//	c := azurite.NewContainer(t)                // the two, a credential and a transport
package azurite

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/putsecrets/putsecrets/standin/internal/node"
	"github.com/putsecrets/putsecrets/standin/internal/wire"
	"github.com/putsecrets/putsecrets/standin/tlsca"
)

// Account is the storage account Azurite serves by default.
const Account = "devstoreaccount1"

// ExtentMemoryLimitMB caps Azurite's in-memory blob data; without it Azurite reserves half of
// the machine's memory.
const ExtentMemoryLimitMB = 64

// Server is a running Azurite blob service.
type Server struct {
	ca   *tlsca.CA
	addr string
	dir  string
	proc *node.Process

	containers atomic.Int64
}

// Start runs Azurite for the test with a leaf certificate from ca and stops it when the test
// ends. It fails the test if Azurite cannot start.
func Start(tb testing.TB, ca *tlsca.CA) *Server {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), node.StartTimeout)
	defer cancel()
	s, err := StartProcess(ctx, ca)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	s.proc.StopAtEnd(tb, "azurite", s.Close)
	return s
}

var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared returns the one Azurite of this test binary, starting it on first use with a CA of
// its own (CA). Tests share it through containers of their own (NewContainerURL). It is never
// stopped by a test: it exits when the test binary does, whose end closes Azurite's standard
// input.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	shared.once.Do(func() {
		ca, err := tlsca.New()
		if err != nil {
			shared.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), node.StartTimeout)
		defer cancel()
		shared.srv, shared.err = StartProcess(ctx, ca)
	})
	if shared.err != nil {
		tb.Fatalf("%v", shared.err)
	}
	return shared.srv
}

// listening is Azurite's line once the blob service accepts connections.
var listening = regexp.MustCompile(`Azurite Blob service successfully listens on https://(127\.0\.0\.1:[0-9]+)`)

// StartProcess runs Azurite with a leaf certificate from ca until Close. ctx bounds only the
// start: StartProcess returns once the blob service answers HTTPS.
//
// The package directory (package.json, launch.js, node_modules) is the one holding this source
// file, or $AZURITE_DIR; the node binary is found on PATH, or is $AZURITE_NODE.
// AZURITE_VERBOSE=1 copies Azurite's access log to this process' stderr.
func StartProcess(ctx context.Context, ca *tlsca.CA) (*Server, error) {
	dir, err := os.MkdirTemp("", "putsecrets-azurite-")
	if err != nil {
		return nil, fmt.Errorf("azurite: %w", err)
	}
	certFile, keyFile, err := writeLeaf(ca, dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	args := []string{
		"--blobHost", "127.0.0.1", "--blobPort", "0",
		"--cert", certFile, "--key", keyFile, "--oauth", "basic",
		"--inMemoryPersistence", "--extentMemoryLimit", fmt.Sprint(ExtentMemoryLimitMB),
		"--skipApiVersionCheck", "--disableTelemetry", "--disableProductStyleUrl",
	}
	verbose := os.Getenv("AZURITE_VERBOSE") != ""
	if !verbose {
		args = append(args, "--silent")
	}
	proc, line, err := node.Program{
		Name: "azurite", Dir: "standin/azurite", Script: "launch.js", Args: args,
		DirEnv: "AZURITE_DIR", NodeEnv: "AZURITE_NODE",
		Module: "azurite", Deps: "azurite-deps", NodeVersion: "20",
		// Azurite writes nothing with --inMemoryPersistence; keep it out of the tree anyway.
		WorkDir:  os.TempDir(),
		Verbose:  verbose,
		StopWait: 10 * time.Second,
	}.Start(ctx, listening.MatchString)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{ca: ca, addr: listening.FindStringSubmatch(line)[1], dir: dir, proc: proc}
	if err := s.awaitHTTPS(ctx); err != nil {
		s.Close()
		return nil, err
	}
	// Azurite has read its certificate and key; Shared's process is never closed, so its
	// files go now rather than with Close.
	_ = os.RemoveAll(dir)
	return s, nil
}

// awaitHTTPS returns once the blob service answers an HTTPS request (any status: Azurite
// answers an unauthenticated request with an error document), checking the certificate
// against the CA. Azurite prints its listening line once it listens, so the first try normally
// answers; only a refused connection is tried again, a bounded number of times.
func (s *Server) awaitHTTPS(ctx context.Context) error {
	client := &http.Client{Transport: &http.Transport{
		Proxy:           nil,
		TLSClientConfig: &tls.Config{RootCAs: s.ca.Pool(), MinVersion: tls.VersionTLS12},
	}}
	defer client.CloseIdleConnections()
	var err error
	for range 100 {
		var req *http.Request
		if req, err = http.NewRequestWithContext(ctx, http.MethodGet, s.BlobEndpoint()+"?comp=list", nil); err != nil {
			return err
		}
		var resp *http.Response
		if resp, err = client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return nil
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
		runtime.Gosched()
	}
	return fmt.Errorf("azurite: no HTTPS answer from %s: %w: %s", s.addr, err, s.proc.Output())
}

// writeLeaf writes a leaf certificate for 127.0.0.1 and localhost (chain with the CA) and its
// PKCS #8 key as PEM files for Azurite's --cert and --key.
func writeLeaf(ca *tlsca.CA, dir string) (certFile, keyFile string, err error) {
	cfg, err := ca.ServerConfig("127.0.0.1", "localhost")
	if err != nil {
		return "", "", fmt.Errorf("azurite: %w", err)
	}
	leaf := cfg.Certificates[0]
	var certPEM []byte
	for _, der := range leaf.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(leaf.PrivateKey)
	if err != nil {
		return "", "", fmt.Errorf("azurite: leaf key: %w", err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		return "", "", fmt.Errorf("azurite: %w", err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return "", "", fmt.Errorf("azurite: %w", err)
	}
	return certFile, keyFile, nil
}

// Close stops Azurite (closing its standard input makes launch.js stop it) and removes its
// certificate files if a failed start left them. It is safe to call more than once.
func (s *Server) Close() {
	s.proc.Stop()
	_ = os.RemoveAll(s.dir)
}

// CA is the certificate authority whose leaf Azurite presents.
func (s *Server) CA() *tlsca.CA { return s.ca }

// Addr is Azurite's blob service address, "127.0.0.1:PORT".
func (s *Server) Addr() string { return s.addr }

// BlobEndpoint is the blob service URL of the account,
// "https://127.0.0.1:PORT/devstoreaccount1".
func (s *Server) BlobEndpoint() string { return "https://" + s.addr + "/" + Account }

// NewContainerURL returns the URL of a container name not handed out before by this Server
// ("putsecrets-state-N-" and random hex), without creating it.
func (s *Server) NewContainerURL() string {
	n := s.containers.Add(1)
	return fmt.Sprintf("%s/putsecrets-state-%d-%s", s.BlobEndpoint(), n, wire.Hex(4))
}

// Output returns the last part of what Azurite printed.
func (s *Server) Output() string { return s.proc.Output() }
