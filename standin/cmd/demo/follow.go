package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/putsecrets/putsecrets/internal/servicebus"
	"github.com/putsecrets/putsecrets/standin/azure"
	"github.com/putsecrets/putsecrets/standin/eventgrid"
	"github.com/putsecrets/putsecrets/standin/host"
	"github.com/putsecrets/putsecrets/standin/keyvault"
)

// The queues of the follow part, on the test broker.
const (
	requestQueue = "putsecrets-requests"
	eventsQueue  = "putsecrets-kv-events"
	resultsQueue = "putsecrets-results"
)

// followDemo is section 4: a followed save, a new secret version in the
// local Key Vault, its event through Event Grid's stand-in and the test
// broker, the re-applied PUT with the new value, and an expiry warning. It
// returns the values the vault held, for the final leak check.
func followDemo(ctx context.Context, p printer, env *azure.Env, h *host.Host, sb *servicebus.Client) ([]string, error) {
	grid := &eventgrid.Subscription{Name: "kv-to-queue", Sender: sb, Queue: eventsQueue}
	published := make(chan error, 1)
	env.KeyVault.OnNewVersion(func(nv keyvault.NewVersion) {
		_, err := grid.Publish(ctx, eventgrid.Event{Type: eventgrid.SecretNewVersionCreated, Vault: nv.Vault, Name: nv.Name, Version: nv.Version})
		published <- err
	})
	defer env.KeyVault.OnNewVersion(nil)

	p.section("4. Following Key Vault: a followed save, then a rotation nobody runs a pipeline for")
	doc := `{"servicePrincipalId":"` + spID + `","follow":true,"secrets":[` +
		`{"key":"BaseAddress","value":"https://scim.example.com/scim/v2"},` +
		`{"key":"SecretToken","secretUri":"https://contoso-kv.vault.azure.net/secrets/scim-token"}]}`
	p.block("request (follow: true)", indent([]byte(doc)))
	res, err := h.InvokeHTTP(ctx, "PutSecrets", host.HTTPRequest{
		Headers: map[string]string{"Content-Type": "application/json"}, Body: []byte(doc)})
	if err != nil {
		return nil, err
	}
	p.block(fmt.Sprintf("answer %d %s", res.CallerStatus, res.CallerHeaders.Get("Content-Type")), indent(res.CallerBody))
	if res.CallerStatus != 200 || !strings.Contains(string(res.CallerBody), `"followed":true`) {
		return nil, fmt.Errorf("the followed save answered %d without followed: true", res.CallerStatus)
	}
	p.line("the document is kept as the desired state in %s", env.StateURL)

	rotated := randomValue("scim-token-v2")
	env.KeyVault.SetSecret(vaultHost, "scim-token", rotated)
	if err := <-published; err != nil {
		return nil, err
	}
	p.line("Key Vault: a new version of scim-token; Event Grid delivers SecretNewVersionCreated to %s", eventsQueue)

	event, err := receive(ctx, sb, eventsQueue)
	if err != nil {
		return nil, err
	}
	p.block("event on "+eventsQueue+" (MessageId = the event ID)", indent(event.Body))
	ev, err := h.InvokeServiceBus(ctx, "PutSecretsFromKeyVault", host.Message{Body: event.Body, MessageID: event.MessageID})
	if err != nil {
		return nil, err
	}
	if ev.Failed {
		return nil, fmt.Errorf("PutSecretsFromKeyVault failed: %s", ev.Reason)
	}
	p.block(fmt.Sprintf("PutSecretsFromKeyVault answered %d", ev.HandlerStatus), strings.Join(ev.Logs, "\n"))

	again, err := receive(ctx, sb, requestQueue)
	if err != nil {
		return nil, err
	}
	p.line("re-applied request on %s: MessageId %s, CorrelationId %s (the event), SessionId %s",
		requestQueue, again.MessageID, deref(again.CorrelationID), deref(again.SessionID))
	q, err := h.InvokeServiceBus(ctx, "PutSecretsFromQueue", host.Message{Body: again.Body, MessageID: again.MessageID,
		CorrelationID: deref(again.CorrelationID), SessionID: deref(again.SessionID)})
	if err != nil {
		return nil, err
	}
	if q.Failed {
		return nil, fmt.Errorf("the re-applied request failed: %s", q.Reason)
	}
	p.line("PutSecretsFromQueue saved it: the host completes the message")
	last := len(puts(env)) - 1
	if err := p.graphPut(env, last); err != nil {
		return nil, err
	}
	if !strings.Contains(string(puts(env)[last].Body), rotated) {
		return nil, errors.New("the rotated value did not reach Graph")
	}
	p.line("Graph now holds the new version of scim-token")

	// Expiry: Key Vault warns 30 days ahead; the app reports who is affected.
	expires := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second)
	if _, err := grid.Publish(ctx, eventgrid.Event{Type: eventgrid.SecretNearExpiry, Vault: vaultHost, Name: "scim-token",
		Version: versionOf(event.Body), Expires: expires}); err != nil {
		return nil, err
	}
	near, err := receive(ctx, sb, eventsQueue)
	if err != nil {
		return nil, err
	}
	ex, err := h.InvokeServiceBus(ctx, "PutSecretsFromKeyVault", host.Message{Body: near.Body, MessageID: near.MessageID})
	if err != nil {
		return nil, err
	}
	if ex.Failed {
		return nil, fmt.Errorf("the expiry event failed: %s", ex.Reason)
	}
	// The results queue also holds the outcomes of the queue invocations
	// (section 2's and the re-applied one's); the warning comes after them.
	var warning *azservicebus.ReceivedMessage
	for warning == nil {
		m, err := receive(ctx, sb, resultsQueue)
		if err != nil {
			return nil, err
		}
		if deref(m.Subject) == "PutSecrets.SecretNearExpiry" {
			warning = m
			break
		}
		p.line("outcome on %s: %s (CorrelationId %s)", resultsQueue, deref(m.Subject), deref(m.CorrelationID))
	}
	p.block(fmt.Sprintf("SecretNearExpiry: %s on %s", deref(warning.Subject), resultsQueue), indent(warning.Body))
	return []string{rotated}, nil
}

// receive takes one message from queue and completes it.
func receive(ctx context.Context, sb *servicebus.Client, queue string) (*azservicebus.ReceivedMessage, error) {
	rc, err := sb.SDK().NewReceiverForQueue(queue, nil)
	if err != nil {
		return nil, err
	}
	defer rc.Close(ctx)
	msgs, err := rc.ReceiveMessages(ctx, 1, nil)
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", queue, err)
	}
	if len(msgs) != 1 {
		return nil, fmt.Errorf("receive from %s: %d messages", queue, len(msgs))
	}
	return msgs[0], rc.CompleteMessage(ctx, msgs[0], nil)
}

// versionOf is the version an event names.
func versionOf(body []byte) string {
	var ev struct {
		Data struct{ Version string } `json:"data"`
	}
	_ = json.Unmarshal(body, &ev)
	return strings.TrimSpace(ev.Data.Version)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
