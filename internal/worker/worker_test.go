package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/google/go-cmp/cmp"

	"github.com/putsecrets/putsecrets/internal/config"
	"github.com/putsecrets/putsecrets/internal/problem"
	"github.com/putsecrets/putsecrets/internal/provision"
	"github.com/putsecrets/putsecrets/internal/request"
	"github.com/putsecrets/putsecrets/internal/servicebus"
	"github.com/putsecrets/putsecrets/internal/settle"
	"github.com/putsecrets/putsecrets/standin/sbbroker"
)

// The fake's request bodies are {"id":"…","do":"…"}; "do" says what Put does.
type body struct {
	ID string `json:"id"`
	Do string `json:"do"` // ok, bad, flaky (503 on its first delivery), block (wait for release)
}

// fake is a provision.Putter that records every call in order.
type fake struct {
	mu      sync.Mutex
	calls   []string // ids, in call order
	flaked  map[string]bool
	started chan string   // receives the id of every blocking call
	release chan struct{} // closed to release blocking calls
	// gate, when set, holds the call for the id until it is closed.
	gate map[string]chan struct{}
}

func newFake() *fake {
	return &fake{flaked: map[string]bool{}, started: make(chan string, 16), release: make(chan struct{}), gate: map[string]chan struct{}{}}
}

