package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/putsecrets/putsecrets/standin/graph"
	"github.com/putsecrets/putsecrets/standin/host"
	"github.com/putsecrets/putsecrets/standin/keyvault"
)

// TestHTTPPutSecrets sends docs/contract.md §2's example through the HTTP function.
func TestHTTPPutSecrets(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	token := f.kvSecret("scim-token", "SecretToken")
	f.kvSecret("svc-password", "Password")
	password := f.secretOf("svc-password")
	base := f.literal("BaseAddress")

	res := f.http(doc(spID,
		literal("BaseAddress", base),
		uri("SecretToken", token),
		literal("Password", "@Microsoft.KeyVault(VaultName=contoso-kv;SecretName=svc-password)"),
		literal("SyncNotificationSettings", map[string]any{"Enabled": true, "Recipients": "ops@example.com", "DeleteThresholdEnabled": true, "DeleteThresholdValue": 50}),
		literal("syncall", false),
	))
	a := ok(t, res)
	if a.ServicePrincipalID != spID || a.Status != "saved" || a.APIVersion != "v1.0" || a.GraphRequestID == "" {
		t.Errorf("answer = %+v", a)
	}
	if got, want := strings.Join(a.Keys, ","), "BaseAddress,SecretToken,Password,SyncNotificationSettings,SyncAll"; got != want {
		t.Errorf("keys = %s, want %s", got, want)
	}
	f.expectSaved(spID, []graph.KeyValue{
		{Key: "BaseAddress", Value: base},
		{Key: "SecretToken", Value: f.secretOf("scim-token")},
		{Key: "Password", Value: password},
		{Key: "SyncNotificationSettings", Value: `{"DeleteThresholdEnabled":true,"DeleteThresholdValue":50,"Enabled":true,"Recipients":"ops@example.com"}`},
		{Key: "SyncAll", Value: "false"},
	})
	puts := f.putCalls()
	if len(puts) != 1 {
		t.Fatalf("Graph saw %d PUTs, want 1", len(puts))
	}
	p := puts[0]
	if p.Host != "graph.microsoft.com" || p.Path != "/v1.0/servicePrincipals/"+spID+"/synchronization/secrets" ||
		p.ContentType != "application/json" || p.Resource != "https://graph.microsoft.com" || p.RequestID != a.GraphRequestID {
		t.Errorf("Graph PUT = host %s path %s content-type %s token for %s request-id %s", p.Host, p.Path, p.ContentType, p.Resource, p.RequestID)
	}
	for _, r := range f.env.Identity.Requests() {
		if r.APIVersion != "2019-08-01" || !r.HeaderOK || r.ClientID != "" {
			t.Errorf("identity request = %+v, want api-version 2019-08-01, the header, no client_id (system-assigned)", r)
		}
	}
}

// TestServiceBus sends the request through the queue function in every body
// encoding the host produces.
func TestServiceBus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		encoding host.Encoding
		extra    map[string]any // extra top-level fields that collide with metadata keys
	}{
		{"double-encoded (the host's JsonConvert form)", host.EncodingDouble, nil},
		{"single-encoded (the documented form)", host.EncodingSingle, nil},
		{"object", host.EncodingObject, nil},
		{"binary (dataType: binary)", host.EncodingBinary, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := start(t, nil)
			token := f.kvSecret("scim-token", "SecretToken")
			res := f.sb(doc(spID, uri("SecretToken", token), literal("SyncAll", true)),
				host.Message{Encoding: tt.encoding, MessageID: "req-1", CorrelationID: "build-7", DeliveryCount: 1})
			if res.Failed {
				t.Fatalf("invocation failed: %s; logs %v", res.Reason, res.Logs)
			}
			f.expectSaved(spID, []graph.KeyValue{{Key: "SecretToken", Value: f.secretOf("scim-token")}, {Key: "SyncAll", Value: "true"}})
			if logs := f.logs(); !strings.Contains(logs, `"messageId":"req-1"`) {
				t.Errorf("log line lacks the message ID: %s", logs)
			}
		})
	}
}

