package keyvault_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/google/go-cmp/cmp"

	"github.com/putsecrets/putsecrets/standin/identity"
	"github.com/putsecrets/putsecrets/standin/keyvault"
	"github.com/putsecrets/putsecrets/standin/proxy"
	"github.com/putsecrets/putsecrets/standin/tlsca"
)

// One identity endpoint and one real ManagedIdentityCredential serve the
// whole test binary: MSAL caches managed identity tokens process-wide, so
// every token the credential hands out must come from the same endpoint that
// the Key Vault stand-ins consult.
var (
	mi   *identity.Server
	cred *azidentity.ManagedIdentityCredential
	ca   *tlsca.CA
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	mi = identity.New()
	if err := mi.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer mi.Close()
	os.Setenv("IDENTITY_ENDPOINT", mi.Endpoint())
	os.Setenv("IDENTITY_HEADER", mi.Header())
	var err error
	if cred, err = azidentity.NewManagedIdentityCredential(nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if ca, err = tlsca.New(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// rig is one Key Vault stand-in behind its own proxy.
type rig struct {
	kv    *keyvault.Server
	proxy *proxy.Proxy
	http  *http.Client
}

func newRig(t *testing.T) *rig {
	t.Helper()
	kv, err := keyvault.New(ca, mi)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kv.Close)
	p := proxy.New(
		proxy.Route{Suffix: ".vault.azure.net", Addr: kv.Addr(), Known: kv.HasVault},
		proxy.Route{Suffix: ".vault.usgovcloudapi.net", Addr: kv.Addr(), Known: kv.HasVault},
		proxy.Route{Suffix: ".vault.azure.cn", Addr: kv.Addr(), Known: kv.HasVault},
	)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	proxyURL, _ := url.Parse(p.URL())
	// The test's wiring: the handler gets the same effect from HTTPS_PROXY
	// and SSL_CERT_FILE.
	tr := &http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}
	t.Cleanup(tr.CloseIdleConnections)
	return &rig{kv: kv, proxy: p, http: &http.Client{Transport: tr}}
}

// client returns a real azsecrets client for vaultURL with fast retries.
func (r *rig) client(t *testing.T, vaultURL string) *azsecrets.Client {
	t.Helper()
	c, err := azsecrets.NewClient(vaultURL, cred, &azsecrets.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: r.http,
		Retry:     policy.RetryOptions{MaxRetries: 3, RetryDelay: time.Millisecond, MaxRetryDelay: 2 * time.Second},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// warmClient stores the secret x (value "v") in host's vault and returns a
// client of the vault that has read it once: the challenge and the token
// are out of the way, two requests recorded.
func (r *rig) warmClient(t *testing.T, host string) *azsecrets.Client {
	t.Helper()
	r.kv.SetSecret(host, "x", "v")
	c := r.client(t, "https://"+host)
	if _, err := c.GetSecret(context.Background(), "x", "", nil); err != nil {
		t.Fatal(err)
	}
	return c
}

// statuses returns the statuses of the recorded requests.
func statuses(reqs []keyvault.Request) []int {
	out := make([]int, len(reqs))
	for i, r := range reqs {
		out[i] = r.Status
	}
	return out
}

var versionID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestGetSecret(t *testing.T) {
	t.Parallel()
	const (
		pub  = "contoso-kv.vault.azure.net"
		gov  = "contoso-kv.vault.usgovcloudapi.net"
		cn   = "contoso-kv.vault.azure.cn"
		oldV = "0123456789abcdef0123456789abcdef"
	)
	tests := []struct {
		name      string
		setup     func(*keyvault.Server)
		vaultURL  string
		secret    string
		version   string
		wantValue string
		// wantStatus is the ResponseError status, 0 for success.
		wantStatus   int
		wantCode     string
		wantInner    string
		wantStatuses []int
		wantReads    int
	}{
		{
			name:         "latest version, public cloud",
			setup:        func(kv *keyvault.Server) { kv.SetSecret(pub, "scim-token", "s3cr3t-value") },
			vaultURL:     "https://" + pub,
			secret:       "scim-token",
			wantValue:    "s3cr3t-value",
			wantStatuses: []int{401, 200},
			wantReads:    1,
		},
		{
			name: "explicit older version",
			setup: func(kv *keyvault.Server) {
				kv.SetSecret(pub, "svc-password", "new", keyvault.OlderVersion(oldV, "old"))
			},
			vaultURL:     "https://" + pub,
			secret:       "svc-password",
			version:      oldV,
			wantValue:    "old",
			wantStatuses: []int{401, 200},
			wantReads:    1,
		},
		{
			name:         "names are case-insensitive",
			setup:        func(kv *keyvault.Server) { kv.SetSecret(pub, "Scim-Token", "v") },
			vaultURL:     "https://" + pub,
			secret:       "SCIM-TOKEN",
			wantValue:    "v",
			wantStatuses: []int{401, 200},
			wantReads:    1,
		},
		{
			name:         "US Government cloud",
			setup:        func(kv *keyvault.Server) { kv.SetSecret(gov, "scim-token", "gov-value") },
			vaultURL:     "https://" + gov,
			secret:       "scim-token",
			wantValue:    "gov-value",
			wantStatuses: []int{401, 200},
			wantReads:    1,
		},
		{
			name:         "China cloud",
			setup:        func(kv *keyvault.Server) { kv.SetSecret(cn, "scim-token", "cn-value") },
			vaultURL:     "https://" + cn,
			secret:       "scim-token",
			wantValue:    "cn-value",
			wantStatuses: []int{401, 200},
			wantReads:    1,
		},
		{
			name:         "missing secret",
			setup:        func(kv *keyvault.Server) { kv.AddVault(pub) },
			vaultURL:     "https://" + pub,
			secret:       "nope",
			wantStatus:   404,
			wantCode:     "SecretNotFound",
			wantStatuses: []int{401, 404},
		},
		{
			name:         "missing version",
			setup:        func(kv *keyvault.Server) { kv.SetSecret(pub, "scim-token", "v") },
			vaultURL:     "https://" + pub,
			secret:       "scim-token",
			version:      oldV,
			wantStatus:   404,
			wantCode:     "SecretNotFound",
			wantStatuses: []int{401, 404},
		},
		{
			name:         "disabled secret",
			setup:        func(kv *keyvault.Server) { kv.SetSecret(pub, "scim-token", "v", keyvault.Disabled()) },
			vaultURL:     "https://" + pub,
			secret:       "scim-token",
			wantStatus:   403,
			wantCode:     "Forbidden",
			wantInner:    "SecretDisabled",
			wantStatuses: []int{401, 403},
		},
		{
			name: "vault denies the identity (RBAC)",
			setup: func(kv *keyvault.Server) {
				kv.SetSecret(pub, "scim-token", "v")
				kv.SetDenied(pub, true)
			},
			vaultURL:     "https://" + pub,
			secret:       "scim-token",
			wantStatus:   403,
			wantCode:     "Forbidden",
			wantInner:    "ForbiddenByRbac",
			wantStatuses: []int{401, 403},
		},
		{
			name: "challenge loop: every token rejected",
			setup: func(kv *keyvault.Server) {
				kv.SetSecret(pub, "scim-token", "v")
				kv.SetRejectTokens(pub, true)
			},
			vaultURL:     "https://" + pub,
			secret:       "scim-token",
			wantStatus:   401,
			wantCode:     "Unauthorized",
			wantStatuses: []int{401, 401},
		},
		{
			name: "throttled once with Retry-After, then served",
			setup: func(kv *keyvault.Server) {
				kv.SetSecret(pub, "scim-token", "v")
				kv.Script(pub, "scim-token", keyvault.Fault{Status: 429, RetryAfter: "1", Times: 1})
			},
			vaultURL:     "https://" + pub,
			secret:       "scim-token",
			wantValue:    "v",
			wantStatuses: []int{401, 429, 200},
			wantReads:    1,
		},
		{
			name: "connection reset once, then served",
			setup: func(kv *keyvault.Server) {
				kv.SetSecret(pub, "scim-token", "v")
				kv.Script(pub, "", keyvault.Fault{Reset: true, Times: 1})
			},
			vaultURL:     "https://" + pub,
			secret:       "scim-token",
			wantValue:    "v",
			wantStatuses: []int{401, 0, 200},
			wantReads:    1,
		},
		{
			name: "500 forever exhausts the retries",
			setup: func(kv *keyvault.Server) {
				kv.SetSecret(pub, "scim-token", "v")
				kv.Script(pub, "scim-token", keyvault.Fault{Status: 500})
			},
			vaultURL:     "https://" + pub,
			secret:       "scim-token",
			wantStatus:   500,
			wantCode:     "InternalServerError",
			wantStatuses: []int{401, 500, 500, 500, 500},
		},
		{
			name: "scripted 503 twice, then served",
			setup: func(kv *keyvault.Server) {
				kv.SetSecret(pub, "scim-token", "v")
				kv.Script(pub, "scim-token", keyvault.Fault{Status: 503, Times: 2})
			},
			vaultURL:     "https://" + pub,
			secret:       "scim-token",
			wantValue:    "v",
			wantStatuses: []int{401, 503, 503, 200},
			wantReads:    1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			tt.setup(r.kv)
			c := r.client(t, tt.vaultURL)
			resp, err := c.GetSecret(context.Background(), tt.secret, tt.version, nil)
			if tt.wantStatus != 0 {
				var re *azcore.ResponseError
				if !errors.As(err, &re) {
					t.Fatalf("GetSecret: got %v, want a *azcore.ResponseError", err)
				}
				if re.StatusCode != tt.wantStatus || re.ErrorCode != tt.wantCode {
					t.Errorf("GetSecret error: got %d %s, want %d %s", re.StatusCode, re.ErrorCode, tt.wantStatus, tt.wantCode)
				}
				if tt.wantInner != "" {
					var body struct {
						Error struct {
							InnerError struct{ Code string } `json:"innererror"`
						} `json:"error"`
					}
					raw, _ := io.ReadAll(re.RawResponse.Body)
					if err := json.Unmarshal(raw, &body); err != nil || body.Error.InnerError.Code != tt.wantInner {
						t.Errorf("innererror code: got %q (%v), want %q in %s", body.Error.InnerError.Code, err, tt.wantInner, raw)
					}
				}
			} else {
				if err != nil {
					t.Fatalf("GetSecret: %v", err)
				}
				if resp.Value == nil || *resp.Value != tt.wantValue {
					t.Errorf("value: got %v, want %q", resp.Value, tt.wantValue)
				}
				if !strings.EqualFold(resp.ID.Name(), tt.secret) {
					t.Errorf("ID name: got %q, want %q", resp.ID.Name(), tt.secret)
				}
				if v := resp.ID.Version(); !versionID.MatchString(v) || (tt.version != "" && v != tt.version) {
					t.Errorf("ID version: got %q, want 32 hex digits (%q)", v, tt.version)
				}
				a := resp.Attributes
				if a == nil || a.Enabled == nil || !*a.Enabled || a.Created == nil || a.RecoveryLevel == nil || *a.RecoveryLevel != "Recoverable+Purgeable" {
					t.Errorf("attributes: got %+v", a)
				}
			}
			reqs := allDone(t, r.kv)
			if diff := cmp.Diff(tt.wantStatuses, statuses(reqs)); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
			if reqs[0].Authorized {
				t.Error("first request authorized, want the unauthenticated challenge request")
			}
			for _, q := range reqs[1:] {
				if !q.Authorized && tt.wantStatus != 401 {
					t.Errorf("request %+v not authorized", q)
				}
				if q.APIVersion != "2026-04-01" {
					t.Errorf("api-version: got %q", q.APIVersion)
				}
			}
			host, _ := url.Parse(tt.vaultURL)
			if got := r.kv.Reads(host.Host, tt.secret); got != tt.wantReads {
				t.Errorf("Reads: got %d, want %d", got, tt.wantReads)
			}
		})
	}
}

// TestProtocol checks the raw wire details with a plain HTTP client.
func TestProtocol(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const host = "contoso-kv.vault.azure.net"
	r.kv.SetSecret(host, "scim-token", "v", keyvault.Version("fedcba9876543210fedcba9876543210"), keyvault.Tags(map[string]string{"owner": "ops"}), keyvault.ContentType("text/plain"))
	vaultToken := token(t, "https://vault.azure.net")
	graphToken := token(t, "https://graph.microsoft.com")

	tests := []struct {
		name        string
		method      string
		path        string
		token       string
		wantStatus  int
		wantCode    string
		wantMessage string
		wantBody    string
	}{
		{"no token", "GET", "/secrets/scim-token?api-version=7.5", "", 401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.", ""},
		{"unknown token", "GET", "/secrets/scim-token?api-version=7.5", "opaque-but-unknown", 401, "Unauthorized", "AKV10046", ""},
		{"token for Graph", "GET", "/secrets/scim-token?api-version=7.5", graphToken, 401, "Unauthorized", "AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://graph.microsoft.com.", ""},
		{"no api-version", "GET", "/secrets/scim-token", vaultToken, 400, "BadParameter", "api-version", ""},
		{"bad secret name", "GET", "/secrets/scim_token?api-version=7.5", vaultToken, 400, "BadParameter", "scim_token", ""},
		{"PUT is not served", "PUT", "/secrets/scim-token?api-version=7.5", vaultToken, 405, "BadParameter", "", ""},
		{"latest without trailing slash", "GET", "/secrets/scim-token?api-version=7.5", vaultToken, 200, "", "",
			`{"value":"v","contentType":"text/plain","id":"https://contoso-kv.vault.azure.net/secrets/scim-token/fedcba9876543210fedcba9876543210","attributes":{"enabled":true,"created":CREATED,"updated":CREATED,"recoveryLevel":"Recoverable+Purgeable","recoverableDays":90},"tags":{"owner":"ops"}}`},
		{"version with trailing slash", "GET", "/secrets/scim-token/fedcba9876543210fedcba9876543210/?api-version=7.5", vaultToken, 200, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, raw := send(t, r, tt.method, "https://"+host+tt.path, tt.token)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status: got %d, want %d: %s", resp.StatusCode, tt.wantStatus, raw)
			}
			for k, want := range map[string]string{
				"Content-Type":                  "application/json; charset=utf-8",
				"x-ms-keyvault-service-version": keyvault.ServiceVersion,
				"x-ms-client-request-id":        "c1d2",
			} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("header %s: got %q, want %q", k, got, want)
				}
			}
			reqs := r.kv.Requests()
			if id := resp.Header.Get("x-ms-request-id"); id == "" || id != reqs[len(reqs)-1].RequestID {
				t.Errorf("x-ms-request-id %q, recorded as %q", id, reqs[len(reqs)-1].RequestID)
			}
			if tt.wantStatus == 401 {
				want := `Bearer authorization="https://login.microsoftonline.com/` + r.kv.TenantID() + `", resource="https://vault.azure.net"`
				if got := resp.Header.Get("WWW-Authenticate"); got != want {
					t.Errorf("WWW-Authenticate: got %q, want %q", got, want)
				}
			}
			if tt.wantStatus >= 400 {
				var e struct {
					Error struct{ Code, Message string }
				}
				if err := json.Unmarshal(raw, &e); err != nil {
					t.Fatalf("error body %s: %v", raw, err)
				}
				if e.Error.Code != tt.wantCode || !strings.Contains(e.Error.Message, tt.wantMessage) {
					t.Errorf("error: got %s %q, want %s %q", e.Error.Code, e.Error.Message, tt.wantCode, tt.wantMessage)
				}
			}
			if tt.wantBody != "" {
				var b struct{ Attributes struct{ Created int64 } }
				_ = json.Unmarshal(raw, &b)
				want := strings.ReplaceAll(tt.wantBody, "CREATED", fmt.Sprint(b.Attributes.Created))
				if string(raw) != want {
					t.Errorf("body:\n got %s\nwant %s", raw, want)
				}
			}
		})
	}
	if got, want := r.kv.Reads(host, "scim-token"), 2; got != want {
		t.Errorf("Reads: got %d, want %d", got, want)
	}
}