func (f *fake) Put(ctx context.Context, b []byte) (*provision.Result, error) {
	var req body
	if err := json.Unmarshal(b, &req); err != nil {
		return &provision.Result{}, &request.Error{Problems: []request.Problem{{Message: "not JSON"}}}
	}
	f.mu.Lock()
	f.calls = append(f.calls, req.ID)
	g := f.gate[req.ID]
	first := !f.flaked[req.ID]
	f.flaked[req.ID] = true
	f.mu.Unlock()
	if g != nil {
		select {
		case <-g:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	res := &provision.Result{ServicePrincipalID: "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c", APIVersion: "v1.0", Keys: []string{"BaseAddress"}}
	switch req.Do {
	case "bad":
		return res, &request.Error{Problems: []request.Problem{{Field: "secrets[0].key", Message: `unknown key "Bogus"`}}}
	case "flaky":
		if first {
			return res, problem.New(503, "Microsoft Graph stayed throttled or unavailable after retries (503); retry later.")
		}
	case "block":
		f.started <- req.ID
		select {
		case <-f.release:
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	res.Status = provision.StatusSaved
	return res, nil
}

func (f *fake) callsOf(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// env is a broker, a client on it, and a processor around a fake.
type env struct {
	b    *sbbroker.Broker
	sb   *servicebus.Client
	fake *fake
	proc *settle.Processor
	logs *syncBuffer
}

func setup(t *testing.T) *env {
	t.Helper()
	b := sbbroker.Start(t)
	c, err := servicebus.New(config.ServiceBus{ConnectionString: b.ConnectionString()}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	b.CreateQueue("results", sbbroker.QueueOptions{})
	b.CreateQueue("replies", sbbroker.QueueOptions{})
	f := newFake()
	return &env{b: b, sb: c, fake: f, proc: settle.NewProcessor(f, settle.Options{Outcomes: c, ResultsQueue: "results"}), logs: &syncBuffer{}}
}

// start runs the worker until the returned stop is called; stop returns Run's error.
func (e *env) start(t *testing.T, o Options) (stop func() error) {
	t.Helper()
	o.Client, o.Processor = e.sb.SDK(), e.proc
	o.Logger = slog.New(slog.NewJSONHandler(e.logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, o) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				err = errors.New("Run did not return within 60 s of its context ending")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func (e *env) send(ctx context.Context, t *testing.T, q string, msgs ...*azservicebus.Message) {
	t.Helper()
	for _, m := range msgs {
		if err := e.sb.Send(ctx, q, m); err != nil {
			t.Fatalf("send to %s: %v", q, err)
		}
	}
}

func msg(id, do, session string) *azservicebus.Message {
	b, _ := json.Marshal(body{ID: id, Do: do})
	m := &azservicebus.Message{MessageID: &id, Body: b}
	if session != "" {
		m.SessionID = &session
	}
	return m
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestSettlements: complete, dead-letter with a readable reason, abandon a
// transient failure and process it on redelivery.
func TestSettlements(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := testContext(t)
	e.b.CreateQueue("requests", sbbroker.QueueOptions{MaxDeliveryCount: 5})
	e.proc = settle.NewProcessor(e.fake, settle.Options{Outcomes: e.sb}) // no results queue: a bad request has nowhere to go
	good, flaky := msg("good", "ok", ""), msg("flaky", "flaky", "")
	good.ReplyTo, flaky.ReplyTo = ptr("replies"), ptr("replies")
	e.send(ctx, t, "requests", good, msg("bad", "bad", ""), flaky)
	stop := e.start(t, Options{Queue: "requests", Concurrency: 4})

	replies := e.b.WaitForMessages(ctx, "replies", 2)
	dead := e.b.WaitForDeadLetters(ctx, "requests", 1)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := len(e.b.Messages("requests")); n != 0 {
		t.Errorf("request queue holds %d messages after the drain, want 0", n)
	}
	var got []string
	for _, r := range replies {
		got = append(got, r.CorrelationID+" "+r.Subject)
	}
	if diff := cmp.Diff([]string{"good PutSecrets.Succeeded", "flaky PutSecrets.Succeeded"}, got, sortStrings); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if len(dead) != 1 || dead[0].MessageID != "bad" || dead[0].DeadLetterReason != "Invalid request" ||
		!strings.Contains(dead[0].DeadLetterErrorDescription, `secrets[0].key: unknown key "Bogus"`) {
		t.Errorf("dead letters = %+v, want bad with reason Invalid request and the field problem", dead)
	}
	if diff := cmp.Diff([]string{"flaky", "flaky"}, e.fake.callsOf("flaky")); diff != "" {
		t.Errorf("flaky calls (-want +got):\n%s", diff)
	}
	stats := e.b.Queue("requests").Stats
	if stats["completed"] != 2 || stats["abandoned"] != 1 || stats["deadLettered"] != 1 {
		t.Errorf("broker stats %v, want 2 completed, 1 abandoned, 1 dead-lettered", stats)
	}
	logs := e.logs.String()
	for _, want := range []string{`"settlement":"deadLetter"`, `"settlement":"abandon"`, `"deliveryCount":2`, `"outcomeTo":"replies"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

// TestOutcomeNotSent: a message whose outcome cannot be sent is abandoned,
// never completed, until Service Bus dead-letters it.
func TestOutcomeNotSent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := testContext(t)
	e.b.CreateQueue("requests", sbbroker.QueueOptions{MaxDeliveryCount: 2})
	e.b.CreateQueue("results", sbbroker.QueueOptions{})
	e.b.FailSends("results", "amqp:not-found")
	e.send(ctx, t, "requests", msg("m1", "ok", ""))
	stop := e.start(t, Options{Queue: "requests", Concurrency: 1})
	dead := e.b.WaitForDeadLetters(ctx, "requests", 1)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(dead) != 1 || dead[0].DeadLetterReason != "MaxDeliveryCountExceeded" {
		t.Errorf("dead letters = %+v, want m1 after MaxDeliveryCount", dead)
	}
	if n := e.b.Queue("requests").Stats["completed"]; n != 0 {
		t.Errorf("%d completed, want 0", n)
	}
	if logs := e.logs.String(); !strings.Contains(logs, `"outcomeSent":false`) || !strings.Contains(logs, "amqp:not-found") {
		t.Errorf("logs do not say the outcome was not sent:\n%s", logs)
	}
}

// TestSessions: per-session order (an abandoned message included), sessions
// in parallel, and idle sessions released so that two slots serve three.
func TestSessions(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := testContext(t)
	e.b.CreateQueue("ordered", sbbroker.QueueOptions{RequiresSession: true, MaxDeliveryCount: 5, SessionAcceptTimeout: 500 * time.Millisecond})
	// A-1 is held until B-1 was processed: only parallel sessions get past it.
	gate := make(chan struct{})
	e.fake.gate["A-1"] = gate
	var msgs []*azservicebus.Message
	for i := 1; i <= 3; i++ {
		for _, s := range []string{"A", "B", "C"} {
			do := "ok"
			if s == "A" && i == 2 {
				do = "flaky" // abandoned once, then processed before A-3
			}
			msgs = append(msgs, msg(fmt.Sprintf("%s-%d", s, i), do, s))
		}
	}
	e.send(ctx, t, "ordered", msgs...)
	stop := e.start(t, Options{Queue: "ordered", Concurrency: 2, Sessions: true, SessionIdleTimeout: 300 * time.Millisecond})

	// A's session holds A-1 in one slot; the other slot serves B: the first
	// outcome is B-1's, and only parallel sessions get there.
	if first := e.b.WaitForMessages(ctx, "results", 1); len(first) == 0 || first[0].CorrelationID != "B-1" {
		t.Fatalf("first outcome = %+v, want B-1's while A-1 is held", first)
	}
	close(gate)
	e.b.WaitForMessages(ctx, "results", 9)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := map[string][]string{
		"A": {"A-1", "A-2", "A-2", "A-3"},
		"B": {"B-1", "B-2", "B-3"},
		"C": {"C-1", "C-2", "C-3"},
	}
	for s, w := range want {
		if diff := cmp.Diff(w, e.fake.callsOf(s+"-")); diff != "" {
			t.Errorf("session %s processing order (-want +got):\n%s", s, diff)
		}
	}
	if n := len(e.b.Messages("ordered")); n != 0 {
		t.Errorf("session queue holds %d messages, want 0", n)
	}
}

// TestDrain: when the context ends, the worker stops receiving, finishes
// the message in flight, settles it and returns.
func TestDrain(t *testing.T) {
	t.Parallel()
	for _, sessions := range []bool{false, true} {
		t.Run(fmt.Sprintf("sessions=%v", sessions), func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			ctx := testContext(t)
			e.b.CreateQueue("requests", sbbroker.QueueOptions{RequiresSession: sessions})
			session := ""
			if sessions {
				session = "s"
			}
			e.send(ctx, t, "requests", msg("first", "block", session))
			stop := e.start(t, Options{Queue: "requests", Concurrency: 1, Sessions: sessions})
			<-e.fake.started
			stopped := make(chan error, 1)
			go func() { stopped <- stop() }()
			// Not yet: the message in flight holds the worker.
			e.send(ctx, t, "requests", msg("second", "ok", session))
			close(e.fake.release)
			if err := <-stopped; err != nil {
				t.Fatalf("Run: %v", err)
			}
			left := e.b.Messages("requests")
			if len(left) != 1 || left[0].MessageID != "second" || left[0].DeliveryCount != 0 {
				t.Errorf("queue after the drain = %+v, want only second, never delivered", left)
			}
			if got := e.fake.callsOf(""); !cmp.Equal(got, []string{"first"}) {
				t.Errorf("processed %v, want only first", got)
			}
			if n := e.b.Queue("requests").Stats["completed"]; n != 1 {
				t.Errorf("%d completed, want 1 (the message in flight, settled during the drain)", n)
			}
		})
	}
}

// TestConcurrency: at most Concurrency messages are in flight.
func TestConcurrency(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := testContext(t)
	e.b.CreateQueue("requests", sbbroker.QueueOptions{})
	for i := range 5 {
		e.send(ctx, t, "requests", msg(fmt.Sprint("m", i), "block", ""))
	}
	stop := e.start(t, Options{Queue: "requests", Concurrency: 3})
	for range 3 {
		<-e.fake.started
	}
	locked := e.b.WaitForMessages(ctx, "requests", 5)
	n := 0
	for _, m := range locked {
		if m.State == "locked" {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d messages locked with concurrency 3, want 3", n)
	}
	close(e.fake.release)
	e.b.WaitForMessages(ctx, "results", 5)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestLockRenewal: a message processed for longer than its lock keeps it.
func TestLockRenewal(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := testContext(t)
	e.b.CreateQueue("requests", sbbroker.QueueOptions{LockDuration: time.Second})
	e.send(ctx, t, "requests", msg("slow", "block", ""))
	stop := e.start(t, Options{Queue: "requests", Concurrency: 1})
	<-e.fake.started
	first := e.b.Messages("requests")[0].LockedUntil
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for e.b.Messages("requests")[0].LockedUntil.Equal(first) {
		select {
		case <-ctx.Done():
			t.Fatal("the lock was never renewed")
		case <-tick.C:
		}
	}
	close(e.fake.release)
	e.b.WaitForMessages(ctx, "results", 1)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := e.b.Queue("requests").Stats["completed"]; n != 1 {
		t.Errorf("%d completed, want 1", n)
	}
}

// TestFatal: mistakes that retrying cannot fix end Run with a hint.
func TestFatal(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.b.CreateQueue("plain", sbbroker.QueueOptions{})
	e.b.CreateQueue("sessions", sbbroker.QueueOptions{RequiresSession: true})
	tests := []struct {
		name     string
		queue    string
		sessions bool
		want     string
	}{
		{"receiver without sessions on a session queue", "sessions", false, "--sessions"},
		{"session receiver on a queue without sessions", "plain", true, "--sessions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			err := Run(ctx, Options{Client: e.sb.SDK(), Processor: e.proc, Queue: tt.queue, Sessions: tt.sessions, Concurrency: 2})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.queue) {
				t.Errorf("Run: %v, want an error naming the queue and %s", err, tt.want)
			}
		})
	}
}

var sortStrings = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

func ptr[T any](v T) *T { return &v }

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
