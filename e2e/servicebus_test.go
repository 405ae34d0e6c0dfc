package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/putsecrets/putsecrets/standin/azure"
	"github.com/putsecrets/putsecrets/standin/graph"
	"github.com/putsecrets/putsecrets/standin/host"
	"github.com/putsecrets/putsecrets/standin/sbbroker"
)

// sp2 is a second service principal, for tests that need two.
const sp2 = "0f0e0d0c-0b0a-4908-8706-050403020100"

// startBroker runs the local Service Bus stand-in with the queues named
// (ordered ones are session-enabled) already created.
func startBroker(t *testing.T, queues ...string) *sbbroker.Broker {
	t.Helper()
	b := sbbroker.Start(t)
	for _, q := range queues {
		b.CreateQueue(q, sbbroker.QueueOptions{MaxDeliveryCount: 5, RequiresSession: strings.HasPrefix(q, "ordered")})
	}
	return b
}

// recordMessages registers everything a queue's messages carry (bodies,
// properties, dead-letter reasons) for the canary check, and returns them.
func recordMessages(t *testing.T, label string, msgs []sbbroker.Message) []sbbroker.Message {
	for _, m := range msgs {
		outputs.add(t.Name()+" "+label, fmt.Sprintf("%s %v %s %s %s %s", m.Body, m.ApplicationProperties,
			m.Subject, m.CorrelationID, m.DeadLetterReason, m.DeadLetterErrorDescription))
	}
	return msgs
}

// outcomeOf decodes an outcome message as a consumer would.
type outcome struct {
	sbbroker.Message
	answer  answer
	problem problemDoc
}

func outcomeOf(t *testing.T, m sbbroker.Message) outcome {
	t.Helper()
	o := outcome{Message: m}
	var err error
	if m.Subject == "PutSecrets.Failed" {
		err = json.Unmarshal(m.Body, &o.problem)
	} else {
		err = json.Unmarshal(m.Body, &o.answer)
	}
	if err != nil {
		t.Fatalf("outcome body is not JSON: %v", err)
	}
	return o
}

func waitContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestFunctionOutcomes: the queue function, behind the host emulator with
// ServiceBusConnection pointing at the broker, publishes outcome messages
// with the real azservicebus client.
func TestFunctionOutcomes(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "replies", "ordered-replies", "results")
	cs := b.ConnectionString()
	tests := []struct {
		name      string
		results   string
		doc       func(f *fixture) any
		setup     func(f *fixture)
		msg       host.Message
		queue     string
		subject   string
		status    int64
		outcome   string
		corr      string
		session   string
		problem   string
		saved     bool
		noOutcome bool
	}{
		{
			name: "success to ReplyTo, with ReplyToSessionId", results: "results",
			doc:   func(f *fixture) any { return doc(spID, uri("SecretToken", f.kvSecret("scim-token", "SecretToken"))) },
			msg:   host.Message{MessageID: "req-1", CorrelationID: "build-7", ReplyTo: "ordered-replies", ReplyToSessionID: "pipeline-42"},
			queue: "ordered-replies", subject: "PutSecrets.Succeeded", status: 200, outcome: "saved", corr: "build-7", session: "pipeline-42", saved: true,
		},
		{
			name: "success to PUTSECRETS_RESULTS_QUEUE, correlated by MessageId", results: "results",
			doc:   func(f *fixture) any { return doc(spID, literal("BaseAddress", f.literal("BaseAddress"))) },
			msg:   host.Message{MessageID: "req-2"},
			queue: "results", subject: "PutSecrets.Succeeded", status: 200, outcome: "saved", corr: "req-2", saved: true,
		},
		{
			name:  "permanent failure (403 literal credential) is reported and completed",
			doc:   func(f *fixture) any { return doc(spID, literal("SecretToken", f.literal(""))) },
			msg:   host.Message{MessageID: "req-3", CorrelationID: "build-8", ReplyTo: "replies"},
			queue: "replies", subject: "PutSecrets.Failed", status: 403, outcome: "failed", corr: "build-8",
			problem: "urn:putsecrets:problem:refused-by-policy",
		},
		{
			name: "permanent failure (404 from Graph) to the results queue", results: "results",
			doc:   func(f *fixture) any { return doc(sp2, literal("BaseAddress", f.literal("BaseAddress"))) },
			msg:   host.Message{MessageID: "req-4"},
			queue: "results", subject: "PutSecrets.Failed", status: 404, outcome: "failed", corr: "req-4",
			problem: "urn:putsecrets:problem:service-principal-not-found",
		},
		{
			name: "transient failure publishes nothing and fails the invocation", results: "results",
			setup:     func(f *fixture) { f.env.Graph.Script(spID, graph.Response{Status: 503, RetryAfter: "120"}) },
			doc:       func(f *fixture) any { return doc(spID, literal("BaseAddress", f.literal("BaseAddress"))) },
			msg:       host.Message{MessageID: "req-5", ReplyTo: "replies"},
			noOutcome: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Sequential: the cases share the broker's queues.
			ctx := waitContext(t)
			f := start(t, settings{"ServiceBusConnection": cs, "PUTSECRETS_RESULTS_QUEUE": tt.results, "PUTSECRETS_GRAPH_CONSISTENCY_WAIT": "0s"})
			if tt.setup != nil {
				tt.setup(f)
			}
			res := f.sb(tt.doc(f), tt.msg)
			if res.Failed != tt.noOutcome {
				t.Fatalf("invocation failed = %v (%s), want %v; logs %v", res.Failed, res.Reason, tt.noOutcome, res.Logs)
			}
			if tt.noOutcome {
				f.stop()
				for _, q := range []string{"replies", "results"} {
					if n := len(recordMessages(t, q, b.Messages(q))); n != 0 {
						t.Errorf("%s holds %d messages after a transient failure, want 0", q, n)
					}
				}
				return
			}
			msgs := recordMessages(t, "outcome", b.WaitForMessages(ctx, tt.queue, 1))
			b.CreateQueue(tt.queue, sbbroker.QueueOptions{RequiresSession: strings.HasPrefix(tt.queue, "ordered")})
			if len(msgs) != 1 {
				t.Fatalf("%s holds %d messages, want 1", tt.queue, len(msgs))
			}
			o := outcomeOf(t, msgs[0])
			if o.Subject != tt.subject || o.CorrelationID != tt.corr || o.SessionID != tt.session {
				t.Errorf("outcome subject %q correlation %q session %q, want %q %q %q", o.Subject, o.CorrelationID, o.SessionID, tt.subject, tt.corr, tt.session)
			}
			props := o.ApplicationProperties
			if props["status"] != tt.status || props["outcome"] != tt.outcome || props["requestMessageId"] != tt.msg.MessageID {
				t.Errorf("application properties %v, want status %d outcome %s requestMessageId %s", props, tt.status, tt.outcome, tt.msg.MessageID)
			}
			if tt.saved {
				if props["servicePrincipalId"] != spID || o.answer.ServicePrincipalID != spID || o.answer.Status != "saved" || o.answer.GraphRequestID == "" {
					t.Errorf("success outcome %v %+v, want the HTTP answer for %s", props, o.answer, spID)
				}
				if o.ContentType != "application/json" {
					t.Errorf("content type %q", o.ContentType)
				}
			} else {
				if o.problem.Type != tt.problem || o.problem.Status != int(tt.status) || o.problem.Detail == "" {
					t.Errorf("failure outcome body %+v, want a %s problem document", o.problem, tt.problem)
				}
				if o.ContentType != "application/problem+json" {
					t.Errorf("content type %q", o.ContentType)
				}
			}
			if logs := f.logs(); !strings.Contains(logs, `"outcomeTo":"`+tt.queue+`"`) || !strings.Contains(logs, `"outcomeSent":true`) {
				t.Errorf("the invocation log does not record the outcome:\n%s", logs)
			}
		})
	}
}

// TestFunctionPermanentFailureWithoutDestination: nowhere to report it, the
// invocation fails so Service Bus dead-letters the message after
// MaxDeliveryCount.
func TestFunctionPermanentFailureWithoutDestination(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	f := start(t, settings{"ServiceBusConnection": b.ConnectionString()})
	res := f.sb(doc("not-a-guid", literal("BaseAddress", f.literal(""))), host.Message{MessageID: "req-1"})
	if !res.Failed {
		t.Fatal("a permanent failure without a destination succeeded: the message would be dropped")
	}
	logs := f.logs()
	if !strings.Contains(logs, `"settlement":"deadLetter"`) || !strings.Contains(logs, `"status":400`) {
		t.Errorf("log lacks the dead-letter settlement:\n%s", logs)
	}
	if n := b.Stats().TotalConnections; n != 0 {
		t.Errorf("the handler connected to Service Bus %d times with nothing to send", n)
	}
}

