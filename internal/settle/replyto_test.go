package settle

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/putsecrets/putsecrets/internal/provision"
	"github.com/putsecrets/putsecrets/internal/request"
)

// countingPutter counts its calls and answers every Put with a success.
type countingPutter struct{ calls atomic.Int32 }

func (p *countingPutter) Put(context.Context, []byte) (*provision.Result, error) {
	p.calls.Add(1)
	return saved(), nil
}

// TestReplyToOwnQueueRefused: a ReplyTo naming the request queue or the
// events queue, in any casing or spacing, would feed the outcome back to the
// app as a request or an event. It is refused before Put runs; the failed
// outcome goes to the results queue, or the message is dead-lettered.
func TestReplyToOwnQueueRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, replyTo, results string
		settle                 Settlement
		to                     string // "" for no outcome
		puts                   int32
	}{
		{name: "request queue, no results queue", replyTo: "putsecrets-requests", settle: DeadLetter},
		{name: "request queue, results queue set", replyTo: "putsecrets-requests", results: "results", settle: Complete, to: "results"},
		{name: "request queue in other casing", replyTo: "PutSecrets-Requests", settle: DeadLetter},
		{name: "request queue with spaces", replyTo: " putsecrets-requests\t", settle: DeadLetter},
		{name: "events queue", replyTo: "putsecrets-kv-events", results: "results", settle: Complete, to: "results"},
		{name: "events queue in capitals", replyTo: "PUTSECRETS-KV-EVENTS", settle: DeadLetter},
		{name: "look-alike queue is a real destination", replyTo: "putsecrets-requests-replies", settle: Complete, to: "putsecrets-requests-replies", puts: 1},
		{name: "no ReplyTo uses the results queue", results: "results", settle: Complete, to: "results", puts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			put, pub := &countingPutter{}, &publisher{}
			proc := NewProcessor(put, Options{Outcomes: pub, ResultsQueue: tt.results,
				RequestQueue: "putsecrets-requests", EventsQueue: "putsecrets-kv-events"})
			d := proc.Process(context.Background(), request.Message{MessageID: "m1", ReplyTo: tt.replyTo, ReplyToSessionID: "s-1"})
			if d.Settle != tt.settle {
				t.Errorf("settle = %s, want %s", d.Settle, tt.settle)
			}
			if got := put.calls.Load(); got != tt.puts {
				t.Errorf("Put called %d times, want %d", got, tt.puts)
			}
			refused := tt.puts == 0
			if refused {
				if d.Problem == nil || d.Problem.Status != 400 || len(d.Problem.Doc.Errors) != 1 || d.Problem.Doc.Errors[0].Field != "ReplyTo" {
					t.Fatalf("problem = %+v, want a 400 on field ReplyTo", d.Problem)
				}
				if !strings.Contains(d.Description, "ReplyTo") {
					t.Errorf("description %q does not name ReplyTo", d.Description)
				}
			}
			if tt.to == "" {
				if len(pub.sent) != 0 {
					t.Fatalf("published %d outcomes, want none", len(pub.sent))
				}
				return
			}
			if len(pub.sent) != 1 || pub.sent[0].To != tt.to {
				t.Fatalf("outcomes %+v, want one to %q", pub.sent, tt.to)
			}
			if want := map[bool]string{true: SubjectFailed, false: SubjectSucceeded}[refused]; pub.sent[0].Subject != want {
				t.Errorf("subject = %q, want %q", pub.sent[0].Subject, want)
			}
			if refused && pub.sent[0].SessionID != "" {
				t.Errorf("refused outcome carries ReplyToSessionId %q meant for the refused ReplyTo", pub.sent[0].SessionID)
			}
		})
	}
}
