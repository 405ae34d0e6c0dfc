package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/putsecrets/putsecrets/internal/graph"
	"github.com/putsecrets/putsecrets/internal/provision"
	"github.com/putsecrets/putsecrets/internal/request"
	"github.com/putsecrets/putsecrets/internal/settle"
)

// parser is a Putter that only parses the document, as provision.Service
// does first.
type parser struct{}

func (parser) Put(_ context.Context, body []byte) (*provision.Result, error) {
	_, err := request.Parse(body, nil)
	if err != nil {
		return &provision.Result{}, err
	}
	return &provision.Result{Status: provision.StatusDryRun}, nil
}

// outcomes records the outcome messages published.
type outcomes struct {
	mu   sync.Mutex
	sent []*settle.Outcome
}

func (o *outcomes) Publish(_ context.Context, m *settle.Outcome) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, m)
	return nil
}

// xs streams n bytes of 'x'.
type xs struct{ n int64 }

func (r *xs) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	k := int(min(int64(len(p)), r.n))
	for i := range k {
		p[i] = 'x'
	}
	r.n -= int64(k)
	return k, nil
}

// hugeDoc is the head and tail of a request document whose "pad" string
// holds the padding between them.
const (
	hugeHead = `{"servicePrincipalId":"6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c","secrets":[{"key":"SyncAll","value":false}],"pad":"`
	hugeTail = `"}`
)

// TestHugeEnvelopes: an envelope of any size around a body over 64 KiB is a
// 400 for an HTTP caller, and through the queue a permanent failure whose
// outcome reaches the message's ReplyTo; it is read as a stream (the test
// streams it too: nothing holds 100 MiB).
func TestHugeEnvelopes(t *testing.T) {
	t.Parallel()
	sent := &outcomes{}
	srv := httptest.NewServer(New(Options{
		Logger: slog.New(slog.DiscardHandler), Service: parser{}, InvocationTimeout: time.Minute,
		Queue: settle.NewProcessor(parser{}, settle.Options{Outcomes: sent}),
	}))
	defer srv.Close()
	md := `"Metadata":{"MessageId":"\"m-huge\"","ReplyTo":"\"replies\"","CorrelationId":"\"run-9\"","DeliveryCount":"1"}`
	for _, size := range []int64{11 << 20 / 10, 100 << 20} {
		for _, first := range []bool{false, true} {
			name := fmt.Sprintf("%dMiB/metadataFirst=%v", size>>20, first)
			t.Run("http/"+name, func(t *testing.T) {
				pre, tail := `{"Data":{"req":{"Method":"POST","Headers":{},"Body":"`+strings.ReplaceAll(hugeHead, `"`, `\"`), strings.ReplaceAll(hugeTail, `"`, `\"`)+`"}}`
				if first {
					pre = `{"Metadata":{},` + pre[1:]
				}
				status, answer := post(t, srv, FunctionHTTP, io.MultiReader(strings.NewReader(pre), &xs{size}, strings.NewReader(tail+"}")))
				res := callerAnswer(t, status, answer)
				if res.StatusCode != 400 || !strings.Contains(res.Body, "larger than 65536 bytes") {
					t.Errorf("caller got %d %s, want 400 saying the body is too large", res.StatusCode, res.Body)
				}
			})
			t.Run("queue/"+name, func(t *testing.T) {
				esc := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) }
				pre, tail := `"`+esc(`"`+esc(hugeHead)), esc(esc(hugeTail)+`"`)+`"`
				var env io.Reader
				if first {
					env = io.MultiReader(strings.NewReader(`{`+md+`,"Data":{"message":`+pre), &xs{size}, strings.NewReader(tail+`}}`))
				} else {
					env = io.MultiReader(strings.NewReader(`{"Data":{"message":`+pre), &xs{size}, strings.NewReader(tail+`},`+md+`}`))
				}
				status, _ := post(t, srv, FunctionQueue, env)
				if status != 200 {
					t.Fatalf("handler answered %d, want 200 (a permanent failure with an outcome completes the message)", status)
				}
				sent.mu.Lock()
				defer sent.mu.Unlock()
				o := sent.sent[len(sent.sent)-1]
				sent.sent = nil
				if o.To != "replies" || o.CorrelationID != "run-9" || o.Subject != settle.SubjectFailed ||
					!strings.Contains(string(o.Body), "larger than 65536 bytes") {
					t.Errorf("outcome to %q, correlation %q, subject %q, body %.200s", o.To, o.CorrelationID, o.Subject, o.Body)
				}
			})
		}
	}
}

// post sends an envelope as the host does, chunked.
func post(t *testing.T, srv *httptest.Server, function string, body io.Reader) (int, map[string]json.RawMessage) {
	t.Helper()
	resp, err := srv.Client().Post(srv.URL+"/"+function, "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("the answer to the host is not JSON: %v", err)
	}
	return resp.StatusCode, a
}

