package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/putsecrets/putsecrets/standin/graph"
	"github.com/putsecrets/putsecrets/standin/host"
	"github.com/putsecrets/putsecrets/standin/identity"
	"github.com/putsecrets/putsecrets/standin/keyvault"
)

// deadlineBudget is the HTTP invocation budget of these tests
// (PUTSECRETS_INVOCATION_TIMEOUT; in Azure the budget is at most 225 s), and
// deadlineMargin what the answer may take beyond it before the emulated
// host gives up on it: generous, as the rows run at once on a small machine.
const (
	deadlineBudget = 3 * time.Second
	deadlineMargin = 3 * time.Second
)

const deadlineJob = "scim.e5b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5"

// deadlineRow is one slow dependency, at one stage of an HTTP invocation.
type deadlineRow struct {
	name string
	// extra are request fields besides servicePrincipalId and secrets.
	extra map[string]any
	// slow makes a dependency slow (or throttle) once the handler runs.
	slow func(f *fixture, secret string)
	// The answer: status, the stage reached and whether the secrets were
	// saved (nil: absent, as when that cannot be known, or when the time did
	// not run out).
	status int
	stage  string
	saved  *bool
	detail string
	// wantSaved: the Graph stand-in holds the secrets afterwards.
	wantSaved bool
}

// TestHTTPDeadline: whatever dependency is slow, at whatever stage, an HTTP
// invocation answers within its budget (the emulated host's context is not
// exceeded), and the answer says how far it got and whether the secrets
// were saved. The handler's goroutines come back afterwards.
func TestHTTPDeadline(t *testing.T) {
	t.Parallel()
	hang := graph.Response{Delay: time.Minute}
	yes, no := true, false
	rows := []deadlineRow{
		{
			name: "token for Key Vault slow", status: 503, stage: "resolving the Key Vault references", saved: &no,
			detail: "nothing was saved",
			slow: func(f *fixture, _ string) {
				mustFault(f, identity.Fault{Kind: identity.FaultDelay, Delay: time.Minute})
			},
		},
		{
			name: "Key Vault slow", status: 503, stage: "resolving the Key Vault references", saved: &no, detail: "nothing was saved",
			slow: func(f *fixture, s string) {
				f.env.KeyVault.Script(f.vaultHost(vault), s, keyvault.Fault{Delay: time.Minute})
			},
		},
		{
			name: "validation slow", extra: map[string]any{"validate": map[string]any{"templateId": "scim"}},
			status: 503, stage: "validating the credentials with Microsoft Graph", saved: &no, detail: "nothing was saved",
			slow: func(f *fixture, _ string) { f.env.Graph.Script(spID, hang) },
		},
		{
			name: "PUT slow", status: 503, stage: "saving the secrets to Microsoft Graph", detail: "may or may not have been saved",
			slow: func(f *fixture, _ string) { f.env.Graph.Script(spID, hang) },
		},
		{
			// azcore honours a Retry-After below its 60 s cap by sleeping:
			// the sleep ends with the invocation's time.
			name: "PUT throttled past the budget", status: 503, stage: "saving the secrets to Microsoft Graph",
			detail: "may or may not have been saved",
			slow: func(f *fixture, _ string) {
				f.env.Graph.Script(spID, graph.Response{Status: 429, RetryAfter: "30"})
			},
		},
		{
			name: "job restart slow", extra: map[string]any{"job": map[string]any{"id": deadlineJob, "action": "restart"}},
			status: 503, stage: "restarting the synchronization job", saved: &yes,
			detail: "The secrets were saved (Graph request-id", wantSaved: true,
			slow: func(f *fixture, _ string) { f.env.Graph.Script(spID, graph.Response{}, hang) },
		},
		{
			// The consistency wait (30 s by default) is cut to the budget:
			// the answer is Graph's last, in time.
			name: "replication wait longer than the budget", status: 404, detail: "has not replicated yet",
			slow: func(f *fixture, _ string) { f.env.Graph.RemoveServicePrincipal(spID) },
		},
	}
	var wg sync.WaitGroup
	for _, row := range rows {
		wg.Go(func() { t.Run(row.name, func(t *testing.T) { runDeadline(t, row) }) })
	}
	wg.Wait()
}

func runDeadline(t *testing.T, row deadlineRow) {
	f := start(t, debugSettings(settings{"PUTSECRETS_INVOCATION_TIMEOUT": deadlineBudget.String()}))
	const secret = "scim-token"
	d := doc(spID, literal("BaseAddress", f.literal("BaseAddress")), uri("SecretToken", f.kvSecret(secret, "SecretToken")))
	for k, v := range row.extra {
		d[k] = v
	}
	f.env.Graph.AddJob(spID, graph.Job{ID: deadlineJob, TemplateID: "scim", State: graph.JobState{Code: graph.StatusPaused}})
	baseline := f.state(t).working()
	row.slow(f, secret)

	// The emulated host waits for the answer no longer than the budget
	// and a margin: an answer that does not arrive by then fails here.
	ctx, cancel := context.WithTimeout(context.Background(), deadlineBudget+deadlineMargin)
	defer cancel()
	res, err := f.host.InvokeHTTP(ctx, "PutSecrets", host.HTTPRequest{
		Headers: map[string]string{"Content-Type": "application/json"}, Body: encode(t, d)})
	if err != nil {
		t.Fatalf("no answer within the budget (%v) and %v: %v", deadlineBudget, deadlineMargin, err)
	}
	outputs.add(t.Name()+" PutSecrets answer", string(res.Raw))
	outputs.add(t.Name()+" PutSecrets caller body", string(res.CallerBody))

	p := failed(t, res, row.status)
	var ext struct {
		Stage string `json:"stage"`
		Saved *bool  `json:"saved"`
	}
	if err := json.Unmarshal(res.CallerBody, &ext); err != nil {
		t.Fatal(err)
	}
	if ext.Stage != row.stage {
		t.Errorf("stage = %q, want %q", ext.Stage, row.stage)
	}
	switch {
	case row.saved == nil && ext.Saved != nil:
		t.Errorf("saved = %v, want it absent", *ext.Saved)
	case row.saved != nil && (ext.Saved == nil || *ext.Saved != *row.saved):
		t.Errorf("saved = %v, want %v", ext.Saved, *row.saved)
	}
	if !strings.Contains(p.Detail, row.detail) {
		t.Errorf("detail %q lacks %q", p.Detail, row.detail)
	}
	if got := f.env.Graph.Saved(spID) != nil; got != row.wantSaved {
		t.Errorf("Graph holds the secrets: %v, want %v", got, row.wantSaved)
	}
	f.expectGoroutinesBack(t, baseline)
}
