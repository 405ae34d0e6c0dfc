package graph

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/putsecrets/putsecrets/internal/cloud"
	"github.com/putsecrets/putsecrets/internal/secret"
	"github.com/putsecrets/putsecrets/internal/transport"
)

const (
	testToken = "fake-graph-token"
	testSPID  = "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"
	canary    = "canary-scim-token-7f3a9c1e"
)

// fakeCredential is an azcore.TokenCredential that records the scopes it is
// asked for.
type fakeCredential struct {
	mu     sync.Mutex
	scopes [][]string
}

func (c *fakeCredential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scopes = append(c.scopes, slices.Clone(o.Scopes))
	return azcore.AccessToken{Token: testToken, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (c *fakeCredential) requested() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.scopes)
}

// server is a TLS test server standing in for Graph; it counts requests.
type server struct {
	*httptest.Server
	hits atomic.Int32
}

// setup starts a Graph stand-in that serves h and returns a client bound to
// it. Retries wait 1 ms unless opts says otherwise.
func setup(t *testing.T, h http.HandlerFunc, opts *ClientOptions) (*Client, *fakeCredential, *server) {
	t.Helper()
	srv := &server{}
	srv.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	if opts == nil {
		opts = &ClientOptions{}
	}
	opts.Transport = srv.Client()
	if opts.Retry.RetryDelay == 0 {
		opts.Retry.RetryDelay = time.Millisecond
	}
	cred := &fakeCredential{}
	c, err := NewClient(srv.URL, cred, opts)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c, cred, srv
}

// routeTo returns an HTTP client that sends requests for any host to srv, so
// that tests can use real endpoints such as https://graph.microsoft.us.
// httptest's certificate is valid for example.com.
func routeTo(srv *httptest.Server) *http.Client {
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}
	tr.TLSClientConfig = tr.TLSClientConfig.Clone()
	tr.TLSClientConfig.ServerName = "example.com"
	tr.TLSClientConfig.MinVersion = tls.VersionTLS12
	return &http.Client{Transport: tr}
}

// holdsPiece reports whether s holds v or any 12-character run of it (the
// scrubber's promise), byte for byte.
func holdsPiece(s, v string) bool {
	if len(v) < 12 {
		return strings.Contains(s, v)
	}
	for i := 0; i+12 <= len(v); i++ {
		if strings.Contains(s, v[i:i+12]) {
			return true
		}
	}
	return false
}

func testSecrets() []Secret {
	return []Secret{
		{Key: "BaseAddress", Value: secret.New("https://scim.example.com/scim/v2")},
		{Key: "SecretToken", Value: secret.New(canary)},
	}
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewClient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		endpoint string
		cred     azcore.TokenCredential
		wantErr  bool
	}{
		{"public", "https://graph.microsoft.com", &fakeCredential{}, false},
		{"trailing slash", "https://graph.microsoft.com/", &fakeCredential{}, false},
		{"plain http", "http://graph.microsoft.com", &fakeCredential{}, true},
		{"with version", "https://graph.microsoft.com/v1.0", &fakeCredential{}, true},
		{"with query", "https://graph.microsoft.com?x=1", &fakeCredential{}, true},
		{"no host", "https://", &fakeCredential{}, true},
		{"not a URL", "graph.microsoft.com", &fakeCredential{}, true},
		{"nil credential", "https://graph.microsoft.com", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := NewClient(tt.endpoint, tt.cred, nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("NewClient(%q) error = %v, wantErr %v", tt.endpoint, err, tt.wantErr)
			}
			if err == nil && c.endpoint != "https://graph.microsoft.com" {
				t.Errorf("endpoint = %q, want https://graph.microsoft.com", c.endpoint)
			}
			if fc, ok := tt.cred.(*fakeCredential); ok && len(fc.requested()) != 0 {
				t.Errorf("NewClient asked for a token: %v", fc.requested())
			}
		})
	}
}

func TestNewClientRetryStatusCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		codes     []int
		wantTries int32
	}{
		{"default retries 409", nil, 2},
		{"caller's list is kept", []int{http.StatusServiceUnavailable}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := &ClientOptions{}
			opts.Retry.StatusCodes = tt.codes
			var n atomic.Int32
			c, _, srv := setup(t, func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusConflict)
					_, _ = w.Write([]byte(`{"error":{"code":"ConcurrencyViolation","message":"busy"}}`))
					return
				}
				w.WriteHeader(http.StatusNoContent)
			}, opts)
			_, err := c.PutSecrets(t.Context(), APIVersionV1, testSPID, testSecrets())
			if got := srv.hits.Load(); got != tt.wantTries {
				t.Errorf("requests = %d, want %d", got, tt.wantTries)
			}
			if (err != nil) != (tt.wantTries == 1) {
				t.Errorf("PutSecrets error = %v", err)
			}
		})
	}
}

func TestPathParam(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{testSPID, testSPID, false},
		{"a/b?c#d", "a%2Fb%3Fc%23d", false},
		{"", "", true},
		{".", "", true},
		{"..", "", true},
	}
	for _, tt := range tests {
		got, err := pathParam("id", tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("pathParam(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestNewUUID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		id := newUUID()
		if !uuidPattern.MatchString(id) {
			t.Fatalf("newUUID() = %q, not a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("newUUID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestScopePerCloud(t *testing.T) {
	t.Parallel()
	for _, cl := range cloud.All {
		t.Run(cl.Name, func(t *testing.T) {
			t.Parallel()
			hosts := make(chan string, 1)
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hosts <- r.Host
				w.WriteHeader(http.StatusNoContent)
			}))
			defer srv.Close()
			cred := &fakeCredential{}
			c, err := NewClient(cl.Graph, cred, &ClientOptions{ClientOptions: azcore.ClientOptions{Transport: routeTo(srv)}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.PutSecrets(t.Context(), APIVersionV1, testSPID, testSecrets()); err != nil {
				t.Fatal(err)
			}
			want := [][]string{{cl.Graph + "/.default"}}
			if got := cred.requested(); !slices.EqualFunc(got, want, slices.Equal) {
				t.Errorf("scopes requested = %v, want %v", got, want)
			}
			if host, want := <-hosts, cl.Graph[len("https://"):]; host != want {
				t.Errorf("request went to host %q, want %q", host, want)
			}
		})
	}
}

// redirecting is a transport that answers every request as transport.New's
// client answers a redirect.
type redirecting struct{ to string }

func (r redirecting) Do(req *http.Request) (*http.Response, error) {
	return nil, &transport.RedirectError{StatusCode: http.StatusTemporaryRedirect, From: req.URL.Host, To: r.to}
}

// TestRedirectScrubbed: the host a redirect pointed to is Graph's text, and
// a value sent does not survive in it.
func TestRedirectScrubbed(t *testing.T) {
	t.Parallel()
	c, err := NewClient("https://graph.microsoft.com", &fakeCredential{}, &ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: redirecting{to: canary + ".evil.example"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PutSecrets(t.Context(), "v1.0", "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c", testSecrets())
	r, ok := errors.AsType[*transport.RedirectError](err)
	if !ok {
		t.Fatalf("error %v is not a *transport.RedirectError", err)
	}
	if strings.Contains(r.To, canary) || strings.Contains(err.Error(), canary) {
		t.Errorf("the redirect error still quotes a value sent (%d bytes)", len(err.Error()))
	}
	if !strings.HasSuffix(r.To, ".evil.example") {
		t.Errorf("To = %q, want the rest of the host kept", r.To)
	}
}