// TestServiceBusBodyFieldsInMetadata: the host copies the body's top-level
// fields into Metadata, over same-named keys. The handler reads the request
// from the body and still succeeds; a forged property is not trusted.
func TestServiceBusBodyFieldsInMetadata(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	token := f.kvSecret("scim-token", "SecretToken")
	d := doc(spID, uri("SecretToken", token))
	d["dryRun"] = false
	d["apiVersion"] = "v1.0"
	res := f.sb(d, host.Message{MessageID: "req-9", ApplicationProperties: map[string]any{"servicePrincipalId": "x", "secrets": "y"}})
	if res.Failed {
		t.Fatalf("invocation failed: %s", res.Reason)
	}
	// Metadata really held the promoted fields, lower-case keys included.
	var env struct{ Metadata map[string]json.RawMessage }
	if err := json.Unmarshal(res.Request, &env); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"servicePrincipalId", "dryRun", "apiVersion"} {
		if _, ok := env.Metadata[k]; !ok {
			t.Errorf("the emulated host did not promote %s into Metadata", k)
		}
	}
	f.expectSaved(spID, []graph.KeyValue{{Key: "SecretToken", Value: f.secretOf("scim-token")}})

	// A body that shadows MessageId: the invalid request fails, and the forged
	// ID is not what the log reports.
	bad := doc(spID, uri("SecretToken", token))
	bad["MessageId"] = "forged-id"
	res = f.sb(bad, host.Message{MessageID: "real-id"})
	if !res.Failed {
		t.Fatal("an invalid request succeeded")
	}
	logs := f.logs()
	if strings.Contains(logs, `"messageId":"forged-id"`) {
		t.Error("the log trusted a message ID forged by a body field")
	}
	if !strings.Contains(logs, `"shadowedProperties":["MessageId"]`) {
		t.Error("the log does not say that MessageId was shadowed")
	}
}

func TestDryRun(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	token := f.kvSecret("scim-token", "")
	d := doc(spID, uri("SecretToken", token))
	d["dryRun"] = true
	a := ok(t, f.http(d))
	if a.Status != "dryRun" || a.GraphRequestID != "" {
		t.Errorf("answer = %+v, want status dryRun and no Graph request", a)
	}
	if n := f.env.KeyVault.Reads(f.vaultHost(vault), "scim-token"); n != 1 {
		t.Errorf("Key Vault reads = %d, want 1 (a dry run resolves everything)", n)
	}
	if len(f.env.Graph.Calls()) != 0 {
		t.Errorf("a dry run called Graph %d times", len(f.env.Graph.Calls()))
	}
}

func TestBeta(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		setting  string
		field    string
		wantPath string
	}{
		{"field", "", "beta", "/beta/"},
		{"setting", "beta", "", "/beta/"},
		{"field beats setting", "beta", "v1.0", "/v1.0/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := start(t, settings{"PUTSECRETS_GRAPH_API_VERSION": tc.setting})
			d := doc(spID, literal("BaseAddress", f.literal("BaseAddress")))
			if tc.field != "" {
				d["apiVersion"] = tc.field
			}
			a := ok(t, f.http(d))
			puts := f.putCalls()
			if len(puts) != 1 || !strings.HasPrefix(puts[0].Path, tc.wantPath) {
				t.Fatalf("Graph PUTs = %v, want one under %s", puts, tc.wantPath)
			}
			if a.APIVersion != strings.Trim(tc.wantPath, "/") {
				t.Errorf("apiVersion = %s", a.APIVersion)
			}
		})
	}
}

// TestClouds: each cloud reads its own vault suffix with a token for its
// Key Vault resource, and reaches its own Graph host with its own scope.
func TestClouds(t *testing.T) {
	t.Parallel()
	for name, c := range clouds {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := start(t, settings{"AZURE_CLOUD": name})
			token := f.kvSecret("scim-token", "SecretToken")
			if !strings.Contains(token, c.vaultSuffix) {
				t.Fatalf("secretUri %s is not under %s", token, c.vaultSuffix)
			}
			ok(t, f.http(doc(spID, uri("SecretToken", token))))
			puts := f.putCalls()
			if len(puts) != 1 || puts[0].Host != c.graphHost || puts[0].Resource != "https://"+c.graphHost {
				t.Fatalf("Graph PUTs = %+v, want one to %s with a token for https://%s", puts, c.graphHost, c.graphHost)
			}
			var kvResource bool
			for _, r := range f.env.KeyVault.Requests() {
				if r.Authorized && r.Resource == "https://"+c.vaultSuffix {
					kvResource = true
				}
			}
			if !kvResource {
				t.Errorf("no Key Vault read with a token for https://%s: %+v", c.vaultSuffix, f.env.KeyVault.Requests())
			}
			var resources []string
			for _, r := range f.env.Identity.Requests() {
				resources = append(resources, r.Resource)
			}
			want := []string{"https://" + c.vaultSuffix, "https://" + c.graphHost}
			for _, w := range want {
				if !strings.Contains(strings.Join(resources, " "), w) {
					t.Errorf("identity endpoint was asked for %v, want %v among them", resources, want)
				}
			}
			f.expectSaved(spID, []graph.KeyValue{{Key: "SecretToken", Value: f.secretOf("scim-token")}})
		})
	}
}

