package wire

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Server is a stand-in's HTTP server on a loopback port: the one
// listen/serve/stop lifecycle the stand-ins (identity, Key Vault, Graph, the
// proxy) share. It is safe for concurrent use.
type Server struct {
	handler http.Handler
	tls     *tls.Config

	mu     sync.Mutex
	addr   string
	srv    *http.Server // nil while stopped
	closed bool
}

// Serve listens on a free port of 127.0.0.1 and serves h in the background,
// over TLS with cfg when cfg is not nil. Errors of clients that give up
// (cut handshakes) are not logged.
func Serve(h http.Handler, cfg *tls.Config) (*Server, error) {
	s := &Server{handler: h, tls: cfg}
	ln, err := listenFresh()
	if err != nil {
		return nil, err
	}
	s.serve(ln)
	return s, nil
}

// serve serves on ln; s.mu must be held or s unshared.
func (s *Server) serve(ln net.Listener) {
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

// Close stops the server for good and gives its port back. Closing a
// closed server does nothing.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		_ = s.srv.Close()
		s.srv = nil
	}
	if !s.closed {
		s.closed = true
		_, port, _ := net.SplitHostPort(s.addr)
		if p, err := strconv.Atoi(port); err == nil {
			ReleasePort(p)
		}
	}
}

// Restart listens again on the same address after Stop (an endpoint that
// went down and came back). The port stays held while the server is
// stopped, so no stand-in or handler of this process takes it meanwhile;
// Restart fails only if another process did. Restarting a running server
// does nothing; restarting a closed one fails.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return errors.New("restart a closed server")
	case s.srv != nil:
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("listen again on %s: %w", s.addr, err)
	}
	s.serve(ln)
	return nil
}
