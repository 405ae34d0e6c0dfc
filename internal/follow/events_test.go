package follow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/putsecrets/putsecrets/internal/kvevent"
	"github.com/putsecrets/putsecrets/internal/state"
)

const (
	vaultHost = "contoso-kv.vault.azure.net"
	eventID   = "00eccf70-95a7-4e7c-8299-2eb17ee9ad64"
	version   = "ee059b2bb5bc48398a53b168c6cdcb10"
	older     = "0123456789abcdef0123456789abcdef"
)

// fakeFollowers answers Followers from a fixed set and counts the calls.
type fakeFollowers struct {
	kept  []*state.Kept
	err   error
	calls int
}

func (f *fakeFollowers) Followers(_ context.Context, vault, name string) ([]*state.Kept, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	var out []*state.Kept
	for _, k := range f.kept {
		for _, r := range k.References {
			if r.Vault == vault && strings.EqualFold(r.Name, name) {
				out = append(out, k)
				break
			}
		}
	}
	return out, nil
}

func keptFor(sp string, refs ...state.Reference) *state.Kept {
	return &state.Kept{ServicePrincipalID: sp, Document: []byte(`{"servicePrincipalId":"` + sp + `"}`), References: refs}
}

func ref(key, name, ver, resolved string) state.Reference {
	return state.Reference{Key: key, Vault: vaultHost, Name: name, Version: ver, Resolved: resolved}
}

const (
	spA = "aaaaaaaa-0000-4000-8000-000000000001"
	spB = "bbbbbbbb-0000-4000-8000-000000000002"
	spC = "cccccccc-0000-4000-8000-000000000003"
	spD = "dddddddd-0000-4000-8000-000000000004"
)

// followers: A follows scim-token unpinned; B pins it (to version) and
// follows it under another casing; C only pins it; D uses another secret.
func followers() *fakeFollowers {
	return &fakeFollowers{kept: []*state.Kept{
		keptFor(spC, ref("SecretToken", "scim-token", version, version)),
		keptFor(spA, ref("SecretToken", "scim-token", "", older), ref("Password", "other", "", "")),
		keptFor(spB, ref("ClientSecret", "scim-token", version, version), ref("SecretToken", "SCIM-TOKEN", "", version)),
		keptFor(spD, ref("SecretToken", "other", "", "")),
	}}
}

func event(typ, nbf string) []byte {
	return []byte(`{"id":"` + eventID + `","eventType":"` + typ + `","data":{"Id":"https://` + vaultHost +
		`/secrets/scim-token/` + version + `","NBF":"` + nbf + `","EXP":"1772413713"}}`)
}

func newEvents(f Followers, s Sender, results string, log *bytes.Buffer) *Events {
	return &Events{
		Logger: slog.New(slog.NewJSONHandler(log, nil)), Store: f, Sender: s, Suffix: "vault.azure.net",
		AllowedVaults: []string{vaultHost}, RequestQueue: "putsecrets-requests", ResultsQueue: results,
	}
}

