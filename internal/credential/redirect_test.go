package credential

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/putsecrets/putsecrets/internal/cloud"
	"github.com/putsecrets/putsecrets/internal/transport"
)

const identityHeader = "identity-header-canary"

// identityRedirect starts an identity endpoint that answers every token
// request with status pointing to another host, and that other host, which
// answers like an identity endpoint and counts what reached it. It points
// IDENTITY_ENDPOINT at the first (azidentity reads the process environment).
func identityRedirect(t *testing.T, status int) (hits, elsewhere, headers *atomic.Int64) {
	hits, elsewhere, headers = new(atomic.Int64), new(atomic.Int64), new(atomic.Int64)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		if r.Header.Get("X-IDENTITY-HEADER") == identityHeader {
			headers.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"t","expires_on":"4102444800","resource":"`+r.URL.Query().Get("resource")+`","token_type":"Bearer"}`)
	}))
	t.Cleanup(other.Close)
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Location", other.URL+"/msi/token?"+r.URL.RawQuery+"&leak=query-canary")
		w.WriteHeader(status)
	}))
	t.Cleanup(src.Close)
	t.Setenv("IDENTITY_ENDPOINT", src.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", identityHeader)
	return hits, elsewhere, headers
}

// TestManagedIdentityFollowsNoRedirect: a redirect from the identity endpoint
// is refused once, not retried, and reported as the redirect it was.
func TestManagedIdentityFollowsNoRedirect(t *testing.T) {
	for _, status := range []int{301, 302, 303, 307, 308} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			hits, elsewhere, _ := identityRedirect(t, status)
			cred, kind, err := New(os.Getenv, cloud.Public, "", transport.New())
			if err != nil || kind != ManagedIdentity {
				t.Fatalf("New: %v %v", kind, err)
			}
			// A resource of its own: MSAL's token cache is process-wide.
			_, err = cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://redirect-" + http.StatusText(status) + ".example/.default"}})
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("GetToken error %v is not a *credential.Error", err)
			}
			u, _ := url.Parse(os.Getenv("IDENTITY_ENDPOINT"))
			if cerr.Redirect == nil || cerr.Redirect.StatusCode != status || cerr.Redirect.From != u.Host || cerr.Redirect.To == "" {
				t.Errorf("Redirect = %+v, want %d from %s to the other host", cerr.Redirect, status, u.Host)
			}
			if strings.Contains(err.Error(), "canary") {
				t.Errorf("error text %q holds the Location's query or the identity header", err)
			}
			if n := elsewhere.Load(); n != 0 {
				t.Errorf("the other host got %d token requests", n)
			}
			if n := hits.Load(); n != 1 {
				t.Errorf("the identity endpoint got %d requests, want 1 (no retries)", n)
			}
		})
	}
}

// TestManagedIdentityDefaultClientFollows shows what the shared client
// prevents: with Go's default client, azidentity follows the redirect and
// sends X-IDENTITY-HEADER to the other host.
func TestManagedIdentityDefaultClientFollows(t *testing.T) {
	_, elsewhere, headers := identityRedirect(t, 307)
	cred, _, err := New(os.Getenv, cloud.Public, "", &http.Client{})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://redirect-control.example/.default"}})
	if elsewhere.Load() == 0 || headers.Load() == 0 {
		t.Fatalf("the other host got %d requests, %d with the identity header; the control no longer shows the danger", elsewhere.Load(), headers.Load())
	}
}

func TestNewNeedsClient(t *testing.T) {
	t.Parallel()
	if _, _, err := New(func(string) string { return "" }, cloud.Public, "", nil); err == nil {
		t.Error("New accepted no HTTP client")
	}
}
