package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/putsecrets/putsecrets/standin/azure"
	"github.com/putsecrets/putsecrets/standin/graph"
	"github.com/putsecrets/putsecrets/standin/host"
)

// The service principals and vault the tests use.
const (
	spID  = "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"
	vault = "contoso-kv"
)

// fixture is one fake Azure and one handler process behind an emulated host.
type fixture struct {
	t     *testing.T
	env   *azure.Env
	host  *host.Host
	cloud cloudInfo
	// belongs maps each canary this test uses to the key it must reach Graph
	// under ("" when it must never reach Graph).
	belongs map[string]string
	// stored maps each Key Vault secret name to its canary.
	stored   map[string]string
	stopOnce sync.Once
}

type cloudInfo struct {
	name, graphHost, vaultSuffix string
}

var clouds = map[string]cloudInfo{
	"AzurePublic":          {"AzurePublic", "graph.microsoft.com", "vault.azure.net"},
	"AzureUSGovernment":    {"AzureUSGovernment", "graph.microsoft.us", "vault.usgovcloudapi.net"},
	"AzureUSGovernmentDoD": {"AzureUSGovernmentDoD", "dod-graph.microsoft.us", "vault.usgovcloudapi.net"},
	"AzureChina":           {"AzureChina", "microsoftgraph.chinacloudapi.cn", "vault.azure.cn"},
}

// settings are app settings; start adds the stand-ins' wiring.
type settings map[string]string

