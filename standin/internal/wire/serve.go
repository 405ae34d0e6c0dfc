package wire

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"time"
)

// ServeTLS listens on a free port of 127.0.0.1 and serves h over TLS with
// cfg in the background, as the TLS stand-ins do. Handshake errors of clients
// that give up are not logged.
func ServeTLS(h http.Handler, cfg *tls.Config) (net.Listener, *http.Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{
		Handler:           h,
		TLSConfig:         cfg,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	return ln, srv, nil
}
