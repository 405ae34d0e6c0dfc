package wire

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"testing"
	"time"
)

func TestUUID(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 100 {
		u := UUID()
		if !re.MatchString(u) {
			t.Fatalf("UUID() = %q, not a version 4 UUID", u)
		}
		if seen[u] {
			t.Fatalf("UUID() repeated %q", u)
		}
		seen[u] = true
	}
}

func TestHex(t *testing.T) {
	t.Parallel()
	if h := Hex(16); !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(h) {
		t.Errorf("Hex(16) = %q", h)
	}
}

func TestMarshal(t *testing.T) {
	t.Parallel()
	got, err := Marshal(map[string]string{"a": "<b>&"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":"<b>&"}`; string(got) != want {
		t.Errorf("Marshal = %s, want %s", got, want)
	}
}

func TestHostOnly(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"Graph.Microsoft.com:443":    "graph.microsoft.com",
		"contoso-kv.vault.azure.net": "contoso-kv.vault.azure.net",
		"127.0.0.1:8080":             "127.0.0.1",
	}
	for in, want := range tests {
		if got := HostOnly(in); got != want {
			t.Errorf("HostOnly(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWait(t *testing.T) {
	t.Parallel()
	if !Wait(context.Background(), nil, 0) {
		t.Error("Wait(0) = false")
	}
	if !Wait(context.Background(), nil, time.Millisecond) {
		t.Error("Wait(1ms) = false")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Wait(ctx, nil, time.Hour) {
		t.Error("Wait with a cancelled context = true")
	}
	stop := make(chan struct{})
	close(stop)
	if Wait(context.Background(), stop, time.Hour) {
		t.Error("Wait with a closed stop channel = true")
	}
}

func TestStatusWriter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		write func(w http.ResponseWriter)
		want  []int
	}{
		{"explicit", func(w http.ResponseWriter) { w.WriteHeader(429); _, _ = w.Write([]byte("x")) }, []int{429}},
		{"implicit 200", func(w http.ResponseWriter) { _, _ = w.Write([]byte("x")) }, []int{200}},
		{"twice", func(w http.ResponseWriter) { w.WriteHeader(204); w.WriteHeader(500) }, []int{204}},
		{"nothing", func(http.ResponseWriter) {}, nil},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		var got []int
		sw := &StatusWriter{ResponseWriter: rec, OnStatus: func(code int) {
			if rec.Code != 200 || rec.Flushed || rec.Body.Len() != 0 {
				t.Errorf("%s: OnStatus(%d) after the answer started", tt.name, code)
			}
			got = append(got, code)
		}}
		tt.write(sw)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: OnStatus calls %v, want %v", tt.name, got, tt.want)
		}
		if sw.Unwrap() != rec {
			t.Errorf("%s: Unwrap lost the writer", tt.name)
		}
	}
}

// TestServerLifecycle: a server answers, stops answering when stopped,
// answers again on the same address when restarted, and both calls are
// idempotent.
func TestServerLifecycle(t *testing.T) {
	t.Parallel()
	s, err := Serve(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "up") }), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	addr := s.Addr()
	get := func() error {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get("http://" + addr + "/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "up" {
			return fmt.Errorf("body %q", b)
		}
		return nil
	}
	if err := get(); err != nil {
		t.Fatalf("running: %v", err)
	}
	s.Stop()
	s.Stop()
	if err := get(); err == nil {
		t.Fatal("stopped, yet it answers")
	}
	if err := s.Restart(); err != nil {
		t.Fatalf("restart: %v", err)
	}
	if err := s.Restart(); err != nil {
		t.Fatalf("restart a running server: %v", err)
	}
	if s.Addr() != addr {
		t.Errorf("address after restart = %s, want %s", s.Addr(), addr)
	}
	if err := get(); err != nil {
		t.Fatalf("restarted: %v", err)
	}
}