func TestChallengePerCloud(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	tests := []struct{ host, want string }{
		{"a.vault.azure.net", `Bearer authorization="https://login.microsoftonline.com/%s", resource="https://vault.azure.net"`},
		{"b.vault.usgovcloudapi.net", `Bearer authorization="https://login.microsoftonline.us/%s", resource="https://vault.usgovcloudapi.net"`},
		{"c.vault.azure.cn", `Bearer authorization="https://login.chinacloudapi.cn/%s", resource="https://vault.azure.cn"`},
	}
	for _, tt := range tests {
		r.kv.AddVault(tt.host)
		resp, err := r.http.Get("https://" + tt.host + "/secrets/x/?api-version=2026-04-01")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := fmt.Sprintf(tt.want, r.kv.TenantID())
		if got := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != 401 || got != want {
			t.Errorf("%s: got %d %q, want 401 %q", tt.host, resp.StatusCode, got, want)
		}
	}
}

func TestUnknownVaultFailsAtTheProxy(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.kv.SetSecret("contoso-kv.vault.azure.net", "x", "v")
	c := r.client(t, "https://typo-kv.vault.azure.net")
	_, err := c.GetSecret(context.Background(), "x", "", nil)
	if err == nil || !strings.Contains(err.Error(), "Bad Gateway") {
		t.Errorf("GetSecret from a vault that does not exist: got %v, want a proxy 502", err)
	}
	if len(r.kv.Requests()) != 0 {
		t.Errorf("the stand-in saw %d requests, want none", len(r.kv.Requests()))
	}
}