// TestStatuses covers every status of docs/contract.md §3 (the Easy Auth role
// case belongs to caller authorization).
func TestStatuses(t *testing.T) {
	t.Parallel()
	otherSP := "0f0e0d0c-0b0a-4908-8706-050403020100"
	tests := []struct {
		name     string
		settings settings
		setup    func(f *fixture)
		doc      func(f *fixture) any
		status   int
		field    string   // a field the errors list must name
		detail   []string // substrings of the detail
		depCode  string   // dependency code, when a dependency answered
		noGraph  bool     // Graph must not have been called
		retryHdr string
	}{
		{
			name: "400 not a GUID", status: 400, field: "servicePrincipalId", noGraph: true,
			doc: func(f *fixture) any { return doc("not-a-guid", literal("BaseAddress", f.literal(""))) },
		},
		{
			name: "400 unknown key and unknown field", status: 400, field: "secrets[0].key", noGraph: true,
			doc: func(f *fixture) any {
				return `{"servicePrincipalId":"` + spID + `","secrets":[{"key":"Bogus","value":"x"}],"extra":1}`
			},
		},
		{
			name: "400 not JSON", status: 400, noGraph: true,
			doc: func(f *fixture) any { return "not json" },
		},
		{
			name: "400 over 64 KiB", status: 400, noGraph: true,
			doc: func(f *fixture) any {
				return doc(spID, literal("BaseAddress", strings.Repeat("a", 70<<10)))
			},
		},
		{
			name: "403 vault not allowed", status: 403, field: "secrets[0].secretUri", detail: []string{"nothing was sent"}, noGraph: true,
			doc: func(f *fixture) any {
				return doc(spID, uri("SecretToken", "https://evil-kv.vault.azure.net/secrets/x"))
			},
		},
		{
			name: "403 literal credential", status: 403, field: "secrets[0].value", noGraph: true,
			doc: func(f *fixture) any { return doc(spID, literal("SecretToken", f.literal(""))) },
		},
		{
			// Without the replication wait (TestReplicationWait covers it), an
			// unknown service principal's 404 is final at once.
			name: "404 no such service principal", status: 404, depCode: "Request_ResourceNotFound",
			settings: settings{"PUTSECRETS_GRAPH_CONSISTENCY_WAIT": "0"},
			doc:      func(f *fixture) any { return doc(otherSP, literal("BaseAddress", f.literal("BaseAddress"))) },
		},
		{
			name: "422 secret does not exist", status: 422, field: "secrets[0].secretUri", noGraph: true, depCode: "SecretNotFound",
			doc: func(f *fixture) any {
				return doc(spID, uri("SecretToken", "https://contoso-kv.vault.azure.net/secrets/missing"))
			},
			setup: func(f *fixture) { f.env.KeyVault.AddVault(f.vaultHost(vault)) },
		},
		{
			name: "422 secret disabled", status: 422, field: "secrets[0].secretUri", noGraph: true, detail: []string{"disabled"},
			setup: func(f *fixture) {
				f.env.KeyVault.SetSecret(f.vaultHost(vault), "old", f.literal(""), keyvault.Disabled())
			},
			doc: func(f *fixture) any {
				return doc(spID, uri("SecretToken", "https://contoso-kv.vault.azure.net/secrets/old"))
			},
		},
		{
			name: "422 Graph rejects the payload", status: 422, depCode: "UnknownError", detail: []string{"InvalidNotificationSettings"},
			setup: func(f *fixture) {
				f.env.Graph.Script(spID, graph.Response{Status: 400, InnerCode: "InvalidNotificationSettings"})
			},
			doc: func(f *fixture) any { return doc(spID, literal("BaseAddress", f.literal("BaseAddress"))) },
		},
		{
			name: "502 Key Vault refuses the identity", status: 502, field: "secrets[0].secretUri", noGraph: true,
			detail: []string{"Key Vault Secrets User"},
			setup: func(f *fixture) {
				f.kvSecret("scim-token", "")
				f.env.KeyVault.SetDenied(f.vaultHost(vault), true)
			},
			doc: func(f *fixture) any {
				return doc(spID, uri("SecretToken", "https://contoso-kv.vault.azure.net/secrets/scim-token"))
			},
		},
		{
			name: "502 Graph 403", status: 502, depCode: "Authorization_RequestDenied", detail: []string{"Synchronization.ReadWrite.All"},
			settings: settings{"PUTSECRETS_GRAPH_CONSISTENCY_WAIT": "0"},
			setup: func(f *fixture) {
				f.env.Graph.Script(spID, graph.Response{Status: 403, Code: "Authorization_RequestDenied", Message: "Insufficient privileges to complete the operation."})
			},
			doc: func(f *fixture) any { return doc(spID, literal("BaseAddress", f.literal("BaseAddress"))) },
		},
		{
			name: "502 Graph 401", status: 502, detail: []string{"Application.ReadWrite.OwnedBy"},
			settings: settings{"PUTSECRETS_GRAPH_CONSISTENCY_WAIT": "0"},
			setup: func(f *fixture) {
				f.env.Graph.Script(spID, graph.Response{Status: 401, Code: "InvalidAuthenticationToken"})
			},
			doc: func(f *fixture) any { return doc(spID, literal("BaseAddress", f.literal("BaseAddress"))) },
		},
		{
			name: "503 Graph unavailable, Retry-After beyond the retry cap", status: 503, retryHdr: "120",
			setup: func(f *fixture) {
				f.env.Graph.Script(spID, graph.Response{Status: 503, RetryAfter: "120"})
			},
			doc: func(f *fixture) any { return doc(spID, literal("BaseAddress", f.literal("BaseAddress"))) },
		},
		{
			name: "503 Key Vault throttled", status: 503, field: "secrets[0].secretUri", noGraph: true, retryHdr: "300",
			setup: func(f *fixture) {
				f.kvSecret("scim-token", "")
				f.env.KeyVault.Script(f.vaultHost(vault), "scim-token", keyvault.Fault{Status: 429, RetryAfter: "300"})
			},
			doc: func(f *fixture) any {
				return doc(spID, uri("SecretToken", "https://contoso-kv.vault.azure.net/secrets/scim-token"))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := start(t, tt.settings)
			if tt.setup != nil {
				tt.setup(f)
			}
			res := f.http(tt.doc(f))
			p := failed(t, res, tt.status)
			if tt.field != "" {
				var fields []string
				for _, e := range p.Errors {
					fields = append(fields, e.Field)
				}
				if !strings.Contains(strings.Join(fields, " "), tt.field) {
					t.Errorf("errors name %v, want %s", fields, tt.field)
				}
			}
			for _, d := range tt.detail {
				if !strings.Contains(p.Detail+" "+messages(p), d) {
					t.Errorf("detail %q lacks %q", p.Detail, d)
				}
			}
			if tt.depCode != "" && (p.Dependency == nil || p.Dependency.Code != tt.depCode) {
				t.Errorf("dependency = %+v, want code %s", p.Dependency, tt.depCode)
			}
			if tt.noGraph && len(f.putCalls()) != 0 {
				t.Errorf("Graph was called %d times", len(f.putCalls()))
			}
			if got := res.CallerHeaders.Get("Retry-After"); got != tt.retryHdr {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryHdr)
			}
		})
	}
}