// TestFunctionOutcomeSendFailure: an outcome that cannot be sent fails the
// invocation, so the request is redelivered; the redelivery reports it.
func TestFunctionOutcomeSendFailure(t *testing.T) {
	t.Parallel()
	ctx := waitContext(t)
	b := startBroker(t, "replies")
	b.FailSends("replies", "amqp:not-found")
	f := start(t, settings{"ServiceBusConnection": b.ConnectionString()})
	base := f.literal("BaseAddress")
	d := doc(spID, literal("BaseAddress", base))
	res := f.sb(d, host.Message{MessageID: "req-1", ReplyTo: "replies", DeliveryCount: 1})
	if !res.Failed {
		t.Fatal("the invocation succeeded although its outcome was not sent")
	}
	b.ClearFaults("replies")
	res = f.sb(d, host.Message{MessageID: "req-1", ReplyTo: "replies", DeliveryCount: 2})
	if res.Failed {
		t.Fatalf("the redelivery failed: %s", res.Reason)
	}
	msgs := recordMessages(t, "outcome", b.WaitForMessages(ctx, "replies", 1))
	if len(msgs) != 1 || msgs[0].Subject != "PutSecrets.Succeeded" || msgs[0].CorrelationID != "req-1" {
		t.Errorf("replies = %+v, want one success outcome for req-1", msgs)
	}
	f.expectSaved(spID, []graph.KeyValue{{Key: "BaseAddress", Value: base}})
	logs := f.logs()
	if !strings.Contains(logs, `"outcomeSent":false`) || !strings.Contains(logs, "amqp:not-found") || !strings.Contains(logs, `"settlement":"abandon"`) {
		t.Errorf("the first invocation's log does not say the outcome was not sent:\n%s", logs)
	}
}

// TestFunctionForgedReplyTo: a body field "ReplyTo" shadows the message's
// ReplyTo in the host's metadata; it never redirects the outcome.
func TestFunctionForgedReplyTo(t *testing.T) {
	t.Parallel()
	ctx := waitContext(t)
	b := startBroker(t, "replies", "results")
	f := start(t, settings{"ServiceBusConnection": b.ConnectionString(), "PUTSECRETS_RESULTS_QUEUE": "results"})
	d := doc(spID, literal("BaseAddress", f.literal("")))
	d["ReplyTo"] = "attacker"
	res := f.sb(d, host.Message{MessageID: "req-1", ReplyTo: "replies"})
	if res.Failed {
		t.Fatalf("invocation failed: %s", res.Reason)
	}
	var env struct{ Metadata map[string]json.RawMessage }
	if err := json.Unmarshal(res.Request, &env); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(env.Metadata["ReplyTo"]), "attacker") {
		t.Fatalf("the emulated host did not promote the body's ReplyTo into Metadata: %s", env.Metadata["ReplyTo"])
	}
	msgs := recordMessages(t, "outcome", b.WaitForMessages(ctx, "results", 1))
	if len(msgs) != 1 || msgs[0].Subject != "PutSecrets.Failed" {
		t.Errorf("results = %+v, want the failure outcome (the body's unknown field)", msgs)
	}
	if _, ok := b.Stats().Queues["attacker"]; ok {
		t.Error("the handler sent to the queue a body field named")
	}
	if n := len(b.Messages("replies")); n != 0 {
		t.Errorf("replies holds %d messages: a shadowed ReplyTo was trusted", n)
	}
	if logs := f.logs(); !strings.Contains(logs, `"shadowedProperties":["ReplyTo"]`) {
		t.Errorf("the log does not say ReplyTo was shadowed:\n%s", logs)
	}
}

// azureOnly is a fake Azure without a Functions host, for the commands.
func azureOnly(t *testing.T) *fixture {
	f := &fixture{t: t, env: azure.Start(t), cloud: clouds["AzurePublic"], belongs: map[string]string{}, stored: map[string]string{}}
	f.env.Graph.AddServicePrincipal(spID)
	t.Cleanup(f.checkGraphPlacement)
	return f
}