// TestDelayUntilTheCallerLeaves holds a request until the caller cancels,
// cancelling only once the stand-in has the request: no sleeping, no race
// between the deadline and the request's arrival.
func TestDelayUntilTheCallerLeaves(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const host = "contoso-kv.vault.azure.net"
	c := r.warmClient(t, host)
	r.kv.Script(host, "x", keyvault.Fault{Delay: time.Hour, Times: 1})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.GetSecret(ctx, "x", "", nil)
		errc <- err
	}()
	wait, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	if err := r.kv.Await(wait, func(rs []keyvault.Request) bool { return len(rs) == 3 }); err != nil {
		t.Fatalf("delayed request never arrived: %v", err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("GetSecret: got %v, want context.Canceled", err)
	}
	if reqs := allDone(t, r.kv); reqs[2].Status != 0 {
		t.Errorf("delayed request answered %d, want no answer", reqs[2].Status)
	}
	// The delay fault was consumed; the next read is served.
	if _, err := c.GetSecret(context.Background(), "x", "", nil); err != nil {
		t.Errorf("GetSecret after the delay fault: %v", err)
	}
}

// allDone waits until the stand-in has finished every request it received
// (a client can hold its answer before the status is recorded) and returns
// them.
func allDone(t *testing.T, kv *keyvault.Server) []keyvault.Request {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := kv.Await(ctx, func(rs []keyvault.Request) bool {
		for _, r := range rs {
			if !r.Done {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("requests still in flight: %v", err)
	}
	return kv.Requests()
}

// token gets a token for resource from the shared credential.
func token(t *testing.T, resource string) string {
	t.Helper()
	tk, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{resource + "/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	return tk.Token
}

// TestNoValue: a version set with NoValue is answered without a value
// field, and the value given to SetSecret is not kept.
func TestNoValue(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const host = "contoso-kv.vault.azure.net"
	r.kv.SetSecret(host, "scim-token", "dropped-value", keyvault.NoValue(), keyvault.OlderVersion("0123456789abcdef0123456789abcdef", "old"))

	raw := rawGet(t, r, "https://"+host+"/secrets/scim-token?api-version=7.5", token(t, "https://vault.azure.net"))
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("body %s: %v", raw, err)
	}
	if _, ok := got["value"]; ok || strings.Contains(string(raw), "dropped-value") || got["id"] == nil {
		t.Errorf("body %s, want a bundle with an id and no value", raw)
	}
	resp, err := r.client(t, "https://"+host).GetSecret(t.Context(), "scim-token", "", nil)
	if err != nil || resp.Value != nil {
		t.Errorf("GetSecret = %v, %v; want no value, no error", resp.Value, err)
	}
	// Older versions keep theirs.
	old, err := r.client(t, "https://"+host).GetSecret(t.Context(), "scim-token", "0123456789abcdef0123456789abcdef", nil)
	if err != nil || old.Value == nil || *old.Value != "old" {
		t.Errorf("older version = %v, %v; want \"old\"", old.Value, err)
	}
	if n := r.kv.Reads(host, "scim-token"); n != 3 {
		t.Errorf("Reads = %d, want 3", n)
	}
}

// TestChallengeResource: a vault whose challenge names a foreign resource
// is refused by azsecrets before it asks for a token; tokens for the
// vault's own resource are still accepted; "" restores the cloud's.
func TestChallengeResource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, host, resource, want string
	}{
		{"China resource for a public vault", "contoso-kv.vault.azure.net", "https://vault.azure.cn", "https://vault.azure.cn"},
		{"look-alike suffix", "contoso-kv.vault.azure.net", "https://vault.azure.net.example.com", "https://vault.azure.net.example.com"},
		{"another vault's host", "contoso-kv.vault.azure.net", "https://fabrikam-kv.vault.azure.net", "https://fabrikam-kv.vault.azure.net"},
		{"restored", "contoso-kv.vault.azure.net", "", "https://vault.azure.net"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			r.kv.SetSecret(tt.host, "x", "v")
			r.kv.SetChallengeResource(tt.host, "https://other.example")
			r.kv.SetChallengeResource(tt.host, tt.resource)

			resp, _ := send(t, r, http.MethodGet, "https://"+tt.host+"/secrets/x?api-version=7.5", "")
			want := `Bearer authorization="https://login.microsoftonline.com/` + r.kv.TenantID() + `", resource="` + tt.want + `"`
			if got := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != 401 || got != want {
				t.Errorf("challenge: got %d %q, want 401 %q", resp.StatusCode, got, want)
			}
			if raw := rawGet(t, r, "https://"+tt.host+"/secrets/x?api-version=7.5", token(t, "https://vault.azure.net")); !strings.Contains(string(raw), `"value":"v"`) {
				t.Errorf("a token for the vault's resource: got %s, want the bundle", raw)
			}

			before := len(r.kv.Requests())
			_, err := r.client(t, "https://"+tt.host).GetSecret(t.Context(), "x", "", nil)
			after := r.kv.Requests()[before:]
			if tt.resource == "" {
				if err != nil {
					t.Errorf("GetSecret with the cloud's challenge: %v", err)
				}
				return
			}
			if _, isResp := errors.AsType[*azcore.ResponseError](err); err == nil || isResp {
				t.Errorf("GetSecret = %v, want the client's refusal of the challenge", err)
			}
			if len(after) != 1 || after[0].Authorized {
				t.Errorf("requests after the challenge: %+v, want the challenge alone", after)
			}
		})
	}
}

