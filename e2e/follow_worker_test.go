package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/putsecrets/putsecrets/internal/config"
	"github.com/putsecrets/putsecrets/internal/servicebus"
	"github.com/putsecrets/putsecrets/internal/state"
	"github.com/putsecrets/putsecrets/standin/azure"
	"github.com/putsecrets/putsecrets/standin/eventgrid"
	"github.com/putsecrets/putsecrets/standin/graph"
	"github.com/putsecrets/putsecrets/standin/keyvault"
)

// TestWorkerFollowsKeyVault: `handler worker` alone closes the loop. A
// rotation in Key Vault reaches the events queue through Event Grid; the
// worker re-applies the kept document to the request queue, receives that
// request too and saves the new value in Graph. An unreadable event is
// dead-lettered with its reason.
func TestWorkerFollowsKeyVault(t *testing.T) {
	t.Parallel()
	ctx := waitContext(t)
	b := startBroker(t, "requests", "kv-events")
	f := &fixture{t: t, env: azure.Start(t, azure.WithStorage()), cloud: clouds["AzurePublic"], belongs: map[string]string{}, stored: map[string]string{}}
	f.env.Graph.AddServicePrincipal(spID)
	t.Cleanup(f.checkGraphPlacement)
	sbc, err := servicebus.New(config.ServiceBus{ConnectionString: b.ConnectionString()}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sbc.Close(context.Background()) })
	st, err := state.New(f.env.StateURL, identityCred{f.env}, &state.Options{ClientOptions: azcore.ClientOptions{Transport: f.env.HTTPClient()}})
	if err != nil {
		t.Fatal(err)
	}
	r := &eventsRig{fixture: f, b: b, sb: sbc, store: st,
		grid: &eventgrid.Subscription{Name: "kv-to-queue", Sender: sbc, Queue: "kv-events", Quirks: eventgrid.Quirks{CamelCase: true, StringTimes: true}}}
	t.Cleanup(r.recordBlobs)

	r.setSecret("scim-token", "SecretToken", v1)
	r.keep(spID, state.Reference{Key: "SecretToken", Name: "scim-token", Resolved: v1})

	w := f.command(settings{"ServiceBusConnection": b.ConnectionString(), "PUTSECRETS_QUEUE": "requests",
		"PUTSECRETS_EVENTS_QUEUE": "kv-events", "PUTSECRETS_GRAPH_CONSISTENCY_WAIT": "0s"}, nil, "worker", "--concurrency", "2")

	f.env.KeyVault.OnNewVersion(func(nv keyvault.NewVersion) {
		if _, err := r.grid.Publish(ctx, eventgrid.Event{Type: eventgrid.SecretNewVersionCreated, Vault: nv.Vault, Name: nv.Name, Version: nv.Version}); err != nil {
			t.Errorf("publish: %v", err)
		}
	})
	newValue := r.setSecret("scim-token", "SecretToken", v2)
	f.env.KeyVault.OnNewVersion(nil)
	bad := "not-an-event"
	if err := sbc.Send(ctx, "kv-events", &azservicebus.Message{MessageID: &bad, Body: []byte(`["not one event"]`)}); err != nil {
		t.Fatal(err)
	}

	dead := recordMessages(t, "dead letter", b.WaitForDeadLetters(ctx, "kv-events", 1))
	for len(f.env.Graph.Saved(spID)) == 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("Graph never received the re-applied request; worker output:\n%s", w.out())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if code := w.stop(); code != 0 {
		t.Errorf("worker exit code after SIGTERM = %d, want 0: %s", code, w.errOut())
	}
	f.expectSaved(spID, []graph.KeyValue{{Key: "SecretToken", Value: newValue}})
	if len(dead) != 1 || dead[0].MessageID != bad || dead[0].DeadLetterReason != "Unreadable Key Vault event" ||
		!strings.Contains(dead[0].DeadLetterErrorDescription, "not one event") {
		t.Errorf("dead letters %+v, want the unreadable event with its reason", dead)
	}
	recordMessages(t, "request", b.Messages("requests"))
	if out := w.out(); !strings.Contains(out, `"action":"reapplied"`) || !strings.Contains(out, `"msg":"message processed"`) {
		t.Errorf("worker log lacks the event and the request it caused:\n%s", out)
	}
}

// TestWorkerWithoutEventsQueue: a worker whose events queue does not exist
// says so and keeps serving the request queue.
func TestWorkerWithoutEventsQueue(t *testing.T) {
	t.Parallel()
	ctx := waitContext(t)
	b := startBroker(t, "requests", "replies")
	b.SetAutoCreateQueues(false)
	f := azureOnly(t)
	w := f.command(settings{"ServiceBusConnection": b.ConnectionString(), "PUTSECRETS_QUEUE": "requests",
		"PUTSECRETS_EVENTS_QUEUE": "no-such-events"}, nil, "worker")
	base := f.literal("BaseAddress")
	if code, p := f.enqueue(settings{"ServiceBusConnection": b.ConnectionString(), "PUTSECRETS_QUEUE": "requests"},
		doc(spID, literal("BaseAddress", base)), "--reply-to", "replies"); code != 0 {
		t.Fatalf("enqueue: %s", p.errOut())
	}
	recordMessages(t, "outcome", b.WaitForMessages(ctx, "replies", 1))
	for !strings.Contains(w.out(), "not receiving Key Vault events") {
		select {
		case <-ctx.Done():
			t.Fatalf("the worker never said it skips the events queue:\n%s", w.out())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if code := w.stop(); code != 0 {
		t.Errorf("worker exit code = %d, want 0: %s", code, w.errOut())
	}
	if !strings.Contains(w.out(), "no-such-events") {
		t.Errorf("the worker log does not name the events queue:\n%s", w.out())
	}
}
