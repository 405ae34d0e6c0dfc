// Package eventgrid plays Event Grid for Key Vault's system topic: it builds
// the events Key Vault publishes for a secret version, in the Event Grid
// schema or CloudEvents 1.0, with the quirks Key Vault is known for as
// options (docs/platform.md §6, /work/shared/fixtures/keyvault-events), and
// delivers each to a Service Bus queue as Event Grid does: one event per
// message, MessageId = the event ID, aeg-* application properties.
package eventgrid

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// The Key Vault secret event types.
const (
	SecretNewVersionCreated = "Microsoft.KeyVault.SecretNewVersionCreated"
	SecretNearExpiry        = "Microsoft.KeyVault.SecretNearExpiry"
	SecretExpired           = "Microsoft.KeyVault.SecretExpired"
)

// Schema is the event schema of a subscription.
type Schema int

// The schemas an Event Grid subscription delivers in.
const (
	EventGridSchema Schema = iota
	CloudEventsSchema
)

// Quirks are the deviations Key Vault's events are known for; each is off
// unless set.
type Quirks struct {
	// CamelCase names the data fields id, vaultName, objectName, ... instead
	// of Id, VaultName, ObjectName (azure-docs#78126).
	CamelCase bool
	// SpacedKey writes the object name's key with a trailing space ("objectName ").
	SpacedKey bool
	// SpacedValue writes the version with a leading space (" ee05...").
	SpacedValue bool
	// StringTimes writes NBF and EXP as strings ("1764637713").
	StringTimes bool
}

// Event is one Key Vault secret event.
type Event struct {
	// ID is the event ID (a new UUID when empty).
	ID string
	// Type is one of the three secret event types.
	Type string
	// Vault is the vault's host ("contoso-kv.vault.azure.net").
	Vault   string
	Name    string
	Version string
	// NotBefore and Expires are the version's NBF and EXP (omitted when zero).
	NotBefore, Expires time.Time
	// Time is the event time (now when zero).
	Time   time.Time
	Schema Schema
	Quirks Quirks
}

// subscriptionID is the subscription of the topic's resource ID.
const subscriptionID = "00000000-0000-0000-0000-000000000001"

// vaultName is the first label of the vault's host.
func (e Event) vaultName() string {
	name, _, _ := strings.Cut(e.Vault, ".")
	return name
}

// withDefaults fills in ID and Time.
func (e Event) withDefaults() Event {
	if e.ID == "" {
		e.ID = newUUID()
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	return e
}

// Body returns the event as Event Grid sends it: one JSON object.
func (e Event) Body() []byte {
	e = e.withDefaults()
	key := func(pascal string) string {
		switch {
		case e.Quirks.CamelCase && strings.ToUpper(pascal) == pascal:
			return strings.ToLower(pascal) // NBF → nbf, as the docs' example
		case e.Quirks.CamelCase:
			return strings.ToLower(pascal[:1]) + pascal[1:]
		}
		return pascal
	}
	unix := func(t time.Time) any {
		if e.Quirks.StringTimes {
			return strconv.FormatInt(t.Unix(), 10)
		}
		return t.Unix()
	}
	version := e.Version
	if e.Quirks.SpacedValue {
		version = " " + version
	}
	objectName := key("ObjectName")
	if e.Quirks.SpacedKey {
		objectName += " "
	}
	data := map[string]any{
		key("Id"):         "https://" + e.Vault + "/secrets/" + e.Name + "/" + e.Version,
		key("VaultName"):  e.vaultName(),
		key("ObjectType"): "Secret",
		objectName:        e.Name,
		key("Version"):    version,
	}
	if !e.NotBefore.IsZero() {
		data[key("NBF")] = unix(e.NotBefore)
	}
	if !e.Expires.IsZero() {
		data[key("EXP")] = unix(e.Expires)
	}
	topic := "/subscriptions/" + subscriptionID + "/resourceGroups/identity-rg/providers/Microsoft.KeyVault/vaults/" + e.vaultName()
	var doc map[string]any
	if e.Schema == CloudEventsSchema {
		doc = map[string]any{
			"specversion": "1.0", "id": e.ID, "source": topic, "type": e.Type, "subject": e.Name,
			"time": e.Time.Format(time.RFC3339Nano), "datacontenttype": "application/json", "data": data,
		}
	} else {
		doc = map[string]any{
			"id": e.ID, "topic": topic, "subject": e.Name, "eventType": e.Type,
			"eventTime": e.Time.Format(time.RFC3339Nano), "data": data, "dataVersion": "1", "metadataVersion": "1",
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err) // maps of strings and numbers always marshal
	}
	return b
}

// Message returns the Service Bus message Event Grid delivers the event in
// for the subscription: MessageId = the event ID, the aeg-* application
// properties, the event as the body.
func (e Event) Message(subscription string) *azservicebus.Message {
	e = e.withDefaults()
	id := e.ID
	ct := "application/json"
	if e.Schema == CloudEventsSchema {
		ct = "application/cloudevents+json; charset=utf-8"
	}
	return &azservicebus.Message{
		MessageID:   &id,
		ContentType: &ct,
		Body:        e.Body(),
		ApplicationProperties: map[string]any{
			"aeg-subscription-name":          strings.ToUpper(subscription),
			"aeg-delivery-count":             "0",
			"aeg-data-version":               "1",
			"aeg-metadata-version":           "1",
			"aeg-event-type":                 "Notification",
			"aeg-output-event-id":            e.ID,
			"aeg-compatibility-mode-enabled": "false",
		},
	}
}

// Sender sends one message to a queue (*servicebus.Client implements it).
type Sender interface {
	Send(ctx context.Context, queue string, m *azservicebus.Message) error
}

// Subscription is an Event Grid subscription that delivers to a queue.
type Subscription struct {
	Name   string
	Sender Sender
	Queue  string
	// Schema and Quirks apply to every event Publish delivers.
	Schema Schema
	Quirks Quirks
}

// Publish delivers e to the subscription's queue, in its schema and quirks,
// and returns the event as delivered (with its ID).
func (s *Subscription) Publish(ctx context.Context, e Event) (Event, error) {
	e.Schema, e.Quirks = s.Schema, s.Quirks
	e = e.withDefaults()
	if err := s.Sender.Send(ctx, s.Queue, e.Message(s.Name)); err != nil {
		return e, fmt.Errorf("eventgrid: deliver %s to queue %q: %w", e.Type, s.Queue, err)
	}
	return e, nil
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