func TestHandleNewVersion(t *testing.T) {
	t.Parallel()
	var s recordingSender
	var log bytes.Buffer
	h := newEvents(followers(), &s, "results", &log)
	r, err := h.Handle(context.Background(), event(kvevent.SecretNewVersionCreated, "1764637713"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Action != Reapplied || r.Sent != 2 || strings.Join(r.ServicePrincipals, ",") != spA+","+spB {
		t.Fatalf("got %+v, want A and B re-applied (C is pinned only, D uses another secret)", r)
	}
	for i, sp := range []string{spA, spB} {
		m := s.sent[i]
		if m.queue != "putsecrets-requests" || deref(m.m.SessionID) != sp || deref(m.m.CorrelationID) != eventID ||
			deref(m.m.MessageID) != MessageID(eventID, sp) || m.m.ScheduledEnqueueTime != nil {
			t.Errorf("message %d: queue %q SessionID %q CorrelationID %q MessageID %q scheduled %v", i, m.queue,
				deref(m.m.SessionID), deref(m.m.CorrelationID), deref(m.m.MessageID), m.m.ScheduledEnqueueTime)
		}
	}

	// A redelivery sends the same MessageIds: Service Bus drops them as duplicates.
	var again recordingSender
	h.Sender = &again
	if _, err := h.Handle(context.Background(), event(kvevent.SecretNewVersionCreated, "1764637713")); err != nil {
		t.Fatal(err)
	}
	for i := range s.sent {
		if deref(again.sent[i].m.MessageID) != deref(s.sent[i].m.MessageID) {
			t.Errorf("redelivery: message %d has MessageId %q, first delivery %q", i, deref(again.sent[i].m.MessageID), deref(s.sent[i].m.MessageID))
		}
	}
}

func TestHandleNewVersionScheduled(t *testing.T) {
	t.Parallel()
	var s recordingSender
	var log bytes.Buffer
	future := time.Now().Add(time.Hour).Truncate(time.Second).UTC()
	h := newEvents(followers(), &s, "", &log)
	if _, err := h.Handle(context.Background(), event(kvevent.SecretNewVersionCreated, jsonInt(future.Unix()))); err != nil {
		t.Fatal(err)
	}
	for _, m := range s.sent {
		if m.m.ScheduledEnqueueTime == nil || !m.m.ScheduledEnqueueTime.Equal(future) {
			t.Errorf("scheduled: got %v, want %v", m.m.ScheduledEnqueueTime, future)
		}
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestHandleExpiry(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		typ, subject, event string
	}{
		{kvevent.SecretNearExpiry, SubjectNearExpiry, "SecretNearExpiry"},
		{kvevent.SecretExpired, SubjectExpired, "SecretExpired"},
	} {
		t.Run(tt.event, func(t *testing.T) {
			t.Parallel()
			var s recordingSender
			var log bytes.Buffer
			r, err := newEvents(followers(), &s, "results", &log).Handle(context.Background(), event(tt.typ, "1764637713"))
			if err != nil {
				t.Fatal(err)
			}
			// A follows but last read an older version: not concerned. B pins
			// the expiring version and also follows it (resolved to it). C pins it.
			if r.Action != Reported || r.Sent != 1 || strings.Join(r.ServicePrincipals, ",") != spB+","+spC {
				t.Fatalf("got %+v, want B and C reported", r)
			}
			m := s.sent[0].m
			if s.sent[0].queue != "results" || deref(m.Subject) != tt.subject || deref(m.CorrelationID) != eventID ||
				deref(m.MessageID) != MessageID(eventID, tt.subject) {
				t.Errorf("queue %q Subject %q CorrelationID %q MessageID %q", s.sent[0].queue, deref(m.Subject), deref(m.CorrelationID), deref(m.MessageID))
			}
			wantProps := map[string]any{"vault": vaultHost, "secret": "scim-token", "expiry": "2026-03-02T01:08:33Z"}
			for k, v := range wantProps {
				if m.ApplicationProperties[k] != v {
					t.Errorf("application property %s: got %v, want %v", k, m.ApplicationProperties[k], v)
				}
			}
			var got Expiry
			if err := json.Unmarshal(m.Body, &got); err != nil {
				t.Fatal(err)
			}
			want := `{"event":"` + tt.event + `","eventId":"` + eventID + `","vault":"` + vaultHost + `","secret":"scim-token","version":"` + version +
				`","expiry":"2026-03-02T01:08:33Z","servicePrincipals":[{"servicePrincipalId":"` + spB +
				`","keys":["ClientSecret","SecretToken"],"pinned":true},{"servicePrincipalId":"` + spC + `","keys":["SecretToken"],"pinned":true}]}`
			if string(m.Body) != want {
				t.Errorf("body:\ngot  %s\nwant %s", m.Body, want)
			}
			if !strings.Contains(log.String(), `"level":"WARN"`) || !strings.Contains(log.String(), spC) {
				t.Errorf("no warning naming the service principals: %s", log.String())
			}
		})
	}
}

func TestHandleExpiryWithoutResultsQueue(t *testing.T) {
	t.Parallel()
	var s recordingSender
	var log bytes.Buffer
	r, err := newEvents(followers(), &s, "", &log).Handle(context.Background(), event(kvevent.SecretExpired, "1"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Action != Reported || r.Sent != 0 || len(s.sent) != 0 {
		t.Errorf("got %+v and %d messages, want reported in the log only", r, len(s.sent))
	}
	if !strings.Contains(log.String(), `"level":"WARN"`) {
		t.Errorf("no warning: %s", log.String())
	}
}

func TestHandleIgnores(t *testing.T) {
	t.Parallel()
	other := []byte(`{"id":"x","eventType":"Microsoft.KeyVault.KeyNewVersionCreated"}`)
	unallowed := bytes.ReplaceAll(event(kvevent.SecretNewVersionCreated, "1"), []byte("contoso-kv"), []byte("evil-kv"))
	onlyPinned := &fakeFollowers{kept: []*state.Kept{keptFor(spC, ref("SecretToken", "scim-token", version, version))}}
	newerOnly := &fakeFollowers{kept: []*state.Kept{keptFor(spA, ref("SecretToken", "scim-token", "", older))}}
	tests := []struct {
		name      string
		store     Followers
		body      []byte
		reason    string
		wantReads int
	}{
		{"not our type", followers(), other, "not one this app acts on", 0},
		{"vault not allowed", followers(), unallowed, "not in PUTSECRETS_ALLOWED_VAULTS", 0},
		{"no state store", nil, event(kvevent.SecretNewVersionCreated, "1"), "no state store is configured", 0},
		{"nobody follows", &fakeFollowers{}, event(kvevent.SecretNewVersionCreated, "1"), "no followed service principal references secret scim-token", 1},
		{"only pinned", onlyPinned, event(kvevent.SecretNewVersionCreated, "1"), "without a version", 1},
		{"expiry of a version nobody uses now", newerOnly, event(kvevent.SecretNearExpiry, "1"), "at version " + version, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s recordingSender
			var log bytes.Buffer
			r, err := newEvents(tt.store, &s, "results", &log).Handle(context.Background(), tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if r.Action != Ignored || !strings.Contains(r.Reason, tt.reason) {
				t.Errorf("got %+v, want ignored because %q", r, tt.reason)
			}
			if len(s.sent) != 0 {
				t.Errorf("sent %d messages, want none", len(s.sent))
			}
			if f, ok := tt.store.(*fakeFollowers); ok && f.calls != tt.wantReads {
				t.Errorf("read the store %d times, want %d", f.calls, tt.wantReads)
			}
		})
	}
}

func TestHandleFailures(t *testing.T) {
	t.Parallel()
	storeDown := errors.New("dial tcp 127.0.0.1:1: connection refused")
	sendDown := errors.New("amqp: link detached")
	tests := []struct {
		name       string
		store      *fakeFollowers
		send       error
		body       []byte
		unreadable bool
		wrap       error
	}{
		{"unreadable", followers(), nil, []byte(`not json`), true, nil},
		{"no data.Id", followers(), nil, []byte(`{"id":"x","eventType":"` + kvevent.SecretExpired + `","data":{}}`), true, nil},
		{"store down", &fakeFollowers{err: storeDown}, nil, event(kvevent.SecretNewVersionCreated, "1"), false, storeDown},
		{"send fails", followers(), sendDown, event(kvevent.SecretNewVersionCreated, "1"), false, sendDown},
		{"expiry send fails", followers(), sendDown, event(kvevent.SecretExpired, "1"), false, sendDown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var log bytes.Buffer
			_, err := newEvents(tt.store, &recordingSender{err: tt.send}, "results", &log).Handle(context.Background(), tt.body)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, ErrUnreadable) != tt.unreadable {
				t.Errorf("got %v, unreadable %v, want %v", err, errors.Is(err, ErrUnreadable), tt.unreadable)
			}
			if tt.wrap != nil && !errors.Is(err, tt.wrap) {
				t.Errorf("got %v, want it to wrap %v", err, tt.wrap)
			}
		})
	}
}

// TestHandleWithoutSender: without a Service Bus connection an expiry is
// still logged (and succeeds without a results queue), a new version fails.
func TestHandleWithoutSender(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	h := newEvents(followers(), nil, "", &log)
	h.Sender = nil
	if _, err := h.Handle(context.Background(), event(kvevent.SecretExpired, "1")); err != nil {
		t.Errorf("expiry without a results queue or sender: %v", err)
	}
	if !strings.Contains(log.String(), `"level":"WARN"`) {
		t.Errorf("no warning: %s", log.String())
	}
	if _, err := h.Handle(context.Background(), event(kvevent.SecretNewVersionCreated, "1")); err == nil || !strings.Contains(err.Error(), "ServiceBusConnection") {
		t.Errorf("new version without a sender: got %v, want an error naming ServiceBusConnection", err)
	}
	h.ResultsQueue = "results"
	if _, err := h.Handle(context.Background(), event(kvevent.SecretExpired, "1")); err == nil {
		t.Error("expiry with a results queue but no sender: no error")
	}
}
