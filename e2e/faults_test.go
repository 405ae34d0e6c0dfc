package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/putsecrets/putsecrets/internal/config"
	"github.com/putsecrets/putsecrets/standin/graph"
	"github.com/putsecrets/putsecrets/standin/identity"
	"github.com/putsecrets/putsecrets/standin/keyvault"
)

// slowTimeout is the invocation budget (PUTSECRETS_INVOCATION_TIMEOUT) of the
// rows where a dependency answers too slowly; slowDelay is how long such a
// dependency takes, far beyond it, so a handler that does not keep to its
// budget cannot pass.
const (
	slowTimeout = 3 * time.Second
	slowDelay   = 30 * time.Second
)

// answerSlack is what the handler may take beyond the invocation's budget to
// write its answer: generous, as the rows run at once on a small machine.
const answerSlack = 2 * time.Second

// faultRow is one fault of the matrix.
type faultRow struct {
	name string
	// timeout overrides the invocation budget; 0 keeps host.json's.
	timeout time.Duration
	// settings are extra app settings.
	settings settings
	// fault sets the fault, after the handler started and before the
	// invocation; secret is the Key Vault secret the request references.
	fault func(f *fixture, secret string)
	// doc returns the request; nil: faultDoc.
	doc func(f *fixture, secret string) any
	// want: the caller's status, the dependency the problem names (and its
	// status, when it answered), and the Retry-After header.
	status     int
	dependency string
	depStatus  int
	innerCode  string
	retryAfter string
	// detail is a hint the problem's detail must give.
	detail string
	// graph: whether the request may reach Graph.
	graph bool
}

// faultDoc references a Key Vault secret and sends a literal, both canaries,
// so that every fault path is covered by the canary check.
func faultDoc(f *fixture, secret string) any {
	return doc(spID,
		literal("BaseAddress", f.literal("BaseAddress")),
		uri("SecretToken", "https://"+f.vaultHost(vault)+"/secrets/"+secret))
}

// times repeats a Graph response, for the retries azcore makes.
func times(n int, r graph.Response) []graph.Response {
	out := make([]graph.Response, n)
	for i := range out {
		out[i] = r
	}
	return out
}

