package worker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/putsecrets/putsecrets/internal/follow"
	"github.com/putsecrets/putsecrets/internal/state"
	"github.com/putsecrets/putsecrets/standin/sbbroker"
)

const (
	kvVersion = "ee059b2bb5bc48398a53b168c6cdcb10"
	kvSP      = "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"
)

// flakyFollowers follows every secret with one kept state, and fails the
// first lookup of the secret named "flaky".
type flakyFollowers struct {
	mu     sync.Mutex
	failed bool
}

func (f *flakyFollowers) Followers(_ context.Context, vault, name string) ([]*state.Kept, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name == "flaky" && !f.failed {
		f.failed = true
		return nil, errors.New("storage unavailable")
	}
	return []*state.Kept{{ServicePrincipalID: kvSP, Document: []byte(`{"servicePrincipalId":"` + kvSP + `"}`),
		References: []state.Reference{{Key: "SecretToken", Vault: vault, Name: name}}}}, nil
}

func kvMessage(id, secret string) *azservicebus.Message {
	b := []byte(`{"id":"` + id + `","eventType":"Microsoft.KeyVault.SecretNewVersionCreated","data":{"Id":"https://contoso-kv.vault.azure.net/secrets/` +
		secret + `/` + kvVersion + `"}}`)
	return &azservicebus.Message{MessageID: &id, Body: b}
}

func (e *env) events() *follow.Events {
	return &follow.Events{Store: &flakyFollowers{}, Sender: e.sb, Suffix: "vault.azure.net",
		AllowedVaults: []string{"contoso-kv.vault.azure.net"}, RequestQueue: "reapplied"}
}

// TestEvents: the worker receives from the events queue too, completing an
// event acted on, dead-lettering an unreadable one with the reason, and
// abandoning one whose kept states could not be read, which succeeds on
// redelivery.
func TestEvents(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := testContext(t)
	e.b.CreateQueue("requests", sbbroker.QueueOptions{})
	e.b.CreateQueue("kv-events", sbbroker.QueueOptions{MaxDeliveryCount: 5})
	e.b.CreateQueue("reapplied", sbbroker.QueueOptions{})
	bad := "not-an-event"
	e.send(ctx, t, "kv-events", kvMessage("ev-good", "scim-token"), &azservicebus.Message{MessageID: &bad, Body: []byte(`{"eventType":"x"}`)},
		kvMessage("ev-flaky", "flaky"))
	stop := e.start(t, Options{Queue: "requests", Concurrency: 2, EventsQueue: "kv-events", Events: e.events()})

	reapplied := e.b.WaitForMessages(ctx, "reapplied", 2)
	dead := e.b.WaitForDeadLetters(ctx, "kv-events", 1)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	ids := map[string]bool{}
	for _, m := range reapplied {
		ids[m.CorrelationID] = true
		if m.SessionID != kvSP || m.MessageID != follow.MessageID(m.CorrelationID, kvSP) {
			t.Errorf("re-applied request %+v: want SessionId %s and the derived MessageId", m, kvSP)
		}
	}
	if !ids["ev-good"] || !ids["ev-flaky"] {
		t.Errorf("re-applied requests for %v, want ev-good and ev-flaky", ids)
	}
	if len(dead) != 1 || dead[0].MessageID != bad || dead[0].DeadLetterReason != reasonUnreadableEvent ||
		!strings.Contains(dead[0].DeadLetterErrorDescription, "has no id") {
		t.Errorf("dead letters = %+v, want the unreadable event with its reason", dead)
	}
	stats := e.b.Queue("kv-events").Stats
	if stats["completed"] != 2 || stats["abandoned"] != 1 || stats["deadLettered"] != 1 {
		t.Errorf("broker stats %v, want 2 completed, 1 abandoned, 1 dead-lettered", stats)
	}
	if logs := e.logs.String(); !strings.Contains(logs, `"settlement":"abandon"`) || !strings.Contains(logs, `"action":"reapplied"`) {
		t.Errorf("logs lack the settlements:\n%s", logs)
	}
}

// TestEventsQueueMissing: an events queue that does not exist is logged and
// skipped; requests are still processed.
func TestEventsQueueMissing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := testContext(t)
	e.b.CreateQueue("requests", sbbroker.QueueOptions{})
	e.b.SetAutoCreateQueues(false)
	e.send(ctx, t, "requests", msg("m1", "ok", ""))
	stop := e.start(t, Options{Queue: "requests", Concurrency: 1, EventsQueue: "no-such-events", Events: e.events()})
	e.b.WaitForMessages(ctx, "results", 1)
	waitLog(ctx, t, e.logs, "not receiving Key Vault events")
	if err := stop(); err != nil {
		t.Fatalf("Run: %v, want the missing events queue skipped", err)
	}
	if !strings.Contains(e.logs.String(), "no-such-events") {
		t.Errorf("the log does not name the events queue:\n%s", e.logs.String())
	}
}

// waitLog waits until the logs contain s.
func waitLog(ctx context.Context, t *testing.T, logs *syncBuffer, s string) {
	t.Helper()
	for !strings.Contains(logs.String(), s) {
		select {
		case <-ctx.Done():
			t.Fatalf("the logs never said %q:\n%s", s, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