// TestArgumentErrorsArePermanent: a request the graph client refuses to
// send (its ArgumentError) is a 400 through the queue too: the message is
// completed with a failed outcome, not redelivered.
func TestArgumentErrorsArePermanent(t *testing.T) {
	t.Parallel()
	sent := &outcomes{}
	refuse := putterFunc(func(context.Context, []byte) (*provision.Result, error) {
		return &provision.Result{}, &provision.StageError{Stage: provision.StageStartJob, Dependency: provision.DependencyGraph,
			Fields: []string{"job.id"}, Err: graphArgumentError(t)}
	})
	srv := httptest.NewServer(New(Options{Logger: slog.New(slog.DiscardHandler), Service: refuse, InvocationTimeout: time.Minute,
		Queue: settle.NewProcessor(refuse, settle.Options{Outcomes: sent, ResultsQueue: "results"})}))
	defer srv.Close()
	status, _ := post(t, srv, FunctionQueue, strings.NewReader(string(queueEnvelope(t, requestDoc("v")))))
	if status != 200 || len(sent.sent) != 1 || sent.sent[0].ApplicationProperties[settle.PropStatus] != int32(400) {
		t.Errorf("handler answered %d with %d outcomes, want 200 and one failed outcome of status 400", status, len(sent.sent))
	}
}

// graphArgumentError is the error a real graph client returns for a job ID
// it refuses to put in a path; nothing is sent.
func graphArgumentError(t *testing.T) error {
	t.Helper()
	c, err := graph.NewClient("https://graph.microsoft.com", noCredential{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.StartJob(context.Background(), graph.APIVersionV1, "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c", "..")
	if _, ok := errors.AsType[*graph.ArgumentError](err); !ok {
		t.Fatalf("StartJob with job ID \"..\" = %v, want a *graph.ArgumentError", err)
	}
	return err
}

// noCredential fails every token request; the calls under test never ask.
type noCredential struct{}

func (noCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errors.New("no token in this test")
}

type putterFunc func(context.Context, []byte) (*provision.Result, error)

func (f putterFunc) Put(ctx context.Context, b []byte) (*provision.Result, error) { return f(ctx, b) }

// TestStalledBodies: connections that stall in the middle of an invocation
// request's body are cut after the body read timeout: their goroutines end,
// and a graceful shutdown with such connections open returns nil.
func TestStalledBodies(t *testing.T) {
	const conns = 200
	start := func(t *testing.T, bodyTimeout time.Duration, active *atomic.Int32) (*http.Server, string, chan error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{
			Handler: New(Options{Logger: slog.New(slog.DiscardHandler), Service: parser{}, InvocationTimeout: time.Minute,
				Queue: settle.NewProcessor(parser{}, settle.Options{}), BodyReadTimeout: bodyTimeout}),
			ReadHeaderTimeout: ReadHeaderTimeout,
			ConnState: func(_ net.Conn, s http.ConnState) {
				switch s {
				case http.StateActive:
					active.Add(1)
				case http.StateIdle, http.StateClosed, http.StateHijacked:
					// A stalled connection goes from active straight to closed.
					active.Add(-1)
				}
			},
		}
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ln) }()
		return srv, ln.Addr().String(), done
	}
	stall := func(t *testing.T, addr string) []net.Conn {
		var cs []net.Conn
		for i := range conns {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			fn := FunctionHTTP
			if i%2 == 1 {
				fn = FunctionQueue
			}
			if _, err := fmt.Fprintf(c, "POST /%s HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{\"Data\":{", fn); err != nil {
				t.Fatal(err)
			}
			cs = append(cs, c)
		}
		t.Cleanup(func() {
			for _, c := range cs {
				_ = c.Close()
			}
		})
		return cs
	}

	t.Run("goroutines return", func(t *testing.T) {
		baseline := runtime.NumGoroutine()
		var active atomic.Int32
		srv, addr, done := start(t, 200*time.Millisecond, &active)
		defer func() { _ = srv.Close(); <-done }()
		stall(t, addr)
		waitFor(t, "the stalled connections' goroutines to end", func() bool { return runtime.NumGoroutine() <= baseline+2 })
	})
	t.Run("shutdown returns nil", func(t *testing.T) {
		// A body read timeout long enough for every connection to be open
		// and stalled when the shutdown begins.
		var active atomic.Int32
		srv, addr, done := start(t, 5*time.Second, &active)
		stall(t, addr)
		waitFor(t, "every stalled request to be active", func() bool { return active.Load() == conns })
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown with %d stalled connections = %v, want nil", conns, err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve = %v", err)
		}
	})
}