func messages(p problemDoc) string {
	var b strings.Builder
	for _, e := range p.Errors {
		b.WriteString(e.Message + " ")
	}
	return b.String()
}

// TestGraphThrottledThenSaved: a 429 with Retry-After is waited out by
// azcore's retry policy, and the second PUT succeeds.
func TestGraphThrottledThenSaved(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	f.env.Graph.Script(spID, graph.Response{Status: 429, RetryAfter: "1"})
	base := f.literal("BaseAddress")
	startAt := time.Now()
	ok(t, f.http(doc(spID, literal("BaseAddress", base))))
	if el := time.Since(startAt); el < time.Second {
		t.Errorf("answered after %v: Retry-After: 1 was not honoured", el)
	}
	puts := f.putCalls()
	if len(puts) != 2 || puts[0].Status != 429 || puts[1].Status != 204 {
		t.Errorf("Graph PUT statuses = %v, want [429 204]", statuses(puts))
	}
	if puts[0].ClientRequestID == "" || puts[0].ClientRequestID != puts[1].ClientRequestID {
		t.Errorf("client-request-id changed across the retry: %q, %q", puts[0].ClientRequestID, puts[1].ClientRequestID)
	}
	f.expectSaved(spID, []graph.KeyValue{{Key: "BaseAddress", Value: base}})
}

func statuses(calls []graph.Call) []int {
	out := make([]int, len(calls))
	for i, c := range calls {
		out[i] = c.Status
	}
	return out
}

