package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/putsecrets/putsecrets/internal/config"
	"github.com/putsecrets/putsecrets/standin/graph"
	"github.com/putsecrets/putsecrets/standin/host"
	"github.com/putsecrets/putsecrets/standin/identity"
	"github.com/putsecrets/putsecrets/standin/keyvault"
	"github.com/putsecrets/putsecrets/standin/sbbroker"
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
	// detail are hints the problem's detail must give.
	detail []string
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
// stand-ins with one dependency misbehaving, through each way a request
// arrives, and checks what the contract asks of that way:
//
//   - PutSecrets (HTTP): the row's status within the invocation's budget, and
//     the handler's goroutines back to their baseline afterwards;
//   - PutSecretsFromQueue through the emulated host: for a permanent class,
//     with ReplyTo a failed outcome carrying the same problem and a
//     successful invocation (complete), without one a failed invocation
//     (Service Bus dead-letters after MaxDeliveryCount); for a transient
//     class a failed invocation (abandon) and no outcome;
//   - `handler worker` against the test broker: for a permanent class,
//     complete with a failed outcome, or dead-letter with the worker's reason
//     when there is no destination; for a transient class, abandon and no
//     outcome (the queue's MaxDeliveryCount of 1 then dead-letters it as
//     MaxDeliveryCountExceeded, which a wrongly abandoned permanent failure
//     would show too).
//
// Every row uses canaries; TestMain checks that none leaked.
//
// The rows run at once, each with its own handler process and stand-ins (a
// handler's token cache is process-wide, and identity faults are the whole
// endpoint's), sharing one broker with queues of their own; the three ways
// share the row's handler and fake Azure. t.Run is called from goroutines:
// the retries azcore makes for identity, Key Vault and Graph faults take
// 7–11 s each, and -parallel (2 on a 2-core machine) would otherwise
// serialize them.
func TestFaults(t *testing.T) {
	t.Parallel()
	const unknownSP = "0f0e0d0c-0b0a-4908-8706-050403020100"
	rows := []faultRow{
		// The managed identity endpoint (every Key Vault and Graph call needs a token).
		{
			name: "identity endpoint down", status: 503, dependency: "managedIdentity", detail: []string{"identity endpoint"},
			fault: func(f *fixture, _ string) { mustFault(f, identity.Fault{Kind: identity.FaultDown}) },
		},
		{
			// azcore's retry policy reports only the deadline, so the problem
			// names the call that waited for the token.
			name: "identity endpoint slow", timeout: slowTimeout, status: 503, dependency: "keyVault", detail: []string{"ran out of time"},
			fault: func(f *fixture, _ string) {
				mustFault(f, identity.Fault{Kind: identity.FaultDelay, Delay: slowDelay})
			},
		},
		{
			name: "identity endpoint 500", status: 503, dependency: "managedIdentity", depStatus: 500, detail: []string{"identity endpoint"},
			fault: func(f *fixture, _ string) {
				mustFault(f, identity.Fault{Kind: identity.FaultStatus, Status: 500})
			},
		},
		{
			name: "identity endpoint 307 to another host", status: 502, dependency: "managedIdentity", depStatus: 307,
			detail: []string{"follows no redirect", elsewhereHost},
			fault: func(f *fixture, _ string) {
				mustFault(f, identity.Fault{Kind: identity.FaultStatus, Status: 307, Location: "https://" + elsewhereHost + "/msi/token"})
			},
		},
		{
			name: "identity endpoint garbage", status: 503, dependency: "managedIdentity", detail: []string{"identity endpoint"},
			fault: func(f *fixture, _ string) { mustFault(f, identity.Fault{Kind: identity.FaultGarbage}) },
		},

		// Key Vault.
		{
			name: "Key Vault 401 loop", status: 502, dependency: "keyVault", depStatus: 401, detail: []string{"Key Vault Secrets User"},
			fault: func(f *fixture, _ string) { f.env.KeyVault.SetRejectTokens(f.vaultHost(vault), true) },
		},
		{
			name: "Key Vault 403", status: 502, dependency: "keyVault", depStatus: 403, detail: []string{"Key Vault Secrets User"},
			fault: func(f *fixture, _ string) { f.env.KeyVault.SetDenied(f.vaultHost(vault), true) },
		},
		{
			name: "Key Vault 404", status: 422, dependency: "keyVault", depStatus: 404, detail: []string{"does not exist"},
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
			name: "Key Vault slow", timeout: slowTimeout, status: 503, dependency: "keyVault", detail: []string{"ran out of time"},
			fault: func(f *fixture, s string) {
				f.env.KeyVault.Script(f.vaultHost(vault), s, keyvault.Fault{Delay: slowDelay})
			},
		},

		{
			name: "Key Vault 307 to another host", status: 502, dependency: "keyVault", depStatus: 307,
			detail: []string{"follows no redirect", elsewhereHost},
			fault: func(f *fixture, s string) {
				f.env.KeyVault.Script(f.vaultHost(vault), s, keyvault.Fault{Status: 307, Location: "https://" + elsewhereHost + "/secrets/" + s})
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
			name: "Graph 401", status: 502, dependency: "graph", depStatus: 401, graph: true, detail: []string{"Synchronization.ReadWrite.All"},
			settings: settings{"PUTSECRETS_GRAPH_CONSISTENCY_WAIT": "2s"},
			fault: func(f *fixture, _ string) {
				f.env.Graph.Script(spID, times(50, graph.Response{Status: 401, Code: "InvalidAuthenticationToken"})...)
			},
		},
		{
			// A lasting 403: one that ends within the wait is a success
			// (TestGraph403Waited).
			name: "Graph 403", status: 502, dependency: "graph", depStatus: 403, graph: true,
			detail:   []string{"Synchronization.ReadWrite.All", "Application.ReadWrite.OwnedBy", "waiting at most 2s"},
			settings: settings{"PUTSECRETS_GRAPH_CONSISTENCY_WAIT": "2s"},
			fault: func(f *fixture, _ string) {
				f.env.Graph.Script(spID, times(50, graph.Response{Status: 403, Code: "Authorization_RequestDenied"})...)
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
			name: "Graph 308 to another host", status: 502, dependency: "graph", depStatus: 308, graph: true,
			detail: []string{"follows no redirect", elsewhereHost},
			fault: func(f *fixture, _ string) {
				f.env.Graph.Script(spID, graph.Response{Status: 308, Location: "https://" + elsewhereHost + "/v1.0/x"})
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
			name: "Graph slow", timeout: slowTimeout, status: 503, graph: true, detail: []string{"ran out of time"},
			fault: func(f *fixture, _ string) { f.env.Graph.Script(spID, graph.Response{Delay: slowDelay}) },
		},
	}

	b := sbbroker.Start(t)
	for i := range rows {
		for _, q := range faultQueues(i) {
			b.CreateQueue(q, sbbroker.QueueOptions{MaxDeliveryCount: 1})
		}
	}
	var wg sync.WaitGroup
	for i, row := range rows {
		wg.Go(func() { t.Run(row.name, func(t *testing.T) { runFault(t, row, b, i) }) })
	}
	wg.Wait()
}

// faultQueues are row i's queues: the worker's request queue, and the reply
// queues of the function and of the worker.
func faultQueues(i int) (queues [3]string) {
	for j, kind := range []string{"requests", "function-replies", "worker-replies"} {
		queues[j] = fmt.Sprintf("faults-%d-%s", i, kind)
	}
	return queues
}

func mustFault(f *fixture, fault identity.Fault) {
	f.t.Helper()
	if err := f.env.Identity.SetFault(fault); err != nil {
		f.t.Fatal(err)
	}
}

// runFault runs one row through HTTP, the queue function and the worker.
func runFault(t *testing.T, row faultRow, b *sbbroker.Broker, i int) {
	s := debugSettings(settings{"ServiceBusConnection": b.ConnectionString()})
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
	d := row.doc
	if d == nil {
		d = faultDoc
	}
	request := d(f, secret)
	queues := faultQueues(i)
	// fault is set again before each invocation: a scripted answer serves
	// one request.
	fault := func() {
		if row.fault != nil {
			row.fault(f, secret)
		}
	}

	// PutSecrets. The goroutine check comes first: outcome messages start
	// the process's Service Bus client.
	baseline := f.state(t).working()
	fault()
	began := time.Now()
	res := f.http(request)
	elapsed := time.Since(began)
	row.check(t, "HTTP", failed(t, res, row.status))
	if elapsed > budget+answerSlack {
		t.Errorf("HTTP answered after %v; the invocation's budget is %v", elapsed.Round(time.Millisecond), budget)
	}
	if got := res.CallerHeaders.Get("Retry-After"); got != row.retryAfter {
		t.Errorf("Retry-After = %q, want %q", got, row.retryAfter)
	}
	f.expectGoroutinesBack(t, baseline)

	// PutSecretsFromQueue, through the emulated host, with and without an
	// outcome destination.
	ctx := waitContext(t)
	fault()
	reported := f.sb(request, host.Message{MessageID: "function-reported", ReplyTo: queues[1]})
	if reported.Failed != row.transient() {
		t.Errorf("function with ReplyTo: invocation failed = %v (%s), want %v", reported.Failed, reported.Reason, row.transient())
	}
	if !row.transient() {
		fault()
		unreported := f.sb(request, host.Message{MessageID: "function-unreported"})
		if !unreported.Failed {
			t.Error("function without a destination: the invocation succeeded, so the message would be dropped, not dead-lettered")
		}
		row.checkOutcome(t, "function", b.WaitForMessages(ctx, queues[1], 1))
	}
	settled := map[string]string{"function-reported": row.settlement(true)}
	if !row.transient() {
		settled["function-unreported"] = row.settlement(false)
	}
	row.checkSettlements(t, "function", f.logs(), settled)

	// handler worker, against the same fake Azure.
	fault()
	sendRequest(ctx, t, b, queues[0], "worker-reported", queues[2], encode(t, request))
	if !row.transient() {
		fault()
		sendRequest(ctx, t, b, queues[0], "worker-unreported", "", encode(t, request))
	}
	delete(s, "PUTSECRETS_DEBUG_ENDPOINTS")
	w := f.command(s, nil, "worker", "--queue", queues[0], "--concurrency", "2")
	// A dead letter's body is the request as sent; what the handler wrote
	// is its reason and description.
	dead := b.WaitForDeadLetters(ctx, queues[0], 1)
	for _, m := range dead {
		outputs.add(t.Name()+" dead letter", m.DeadLetterReason+" "+m.DeadLetterErrorDescription+" "+fmt.Sprint(m.ApplicationProperties))
	}
	if !row.transient() {
		row.checkOutcome(t, "worker", b.WaitForMessages(ctx, queues[2], 1))
	}
	if code := w.stop(); code != 0 {
		t.Errorf("worker exit code after SIGTERM = %d, want 0", code)
	}
	settled = map[string]string{"worker-reported": row.settlement(true)}
	if !row.transient() {
		settled["worker-unreported"] = row.settlement(false)
	}
	row.checkSettlements(t, "worker", w.out(), settled)
	stats := b.Queue(queues[0]).Stats
	wantDead, wantStats := "worker-unreported", map[string]int{"completed": 1, "abandoned": 0, "maxDeliveryCountExceeded": 0}
	if row.transient() {
		wantDead, wantStats = "worker-reported", map[string]int{"completed": 0, "abandoned": 1, "maxDeliveryCountExceeded": 1}
	}
	for k, v := range wantStats {
		if stats[k] != v {
			t.Errorf("worker: broker stats %v, want %s %d", stats, k, v)
		}
	}
	if len(dead) != 1 || dead[0].MessageID != wantDead {
		t.Errorf("worker: dead letters %d, want only %s", len(dead), wantDead)
	} else if (dead[0].DeadLetterReason == "MaxDeliveryCountExceeded") != row.transient() {
		t.Errorf("worker: %s dead-lettered with reason %q", wantDead, dead[0].DeadLetterReason)
	}
	if row.transient() {
		for _, q := range queues[1:] {
			if n := len(recordMessages(t, q, b.Messages(q))); n != 0 {
				t.Errorf("%s holds %d outcomes after a transient failure, want 0", q, n)
			}
		}
	}
	if !row.graph && len(f.putCalls()) != 0 {
		t.Errorf("Graph was called %d times after a failure before it", len(f.putCalls()))
	}
	t.Logf("%s: %d, HTTP after %v (budget %v)", row.name, row.status, elapsed.Round(time.Millisecond), budget)
}

// transient reports whether the row's failure is of the 503 class, which
// Service Bus redelivers.
func (row faultRow) transient() bool { return row.status == 503 }

// settlement is the settlement a message of the row must get, with or
// without an outcome destination.
func (row faultRow) settlement(destination bool) string {
	switch {
	case row.transient():
		return "abandon"
	case destination:
		return "complete"
	}
	return "deadLetter"
}

// check compares a problem document with the row.
func (row faultRow) check(t *testing.T, way string, p problemDoc) {
	t.Helper()
	if p.Status != row.status {
		t.Errorf("%s: status %d, want %d", way, p.Status, row.status)
	}
	if row.dependency != "" {
		switch {
		case p.Dependency == nil:
			t.Errorf("%s: the problem names no dependency, want %s", way, row.dependency)
		case p.Dependency.Service != row.dependency || p.Dependency.Status != row.depStatus:
			t.Errorf("%s: dependency = %s %d, want %s %d", way, p.Dependency.Service, p.Dependency.Status, row.dependency, row.depStatus)
		case p.Dependency.InnerCode != row.innerCode:
			t.Errorf("%s: dependency inner code = %q, want %q", way, p.Dependency.InnerCode, row.innerCode)
		}
	}
	for _, want := range row.detail {
		if !strings.Contains(p.Detail, want) {
			t.Errorf("%s: detail %s lacks %q", way, shown(p.Detail), want)
		}
	}
}

// checkOutcome checks the one failed outcome a permanent row publishes.
func (row faultRow) checkOutcome(t *testing.T, way string, msgs []sbbroker.Message) {
	t.Helper()
	recordMessages(t, way+" outcome", msgs)
	if len(msgs) != 1 {
		t.Errorf("%s: %d outcomes, want 1", way, len(msgs))
		return
	}
	o := outcomeOf(t, msgs[0])
	if o.Subject != "PutSecrets.Failed" || o.ApplicationProperties["status"] != int64(row.status) {
		t.Errorf("%s: outcome %q with status %v, want PutSecrets.Failed %d", way, o.Subject, o.ApplicationProperties["status"], row.status)
	}
	row.check(t, way+" outcome", o.problem)
}

// checkSettlements checks the settlement each invocation's log line records,
// by message ID.
func (row faultRow) checkSettlements(t *testing.T, way, logs string, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, line := range strings.Split(logs, "\n") {
		var l struct {
			MessageID  string `json:"messageId"`
			Settlement string `json:"settlement"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.MessageID != "" && l.Settlement != "" {
			got[l.MessageID] = l.Settlement
		}
	}
	for id, s := range want {
		if got[id] != s {
			t.Errorf("%s: %s settled %q, want %q", way, id, got[id], s)
		}
	}
}

// sendRequest sends a request document to queue as `handler enqueue` would,
// with ReplyTo when given.
func sendRequest(ctx context.Context, t *testing.T, b *sbbroker.Broker, queue, id, replyTo string, body []byte) {
	t.Helper()
	c, err := azservicebus.NewClientFromConnectionString(b.ConnectionString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	s, err := c.NewSender(queue, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &azservicebus.Message{MessageID: &id, Body: body, ContentType: to.Ptr("application/json")}
	if replyTo != "" {
		m.ReplyTo = &replyTo
	}
	if err := s.SendMessage(ctx, m, nil); err != nil {
		t.Fatalf("send: %v", err)
	}
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
