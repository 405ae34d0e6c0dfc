package transport

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// elsewhere is the host a redirect points to: it counts every request that
// reaches it, and the bytes of their bodies.
type elsewhere struct {
	srv          *httptest.Server
	hits, bodies atomic.Int64
}

func newElsewhere(t *testing.T) *elsewhere {
	t.Helper()
	e := &elsewhere{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		n, _ := io.Copy(io.Discard, r.Body)
		e.bodies.Add(n)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// redirecting answers every request with status and Location loc, counting
// the requests.
func redirecting(t *testing.T, status int, loc string, hits *atomic.Int64) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		if loc != "" {
			w.Header().Set("Location", loc)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "moved: body that must not be read")
	}))
	t.Cleanup(srv.Close)
	return srv
}

func hostOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func TestNewFollowsNoRedirect(t *testing.T) {
	t.Parallel()
	const body = "BaseAddress=secret-value-canary"
	tests := []struct {
		name   string
		status int
		// loc builds the Location from the other host's URL; "" sends none.
		loc func(other string) string
		// to is the host the error must name: "other", "self" or "".
		to string
	}{
		{"301", 301, func(o string) string { return o + "/x" }, "other"},
		{"302", 302, func(o string) string { return o + "/x" }, "other"},
		{"303", 303, func(o string) string { return o + "/x" }, "other"},
		{"307 keeps the body", 307, func(o string) string { return o + "/x" }, "other"},
		{"308 keeps the body", 308, func(o string) string { return o + "/x" }, "other"},
		{"300", 300, func(o string) string { return o + "/x" }, "other"},
		{"query string not named", 307, func(o string) string { return o + "/x?token=leaked-query-canary#frag-canary" }, "other"},
		{"relative Location", 307, func(string) string { return "/elsewhere?q=leaked-query-canary" }, "self"},
		{"protocol-relative Location", 308, func(o string) string { return "//" + hostOf(t, o) + "/x" }, "other"},
		{"no Location", 307, func(string) string { return "" }, ""},
		{"unreadable Location", 302, func(string) string { return "http://[::1" }, ""},
		{"overlong host", 302, func(string) string { return "http://" + strings.Repeat("a", 300) + ".example/" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			other := newElsewhere(t)
			var hits atomic.Int64
			src := redirecting(t, tt.status, tt.loc(other.srv.URL), &hits)

			req, err := http.NewRequest(http.MethodPut, src.URL+"/v1.0/servicePrincipals/x/synchronization/secrets", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			ctx, seen := WatchRedirects(context.Background())
			resp, err := New().Do(req.WithContext(ctx))
			if err == nil {
				_ = resp.Body.Close()
				t.Fatalf("got %d, want a *RedirectError", resp.StatusCode)
			}
			var rerr *RedirectError
			if !errors.As(err, &rerr) {
				t.Fatalf("error %v is %T, not a *RedirectError", err, err)
			}
			want := map[string]string{"other": hostOf(t, other.srv.URL), "self": hostOf(t, src.URL), "": ""}[tt.to]
			if rerr.StatusCode != tt.status || rerr.From != hostOf(t, src.URL) || rerr.To != want {
				t.Errorf("got %d from %q to %q, want %d from %q to %q", rerr.StatusCode, rerr.From, rerr.To, tt.status, hostOf(t, src.URL), want)
			}
			if seen() != rerr {
				t.Errorf("WatchRedirects saw %v, want the error returned", seen())
			}
			for _, text := range []string{rerr.Error(), err.Error()} {
				for _, bad := range []string{"canary", "body that must not"} {
					if strings.Contains(text, bad) {
						t.Errorf("error text %q holds %q", text, bad)
					}
				}
			}
			if !strings.Contains(rerr.Error(), http.StatusText(tt.status)) || (want != "" && !strings.Contains(rerr.Error(), want)) {
				t.Errorf("error text %q does not name the status and the host %q", rerr.Error(), want)
			}
			if n := other.hits.Load(); n != 0 {
				t.Errorf("the other host got %d requests (%d body bytes)", n, other.bodies.Load())
			}
			if n := hits.Load(); n != 1 {
				t.Errorf("the redirecting host got %d requests, want 1", n)
			}
		})
	}
}

// TestDefaultClientFollows shows what New prevents: Go's default client
// re-sends a PUT body to the host a 307 names.
func TestDefaultClientFollows(t *testing.T) {
	t.Parallel()
	other := newElsewhere(t)
	var hits atomic.Int64
	src := redirecting(t, 307, other.srv.URL+"/x", &hits)
	req, _ := http.NewRequest(http.MethodPut, src.URL, strings.NewReader("value"))
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if other.hits.Load() != 1 || other.bodies.Load() != int64(len("value")) {
		t.Fatalf("the other host got %d requests and %d bytes; the control case no longer shows the danger", other.hits.Load(), other.bodies.Load())
	}
}

func TestNewPassesNotModified(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	src := redirecting(t, http.StatusNotModified, "", &hits)
	resp, err := New().Get(src.URL)
	if err != nil {
		t.Fatalf("304: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("got %d, want 304", resp.StatusCode)
	}
}

// TestRedirectNotRetried: azcore's retry policy honours NonRetriable, so a
// redirect costs one request, not four.
func TestRedirectNotRetried(t *testing.T) {
	t.Parallel()
	other := newElsewhere(t)
	var hits atomic.Int64
	src := redirecting(t, 308, other.srv.URL, &hits)
	pl := runtime.NewPipeline("test", "v0", runtime.PipelineOptions{}, &policy.ClientOptions{Transport: New()})
	req, err := runtime.NewRequest(context.Background(), http.MethodGet, src.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pl.Do(req)
	if _, ok := errors.AsType[*RedirectError](err); !ok {
		t.Fatalf("pipeline error %v, want a *RedirectError", err)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("the redirecting host got %d requests, want 1 (no retries)", n)
	}
	if other.hits.Load() != 0 {
		t.Errorf("the other host got %d requests", other.hits.Load())
	}
}

func TestWatchRedirectsNone(t *testing.T) {
	t.Parallel()
	_, seen := WatchRedirects(context.Background())
	if seen() != nil {
		t.Errorf("saw %v before any request", seen())
	}
}
