package vault

import (
	"context"
	"fmt"
	"io"
	"log"
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
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

// This file holds a small Key Vault stand-in for the tests of this package:
// the 401 challenge, GET /secrets/{name}[/{version}], and the error bodies
// Key Vault sends.

const (
	testToken  = "fake-kv-token"
	testTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	publicKV   = "https://vault.azure.net"
)

// fakeCredential is an azcore.TokenCredential that records what it is asked
// for and hands out token.
type fakeCredential struct {
	token string
	mu    sync.Mutex
	asked []policy.TokenRequestOptions
}

func (c *fakeCredential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = append(c.asked, o)
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (c *fakeCredential) requests() []policy.TokenRequestOptions {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.asked)
}

// entry is one stored secret, or a canned failure for its name.
type entry struct {
	value    *string
	version  string
	disabled bool
	status   int    // non-zero: answer with this status and body
	body     string // for status
	header   []string
	delay    time.Duration // before answering; the request's context cuts it short
}

// kv is the Key Vault stand-in. Every host routed to it is a vault; secrets
// are stored per vault host.
type kv struct {
	*httptest.Server
	resource string // challenge resource

	mu         sync.Mutex
	secrets    map[string]map[string]entry // host → lower-case name → entry
	challenges map[string]int              // host → 401 challenges sent
	gets       map[string]int              // "host/name/version" → authorized GETs

	inFlight, maxInFlight atomic.Int32

	// gate, when set, holds authorized GETs until that many are in flight
	// at once (or 5 s pass), so tests can see a concurrency bound reached.
	gate         int32
	gateOpen     chan struct{}
	gateOnce     sync.Once
	authInFlight atomic.Int32
}

func newKV(t *testing.T) *kv {
	t.Helper()
	k := &kv{
		resource:   publicKV,
		secrets:    map[string]map[string]entry{},
		challenges: map[string]int{},
		gets:       map[string]int{},
		gateOpen:   make(chan struct{}),
	}
	k.Server = httptest.NewUnstartedServer(http.HandlerFunc(k.serve))
	k.Config.ErrorLog = log.New(io.Discard, "", 0) // cancelled tests cut handshakes short
	k.StartTLS()
	t.Cleanup(k.Close)
	return k
}

func (k *kv) put(host, name string, e entry) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.secrets[host] == nil {
		k.secrets[host] = map[string]entry{}
	}
	k.secrets[host][strings.ToLower(name)] = e
}

func (k *kv) challengeCount(host string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.challenges[host]
}

func (k *kv) getCount(host, name, version string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.gets[host+"/"+strings.ToLower(name)+"/"+version]
}

func (k *kv) totalGets() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for _, c := range k.gets {
		n += c
	}
	return n
}

var secretPath = regexp.MustCompile(`^/secrets/([^/]+)(?:/([^/]*))?$`)

func kvError(w http.ResponseWriter, status int, body string, header ...string) {
	for i := 0; i+1 < len(header); i += 2 {
		w.Header().Set(header[i], header[i+1])
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("x-ms-request-id", "kv-req-1")
	w.WriteHeader(status)
	_, _ = fmt.Fprint(w, body)
}

func (k *kv) serve(w http.ResponseWriter, r *http.Request) {
	n := k.inFlight.Add(1)
	defer k.inFlight.Add(-1)
	for {
		m := k.maxInFlight.Load()
		if n <= m || k.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	host := r.Host
	challenge := fmt.Sprintf(`Bearer authorization="https://login.microsoftonline.com/%s", resource="%s"`, testTenant, k.resource)
	switch auth := r.Header.Get("Authorization"); auth {
	case "":
		k.mu.Lock()
		k.challenges[host]++
		k.mu.Unlock()
		kvError(w, http.StatusUnauthorized, `{"error":{"code":"Unauthorized","message":"AKV10000: Request is missing a Bearer or PoP token."}}`,
			"WWW-Authenticate", challenge)
		return
	case "Bearer " + testToken:
	default:
		kvError(w, http.StatusUnauthorized, `{"error":{"code":"Unauthorized","message":"AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://example.com."}}`,
			"WWW-Authenticate", challenge)
		return
	}
	m := secretPath.FindStringSubmatch(r.URL.Path)
	if r.Method != http.MethodGet || m == nil || r.URL.Query().Get("api-version") == "" {
		kvError(w, http.StatusBadRequest, `{"error":{"code":"BadParameter","message":"Unexpected request."}}`)
		return
	}
	name, version := m[1], m[2]
	k.mu.Lock()
	k.gets[host+"/"+strings.ToLower(name)+"/"+version]++
	e, ok := k.secrets[host][strings.ToLower(name)]
	k.mu.Unlock()

	if k.gate > 0 {
		n := k.authInFlight.Add(1)
		defer k.authInFlight.Add(-1)
		if n >= k.gate {
			k.gateOnce.Do(func() { close(k.gateOpen) })
		}
		select {
		case <-k.gateOpen:
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
			return
		}
	}
	if e.delay > 0 {
		select {
		case <-time.After(e.delay):
		case <-r.Context().Done():
			return
		}
	}
	notFound := fmt.Sprintf(`{"error":{"code":"SecretNotFound","message":"A secret with (name/id) %s was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"}}`, name)
	switch {
	case !ok, version != "" && version != e.version:
		kvError(w, http.StatusNotFound, notFound)
	case e.status != 0:
		kvError(w, e.status, e.body, e.header...)
	case e.disabled:
		kvError(w, http.StatusForbidden, `{"error":{"code":"Forbidden","message":"Operation get is not allowed on a disabled secret.","innererror":{"code":"SecretDisabled"}}}`)
	default:
		id := fmt.Sprintf("https://%s/secrets/%s/%s", host, name, e.version)
		body := fmt.Sprintf(`{"id":%q,"attributes":{"enabled":true,"created":1715678400,"updated":1715678400,"recoveryLevel":"Recoverable+Purgeable","recoverableDays":90},"tags":{}`, id)
		if e.value != nil {
			body += fmt.Sprintf(`,"value":%q`, *e.value)
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = fmt.Fprint(w, body+"}")
	}
}

// routeTo returns an HTTP client that sends requests for any host to srv, so
// that tests use real vault host names and the challenge's resource check
// stays on. httptest's certificate is valid for example.com.
func routeTo(srv *httptest.Server) *http.Client {
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}
	tr.TLSClientConfig = tr.TLSClientConfig.Clone()
	tr.TLSClientConfig.ServerName = "example.com"
	return &http.Client{Transport: tr}
}

// resolver returns a Resolver bound to k, retrying after 1 ms unless o says
// otherwise, and a counter of the azsecrets clients it builds.
func (k *kv) resolver(cred azcore.TokenCredential, o *Options) (*Resolver, *atomic.Int32) {
	if o == nil {
		o = &Options{}
	}
	co := azsecrets.ClientOptions{}
	if o.ClientOptions != nil {
		co = *o.ClientOptions
	}
	co.Transport = routeTo(k.Server)
	if co.Retry.RetryDelay == 0 {
		co.Retry.RetryDelay = time.Millisecond
	}
	o.ClientOptions = &co
	r := New(cred, o)
	var built atomic.Int32
	r.newClient = func(u string, c azcore.TokenCredential, opts *azsecrets.ClientOptions) (*azsecrets.Client, error) {
		built.Add(1)
		return azsecrets.NewClient(u, c, opts)
	}
	return r, &built
}

func ptr(s string) *string { return &s }
