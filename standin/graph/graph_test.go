package graph_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/go-cmp/cmp"

	"github.com/putsecrets/putsecrets/standin/graph"
	"github.com/putsecrets/putsecrets/standin/identity"
	"github.com/putsecrets/putsecrets/standin/proxy"
	"github.com/putsecrets/putsecrets/standin/tlsca"
)

// One identity endpoint and credential for the test binary: MSAL's managed
// identity cache is process-wide (see the identity package's tests).
var (
	mi   *identity.Server
	cred *azidentity.ManagedIdentityCredential
	ca   *tlsca.CA
)

const sp = "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"

func TestMain(m *testing.M) { os.Exit(run(m)) }

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

type rig struct {
	g    *graph.Server
	http *http.Client
}

func newRig(t *testing.T) *rig {
	t.Helper()
	g, err := graph.New(ca, mi)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	var routes []proxy.Route
	for _, h := range graph.Hosts {
		routes = append(routes, proxy.Route{Suffix: h, Addr: g.Addr()})
	}
	p := proxy.New(routes...)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	u, _ := url.Parse(p.URL())
	tr := &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}
	t.Cleanup(tr.CloseIdleConnections)
	g.AddServicePrincipal(sp)
	return &rig{g: g, http: &http.Client{Transport: tr}}
}

