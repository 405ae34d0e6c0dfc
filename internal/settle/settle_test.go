package settle

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/putsecrets/putsecrets/internal/problem"
	"github.com/putsecrets/putsecrets/internal/provision"
	"github.com/putsecrets/putsecrets/internal/request"
	"github.com/putsecrets/putsecrets/internal/secret"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

const sp = "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"

// putter answers every Put with res and err.
type putter struct {
	res *provision.Result
	err error
}

func (p putter) Put(context.Context, []byte) (*provision.Result, error) { return p.res, p.err }

// publisher records outcomes, failing with err when set.
type publisher struct {
	mu   sync.Mutex
	sent []*Outcome
	err  error
}

func (p *publisher) Publish(_ context.Context, o *Outcome) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	p.sent = append(p.sent, o)
	return nil
}

func saved() *provision.Result {
	return &provision.Result{ServicePrincipalID: sp, Status: provision.StatusSaved, APIVersion: "v1.0",
		Keys: []string{"BaseAddress", "SecretToken"}, GraphRequestID: "req-graph-1", DurationMs: 183}
}

func learnt() *provision.Result {
	return &provision.Result{ServicePrincipalID: sp, APIVersion: "v1.0", Keys: []string{"SecretToken"}}
}

var (
	invalid = &request.Error{Problems: []request.Problem{{Field: "secrets[0].key", Message: `unknown key "Bogus"`}}}
	refused = &request.Error{Problems: []request.Problem{{Field: "secrets[0].secretUri", Message: `vault "evil" is not in PUTSECRETS_ALLOWED_VAULTS`, Policy: true}}}
)

func TestProcess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		put       putter
		results   string
		noPub     bool
		pubErr    error
		msg       request.Message
		settle    Settlement
		to        string // outcome destination, "" for none sent
		subject   string
		status    int32
		corr      string
		session   string
		reason    string
		outcomeOK bool
	}{
		{name: "success without destination completes", put: putter{res: saved()}, settle: Complete},
		{
			name: "success to ReplyTo", put: putter{res: saved()}, results: "results",
			msg:    request.Message{MessageID: "m1", CorrelationID: "build-7", ReplyTo: "replies", ReplyToSessionID: "s-1"},
			settle: Complete, to: "replies", subject: SubjectSucceeded, status: 200, corr: "build-7", session: "s-1",
		},
		{
			name: "success to the results queue, correlated by MessageId", put: putter{res: saved()}, results: "results",
			msg:    request.Message{MessageID: "m1"},
			settle: Complete, to: "results", subject: SubjectSucceeded, status: 200, corr: "m1",
		},
		{
			name: "invalid request with a destination is reported and completed", put: putter{res: &provision.Result{}, err: invalid},
			msg:    request.Message{MessageID: "m2", ReplyTo: "replies"},
			settle: Complete, to: "replies", subject: SubjectFailed, status: 400, corr: "m2", reason: "Invalid request",
		},
		{
			name: "policy refusal to the results queue", put: putter{res: &provision.Result{}, err: refused}, results: "results",
			msg:    request.Message{MessageID: "m3"},
			settle: Complete, to: "results", subject: SubjectFailed, status: 403, corr: "m3", reason: "Refused by policy",
		},
		{
			name: "permanent failure without destination dead-letters", put: putter{res: learnt(), err: invalid},
			msg: request.Message{MessageID: "m4"}, settle: DeadLetter, reason: "Invalid request",
		},
		{
			name: "transient failure abandons and publishes nothing", put: putter{res: learnt(), err: problem.New(503, "Graph throttled")},
			results: "results", msg: request.Message{MessageID: "m5", ReplyTo: "replies"}, settle: Abandon, reason: "A dependency is unavailable",
		},
		{
			name: "internal error is transient", put: putter{res: learnt(), err: errors.New("boom")},
			results: "results", msg: request.Message{MessageID: "m6"}, settle: Abandon, reason: "Internal error",
		},
		{
			name: "success whose outcome cannot be sent abandons", put: putter{res: saved()}, pubErr: errors.New("amqp:not-found"),
			msg: request.Message{MessageID: "m7", ReplyTo: "gone"}, settle: Abandon, reason: "Outcome not sent",
		},
		{
			name: "permanent failure whose outcome cannot be sent abandons", put: putter{res: learnt(), err: invalid}, pubErr: errors.New("amqp:not-found"),
			msg: request.Message{MessageID: "m8", ReplyTo: "gone"}, settle: Abandon, reason: "Outcome not sent",
		},
		{
			name: "destination without a Service Bus connection abandons", put: putter{res: saved()}, noPub: true, results: "results",
			msg: request.Message{MessageID: "m9"}, settle: Abandon, reason: "Outcome not sent",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pub := &publisher{err: tt.pubErr}
			opts := Options{Outcomes: pub, ResultsQueue: tt.results}
			if tt.noPub {
				opts.Outcomes = nil
			}
			d := NewProcessor(tt.put, opts).Process(context.Background(), tt.msg)
			if d.Settle != tt.settle {
				t.Errorf("settle = %s, want %s", d.Settle, tt.settle)
			}
			if d.Result == nil {
				t.Error("no Result")
			}
			if d.Reason != tt.reason {
				t.Errorf("reason = %q, want %q", d.Reason, tt.reason)
			}
			if tt.reason != "" && d.Description == "" {
				t.Error("no description")
			}
			if (d.OutcomeErr != nil) != (tt.reason == "Outcome not sent") {
				t.Errorf("OutcomeErr = %v", d.OutcomeErr)
			}
			if d.Settle != Complete && d.LogProblem() == nil {
				t.Error("a failed decision has no problem to log")
			}
			if tt.to == "" {
				if len(pub.sent) != 0 {
					t.Fatalf("published %d outcomes, want none", len(pub.sent))
				}
				return
			}
			if len(pub.sent) != 1 {
				t.Fatalf("published %d outcomes, want 1", len(pub.sent))
			}
			o := pub.sent[0]
			if o != d.Outcome {
				t.Error("Decision.Outcome is not the outcome sent")
			}
			if o.To != tt.to || o.Subject != tt.subject || o.CorrelationID != tt.corr || o.SessionID != tt.session {
				t.Errorf("outcome to %q subject %q correlation %q session %q, want %q %q %q %q",
					o.To, o.Subject, o.CorrelationID, o.SessionID, tt.to, tt.subject, tt.corr, tt.session)
			}
			if got := o.ApplicationProperties[PropStatus]; got != tt.status {
				t.Errorf("status property = %v (%T), want %d", got, got, tt.status)
			}
			var body struct {
				Status any `json:"status"`
			}
			if err := json.Unmarshal(o.Body, &body); err != nil {
				t.Fatalf("outcome body is not JSON: %v", err)
			}
		})
	}
}