// TestFaults is the fault matrix: each row runs the real handler against
// stand-ins with one dependency misbehaving, and checks that the caller gets
// the contract's status within the invocation's budget, and that the
// handler's goroutines come back to their baseline afterwards. Every row uses
// canaries; TestMain checks that none leaked.
//
// The rows run at once, each with its own handler process and stand-ins (a
// handler's token cache is process-wide), through t.Run from goroutines: the
// retries azcore makes for identity, Key Vault and Graph faults take 7–11 s
// each, and -parallel (2 on a 2-core machine) would otherwise serialize them.
func TestFaults(t *testing.T) {
	t.Parallel()
	const unknownSP = "0f0e0d0c-0b0a-4908-8706-050403020100"
	rows := []faultRow{
		// The managed identity endpoint (every Key Vault and Graph call needs a token).
		{
			name: "identity endpoint down", status: 503, dependency: "managedIdentity", detail: "identity endpoint",
			fault: func(f *fixture, _ string) { mustFault(f, identity.Fault{Kind: identity.FaultDown}) },
		},
		{
			// azcore's retry policy reports only the deadline, so the problem
			// names the call that waited for the token.
			name: "identity endpoint slow", timeout: slowTimeout, status: 503, dependency: "keyVault", detail: "ran out of time",
			fault: func(f *fixture, _ string) {
				mustFault(f, identity.Fault{Kind: identity.FaultDelay, Delay: slowDelay})
			},
		},
		{
			name: "identity endpoint 500", status: 503, dependency: "managedIdentity", depStatus: 500, detail: "identity endpoint",
			fault: func(f *fixture, _ string) {
				mustFault(f, identity.Fault{Kind: identity.FaultStatus, Status: 500})
			},
		},
		{
			name: "identity endpoint garbage", status: 503, dependency: "managedIdentity", detail: "identity endpoint",
			fault: func(f *fixture, _ string) { mustFault(f, identity.Fault{Kind: identity.FaultGarbage}) },
		},

		// Key Vault.
		{
			name: "Key Vault 401 loop", status: 502, dependency: "keyVault", depStatus: 401, detail: "Key Vault Secrets User",
			fault: func(f *fixture, _ string) { f.env.KeyVault.SetRejectTokens(f.vaultHost(vault), true) },
		},
		{
			name: "Key Vault 403", status: 502, dependency: "keyVault", depStatus: 403, detail: "Key Vault Secrets User",
			fault: func(f *fixture, _ string) { f.env.KeyVault.SetDenied(f.vaultHost(vault), true) },
		},
		{
			name: "Key Vault 404", status: 422, dependency: "keyVault", depStatus: 404, detail: "does not exist",
			doc: func(f *fixture, _ string) any { return faultDoc(f, "missing") },
		},
		{
			name: "Key Vault 429", status: 503, dependency: "keyVault", depStatus: 429, retryAfter: "1",
			fault: func(f *fixture, s string) {
				f.env.KeyVault.Script(f.vaultHost(vault), s, keyvault.Fault{Status: 429, RetryAfter: "1"})
			},
		},
		{
			name: "Key Vault 500", status: 503, dependency: "keyVault", depStatus: 500,
			fault: func(f *fixture, s string) {
				f.env.KeyVault.Script(f.vaultHost(vault), s, keyvault.Fault{Status: 500})
			},
		},
		{
			name: "Key Vault reset connections", status: 503, dependency: "keyVault",
			fault: func(f *fixture, s string) {
				f.env.KeyVault.Script(f.vaultHost(vault), s, keyvault.Fault{Reset: true})
			},
		},
		{
			name: "Key Vault slow", timeout: slowTimeout, status: 503, dependency: "keyVault", detail: "ran out of time",
			fault: func(f *fixture, s string) {
				f.env.KeyVault.Script(f.vaultHost(vault), s, keyvault.Fault{Delay: slowDelay})
			},
		},

		// Microsoft Graph.
		{
			name: "Graph 400 with an inner code", status: 422, dependency: "graph", depStatus: 400, graph: true,
			innerCode: "InvalidNotificationSettings",
			fault: func(f *fixture, _ string) {
				f.env.Graph.Script(spID, graph.Response{Status: 400, InnerCode: "InvalidNotificationSettings"})
			},
		},
		{
			name: "Graph 401", status: 502, dependency: "graph", depStatus: 401, graph: true, detail: "Synchronization.ReadWrite.All",
			settings: settings{"PUTSECRETS_GRAPH_CONSISTENCY_WAIT": "2s"},
			fault: func(f *fixture, _ string) {
				f.env.Graph.Script(spID, times(50, graph.Response{Status: 401, Code: "InvalidAuthenticationToken"})...)
			},
		},
		{
			name: "Graph 403", status: 502, dependency: "graph", depStatus: 403, graph: true, detail: "Synchronization.ReadWrite.All",
			fault: func(f *fixture, _ string) {
				f.env.Graph.Script(spID, graph.Response{Status: 403, Code: "Authorization_RequestDenied"})
			},
		},
		{
			name: "Graph 404", status: 404, dependency: "graph", depStatus: 404, graph: true,
			settings: settings{"PUTSECRETS_GRAPH_CONSISTENCY_WAIT": "2s"},
			doc: func(f *fixture, secret string) any {
				d := faultDoc(f, secret).(map[string]any)
				d["servicePrincipalId"] = unknownSP
				return d
			},
		},
		{
			name: "Graph 409", status: 503, dependency: "graph", depStatus: 409, graph: true,
			fault: func(f *fixture, _ string) {
				f.env.Graph.Script(spID, times(4, graph.Response{Status: 409, Code: "ConcurrencyViolation"})...)
			},
		},
		{
			name: "Graph 429, Retry-After beyond the retry cap", status: 503, dependency: "graph", depStatus: 429, graph: true,
			retryAfter: "120",
			fault: func(f *fixture, _ string) {
				f.env.Graph.Script(spID, graph.Response{Status: 429, RetryAfter: "120"})
			},
		},
		{
			name: "Graph 500", status: 503, dependency: "graph", depStatus: 500, graph: true,
			fault: func(f *fixture, _ string) { f.env.Graph.Script(spID, times(4, graph.Response{Status: 500})...) },
		},
		{
			name: "Graph 503", status: 503, dependency: "graph", depStatus: 503, graph: true,
			fault: func(f *fixture, _ string) { f.env.Graph.Script(spID, times(4, graph.Response{Status: 503})...) },
		},
		{
			name: "Graph reset connections", status: 503, graph: true,
			fault: func(f *fixture, _ string) { f.env.Graph.Script(spID, times(4, graph.Response{Reset: true})...) },
		},
		{
			name: "Graph slow", timeout: slowTimeout, status: 503, graph: true, detail: "ran out of time",
			fault: func(f *fixture, _ string) { f.env.Graph.Script(spID, graph.Response{Delay: slowDelay}) },
		},
	}

	var wg sync.WaitGroup
	for _, row := range rows {
		wg.Go(func() { t.Run(row.name, func(t *testing.T) { runFault(t, row) }) })
	}
	wg.Wait()
}