// TestUserAssignedIdentity: AZURE_CLIENT_ID selects the identity for every token.
func TestUserAssignedIdentity(t *testing.T) {
	t.Parallel()
	const clientID = "11111111-2222-4333-8444-555555555555"
	f := start(t, settings{"AZURE_CLIENT_ID": clientID})
	f.env.Identity.RequireClientID(clientID)
	token := f.kvSecret("scim-token", "SecretToken")
	ok(t, f.http(doc(spID, uri("SecretToken", token))))
	reqs := f.env.Identity.Requests()
	if len(reqs) < 2 {
		t.Fatalf("identity requests = %d, want one for Key Vault and one for Graph", len(reqs))
	}
	for _, r := range reqs {
		if r.ClientID != clientID {
			t.Errorf("token request for %s carried client_id %q, want %s", r.Resource, r.ClientID, clientID)
		}
	}
}

// TestSecretReadOnce: a secret referenced twice in one request is read once,
// and one token per resource serves many invocations.
func TestSecretReadOnce(t *testing.T) {
	t.Parallel()
	f := start(t, settings{"PUTSECRETS_ALLOW_LITERAL_CREDENTIALS": "false"})
	token := f.kvSecret("shared", "")
	v := f.secretOf("shared")
	d := doc(spID, uri("SecretToken", token), literal("ClientSecret", "@Microsoft.KeyVault(SecretUri="+token+"/)"))
	for i := 0; i < 3; i++ {
		ok(t, f.http(d))
	}
	if n := f.env.KeyVault.Reads(f.vaultHost(vault), "shared"); n != 3 {
		t.Errorf("Key Vault reads = %d over 3 invocations, want 3 (once per invocation)", n)
	}
	if n := len(f.env.Identity.Requests()); n != 2 {
		t.Errorf("identity requests = %d, want 2 (one token per resource, cached)", n)
	}
	f.expectSaved(spID, []graph.KeyValue{{Key: "SecretToken", Value: v}, {Key: "ClientSecret", Value: v}})
	f.belongs[v] = "SecretToken|ClientSecret"
}

// TestNoBodyWithoutContentLength: the host forwards no body for a chunked
// upload; the caller is told how to fix it.
func TestNoBodyWithoutContentLength(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	p := failed(t, f.http(doc(spID, literal("BaseAddress", "x")), func(r *host.HTTPRequest) { r.NoContentLength = true }), 400)
	if !strings.Contains(p.Detail, "Content-Length") {
		t.Errorf("detail %q does not mention Content-Length", p.Detail)
	}
}

// TestRefusesToStartWithoutAllowedVaults runs the handler as the host does,
// without PUTSECRETS_ALLOWED_VAULTS.
func TestRefusesToStartWithoutAllowedVaults(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(filepath.Join(appDir, "handler"))
	cmd.Dir = appDir
	cmd.Env = []string{"FUNCTIONS_CUSTOMHANDLER_PORT=1", "PATH=/usr/bin:/bin"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil {
		t.Fatal("the handler started without PUTSECRETS_ALLOWED_VAULTS")
	}
	if !strings.Contains(stderr.String(), "PUTSECRETS_ALLOWED_VAULTS") {
		t.Errorf("stderr does not name the setting: %s", stderr.String())
	}
}

// TestGracefulShutdown: SIGTERM lets an in-flight invocation finish.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	f.env.Graph.Script(spID, graph.Response{Delay: 1500 * time.Millisecond})
	base := f.literal("BaseAddress")
	done := make(chan *host.HTTPResult, 1)
	go func() {
		res, err := f.host.InvokeHTTP(context.Background(), "PutSecrets", host.HTTPRequest{
			Headers: map[string]string{"Content-Type": "application/json"},
			Body:    encode(t, doc(spID, literal("BaseAddress", base)))})
		if err != nil {
			t.Errorf("invoke: %v", err)
		}
		done <- res
	}()
	// Wait until the PUT is in flight at Graph, then stop the handler.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := f.env.Graph.Await(ctx, func(cs []graph.Call) bool { return len(cs) > 0 }); err != nil {
		t.Fatalf("the PUT never reached Graph: %v", err)
	}
	if err := f.host.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	res := <-done
	if res == nil {
		t.Fatal("no answer")
	}
	outputs.add(t.Name()+" answer", string(res.Raw))
	ok(t, res)
	if code := f.host.ExitCode(); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	f.expectSaved(spID, []graph.KeyValue{{Key: "BaseAddress", Value: base}})
}