// start starts a fake Azure (with opts, e.g. azure.WithStorage()) and the
// handler with the given app settings (PUTSECRETS_ALLOWED_VAULTS defaults to
// contoso-kv; a setting given as "" is left unset).
func start(t *testing.T, s settings, opts ...azure.Option) *fixture {
	t.Helper()
	f := &fixture{t: t, env: azure.Start(t, opts...), belongs: map[string]string{}, stored: map[string]string{}}
	if s == nil {
		s = settings{}
	}
	if _, ok := s["PUTSECRETS_ALLOWED_VAULTS"]; !ok {
		s["PUTSECRETS_ALLOWED_VAULTS"] = vault
	}
	name := s["AZURE_CLOUD"]
	if name == "" {
		name = "AzurePublic"
	}
	f.cloud = clouds[name]
	env := f.env.HandlerEnv()
	for k, v := range s {
		if v == "" {
			continue // "" in a table row means unset: a present but blank setting is refused at start
		}
		env = append(env, k+"="+v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := host.Start(ctx, host.Options{Dir: appDir, Env: env})
	if err != nil {
		t.Fatalf("start handler: %v", err)
	}
	f.host = h
	t.Cleanup(f.stop)
	f.env.Graph.AddServicePrincipal(spID)
	return f
}

// stop stops the handler, records its output for the canary check, and
// checks where this test's canaries reached Graph.
func (f *fixture) stop() { f.stopOnce.Do(f.stopHandler) }

// logs stops the handler and returns everything it wrote to stdout (reading
// it earlier races with the pipe that carries it).
func (f *fixture) logs() string {
	f.stop()
	return f.host.Stdout()
}

func (f *fixture) stopHandler() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := f.host.Stop(ctx); err != nil {
		f.t.Errorf("stop handler: %v", err)
	}
	outputs.add(f.t.Name()+" handler stdout", f.host.Stdout())
	outputs.add(f.t.Name()+" handler stderr", f.host.Stderr())
	f.checkGraphPlacement()
}

// vaultHost is the vault's host name in the fixture's cloud.
func (f *fixture) vaultHost(name string) string { return name + "." + f.cloud.vaultSuffix }

// kvSecret stores a canary in the vault and returns its secretUri. The canary
// belongs under key in Graph (or nowhere, with key "").
func (f *fixture) kvSecret(name, key string) string {
	v := newCanary(f.t)
	f.belongs[v] = key
	f.stored[name] = v
	f.env.KeyVault.SetSecret(f.vaultHost(vault), name, v)
	return "https://" + f.vaultHost(vault) + "/secrets/" + name
}

// secretOf returns the canary stored under name in the fixture's vault.
func (f *fixture) secretOf(name string) string { return f.stored[name] }

// literal returns a canary to send as a literal value under key.
func (f *fixture) literal(key string) string {
	v := newCanary(f.t)
	f.belongs[v] = key
	return v
}

// checkGraphPlacement: every canary in any Graph request body sits under the
// key it belongs to, and nowhere else in the body.
func (f *fixture) checkGraphPlacement() {
	for _, c := range f.env.Graph.Calls() {
		if len(c.Body) == 0 {
			continue
		}
		var body struct {
			Value       []graph.KeyValue `json:"value"`
			Credentials []graph.KeyValue `json:"credentials"`
		}
		_ = json.Unmarshal(c.Body, &body)
		placed := map[string]bool{}
		for _, kv := range append(body.Value, body.Credentials...) {
			want, ok := f.belongs[kv.Value]
			if !ok {
				continue
			}
			placed[kv.Value] = true
			if !strings.Contains("|"+want+"|", "|"+kv.Key+"|") {
				f.t.Errorf("Graph %s %s received a canary under key %s; it belongs under %q", c.Method, c.Path, kv.Key, want)
			}
		}
		for v := range f.belongs {
			if !placed[v] && strings.Contains(string(c.Body), v) {
				f.t.Errorf("Graph %s %s received a canary outside a key/value pair", c.Method, c.Path)
			}
		}
	}
}

// expectSaved checks that Graph holds exactly these keys for the service
// principal, each with the canary (or plain value) given, without printing
// any value.
func (f *fixture) expectSaved(sp string, want []graph.KeyValue) {
	f.t.Helper()
	got := f.env.Graph.Saved(sp)
	if len(got) != len(want) {
		f.t.Errorf("Graph saved %d keys %v, want %d %v", len(got), keysOf(got), len(want), keysOf(want))
		return
	}
	for i := range want {
		if got[i].Key != want[i].Key {
			f.t.Errorf("Graph saved key %d = %s, want %s", i, got[i].Key, want[i].Key)
		} else if got[i].Value != want[i].Value {
			f.t.Errorf("Graph saved a different value for %s (%d bytes, want %d bytes)", want[i].Key, len(got[i].Value), len(want[i].Value))
		}
	}
}

func keysOf(kvs []graph.KeyValue) []string {
	out := make([]string, len(kvs))
	for i, kv := range kvs {
		out[i] = kv.Key
	}
	return out
}

// putCalls returns the Graph PUTs the handler made.
func (f *fixture) putCalls() []graph.Call {
	var out []graph.Call
	for _, c := range f.env.Graph.Calls() {
		if c.Method == "PUT" {
			out = append(out, c)
		}
	}
	return out
}

// http invokes PutSecrets with doc as the caller's JSON body and records the
// answer for the canary check.
func (f *fixture) http(doc any, opts ...func(*host.HTTPRequest)) *host.HTTPResult {
	f.t.Helper()
	req := host.HTTPRequest{Headers: map[string]string{"Content-Type": "application/json"}, Body: encode(f.t, doc)}
	for _, o := range opts {
		o(&req)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := f.host.InvokeHTTP(ctx, "PutSecrets", req)
	if err != nil {
		f.t.Fatalf("invoke PutSecrets: %v", err)
	}
	outputs.add(f.t.Name()+" PutSecrets answer", string(res.Raw))
	outputs.add(f.t.Name()+" PutSecrets caller body", string(res.CallerBody))
	outputs.add(f.t.Name()+" PutSecrets caller headers", fmt.Sprint(res.CallerHeaders))
	return res
}

// sb invokes PutSecretsFromQueue with doc as the message body.
func (f *fixture) sb(doc any, msg host.Message) *host.Result {
	f.t.Helper()
	msg.Body = encode(f.t, doc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := f.host.InvokeServiceBus(ctx, "PutSecretsFromQueue", msg)
	if err != nil {
		f.t.Fatalf("invoke PutSecretsFromQueue: %v", err)
	}
	outputs.add(f.t.Name()+" PutSecretsFromQueue answer", string(res.Raw))
	return res
}

func encode(t testing.TB, doc any) []byte {
	if b, ok := doc.([]byte); ok {
		return b
	}
	if s, ok := doc.(string); ok {
		return []byte(s)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// answer is the success document of docs/contract.md §3.
type answer struct {
	ServicePrincipalID string   `json:"servicePrincipalId"`
	Status             string   `json:"status"`
	APIVersion         string   `json:"apiVersion"`
	Keys               []string `json:"keys"`
	GraphRequestID     string   `json:"graphRequestId"`
	DurationMs         *int64   `json:"durationMs"`
}

// problemDoc is the failure document of docs/contract.md §3.
type problemDoc struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
	Dependency *struct {
		Service   string `json:"service"`
		Status    int    `json:"status"`
		Code      string `json:"code"`
		InnerCode string `json:"innerCode"`
		RequestID string `json:"requestId"`
		Vault     string `json:"vault"`
	} `json:"dependency"`
}

// ok decodes a 200 answer, failing the test otherwise.
func ok(t *testing.T, res *host.HTTPResult) answer {
	t.Helper()
	if res.Failed || res.CallerStatus != 200 {
		t.Fatalf("caller got %d (failed invocation: %v %s): %s", res.CallerStatus, res.Failed, res.Reason, res.CallerBody)
	}
	if ct := res.CallerHeaders.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var a answer
	if err := json.Unmarshal(res.CallerBody, &a); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	if a.DurationMs == nil {
		t.Error("answer has no durationMs")
	}
	return a
}

// failed decodes a problem answer with the wanted status.
func failed(t *testing.T, res *host.HTTPResult, status int) problemDoc {
	t.Helper()
	if res.Failed {
		t.Fatalf("invocation failed (%s); the handler must answer 2xx and carry the status in Outputs.res", res.Reason)
	}
	var p problemDoc
	if err := json.Unmarshal(res.CallerBody, &p); err != nil {
		t.Fatalf("caller body is not a problem document: %v: %s", err, res.CallerBody)
	}
	if res.CallerStatus != status || p.Status != status {
		t.Fatalf("caller got %d (document %d), want %d: %s", res.CallerStatus, p.Status, status, res.CallerBody)
	}
	if ct := res.CallerHeaders.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	if p.Type == "" || p.Title == "" || p.Detail == "" {
		t.Errorf("problem document lacks type, title or detail: %s", res.CallerBody)
	}
	return p
}

// doc builds a request document.
func doc(sp string, secrets ...map[string]any) map[string]any {
	return map[string]any{"servicePrincipalId": sp, "secrets": secrets}
}

func uri(key, u string) map[string]any         { return map[string]any{"key": key, "secretUri": u} }
func literal(key string, v any) map[string]any { return map[string]any{"key": key, "value": v} }