// pipeline is an azcore client authenticating with a bearer token policy
// for scope, as the handler's Graph client does.
func (r *rig) pipeline(t *testing.T, scope string) *azcore.Client {
	t.Helper()
	c, err := azcore.NewClient("standin.test", "v0.0.0", runtime.PipelineOptions{
		PerRetry: []policy.Policy{runtime.NewBearerTokenPolicy(cred, []string{scope}, nil)},
	}, &policy.ClientOptions{
		Transport: r.http,
		Retry:     policy.RetryOptions{MaxRetries: 3, RetryDelay: time.Millisecond, MaxRetryDelay: 2 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func statuses(calls []graph.Call) []int {
	out := make([]int, len(calls))
	for i, c := range calls {
		out[i] = c.Status
	}
	return out
}

var fullSet = []graph.KeyValue{
	{Key: "BaseAddress", Value: "https://scim.example.com/scim/v2"},
	{Key: "SecretToken", Value: "tok-value"},
	{Key: "SyncNotificationSettings", Value: `{"Enabled":true,"Recipients":"ops@example.com","DeleteThresholdEnabled":true,"DeleteThresholdValue":50}`},
	{Key: "SyncAll", Value: "false"},
}

func TestPutSecretsThroughPipeline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		host       string
		scope      string
		spID       string
		script     []graph.Response
		body       []graph.KeyValue
		wantStatus int // final status seen by the client
		wantCode   string
		wantInner  string
		wantCalls  []int
		wantSaved  []graph.KeyValue
	}{
		{
			name: "saved", host: "graph.microsoft.com", scope: "https://graph.microsoft.com/.default", spID: sp,
			body: fullSet, wantStatus: 204, wantCalls: []int{204}, wantSaved: fullSet,
		},
		{
			name: "service principal ID in upper case", host: "graph.microsoft.com", scope: "https://graph.microsoft.com/.default", spID: strings.ToUpper(sp),
			body: fullSet[:1], wantStatus: 204, wantCalls: []int{204}, wantSaved: fullSet[:1],
		},
		{
			name: "US Government L4", host: "graph.microsoft.us", scope: "https://graph.microsoft.us/.default", spID: sp,
			body: fullSet[:1], wantStatus: 204, wantCalls: []int{204}, wantSaved: fullSet[:1],
		},
		{
			name: "DoD", host: "dod-graph.microsoft.us", scope: "https://dod-graph.microsoft.us/.default", spID: sp,
			body: fullSet[:1], wantStatus: 204, wantCalls: []int{204}, wantSaved: fullSet[:1],
		},
		{
			name: "China", host: "microsoftgraph.chinacloudapi.cn", scope: "https://microsoftgraph.chinacloudapi.cn/.default", spID: sp,
			body: fullSet[:1], wantStatus: 204, wantCalls: []int{204}, wantSaved: fullSet[:1],
		},
		{
			name: "token for another cloud's Graph", host: "graph.microsoft.us", scope: "https://graph.microsoft.com/.default", spID: sp,
			body: fullSet, wantStatus: 401, wantCode: "InvalidAuthenticationToken", wantCalls: []int{401},
		},
		{
			name: "throttled once with Retry-After", host: "graph.microsoft.com", scope: "https://graph.microsoft.com/.default", spID: sp,
			script: []graph.Response{{Status: 429, RetryAfter: "1"}},
			body:   fullSet, wantStatus: 204, wantCalls: []int{429, 204}, wantSaved: fullSet,
		},
		{
			name: "503 twice", host: "graph.microsoft.com", scope: "https://graph.microsoft.com/.default", spID: sp,
			script: []graph.Response{{Status: 503}, {Status: 503}},
			body:   fullSet, wantStatus: 204, wantCalls: []int{503, 503, 204}, wantSaved: fullSet,
		},
		{
			name: "connection reset once", host: "graph.microsoft.com", scope: "https://graph.microsoft.com/.default", spID: sp,
			script: []graph.Response{{Reset: true}},
			body:   fullSet, wantStatus: 204, wantCalls: []int{0, 204}, wantSaved: fullSet,
		},
		{
			name: "missing permission (401) is not retried", host: "graph.microsoft.com", scope: "https://graph.microsoft.com/.default", spID: sp,
			script: []graph.Response{{Status: 401, Code: "Authorization_RequestDenied", Message: "Insufficient privileges to complete the operation."}},
			body:   fullSet, wantStatus: 401, wantCode: "Authorization_RequestDenied", wantCalls: []int{401},
		},
		{
			name: "403 is not retried by azcore", host: "graph.microsoft.com", scope: "https://graph.microsoft.com/.default", spID: sp,
			script: []graph.Response{{Status: 403}},
			body:   fullSet, wantStatus: 403, wantCode: "Authorization_RequestDenied", wantCalls: []int{403},
		},
		{
			name: "409 is not retried by azcore", host: "graph.microsoft.com", scope: "https://graph.microsoft.com/.default", spID: sp,
			script: []graph.Response{{Status: 409}},
			body:   fullSet, wantStatus: 409, wantCode: "Conflict", wantCalls: []int{409},
		},
		{
			name: "500 forever", host: "graph.microsoft.com", scope: "https://graph.microsoft.com/.default", spID: sp,
			script: []graph.Response{{Status: 500}, {Status: 500}, {Status: 500}, {Status: 500}},
			body:   fullSet, wantStatus: 500, wantCode: "UnknownError", wantCalls: []int{500, 500, 500, 500},
		},
		{
			name: "unknown service principal", host: "graph.microsoft.com", scope: "https://graph.microsoft.com/.default", spID: "00000000-0000-4000-8000-000000000000",
			body: fullSet, wantStatus: 404, wantCode: "Request_ResourceNotFound", wantCalls: []int{404},
		},
		{
			name: "empty notification settings", host: "graph.microsoft.com", scope: "https://graph.microsoft.com/.default", spID: sp,
			body:       []graph.KeyValue{{Key: "SyncNotificationSettings", Value: ""}},
			wantStatus: 400, wantCode: "UnknownError", wantInner: "InvalidNotificationSettings", wantCalls: []int{400},
		},
		{
			name: "empty notification settings object is accepted", host: "graph.microsoft.com", scope: "https://graph.microsoft.com/.default", spID: sp,
			body:       []graph.KeyValue{{Key: "SyncNotificationSettings", Value: "{}"}},
			wantStatus: 204, wantCalls: []int{204}, wantSaved: []graph.KeyValue{{Key: "SyncNotificationSettings", Value: "{}"}},
		},
		{
			name: "scripted synchronization service error", host: "graph.microsoft.com", scope: "https://graph.microsoft.com/.default", spID: sp,
			script: []graph.Response{{Status: 400, InnerCode: "CredentialValidationUnavailable", Message: "The credentials could not be validated."}},
			body:   fullSet, wantStatus: 400, wantCode: "UnknownError", wantInner: "CredentialValidationUnavailable", wantCalls: []int{400},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			r.g.Script(sp, tt.script...)
			c := r.pipeline(t, tt.scope)
			endpoint := runtime.JoinPaths("https://"+tt.host, "v1.0", "servicePrincipals", url.PathEscape(tt.spID), "synchronization", "secrets")
			req, err := runtime.NewRequest(context.Background(), http.MethodPut, endpoint)
			if err != nil {
				t.Fatal(err)
			}
			if err := runtime.MarshalAsJSON(req, map[string]any{"value": tt.body}); err != nil {
				t.Fatal(err)
			}
			resp, err := c.Pipeline().Do(req)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status: got %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if !runtime.HasStatusCode(resp, http.StatusNoContent) {
				err := runtime.NewResponseError(resp)
				var re *azcore.ResponseError
				if !errors.As(err, &re) || re.ErrorCode != tt.wantCode {
					t.Errorf("error: got %v, want code %s", err, tt.wantCode)
				}
				if tt.wantInner != "" {
					checkInner(t, re.RawResponse, tt.wantInner)
				}
			}
			calls := allDone(t, r.g)
			if diff := cmp.Diff(tt.wantCalls, statuses(calls)); diff != "" {
				t.Errorf("call statuses (-want +got):\n%s", diff)
			}
			for _, call := range calls {
				if call.Method != "PUT" || call.APIVersion != "v1.0" || call.ServicePrincipalID != tt.spID || call.ContentType != "application/json" {
					t.Errorf("call: got %+v", call)
				}
				if want := strings.TrimSuffix(tt.scope, "/.default"); call.Resource != want {
					t.Errorf("token resource: got %q, want %q", call.Resource, want)
				}
			}
			if diff := cmp.Diff(tt.wantSaved, r.g.Saved(sp)); diff != "" {
				t.Errorf("Saved (-want +got):\n%s", diff)
			}
		})
	}
}

// checkInner decodes the synchronization service's error out of the message.
func checkInner(t *testing.T, resp *http.Response, want string) {
	t.Helper()
	raw, _ := io.ReadAll(resp.Body)
	var outer struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(raw, &outer); err != nil {
		t.Fatalf("error body %s: %v", raw, err)
	}
	var inner struct{ Code, Message string }
	if err := json.Unmarshal([]byte(outer.Error.Message), &inner); err != nil {
		t.Fatalf("message %q is not JSON: %v", outer.Error.Message, err)
	}
	if inner.Code != want {
		t.Errorf("inner code: got %q, want %q", inner.Code, want)
	}
}

// TestWire drives the raw protocol with a plain HTTP client.
func TestWire(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	tk := token(t, "https://graph.microsoft.com")
	path := "/v1.0/servicePrincipals/" + sp + "/synchronization/secrets"
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		token       string
		wantStatus  int
		wantCode    string
		wantMessage string
	}{
		{"ok", "PUT", path, "application/json", `{"value":[{"key":"BaseAddress","value":"https://x"}]}`, tk, 204, "", ""},
		{"charset parameter is fine", "PUT", path, "application/json; charset=utf-8", `{"value":[]}`, tk, 204, "", ""},
		{"beta", "PUT", "/beta/servicePrincipals/" + sp + "/synchronization/secrets", "application/json", `{"value":[]}`, tk, 204, "", ""},
		{"segments are case-insensitive", "PUT", "/v1.0/serviceprincipals/" + sp + "/Synchronization/Secrets", "application/json", `{"value":[]}`, tk, 204, "", ""},
		{"no token", "PUT", path, "application/json", `{"value":[]}`, "", 401, "InvalidAuthenticationToken", "Access token is empty."},
		{"unknown token", "PUT", path, "application/json", `{"value":[]}`, "made-up", 401, "InvalidAuthenticationToken", ""},
		{"Key Vault token", "PUT", path, "application/json", `{"value":[]}`, token(t, "https://vault.azure.net"), 401, "InvalidAuthenticationToken", "Invalid audience"},
		{"no Content-Type", "PUT", path, "", `{"value":[]}`, tk, 400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."},
		{"text/plain", "PUT", path, "text/plain", `{"value":[]}`, tk, 400, "BadRequest", "Unable to read JSON request payload"},
		{"not JSON", "PUT", path, "application/json", `{"value":[`, tk, 400, "BadRequest", "Unable to read JSON request payload"},
		{"docs' credentials property", "PUT", path, "application/json", `{"credentials":[{"key":"BaseAddress","value":"x"}]}`, tk, 400, "BadRequest", "'credentials'"},
		{"number value", "PUT", path, "application/json", `{"value":[{"key":"SyncAll","value":false}]}`, tk, 400, "BadRequest", "Edm.String"},
		{"object value", "PUT", path, "application/json", `{"value":[{"key":"SyncNotificationSettings","value":{"Enabled":true}}]}`, tk, 400, "BadRequest", "StartObject"},
		{"null value", "PUT", path, "application/json", `{"value":[{"key":"BaseAddress","value":null}]}`, tk, 400, "BadRequest", "Edm.String"},
		{"unknown key", "PUT", path, "application/json", `{"value":[{"key":"ApiToken","value":"x"}]}`, tk, 400, "BadRequest", "'ApiToken'"},
		{"key in wrong casing", "PUT", path, "application/json", `{"value":[{"key":"OAuth2ClientId","value":"x"}]}`, tk, 400, "BadRequest", "'OAuth2ClientId'"},
		{"extra entry property", "PUT", path, "application/json", `{"value":[{"key":"BaseAddress","value":"x","secretUri":"y"}]}`, tk, 400, "BadRequest", "'secretUri'"},
		{"not a GUID", "PUT", "/v1.0/servicePrincipals/my-app/synchronization/secrets", "application/json", `{"value":[]}`, tk, 400, "Request_BadRequest", "Invalid object identifier 'my-app'."},
		{"unknown version", "PUT", "/v2.0/servicePrincipals/" + sp + "/synchronization/secrets", "application/json", `{"value":[]}`, tk, 400, "BadRequest", "Invalid version"},
		{"unknown segment", "PUT", "/v1.0/servicePrincipals/" + sp + "/synchronization/secretz", "application/json", `{"value":[]}`, tk, 400, "BadRequest", "'secretz'"},
		{"unknown service principal", "PUT", "/v1.0/servicePrincipals/11111111-2222-4333-8444-555555555555/synchronization/secrets", "application/json", `{"value":[]}`, tk, 404, "Request_ResourceNotFound", "Resource '11111111-2222-4333-8444-555555555555' does not exist or one of its queried reference-property objects are not present."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, "https://graph.microsoft.com"+tt.path, strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			req.Header.Set("client-request-id", "caller-123")
			resp, err := r.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status: got %d, want %d: %s", resp.StatusCode, tt.wantStatus, raw)
			}
			reqID := resp.Header.Get("request-id")
			if reqID == "" || resp.Header.Get("client-request-id") != "caller-123" {
				t.Errorf("correlation headers: request-id %q, client-request-id %q", reqID, resp.Header.Get("client-request-id"))
			}
			if tt.wantStatus < 400 {
				if len(raw) != 0 {
					t.Errorf("204 with body %q", raw)
				}
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("error Content-Type: got %q", ct)
			}
			var doc struct {
				Error struct {
					Code, Message string
					InnerError    map[string]string `json:"innerError"`
				}
			}
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatalf("error body %s: %v", raw, err)
			}
			if doc.Error.Code != tt.wantCode || !strings.Contains(doc.Error.Message, tt.wantMessage) {
				t.Errorf("error: got %s %q, want %s containing %q", doc.Error.Code, doc.Error.Message, tt.wantCode, tt.wantMessage)
			}
			ie := doc.Error.InnerError
			if ie["request-id"] != reqID || ie["client-request-id"] != "caller-123" || len(ie["date"]) != len("2024-05-14T09:31:07") {
				t.Errorf("innerError: got %v", ie)
			}
		})
	}
}