// waitFor polls cond until it holds, failing after a generous minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s (%d goroutines)", what, runtime.NumGoroutine())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBodyDeadlineDoesNotCutTheInvocation: once the body is read, its
// deadline is lifted: an invocation that works longer than the body read
// timeout keeps its context and answers.
func TestBodyDeadlineDoesNotCutTheInvocation(t *testing.T) {
	t.Parallel()
	slow := putterFunc(func(ctx context.Context, _ []byte) (*provision.Result, error) {
		select {
		case <-ctx.Done():
			return &provision.Result{}, ctx.Err()
		case <-time.After(500 * time.Millisecond): // 10 body read timeouts
		}
		return &provision.Result{Status: provision.StatusSaved}, nil
	})
	srv := httptest.NewServer(New(Options{Logger: slog.New(slog.DiscardHandler), Service: slow, InvocationTimeout: time.Minute,
		Queue: settle.NewProcessor(slow, settle.Options{}), BodyReadTimeout: 50 * time.Millisecond}))
	defer srv.Close()
	status, answer := post(t, srv, FunctionHTTP, strings.NewReader(string(httpEnvelope(t, requestDoc("v")))))
	if res := callerAnswer(t, status, answer); res.StatusCode != 200 {
		t.Errorf("caller got %d %s, want 200: the body's deadline cancelled the invocation", res.StatusCode, res.Body)
	}
}

// TestHTTPBudget: an HTTP invocation gets the shorter of HTTPAnswerLimit
// and the invocation timeout, and stops working early enough to answer.
func TestHTTPBudget(t *testing.T) {
	t.Parallel()
	tests := []struct{ timeout, budget, work time.Duration }{
		{5 * time.Minute, 225 * time.Second, 224 * time.Second}, // Consumption's default functionTimeout
		{295 * time.Second, 225 * time.Second, 224 * time.Second},
		{10 * time.Minute, 225 * time.Second, 224 * time.Second},
		{90 * time.Second, 90 * time.Second, 89 * time.Second},
		{3 * time.Second, 3 * time.Second, 2700 * time.Millisecond},
		{0, 225 * time.Second, 224 * time.Second},
	}
	start := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		b := httpBudget(tt.timeout)
		if b != tt.budget {
			t.Errorf("httpBudget(%v) = %v, want %v", tt.timeout, b, tt.budget)
		}
		if got := workDeadline(start, b).Sub(start); got != tt.work {
			t.Errorf("work time of budget %v = %v, want %v", b, got, tt.work)
		}
	}
	if HTTPAnswerLimit >= 230*time.Second {
		t.Errorf("HTTPAnswerLimit = %v; the front end cuts HTTP calls at 230 s", HTTPAnswerLimit)
	}
}

// TestHTTPAnswersInTime: a service that waits as long as its context lets
// it still lets the handler answer, and the answer says it ran out of time.
func TestHTTPAnswersInTime(t *testing.T) {
	t.Parallel()
	var deadline time.Time
	slow := putterFunc(func(ctx context.Context, _ []byte) (*provision.Result, error) {
		deadline, _ = ctx.Deadline()
		<-ctx.Done()
		return &provision.Result{}, &provision.StageError{Stage: provision.StageSaving, Dependency: provision.DependencyGraph,
			Saved: provision.SavedUnknown, OutOfTime: true, Err: ctx.Err()}
	})
	const budget = 2 * time.Second
	srv := httptest.NewServer(New(Options{Logger: slog.New(slog.DiscardHandler), Service: slow, InvocationTimeout: budget,
		Queue: settle.NewProcessor(slow, settle.Options{})}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/"+FunctionHTTP, strings.NewReader(string(httpEnvelope(t, requestDoc("v")))))
	sent := time.Now()
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	res := callerAnswer(t, resp.StatusCode, a)
	if res.StatusCode != 503 || !strings.Contains(res.Body, `"stage":"saving the secrets to Microsoft Graph"`) {
		t.Errorf("caller got %d %s, want 503 naming the stage", res.StatusCode, res.Body)
	}
	if left := sent.Add(budget).Sub(deadline); left <= 0 {
		t.Errorf("the work deadline leaves %v before the budget's end; want time to answer", left)
	}
}

// TestQueueKeepsItsBudget: the 225 s limit is the HTTP front end's; the
// queue function works for the whole invocation timeout.
func TestQueueKeepsItsBudget(t *testing.T) {
	t.Parallel()
	const timeout = 10 * time.Minute
	left := make(chan time.Duration, 2)
	probe := putterFunc(func(ctx context.Context, _ []byte) (*provision.Result, error) {
		d, _ := ctx.Deadline()
		left <- time.Until(d)
		return &provision.Result{Status: provision.StatusSaved}, nil
	})
	srv := httptest.NewServer(New(Options{Logger: slog.New(slog.DiscardHandler), Service: probe, InvocationTimeout: timeout,
		Queue: settle.NewProcessor(probe, settle.Options{})}))
	defer srv.Close()
	post(t, srv, FunctionHTTP, strings.NewReader(string(httpEnvelope(t, requestDoc("v")))))
	if l := <-left; l > HTTPAnswerLimit {
		t.Errorf("HTTP invocation had %v to work, want at most %v", l, HTTPAnswerLimit)
	}
	post(t, srv, FunctionQueue, strings.NewReader(string(queueEnvelope(t, requestDoc("v")))))
	if l := <-left; l <= HTTPAnswerLimit || l > timeout {
		t.Errorf("queue invocation had %v to work, want the invocation timeout %v", l, timeout)
	}
}