// process is the handler run as a command.
type process struct {
	t              *testing.T
	label          string
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	mu             sync.Mutex
	done           chan struct{}
	err            error
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// command starts the handler with the fake Azure's wiring, the settings and args.
func (f *fixture) command(s settings, stdin []byte, args ...string) *process {
	f.t.Helper()
	p := &process{t: f.t, label: f.t.Name() + " handler " + args[0], done: make(chan struct{})}
	p.cmd = exec.Command(filepath.Join(appDir, "handler"), args...)
	p.cmd.Dir = f.t.TempDir()
	p.cmd.Env = append(f.env.HandlerEnv(), "PUTSECRETS_ALLOWED_VAULTS="+vault)
	for k, v := range s {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	if stdin != nil {
		p.cmd.Stdin = bytes.NewReader(stdin)
	}
	p.cmd.Stdout = lockedWriter{&p.mu, &p.stdout}
	p.cmd.Stderr = lockedWriter{&p.mu, &p.stderr}
	if err := p.cmd.Start(); err != nil {
		f.t.Fatalf("start handler %s: %v", args[0], err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	f.t.Cleanup(func() { p.stop() })
	return p
}

// stop sends SIGTERM, waits for the exit, records the output for the canary
// check and returns the exit code.
func (p *process) stop() int {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			p.t.Errorf("%s did not exit within 30 s of SIGTERM", p.label)
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	return p.wait()
}

// wait waits for the exit and returns the exit code.
func (p *process) wait() int {
	<-p.done
	outputs.add(p.label+" stdout", p.out())
	outputs.add(p.label+" stderr", p.errOut())
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		return exit.ExitCode()
	}
	if p.err != nil {
		p.t.Errorf("%s: %v", p.label, p.err)
		return -1
	}
	return 0
}

func (p *process) out() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

func (p *process) errOut() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// enqueue runs `handler enqueue` on the document (from stdin) and returns
// its exit code.
func (f *fixture) enqueue(s settings, d any, args ...string) (int, *process) {
	f.t.Helper()
	p := f.command(s, encode(f.t, d), append([]string{"enqueue", "--file", "-"}, args...)...)
	return p.wait(), p
}

// TestEnqueueCommand runs `handler enqueue` as a process: an invalid
// document is refused without sending, a valid one arrives with its
// properties.
func TestEnqueueCommand(t *testing.T) {
	t.Parallel()
	ctx := waitContext(t)
	b := startBroker(t, "requests")
	f := azureOnly(t)
	sb := settings{"ServiceBusConnection": b.ConnectionString(), "PUTSECRETS_QUEUE": "requests"}

	bad := doc("not-a-guid", literal("SecretToken", f.literal("")), uri("Password", "https://evil-kv.vault.azure.net/secrets/x"))
	code, p := f.enqueue(sb, bad)
	if code == 0 {
		t.Fatal("enqueue of an invalid document exited 0")
	}
	for _, w := range []string{"servicePrincipalId:", "secrets[0].value:", "secrets[1].secretUri:", "nothing was sent"} {
		if !strings.Contains(p.errOut(), w) {
			t.Errorf("stderr lacks %q:\n%s", w, p.errOut())
		}
	}
	if n := b.Stats().TotalConnections; n != 0 {
		t.Errorf("enqueue of an invalid document connected to Service Bus (%d connections)", n)
	}

	good := encode(t, doc(spID, uri("SecretToken", f.kvSecret("scim-token", ""))))
	code, p = f.enqueue(sb, good, "--reply-to", "replies", "--correlation-id", "build-7")
	if code != 0 {
		t.Fatalf("enqueue exited %d: %s", code, p.errOut())
	}
	var printed struct{ MessageID, SessionID, Queue string }
	if err := json.Unmarshal([]byte(p.out()), &printed); err != nil {
		t.Fatalf("enqueue printed %q: %v", p.out(), err)
	}
	msgs := recordMessages(t, "request", b.WaitForMessages(ctx, "requests", 1))
	if len(msgs) != 1 {
		t.Fatalf("requests holds %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if !bytes.Equal(m.Body, good) || m.ContentType != "application/json" || m.MessageID != printed.MessageID || len(m.MessageID) != 36 ||
		m.CorrelationID != "build-7" || m.ReplyTo != "replies" || m.SessionID != spID || printed.Queue != "requests" {
		t.Errorf("message sent: id %q correlation %q reply-to %q session %q content type %q body %d bytes; printed %+v",
			m.MessageID, m.CorrelationID, m.ReplyTo, m.SessionID, m.ContentType, len(m.Body), printed)
	}
}

// TestWorkerCommand runs `handler worker` as a process against the broker
// and the fake Azure: it completes a good message, dead-letters bad ones with
// a readable reason, abandons a transient failure and processes it on
// redelivery.
func TestWorkerCommand(t *testing.T) {
	t.Parallel()
	ctx := waitContext(t)
	b := startBroker(t, "requests", "replies")
	f := azureOnly(t)
	f.env.Graph.AddServicePrincipal(sp2)
	sb := settings{"ServiceBusConnection": b.ConnectionString(), "PUTSECRETS_QUEUE": "requests"}

	// Good, reported to replies.
	token := f.kvSecret("scim-token", "SecretToken")
	if code, p := f.enqueue(sb, doc(spID, uri("SecretToken", token)), "--reply-to", "replies", "--message-id", "good"); code != 0 {
		t.Fatalf("enqueue: %s", p.errOut())
	}
	// Transient once (503 with a Retry-After beyond azcore's cap), then saved.
	f.env.Graph.Script(sp2, graph.Response{Status: 503, RetryAfter: "120"})
	base := f.literal("BaseAddress")
	if code, p := f.enqueue(sb, doc(sp2, literal("BaseAddress", base)), "--reply-to", "replies", "--message-id", "flaky"); code != 0 {
		t.Fatalf("enqueue: %s", p.errOut())
	}
	// Permanent with nowhere to report: a secret that does not exist (valid
	// locally, refused by Key Vault), and a document enqueue would refuse,
	// sent by another client.
	if code, p := f.enqueue(sb, doc(spID, uri("SecretToken", "https://contoso-kv.vault.azure.net/secrets/missing")), "--message-id", "missing"); code != 0 {
		t.Fatalf("enqueue: %s", p.errOut())
	}
	sendRaw(ctx, t, b, "requests", "invalid", `{"servicePrincipalId":"`+spID+`","secrets":[{"key":"Bogus","value":"x"}]}`)

	w := f.command(sb, nil, "worker", "--concurrency", "4")
	replies := recordMessages(t, "outcome", b.WaitForMessages(ctx, "replies", 2))
	dead := recordMessages(t, "dead letter", b.WaitForDeadLetters(ctx, "requests", 2))
	if code := w.stop(); code != 0 {
		t.Errorf("worker exit code after SIGTERM = %d, want 0: %s", code, w.errOut())
	}

	got := map[string]string{}
	for _, r := range replies {
		got[r.CorrelationID] = r.Subject
	}
	if got["good"] != "PutSecrets.Succeeded" || got["flaky"] != "PutSecrets.Succeeded" {
		t.Errorf("outcomes %v, want success for good and flaky", got)
	}
	reasons := map[string]string{}
	for _, d := range dead {
		reasons[d.MessageID] = d.DeadLetterReason + ": " + d.DeadLetterErrorDescription
	}
	if r := reasons["invalid"]; !strings.HasPrefix(r, "Invalid request: ") || !strings.Contains(r, "secrets[0].key") {
		t.Errorf("invalid dead-lettered as %q, want reason Invalid request naming secrets[0].key", r)
	}
	if r := reasons["missing"]; !strings.HasPrefix(r, "Secrets not accepted: ") || !strings.Contains(r, `secret "missing"`) {
		t.Errorf("missing dead-lettered as %q, want reason Secrets not accepted naming the secret", r)
	}
	if n := len(b.Messages("requests")); n != 0 {
		t.Errorf("requests holds %d messages after the drain, want 0", n)
	}
	stats := b.Queue("requests").Stats
	if stats["completed"] != 2 || stats["abandoned"] != 1 || stats["deadLettered"] != 2 {
		t.Errorf("broker stats %v, want 2 completed, 1 abandoned, 2 dead-lettered", stats)
	}
	var sp2Puts []int
	for _, c := range f.putCalls() {
		if strings.Contains(c.Path, sp2) {
			sp2Puts = append(sp2Puts, c.Status)
		}
	}
	if fmt.Sprint(sp2Puts) != "[503 204]" {
		t.Errorf("Graph PUT statuses for the transient request = %v, want [503 204]", sp2Puts)
	}
	f.expectSaved(sp2, []graph.KeyValue{{Key: "BaseAddress", Value: base}})
	logs := w.out()
	for _, want := range []string{`"settlement":"abandon"`, `"settlement":"deadLetter"`, `"deliveryCount":2`, `"msg":"worker stopped: in-flight messages settled"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("worker log lacks %s", want)
		}
	}
}

// TestWorkerSessions: with --sessions, each service principal's updates
// (enqueued with the default SessionId, the service principal ID) apply in
// order, two service principals in parallel.
func TestWorkerSessions(t *testing.T) {
	t.Parallel()
	ctx := waitContext(t)
	b := startBroker(t, "ordered-requests", "replies")
	f := azureOnly(t)
	f.env.Graph.AddServicePrincipal(sp2)
	sb := settings{"ServiceBusConnection": b.ConnectionString(), "PUTSECRETS_QUEUE": "ordered-requests"}

	// Three updates per service principal, interleaved; each sets BaseAddress
	// to its own canary so Graph's request order shows the processing order.
	want := map[string][]string{}
	for i := range 3 {
		for _, sp := range []string{spID, sp2} {
			v := f.literal("BaseAddress")
			want[sp] = append(want[sp], v)
			if code, p := f.enqueue(sb, doc(sp, literal("BaseAddress", v)), "--reply-to", "replies", "--message-id", fmt.Sprintf("%s-%d", sp[:4], i)); code != 0 {
				t.Fatalf("enqueue: %s", p.errOut())
			}
		}
	}
	// The first update of spID is slow; sp2's session must not wait for it.
	f.env.Graph.Script(spID, graph.Response{Delay: 2 * time.Second})
	w := f.command(sb, nil, "worker", "--sessions", "--concurrency", "2", "--session-idle", "500ms")
	if err := f.env.Graph.Await(ctx, func(cs []graph.Call) bool {
		var slow, other bool
		for _, c := range cs {
			slow = slow || strings.Contains(c.Path, spID) && !c.Done
			other = other || strings.Contains(c.Path, sp2) && c.Done
		}
		return slow && other
	}); err != nil {
		t.Fatalf("sp2's update never completed while spID's first was in flight: sessions are not served in parallel (%v)", err)
	}
	recordMessages(t, "outcome", b.WaitForMessages(ctx, "replies", 6))
	if code := w.stop(); code != 0 {
		t.Errorf("worker exit code after SIGTERM = %d: %s", code, w.errOut())
	}
	for _, sp := range []string{spID, sp2} {
		var order []int
		for _, c := range f.putCalls() {
			if !strings.Contains(c.Path, sp) {
				continue
			}
			var body struct{ Value []graph.KeyValue }
			_ = json.Unmarshal(c.Body, &body)
			for i, v := range want[sp] {
				if len(body.Value) == 1 && body.Value[0].Value == v {
					order = append(order, i)
				}
			}
		}
		if fmt.Sprint(order) != "[0 1 2]" {
			t.Errorf("service principal %s: updates applied in order %v, want [0 1 2]", sp, order)
		}
		f.expectSaved(sp, []graph.KeyValue{{Key: "BaseAddress", Value: want[sp][2]}})
	}
}

// TestWorkerDrainsOnSIGTERM: SIGTERM while a PUT is in flight lets it finish,
// publishes its outcome and completes the message before the worker exits 0.
func TestWorkerDrainsOnSIGTERM(t *testing.T) {
	t.Parallel()
	ctx := waitContext(t)
	b := startBroker(t, "requests", "replies")
	f := azureOnly(t)
	sb := settings{"ServiceBusConnection": b.ConnectionString(), "PUTSECRETS_QUEUE": "requests", "PUTSECRETS_RESULTS_QUEUE": "replies"}
	f.env.Graph.Script(spID, graph.Response{Delay: 1500 * time.Millisecond})
	base := f.literal("BaseAddress")
	if code, p := f.enqueue(sb, doc(spID, literal("BaseAddress", base))); code != 0 {
		t.Fatalf("enqueue: %s", p.errOut())
	}
	w := f.command(sb, nil, "worker")
	if err := f.env.Graph.Await(ctx, func(cs []graph.Call) bool { return len(cs) > 0 }); err != nil {
		t.Fatalf("the PUT never reached Graph: %v", err)
	}
	if code := w.stop(); code != 0 {
		t.Errorf("worker exit code after SIGTERM = %d: %s", code, w.errOut())
	}
	if n := len(recordMessages(t, "outcome", b.Messages("replies"))); n != 1 {
		t.Errorf("replies holds %d outcomes after the drain, want 1", n)
	}
	if n := b.Queue("requests").Stats["completed"]; n != 1 {
		t.Errorf("%d completed, want 1", n)
	}
	f.expectSaved(spID, []graph.KeyValue{{Key: "BaseAddress", Value: base}})
}

// sendRaw sends a body as another client would, without enqueue's checks.
func sendRaw(ctx context.Context, t *testing.T, b *sbbroker.Broker, queue, id, body string) {
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
	if err := s.SendMessage(ctx, &azservicebus.Message{MessageID: &id, Body: []byte(body)}, nil); err != nil {
		t.Fatalf("send: %v", err)
	}
}