func TestGetSecretsIsMasked(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	c := r.pipeline(t, "https://graph.microsoft.com/.default")
	endpoint := "https://graph.microsoft.com/beta/servicePrincipals/" + sp + "/synchronization/secrets"
	do := func(method string, body any) *http.Response {
		t.Helper()
		req, err := runtime.NewRequest(context.Background(), method, endpoint)
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			if err := runtime.MarshalAsJSON(req, body); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := c.Pipeline().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := do(http.MethodGet, nil)
	raw, _ := runtime.Payload(resp)
	if resp.StatusCode != 200 || !bytes.Contains(raw, []byte(`"value":[]`)) {
		t.Errorf("GET before any PUT: %d %s", resp.StatusCode, raw)
	}
	if resp := do(http.MethodPut, map[string]any{"value": fullSet}); resp.StatusCode != 204 {
		t.Fatalf("PUT: %d", resp.StatusCode)
	}
	resp = do(http.MethodGet, nil)
	var got struct {
		Context string           `json:"@odata.context"`
		Value   []graph.KeyValue `json:"value"`
	}
	if err := runtime.UnmarshalAsJSON(resp, &got); err != nil {
		t.Fatal(err)
	}
	want := []graph.KeyValue{}
	for _, kv := range fullSet {
		want = append(want, graph.KeyValue{Key: kv.Key, Value: "*"})
	}
	if diff := cmp.Diff(want, got.Value); diff != "" {
		t.Errorf("GET after PUT (-want +got):\n%s", diff)
	}
	if !strings.HasSuffix(got.Context, "/beta/$metadata#servicePrincipals('"+sp+"')/synchronization/secrets") {
		t.Errorf("@odata.context: got %q", got.Context)
	}
}

func TestSecretNames(t *testing.T) {
	t.Parallel()
	names := graph.SecretNames()
	if len(names) != 45 {
		t.Fatalf("got %d names, want 45", len(names))
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[strings.ToLower(n)] {
			t.Errorf("duplicate name %q", n)
		}
		seen[strings.ToLower(n)] = true
	}
}

// allDone waits until the stand-in has finished every call it received (a
// client can hold its answer before the status is recorded) and returns
// them.
func allDone(t *testing.T, g *graph.Server) []graph.Call {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := g.Await(ctx, func(cs []graph.Call) bool {
		for _, c := range cs {
			if !c.Done {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("calls still in flight: %v", err)
	}
	return g.Calls()
}

func token(t *testing.T, resource string) string {
	t.Helper()
	tk, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{resource + "/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	return tk.Token
}
