// Package wire holds the small pieces every stand-in shares: random
// identifiers in the formats Azure uses, JSON writing without HTML escaping,
// and waiting that gives up when the request or the server goes away.
package wire

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// UUID returns a random version 4 UUID in lower-case 8-4-4-4-12 form.
func UUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+).
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Hex returns n random bytes as lower-case hex (2n characters).
func Hex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Marshal encodes v as compact JSON without escaping <, > and &, as the .NET
// and Azure services do.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// WriteJSON writes status and v as the body with the given content type.
// Write errors are ignored: the peer has gone and the stand-in records the
// status it meant to send.
func WriteJSON(w http.ResponseWriter, status int, contentType string, v any) {
	body, err := Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Wait blocks for d, or until ctx is done or stop is closed. It reports
// whether the full duration elapsed.
func Wait(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	}
}

// Reset closes the client's connection without an HTTP answer, the way a
// load balancer drops a connection. It hijacks the connection when it can
// and otherwise aborts the handler.
func Reset(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	conn, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	raw := conn
	if tc, ok := conn.(interface{ NetConn() net.Conn }); ok { // *tls.Conn
		raw = tc.NetConn()
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // RST rather than FIN, like a dropped connection.
	}
	_ = raw.Close()
}

// HostOnly strips a port from a Host header value and lower-cases it.
func HostOnly(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	return strings.ToLower(h)
}

// Signal wakes every waiter when something changed: C returns a channel
// that Broadcast closes. Take the channel before checking the condition so
// that no change is missed.
type Signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// C returns the channel the next Broadcast closes.
func (s *Signal) C() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Broadcast wakes every waiter.
func (s *Signal) Broadcast() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// Await blocks until cond returns true, re-checking it after every
// Broadcast, or until ctx ends.
func Await[T any](ctx context.Context, s *Signal, snapshot func() T, cond func(T) bool) error {
	for {
		ch := s.C()
		if cond(snapshot()) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// StatusWriter calls OnStatus with the status before it is written, so that
// a stand-in's record shows the status before the client can see the
// answer. Unwrap keeps Hijack reachable through http.ResponseController.
type StatusWriter struct {
	http.ResponseWriter
	OnStatus func(int)
	written  bool
}

// WriteHeader records and writes the status.
func (w *StatusWriter) WriteHeader(code int) {
	if !w.written {
		w.written = true
		w.OnStatus(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write writes the body, with status 200 if none was written.
func (w *StatusWriter) Write(b []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap returns the wrapped writer.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