// TestOutcomeGolden pins the outcome message format: properties and body.
func TestOutcomeGolden(t *testing.T) {
	t.Parallel()
	msg := request.Message{MessageID: "req-1", CorrelationID: "build-7", ReplyTo: "replies", ReplyToSessionID: "pipeline-42"}
	bad := problem.From(&request.Error{Problems: []request.Problem{
		{Field: "secrets[0].secretUri", Message: `vault "evil-kv" is not in PUTSECRETS_ALLOWED_VAULTS`, Policy: true},
	}})
	tests := []struct {
		name string
		o    *Outcome
	}{
		{"outcome-succeeded", NewOutcome("replies", msg, saved(), nil)},
		{"outcome-dry-run", NewOutcome("results", request.Message{MessageID: "req-2"},
			&provision.Result{ServicePrincipalID: sp, Status: provision.StatusDryRun, APIVersion: "beta", Keys: []string{"BaseAddress"}, DurationMs: 12}, nil)},
		{"outcome-failed", NewOutcome("replies", msg, &provision.Result{}, bad)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := json.MarshalIndent(tt.o, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", path, diff)
			}
		})
	}
}

// TestDescriptionBounded: a dead-letter description stays within Service
// Bus's limits and valid UTF-8.
func TestDescriptionBounded(t *testing.T) {
	t.Parallel()
	var probs []request.Problem
	for range 100 {
		probs = append(probs, request.Problem{Field: "secrets[0].key", Message: strings.Repeat("é", 40)})
	}
	d := NewProcessor(putter{err: &request.Error{Problems: probs}}, Options{}).Process(context.Background(), request.Message{})
	if d.Settle != DeadLetter {
		t.Fatalf("settle = %s", d.Settle)
	}
	if len(d.Description) > maxDescription || !strings.HasSuffix(d.Description, "…") || !utf8.ValidString(d.Description) {
		t.Errorf("description: %d bytes, valid UTF-8 ending in …: want at most %d", len(d.Description), maxDescription)
	}
}

// scrubbingPutter adds its value to the invocation's scrubber, as
// provision.Put does, and succeeds.
type scrubbingPutter struct{ value string }

func (p scrubbingPutter) Put(ctx context.Context, _ []byte) (*provision.Result, error) {
	_, s := secret.WithScrubber(ctx)
	s.Add(secret.New(p.value))
	return saved(), nil
}

// TestServiceBusErrorScrubbed: a Service Bus error that quotes a value of
// the invocation (here percent-encoded and cut off) reaches neither the
// decision's error text, its description, its log problem nor the scrubber
// handed on for settling.
func TestServiceBusErrorScrubbed(t *testing.T) {
	t.Parallel()
	const v = "sb-echoed-token-3f9a0c7e1b"
	pub := &publisher{err: errors.New("amqp: link detached: message had " + strings.ReplaceAll(v[:18], "-", "%2D"))}
	d := NewProcessor(scrubbingPutter{v}, Options{Outcomes: pub, ResultsQueue: "results"}).Process(t.Context(), request.Message{MessageID: "m1"})
	if d.Settle != Abandon || d.OutcomeErr == nil {
		t.Fatalf("settle %s, outcome error %v; want abandon for a failed publish", d.Settle, d.OutcomeErr != nil)
	}
	texts := map[string]string{
		"outcome error": d.OutcomeErr.Error(), "description": d.Description,
		"log problem": string(d.LogProblem().JSON()), "settle scrub": d.Scrubber.Scrub("settle failed: " + v),
	}
	for what, text := range texts {
		for i := 0; i+12 <= len(v); i++ {
			if strings.Contains(text, v[i:i+12]) || strings.Contains(text, strings.ReplaceAll(v[i:i+12], "-", "%2D")) {
				t.Errorf("the %s holds a piece of the value", what)
				break
			}
		}
		// The log problem of a transport error quotes no text at all.
		if what != "log problem" && !strings.Contains(text, secret.Redacted) {
			t.Errorf("the %s is not redacted", what)
		}
	}
}