func mustFault(f *fixture, fault identity.Fault) {
	f.t.Helper()
	if err := f.env.Identity.SetFault(fault); err != nil {
		f.t.Fatal(err)
	}
}

// runFault runs one row.
func runFault(t *testing.T, row faultRow) {
	s := debugSettings(settings{})
	for k, v := range row.settings {
		s[k] = v
	}
	if row.timeout > 0 {
		s["PUTSECRETS_INVOCATION_TIMEOUT"] = row.timeout.String()
	}
	budget := invocationBudget(t, row.timeout)

	f := start(t, s)
	const secret = "scim-token"
	f.kvSecret(secret, "SecretToken")
	baseline := f.state(t).working()
	if row.fault != nil {
		row.fault(f, secret)
	}
	d := row.doc
	if d == nil {
		d = faultDoc
	}

	began := time.Now()
	res := f.http(d(f, secret))
	elapsed := time.Since(began)

	p := failed(t, res, row.status)
	if elapsed > budget+answerSlack {
		t.Errorf("answered after %v; the invocation's budget is %v", elapsed.Round(time.Millisecond), budget)
	}
	if row.dependency != "" {
		switch {
		case p.Dependency == nil:
			t.Errorf("the problem names no dependency, want %s", row.dependency)
		case p.Dependency.Service != row.dependency || p.Dependency.Status != row.depStatus:
			t.Errorf("dependency = %s %d, want %s %d", p.Dependency.Service, p.Dependency.Status, row.dependency, row.depStatus)
		case p.Dependency.InnerCode != row.innerCode:
			t.Errorf("dependency inner code = %q, want %q", p.Dependency.InnerCode, row.innerCode)
		}
	}
	if !strings.Contains(p.Detail, row.detail) {
		t.Errorf("detail %q lacks %q", p.Detail, row.detail)
	}
	if got := res.CallerHeaders.Get("Retry-After"); got != row.retryAfter {
		t.Errorf("Retry-After = %q, want %q", got, row.retryAfter)
	}
	if !row.graph && len(f.putCalls()) != 0 {
		t.Errorf("Graph was called %d times after a failure before it", len(f.putCalls()))
	}
	f.expectGoroutinesBack(t, baseline)
	t.Logf("%s: %d after %v (budget %v)", row.name, row.status, elapsed.Round(time.Millisecond), budget)
}

// invocationBudget is the time an invocation may take: the override when
// set, else host.json's functionTimeout, as the Functions host enforces it.
func invocationBudget(t *testing.T, override time.Duration) time.Duration {
	t.Helper()
	if override > 0 {
		return override
	}
	b, err := os.ReadFile(filepath.Join(appDir, "host.json"))
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		FunctionTimeout string `json:"functionTimeout"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	d, err := config.ParseTimeSpan(h.FunctionTimeout)
	if err != nil || d <= 0 {
		t.Fatalf("host.json functionTimeout %q: %v", h.FunctionTimeout, err)
	}
	return d
}
