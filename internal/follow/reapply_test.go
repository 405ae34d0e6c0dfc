package follow

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/putsecrets/putsecrets/internal/state"
)

// sent is one message a recordingSender was given.
type sent struct {
	queue string
	m     *azservicebus.Message
}

// recordingSender records what it sends and fails with err when set.
type recordingSender struct {
	sent []sent
	err  error
}

func (r *recordingSender) Send(_ context.Context, queue string, m *azservicebus.Message) error {
	if r.err != nil {
		return r.err
	}
	r.sent = append(r.sent, sent{queue, m})
	return nil
}

const spID = "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"

func kept() *state.Kept {
	return &state.Kept{
		ServicePrincipalID: spID,
		Document:           []byte(`{"servicePrincipalId":"` + spID + `","secrets":[{"key":"SecretToken","secretUri":"https://contoso-kv.vault.azure.net/secrets/scim-token"}]}`),
	}
}

func TestReapplyMessage(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		notBefore time.Time
		wantSched *time.Time
	}{
		{"zero not-before: now", time.Time{}, nil},
		{"past not-before: now", now.Add(-time.Hour), nil},
		{"not-before equal to now: now", now, nil},
		{"future not-before: scheduled", now.Add(90 * time.Second), ptr(now.Add(90 * time.Second))},
		{"future not-before in another zone: scheduled in UTC", now.Add(time.Hour).In(time.FixedZone("X", 3600)), ptr(now.Add(time.Hour))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s recordingSender
			k := kept()
			if err := reapplyAt(context.Background(), &s, "putsecrets-requests", k, "mid", "event-1", tt.notBefore, now); err != nil {
				t.Fatal(err)
			}
			if len(s.sent) != 1 {
				t.Fatalf("got %d messages, want 1", len(s.sent))
			}
			got := s.sent[0]
			if got.queue != "putsecrets-requests" {
				t.Errorf("queue: got %q", got.queue)
			}
			m := got.m
			if deref(m.MessageID) != "mid" || deref(m.CorrelationID) != "event-1" || deref(m.SessionID) != spID ||
				deref(m.ContentType) != "application/json" {
				t.Errorf("properties: got MessageID %q CorrelationID %q SessionID %q ContentType %q",
					deref(m.MessageID), deref(m.CorrelationID), deref(m.SessionID), deref(m.ContentType))
			}
			if string(m.Body) != string(k.Document) {
				t.Errorf("body: got %s, want the kept document exactly", m.Body)
			}
			switch {
			case tt.wantSched == nil && m.ScheduledEnqueueTime != nil:
				t.Errorf("scheduled for %v, want now", *m.ScheduledEnqueueTime)
			case tt.wantSched != nil && (m.ScheduledEnqueueTime == nil || !m.ScheduledEnqueueTime.Equal(*tt.wantSched) ||
				m.ScheduledEnqueueTime.Location() != time.UTC):
				t.Errorf("scheduled: got %v, want %v UTC", m.ScheduledEnqueueTime, *tt.wantSched)
			}
			// The body is a copy: changing it after the send leaves the kept state alone.
			m.Body[0] = 'X'
			if k.Document[0] != '{' {
				t.Error("the message body aliases the kept document")
			}
		})
	}
}

func TestReapplyNoCorrelationID(t *testing.T) {
	t.Parallel()
	var s recordingSender
	if err := Reapply(context.Background(), &s, "q", kept(), "mid", "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if s.sent[0].m.CorrelationID != nil {
		t.Errorf("CorrelationID: got %q, want none", *s.sent[0].m.CorrelationID)
	}
}

func TestReapplyRefuses(t *testing.T) {
	t.Parallel()
	noDoc := kept()
	noDoc.Document = nil
	tests := []struct {
		name  string
		queue string
		k     *state.Kept
		mid   string
		want  string
	}{
		{"nil state", "q", nil, "mid", "no kept state"},
		{"no SP", "q", &state.Kept{Document: []byte("{}")}, "mid", "no kept state"},
		{"no document", "q", noDoc, "mid", "no document"},
		{"no queue", " ", kept(), "mid", "no request queue"},
		{"no message ID", "q", kept(), "", "no message ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s recordingSender
			err := Reapply(context.Background(), &s, tt.queue, tt.k, tt.mid, "c", time.Time{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error saying %q", err, tt.want)
			}
			if len(s.sent) != 0 {
				t.Errorf("sent %d messages, want none", len(s.sent))
			}
		})
	}
}

func TestReapplySendFailure(t *testing.T) {
	t.Parallel()
	boom := errors.New("link detached")
	err := Reapply(context.Background(), &recordingSender{err: boom}, "q", kept(), "mid", "c", time.Time{})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want it to wrap the send error", err)
	}
	if !strings.Contains(err.Error(), spID) {
		t.Errorf("error %q does not name the service principal", err)
	}
}

var uuidShape = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestMessageID(t *testing.T) {
	t.Parallel()
	a := MessageID("event-1", spID)
	if !uuidShape.MatchString(a) {
		t.Fatalf("got %q, want a UUID", a)
	}
	if b := MessageID("event-1", spID); b != a {
		t.Errorf("not stable: %q then %q", a, b)
	}
	distinct := [][]string{
		{"event-1", spID},
		{"event-2", spID},
		{"event-1", "7a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"},
		{spID, "event-1"},
		{"ab", "c"},
		{"a", "bc"},
		{"abc"},
		{"abc", ""},
		{},
		{""},
	}
	seen := map[string][]string{}
	for _, parts := range distinct {
		id := MessageID(parts...)
		if len(id) > 128 {
			t.Errorf("%q: %d characters, over Service Bus's 128", parts, len(id))
		}
		if prev, ok := seen[id]; ok {
			t.Errorf("%q and %q give the same MessageId %s", prev, parts, id)
		}
		seen[id] = parts
	}
}

func ptr[T any](v T) *T { return &v }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
