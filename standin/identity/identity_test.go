package identity_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/putsecrets/putsecrets/standin/identity"
)

// MSAL keeps managed identity tokens in a process-wide cache keyed by
// identity and resource, not by endpoint: a second credential in this test
// binary could be handed a token another test's server issued. So every
// test that drives the real ManagedIdentityCredential runs it in a child
// process (this test binary re-executed with helperEnv set), which reads
// IDENTITY_ENDPOINT/IDENTITY_HEADER exactly as the handler will.
const helperEnv = "STANDIN_IDENTITY_HELPER"

// helperResult is one GetToken outcome printed by the helper.
type helperResult struct {
	Token     string    `json:"token"`
	ExpiresOn time.Time `json:"expiresOn"`
	Err       string    `json:"err"`
}

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(runHelper())
	}
	os.Exit(m.Run())
}

// runHelper gets one token per scope in HELPER_SCOPES (comma-separated) with
// a ManagedIdentityCredential for HELPER_CLIENT_ID (empty: system-assigned)
// and prints each outcome as a JSON line.
func runHelper() int {
	opts := &azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{
			MaxRetries: 3, RetryDelay: time.Millisecond, MaxRetryDelay: 5 * time.Millisecond,
		}},
	}
	if id := os.Getenv("HELPER_CLIENT_ID"); id != "" {
		opts.ID = azidentity.ClientID(id)
	}
	cred, err := azidentity.NewManagedIdentityCredential(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	timeout, _ := time.ParseDuration(os.Getenv("HELPER_TIMEOUT"))
	if timeout == 0 {
		timeout = time.Minute
	}
	enc := json.NewEncoder(os.Stdout)
	for _, scope := range strings.Split(os.Getenv("HELPER_SCOPES"), ",") {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		tk, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
		cancel()
		r := helperResult{Token: tk.Token, ExpiresOn: tk.ExpiresOn}
		if err != nil {
			r.Err = err.Error()
		}
		if err := enc.Encode(r); err != nil {
			return 2
		}
	}
	return 0
}

// getTokens runs the helper against srv and returns its results.
func getTokens(t *testing.T, srv *identity.Server, header, clientID, timeout string, scopes ...string) []helperResult {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = []string{
		helperEnv + "=1",
		"IDENTITY_ENDPOINT=" + srv.Endpoint(),
		"IDENTITY_HEADER=" + header,
		"HELPER_CLIENT_ID=" + clientID,
		"HELPER_SCOPES=" + strings.Join(scopes, ","),
		"HELPER_TIMEOUT=" + timeout,
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
	}
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("helper: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("helper: %v", err)
	}
	var results []helperResult
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		var r helperResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("helper output %q: %v", sc.Text(), err)
		}
		results = append(results, r)
	}
	if len(results) != len(scopes) {
		t.Fatalf("helper printed %d results, want %d:\n%s", len(results), len(scopes), out)
	}
	return results
}