// TestGate: requests wait at the gate until n are held at once, then all
// pass, and so does every later one; a client that leaves the gate is no
// longer counted; removing a gate lets its requests go. MaxInFlight sees
// the n held together.
func TestGate(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const host = "contoso-kv.vault.azure.net"
	c := r.warmClient(t, host)
	if n := r.kv.MaxInFlight(host); n != 1 {
		t.Fatalf("MaxInFlight after one read = %d, want 1", n)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	get := func(ctx context.Context) <-chan error {
		errc := make(chan error, 1)
		go func() {
			_, err := c.GetSecret(ctx, "x", "", nil)
			errc <- err
		}()
		return errc
	}
	arrived := func(n int) []keyvault.Request {
		t.Helper()
		if err := r.kv.Await(ctx, func(rs []keyvault.Request) bool { return len(rs) >= n }); err != nil {
			t.Fatalf("%d requests never arrived: %v", n, err)
		}
		return r.kv.Requests()
	}

	r.kv.SetGate(host, 3)
	first, second := get(ctx), get(ctx)
	for _, q := range arrived(4)[2:] {
		if q.Done {
			t.Errorf("request %+v answered before the gate opened", q)
		}
	}
	third := get(ctx)
	for i, errc := range []<-chan error{first, second, third} {
		if err := <-errc; err != nil {
			t.Errorf("read %d through the gate: %v", i, err)
		}
	}
	if n := r.kv.MaxInFlight(host); n != 3 {
		t.Errorf("MaxInFlight = %d, want 3", n)
	}
	if err := <-get(ctx); err != nil {
		t.Errorf("read after the gate opened: %v", err)
	}

	// A client leaving the gate stops counting towards it.
	r.kv.SetGate(host, 2)
	leave, leaveNow := context.WithCancel(ctx)
	left := get(leave)
	arrived(7)
	leaveNow()
	if err := <-left; !errors.Is(err, context.Canceled) {
		t.Errorf("read that left the gate: %v, want context.Canceled", err)
	}
	// The stand-in sees the client gone only when the connection closes.
	if err := r.kv.Await(ctx, func(rs []keyvault.Request) bool { return rs[6].Done }); err != nil {
		t.Fatalf("the request that left the gate never ended: %v", err)
	}
	held := get(ctx)
	if q := arrived(8)[7]; q.Done {
		t.Errorf("request %+v passed a gate of 2 alone", q)
	}
	// Removing the gate lets it go.
	r.kv.SetGate(host, 0)
	if err := <-held; err != nil {
		t.Errorf("read held by a removed gate: %v", err)
	}
	if reqs := allDone(t, r.kv); reqs[6].Status != 0 {
		t.Errorf("the request that left the gate was answered %d, want no answer", reqs[6].Status)
	}
	if n := r.kv.MaxInFlight("unknown-kv.vault.azure.net"); n != 0 {
		t.Errorf("MaxInFlight of a vault never asked = %d, want 0", n)
	}
}

// send sends a request with a bearer token ("": none) and the client
// request ID c1d2, and returns the answer and its body.
func send(t *testing.T, r *rig, method, u, tok string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("x-ms-client-request-id", "c1d2")
	resp, err := r.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}

// rawGet sends a GET with a bearer token and returns the body of a 200.
func rawGet(t *testing.T, r *rig, u, tok string) []byte {
	t.Helper()
	resp, raw := send(t, r, http.MethodGet, u, tok)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, raw)
	}
	return raw
}
