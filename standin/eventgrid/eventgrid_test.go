package eventgrid_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/putsecrets/putsecrets/internal/config"
	"github.com/putsecrets/putsecrets/internal/kvevent"
	"github.com/putsecrets/putsecrets/internal/servicebus"
	"github.com/putsecrets/putsecrets/standin/eventgrid"
	"github.com/putsecrets/putsecrets/standin/sbbroker"
)

// TestDeliveredThroughTheBroker delivers events in both schemas, with each
// quirk and all of them, through the test broker to a real azservicebus
// receiver, and decodes each with the app's decoder.
func TestDeliveredThroughTheBroker(t *testing.T) {
	t.Parallel()
	b := sbbroker.Start(t)
	b.CreateQueue("kv-events", sbbroker.QueueOptions{})
	sb, err := servicebus.New(config.ServiceBus{ConnectionString: b.ConnectionString()}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	defer sb.Close(ctx)

	nbf := time.Unix(1764637713, 0).UTC()
	exp := time.Unix(1772413713, 0).UTC()
	quirks := map[string]eventgrid.Quirks{
		"none":        {},
		"camelCase":   {CamelCase: true},
		"spacedKey":   {SpacedKey: true},
		"spacedValue": {SpacedValue: true},
		"stringTimes": {StringTimes: true},
		"all":         {CamelCase: true, SpacedKey: true, SpacedValue: true, StringTimes: true},
	}
	type sentEvent struct {
		ev     eventgrid.Event
		schema kvevent.Schema
	}
	want := map[string]sentEvent{}
	for _, schema := range []eventgrid.Schema{eventgrid.EventGridSchema, eventgrid.CloudEventsSchema} {
		for _, q := range quirks {
			for _, typ := range []string{eventgrid.SecretNewVersionCreated, eventgrid.SecretNearExpiry, eventgrid.SecretExpired} {
				sub := &eventgrid.Subscription{Name: "kv-to-queue", Sender: sb, Queue: "kv-events", Schema: schema, Quirks: q}
				ev, err := sub.Publish(ctx, eventgrid.Event{Type: typ, Vault: "contoso-kv.vault.azure.net", Name: "scim-token",
					Version: "ee059b2bb5bc48398a53b168c6cdcb10", NotBefore: nbf, Expires: exp})
				if err != nil {
					t.Fatal(err)
				}
				ks := kvevent.EventGrid
				if schema == eventgrid.CloudEventsSchema {
					ks = kvevent.CloudEvents
				}
				want[ev.ID] = sentEvent{ev, ks}
			}
		}
	}

	r, err := sb.SDK().NewReceiverForQueue("kv-events", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	got := 0
	for got < len(want) {
		msgs, err := r.ReceiveMessages(ctx, len(want), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			got++
			s, ok := want[m.MessageID]
			if !ok {
				t.Errorf("MessageId %q is not an event ID sent", m.MessageID)
				continue
			}
			checkMessage(t, m, s.ev, s.schema, nbf, exp)
			if err := r.CompleteMessage(ctx, m, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func checkMessage(t *testing.T, m *azservicebus.ReceivedMessage, ev eventgrid.Event, schema kvevent.Schema, nbf, exp time.Time) {
	t.Helper()
	name := fmt.Sprintf("%s %s %+v", ev.Type, schema, ev.Quirks)
	for _, p := range []string{"aeg-subscription-name", "aeg-delivery-count", "aeg-data-version", "aeg-metadata-version"} {
		if _, ok := m.ApplicationProperties[p]; !ok {
			t.Errorf("%s: no application property %s", name, p)
		}
	}
	var top []json.RawMessage
	if json.Unmarshal(m.Body, &top) == nil {
		t.Errorf("%s: the body is an array; Event Grid sends one event per message", name)
	}
	e, err := kvevent.Decode(m.Body, "vault.azure.net")
	if err != nil {
		t.Errorf("%s: %v\n%s", name, err, m.Body)
		return
	}
	wantEv := kvevent.Event{ID: ev.ID, Type: ev.Type, Schema: schema, Vault: "contoso-kv.vault.azure.net", Name: "scim-token",
		Version: "ee059b2bb5bc48398a53b168c6cdcb10", NotBefore: nbf, Expires: exp}
	if *e != wantEv {
		t.Errorf("%s: decoded\n %+v\nwant\n %+v", name, *e, wantEv)
	}
}

// TestBodyQuirks checks the quirks appear in the body as the fixtures show them.
func TestBodyQuirks(t *testing.T) {
	t.Parallel()
	ev := eventgrid.Event{ID: "x", Type: eventgrid.SecretNewVersionCreated, Vault: "contoso-kv.vault.azure.net", Name: "s",
		Version: "ee059b2bb5bc48398a53b168c6cdcb10", NotBefore: time.Unix(5, 0),
		Quirks: eventgrid.Quirks{CamelCase: true, SpacedKey: true, SpacedValue: true, StringTimes: true}}
	var doc struct{ Data map[string]any }
	if err := json.Unmarshal(ev.Body(), &doc); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"id": "https://contoso-kv.vault.azure.net/secrets/s/ee059b2bb5bc48398a53b168c6cdcb10",
		"objectName ": "s", "version": " ee059b2bb5bc48398a53b168c6cdcb10", "nbf": "5", "vaultName": "contoso-kv"} {
		if doc.Data[k] != v {
			t.Errorf("data[%q] = %#v, want %#v (%v)", k, doc.Data[k], v, doc.Data)
		}
	}
}