func start(t *testing.T) *identity.Server {
	t.Helper()
	srv := identity.New()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func TestManagedIdentityCredential(t *testing.T) {
	t.Parallel()
	const uami = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
	tests := []struct {
		name      string
		setup     func(*identity.Server)
		clientID  string
		badHeader bool
		scopes    []string
		// want holds, per scope, the resource granted or the error text expected.
		wantResource []string
		wantErr      []string
		wantRequests []identity.TokenRequest
	}{
		{
			name:         "system-assigned",
			scopes:       []string{"https://vault.azure.net/.default"},
			wantResource: []string{"https://vault.azure.net"},
			wantErr:      []string{""},
			wantRequests: []identity.TokenRequest{{Resource: "https://vault.azure.net", APIVersion: "2019-08-01", HeaderOK: true, Status: 200}},
		},
		{
			name:         "user-assigned by client ID",
			clientID:     uami,
			scopes:       []string{"https://graph.microsoft.com/.default"},
			wantResource: []string{"https://graph.microsoft.com"},
			wantErr:      []string{""},
			wantRequests: []identity.TokenRequest{{Resource: "https://graph.microsoft.com", ClientID: uami, APIVersion: "2019-08-01", HeaderOK: true, Status: 200}},
		},
		{
			name:         "storage and vault in one process: JWT-shaped for storage only",
			scopes:       []string{"https://storage.azure.com/.default", "https://vault.azure.net/.default"},
			wantResource: []string{"https://storage.azure.com", "https://vault.azure.net"},
			wantErr:      []string{"", ""},
			wantRequests: []identity.TokenRequest{
				{Resource: "https://storage.azure.com", APIVersion: "2019-08-01", HeaderOK: true, Status: 200},
				{Resource: "https://vault.azure.net", APIVersion: "2019-08-01", HeaderOK: true, Status: 200},
			},
		},
		{
			name:         "process-wide cache answers the second request for a resource",
			scopes:       []string{"https://vault.azure.net/.default", "https://graph.microsoft.us/.default", "https://vault.azure.net/.default"},
			wantResource: []string{"https://vault.azure.net", "https://graph.microsoft.us", "https://vault.azure.net"},
			wantErr:      []string{"", "", ""},
			wantRequests: []identity.TokenRequest{
				{Resource: "https://vault.azure.net", APIVersion: "2019-08-01", HeaderOK: true, Status: 200},
				{Resource: "https://graph.microsoft.us", APIVersion: "2019-08-01", HeaderOK: true, Status: 200},
			},
		},
		{
			name:         "wrong IDENTITY_HEADER",
			badHeader:    true,
			scopes:       []string{"https://vault.azure.net/.default"},
			wantResource: []string{""},
			wantErr:      []string{"401"},
			wantRequests: []identity.TokenRequest{{Resource: "https://vault.azure.net", APIVersion: "2019-08-01", Status: 401}},
		},
		{
			name:         "user-assigned only, credential asks for system-assigned",
			setup:        func(s *identity.Server) { s.RequireClientID(uami) },
			scopes:       []string{"https://vault.azure.net/.default"},
			wantResource: []string{""},
			wantErr:      []string{"Unable to load the proper Managed Identity."},
			wantRequests: []identity.TokenRequest{{Resource: "https://vault.azure.net", APIVersion: "2019-08-01", HeaderOK: true, Status: 400}},
		},
		{
			name:         "user-assigned only, unknown client ID",
			setup:        func(s *identity.Server) { s.RequireClientID(uami) },
			clientID:     "11111111-2222-4333-8444-555555555555",
			scopes:       []string{"https://vault.azure.net/.default"},
			wantResource: []string{""},
			wantErr:      []string{"Unable to load the proper Managed Identity."},
			wantRequests: []identity.TokenRequest{{Resource: "https://vault.azure.net", ClientID: "11111111-2222-4333-8444-555555555555", APIVersion: "2019-08-01", HeaderOK: true, Status: 400}},
		},
		{
			name:         "user-assigned only, right client ID in other casing",
			setup:        func(s *identity.Server) { s.RequireClientID(uami) },
			clientID:     strings.ToUpper(uami),
			scopes:       []string{"https://vault.azure.net/.default"},
			wantResource: []string{"https://vault.azure.net"},
			wantErr:      []string{""},
			wantRequests: []identity.TokenRequest{{Resource: "https://vault.azure.net", ClientID: strings.ToUpper(uami), APIVersion: "2019-08-01", HeaderOK: true, Status: 200}},
		},
		{
			// azidentity disables MSAL's retries and lets azcore's pipeline
			// retry the App Service endpoint: 1 try + 3 retries on a 500.
			name:         "500 is retried by the azcore pipeline",
			setup:        func(s *identity.Server) { mustFault(t, s, identity.Fault{Kind: identity.FaultStatus}) },
			scopes:       []string{"https://vault.azure.net/.default"},
			wantResource: []string{""},
			wantErr:      []string{"500"},
			wantRequests: repeat(identity.TokenRequest{Resource: "https://vault.azure.net", APIVersion: "2019-08-01", HeaderOK: true, Status: 500}, 4),
		},
		{
			name:         "non-JSON 200",
			setup:        func(s *identity.Server) { mustFault(t, s, identity.Fault{Kind: identity.FaultGarbage}) },
			scopes:       []string{"https://vault.azure.net/.default"},
			wantResource: []string{""},
			wantErr:      []string{"json"},
			wantRequests: []identity.TokenRequest{{Resource: "https://vault.azure.net", APIVersion: "2019-08-01", HeaderOK: true, Status: 200}},
		},
		{
			name:         "endpoint down",
			setup:        func(s *identity.Server) { mustFault(t, s, identity.Fault{Kind: identity.FaultDown}) },
			scopes:       []string{"https://vault.azure.net/.default"},
			wantResource: []string{""},
			wantErr:      []string{"connection refused"},
		},
		{
			name: "short delay still answers",
			setup: func(s *identity.Server) {
				mustFault(t, s, identity.Fault{Kind: identity.FaultDelay, Delay: 20 * time.Millisecond})
			},
			scopes:       []string{"https://vault.azure.net/.default"},
			wantResource: []string{"https://vault.azure.net"},
			wantErr:      []string{""},
			wantRequests: []identity.TokenRequest{{Resource: "https://vault.azure.net", APIVersion: "2019-08-01", HeaderOK: true, Status: 200}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := start(t)
			if tt.setup != nil {
				tt.setup(srv)
			}
			header := srv.Header()
			if tt.badHeader {
				header = "not-" + header
			}
			results := getTokens(t, srv, header, tt.clientID, "", tt.scopes...)
			for i, r := range results {
				if tt.wantErr[i] != "" {
					if !strings.Contains(r.Err, tt.wantErr[i]) {
						t.Errorf("GetToken(%s): got error %q, want it to contain %q", tt.scopes[i], r.Err, tt.wantErr[i])
					}
					continue
				}
				if r.Err != "" {
					t.Fatalf("GetToken(%s): %s", tt.scopes[i], r.Err)
				}
				checkToken(t, srv, r, tt.wantResource[i], tt.clientID)
			}
			for i := range tt.wantRequests {
				tt.wantRequests[i].Done = true
			}
			if diff := cmp.Diff(tt.wantRequests, allDone(t, srv), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

func checkToken(t *testing.T, srv *identity.Server, r helperResult, wantResource, wantClientID string) {
	t.Helper()
	if strings.TrimSuffix(wantResource, "/") == identity.StorageResource {
		checkStorageClaims(t, srv, r.Token, wantResource, wantClientID)
	} else if strings.HasPrefix(r.Token, "eyJ") || strings.Count(r.Token, ".") >= 2 {
		t.Errorf("token %q looks like a JWT, want an opaque string", r.Token)
	}
	g, ok := srv.Grant(r.Token)
	if !ok {
		t.Fatalf("Grant(%q): unknown token", r.Token)
	}
	if g.Resource != wantResource {
		t.Errorf("granted resource: got %q, want %q", g.Resource, wantResource)
	}
	if wantClientID == "" {
		wantClientID = srv.ClientID()
	}
	if g.ClientID != wantClientID {
		t.Errorf("granted client ID: got %q, want %q", g.ClientID, wantClientID)
	}
	if !r.ExpiresOn.Equal(g.ExpiresOn) {
		t.Errorf("credential's ExpiresOn %v differs from the grant's %v", r.ExpiresOn, g.ExpiresOn)
	}
	if d := time.Until(g.ExpiresOn); d < 23*time.Hour || d > 25*time.Hour {
		t.Errorf("token lifetime: got %v, want about 24h", d)
	}
}

func TestDownThenUp(t *testing.T) {
	t.Parallel()
	srv := start(t)
	mustFault(t, srv, identity.Fault{Kind: identity.FaultDown})
	if r := getTokens(t, srv, srv.Header(), "", "", "https://vault.azure.net/.default"); !strings.Contains(r[0].Err, "connection refused") {
		t.Fatalf("while down: got error %q, want connection refused", r[0].Err)
	}
	mustFault(t, srv, identity.Fault{Kind: identity.FaultNone})
	r := getTokens(t, srv, srv.Header(), "", "", "https://vault.azure.net/.default")
	if r[0].Err != "" {
		t.Fatalf("after recovery: %s", r[0].Err)
	}
	checkToken(t, srv, r[0], "https://vault.azure.net", "")
}

func TestDelayBeyondClientTimeout(t *testing.T) {
	t.Parallel()
	srv := start(t)
	mustFault(t, srv, identity.Fault{Kind: identity.FaultDelay, Delay: time.Hour})
	r := getTokens(t, srv, srv.Header(), "", "200ms", "https://vault.azure.net/.default")
	if !strings.Contains(r[0].Err, "context deadline exceeded") {
		t.Errorf("got error %q, want a deadline error", r[0].Err)
	}
}

// TestProtocol drives the endpoint with plain HTTP for the cases the real
// credential never produces.
func TestProtocol(t *testing.T) {
	t.Parallel()
	srv := start(t)
	good := url.Values{"api-version": {"2019-08-01"}, "resource": {"https://vault.azure.net"}}
	tests := []struct {
		name       string
		method     string
		path       string
		query      url.Values
		header     string
		wantStatus int
		wantMsg    string
	}{
		{"ok", "GET", "/msi/token", good, srv.Header(), 200, ""},
		{"missing header", "GET", "/msi/token", good, "", 401, "X-IDENTITY-HEADER"},
		{"missing resource", "GET", "/msi/token", url.Values{"api-version": {"2019-08-01"}}, srv.Header(), 400, "resource"},
		{"old api-version", "GET", "/msi/token", url.Values{"api-version": {"2017-09-01"}, "resource": {"https://vault.azure.net"}}, srv.Header(), 400, "api-version"},
		{"POST", "POST", "/msi/token", good, srv.Header(), 405, "GET"},
		{"wrong path", "GET", "/metadata/identity/oauth2/token", good, srv.Header(), 404, ""},
	}
	base := strings.TrimSuffix(srv.Endpoint(), identity.Path)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(tt.method, base+tt.path+"?"+tt.query.Encode(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.header != "" {
				req.Header.Set("X-IDENTITY-HEADER", tt.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status: got %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/json; charset=utf-8" {
				t.Errorf("Content-Type: got %q", got)
			}
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if tt.wantStatus == 200 {
				for _, k := range []string{"access_token", "expires_on", "resource", "token_type", "client_id"} {
					if _, ok := body[k].(string); !ok {
						t.Errorf("field %q: got %#v, want a string", k, body[k])
					}
				}
				if _, err := strconv.ParseInt(body["expires_on"].(string), 10, 64); err != nil {
					t.Errorf("expires_on %q is not Unix seconds", body["expires_on"])
				}
				return
			}
			if body["statusCode"] != float64(tt.wantStatus) || !strings.Contains(fmt.Sprint(body["message"]), tt.wantMsg) || body["correlationId"] == "" {
				t.Errorf("error body %v: want statusCode %d and a message mentioning %q", body, tt.wantStatus, tt.wantMsg)
			}
		})
	}
}

func TestLifetimeAndRevoke(t *testing.T) {
	t.Parallel()
	srv := start(t)
	srv.SetTokenLifetime(10 * time.Minute)
	q := url.Values{"api-version": {"2019-08-01"}, "resource": {"https://vault.azure.net"}}
	req, _ := http.NewRequest("GET", srv.Endpoint()+"?"+q.Encode(), nil)
	req.Header.Set("X-IDENTITY-HEADER", srv.Header())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		ExpiresOn   string `json:"expires_on"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	sec, _ := strconv.ParseInt(body.ExpiresOn, 10, 64)
	if d := time.Until(time.Unix(sec, 0)); d > 10*time.Minute || d < 9*time.Minute {
		t.Errorf("lifetime: got %v, want about 10m", d)
	}
	if _, ok := srv.Grant(body.AccessToken); !ok {
		t.Fatal("token unknown before Revoke")
	}
	srv.Revoke()
	if _, ok := srv.Grant(body.AccessToken); ok {
		t.Error("token still granted after Revoke")
	}
}

// allDone waits until the endpoint has finished every request it received
// (the client can hold its answer before the endpoint records the status)
// and returns them.
func allDone(t *testing.T, srv *identity.Server) []identity.TokenRequest {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := srv.Await(ctx, func(rs []identity.TokenRequest) bool {
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
	return srv.Requests()
}

func mustFault(t *testing.T, s *identity.Server, f identity.Fault) {
	t.Helper()
	if err := s.SetFault(f); err != nil {
		t.Fatal(err)
	}
}

func repeat(r identity.TokenRequest, n int) []identity.TokenRequest {
	out := make([]identity.TokenRequest, n)
	for i := range out {
		out[i] = r
	}
	return out
}

// checkStorageClaims decodes a storage token the way Azurite's basic OAuth
// check does (no signature check) and checks the claims it reads.
func checkStorageClaims(t *testing.T, srv *identity.Server, token, wantResource, wantClientID string) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[2] == "" {
		t.Fatalf("storage token has %d segments, want three, the last one non-empty", len(parts))
	}
	var header map[string]string
	if err := decodeSegment(parts[0], &header); err != nil || header["typ"] != "JWT" || header["alg"] == "" {
		t.Errorf("storage token header: got %v (%v), want typ JWT and an alg", header, err)
	}
	var c struct {
		Aud, Iss, Oid, Appid, Tid string
		Iat, Nbf, Exp             int64
	}
	if err := decodeSegment(parts[1], &c); err != nil {
		t.Fatalf("storage token claims: %v", err)
	}
	if wantClientID == "" {
		wantClientID = srv.ClientID()
	}
	now := time.Now().Unix()
	switch {
	case c.Aud != wantResource:
		t.Errorf("aud: got %q, want %q", c.Aud, wantResource)
	case c.Iss != "https://sts.windows.net/"+srv.TenantID()+"/" || c.Tid != srv.TenantID():
		t.Errorf("iss, tid: got %q, %q, want the issuer of tenant %s", c.Iss, c.Tid, srv.TenantID())
	case c.Oid != srv.ObjectID() || c.Appid != wantClientID:
		t.Errorf("oid, appid: got %q, %q, want %q, %q", c.Oid, c.Appid, srv.ObjectID(), wantClientID)
	case c.Nbf == 0 || c.Iat == 0 || c.Nbf > now || c.Iat > now || c.Exp <= now:
		t.Errorf("iat, nbf, exp: got %d, %d, %d, want iat and nbf not after %d and exp after it", c.Iat, c.Nbf, c.Exp, now)
	}
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// TestCredential: the in-process credential gets a token for the scope's
// resource that Grant knows, with the lifetime the endpoint set, and fails
// on every answer that is not a token.
func TestCredential(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		scopes   []string
		fault    identity.Fault
		resource string // of the grant; "" when GetToken must fail
		wantErr  string
	}{
		{name: "Key Vault", scopes: []string{"https://vault.azure.net/.default"}, resource: "https://vault.azure.net"},
		{name: "Graph, China", scopes: []string{"https://microsoftgraph.chinacloudapi.cn/.default"}, resource: "https://microsoftgraph.chinacloudapi.cn"},
		{name: "storage: a JWT", scopes: []string{"https://storage.azure.com/.default"}, resource: "https://storage.azure.com"},
		{name: "a resource, not a scope", scopes: []string{"https://vault.azure.net"}, resource: "https://vault.azure.net"},
		{name: "no scope", wantErr: "0 scopes"},
		{name: "two scopes", scopes: []string{"https://vault.azure.net/.default", "https://graph.microsoft.com/.default"}, wantErr: "2 scopes"},
		{name: "empty scope", scopes: []string{""}, wantErr: "answered 400"},
		{name: "endpoint error", scopes: []string{"https://vault.azure.net/.default"}, fault: identity.Fault{Kind: identity.FaultStatus, Status: 503}, wantErr: "answered 503"},
		{name: "not JSON", scopes: []string{"https://vault.azure.net/.default"}, fault: identity.Fault{Kind: identity.FaultGarbage}, wantErr: "no token"},
		{name: "a token without a token", scopes: []string{"https://vault.azure.net/.default"}, fault: identity.Fault{Kind: identity.FaultStatus, Status: 200, Body: `{"expires_on":"1"}`}, wantErr: "no token"},
		{name: "bad expires_on", scopes: []string{"https://vault.azure.net/.default"}, fault: identity.Fault{Kind: identity.FaultStatus, Status: 200, Body: `{"access_token":"t","expires_on":"soon"}`}, wantErr: "expires_on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := start(t)
			mustFault(t, srv, tt.fault)
			tk, err := srv.Credential().GetToken(t.Context(), policy.TokenRequestOptions{Scopes: tt.scopes})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("GetToken = %q, %v; want an error with %q", tk.Token, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g, ok := srv.Grant(tk.Token)
			if !ok || g.Resource != tt.resource || !g.ExpiresOn.Equal(tk.ExpiresOn) {
				t.Errorf("grant %+v (known %v), token expires %v; want resource %s and the same expiry", g, ok, tk.ExpiresOn, tt.resource)
			}
		})
	}
}
