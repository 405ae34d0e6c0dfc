package wire

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server is a stand-in's HTTP server on a loopback port: the one
// listen/serve/stop lifecycle the stand-ins (identity, Key Vault, Graph, the
// proxy) share. It is safe for concurrent use.
type Server struct {
	handler http.Handler
	tls     *tls.Config

	mu   sync.Mutex
	addr string
	srv  *http.Server // nil while stopped
}

// Serve listens on a free port of 127.0.0.1 and serves h in the background,
// over TLS with cfg when cfg is not nil. Errors of clients that give up
// (cut handshakes) are not logged.
func Serve(h http.Handler, cfg *tls.Config) (*Server, error) {
	s := &Server{handler: h, tls: cfg}
	if err := s.listen("127.0.0.1:0"); err != nil {
		return nil, err
	}
	return s, nil
}

// listen starts serving on addr; s.mu must be held or s unshared.
func (s *Server) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           s.handler,
		TLSConfig:         s.tls,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	s.addr, s.srv = ln.Addr().String(), srv
	if s.tls != nil {
		go func() { _ = srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { _ = srv.Serve(ln) }()
	}
	return nil
}

// Addr returns the address served, "127.0.0.1:port"; it stays the same
// across Stop and Restart.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Stop closes the listener and drops open connections. Stopping a stopped
// server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		_ = s.srv.Close()
		s.srv = nil
	}
}

// Restart listens again on the same address after Stop (an endpoint that
// went down and came back); it fails only if another process took the port
// meanwhile. Restarting a running server does nothing.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return nil
	}
	if err := s.listen(s.addr); err != nil {
		return fmt.Errorf("listen again on %s: %w", s.addr, err)
	}
	return nil
}
