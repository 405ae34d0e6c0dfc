package e2e

import (
	"strings"
	"testing"

	"github.com/putsecrets/putsecrets/standin/host"
	"github.com/putsecrets/putsecrets/standin/sbbroker"
)

// TestIDLookAlikesThroughHost: identifiers that pass a character check but
// are not IDs are refused by the real binary before any call (no Key Vault
// read, no Graph call), as a 400 for an HTTP caller and as a permanent
// failure with an outcome through the queue.
func TestIDLookAlikesThroughHost(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "replies")
	f := start(t, settings{"ServiceBusConnection": b.ConnectionString()})
	ref := uri("SecretToken", f.kvSecret("scim-token", ""))
	cases := []struct {
		field string
		extra map[string]any
	}{
		{"job.id", map[string]any{"job": map[string]any{"id": "..", "action": "start"}}},
		{"job.id", map[string]any{"job": map[string]any{"id": "scim..e5b1", "action": "restart"}}},
		{"job.id", map[string]any{"job": map[string]any{"id": "%2e%2e", "action": "start"}}},
		{"job.id", map[string]any{"job": map[string]any{"id": "scim\u2024e5b1", "action": "start"}}},
		{"validate.jobId", map[string]any{"validate": map[string]any{"jobId": "."}}},
		{"validate.jobId", map[string]any{"validate": map[string]any{"jobId": "scim.e5b1."}}},
		{"validate.templateId", map[string]any{"validate": map[string]any{"templateId": "scim.x"}}},
		{"validate.templateId", map[string]any{"validate": map[string]any{"templateId": "sc\x00im"}}},
	}
	for i, c := range cases {
		d := doc(spID, ref)
		for k, v := range c.extra {
			d[k] = v
		}
		p := failed(t, f.http(d), 400)
		if len(p.Errors) != 1 || p.Errors[0].Field != c.field {
			t.Errorf("case %d: errors %+v, want one at %s", i, p.Errors, c.field)
		}
		res := f.sb(d, host.Message{MessageID: "look-alike", ReplyTo: "replies"})
		if res.Failed {
			t.Fatalf("case %d: the queue invocation failed (%s): the message would be redelivered", i, res.Reason)
		}
		msgs := recordMessages(t, "outcome", b.WaitForMessages(waitContext(t), "replies", 1))
		b.CreateQueue("replies", sbbroker.QueueOptions{})
		if len(msgs) != 1 {
			t.Fatalf("case %d: %d outcomes, want 1", i, len(msgs))
		}
		if o := outcomeOf(t, msgs[0]); o.Subject != "PutSecrets.Failed" || o.problem.Status != 400 {
			t.Errorf("case %d: outcome %s %d, want PutSecrets.Failed 400", i, o.Subject, o.problem.Status)
		}
	}
	if n := f.env.KeyVault.Reads(f.vaultHost(vault), "scim-token"); n != 0 || len(f.env.Graph.Calls()) != 0 {
		t.Errorf("%d Key Vault reads and %d Graph calls for refused requests, want none", n, len(f.env.Graph.Calls()))
	}
}

// TestHugeBodiesThroughHost: a 5 MiB body is a 400 through the real binary,
// for an HTTP caller and, in every encoding the host uses, through the queue
// (a failed outcome to the message's ReplyTo, correlated).
func TestHugeBodiesThroughHost(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "replies")
	f := start(t, settings{"ServiceBusConnection": b.ConnectionString()})
	body := []byte(`{"servicePrincipalId":"` + spID + `","secrets":[{"key":"SyncAll","value":false}],"pad":"` +
		strings.Repeat("x", 5<<20) + `"}`)
	p := failed(t, f.http(body), 400)
	if !strings.Contains(p.Detail+p.Errors[0].Message, "larger than 65536 bytes") {
		t.Errorf("problem %+v does not say the body is too large", p)
	}
	for _, enc := range []host.Encoding{host.EncodingDouble, host.EncodingSingle, host.EncodingObject, host.EncodingBinary} {
		res := f.sb(body, host.Message{MessageID: "huge", CorrelationID: "run-5", ReplyTo: "replies", Encoding: enc})
		if res.Failed {
			t.Fatalf("encoding %d: the queue invocation failed (%s): the message would be redelivered until dead-lettered", enc, res.Reason)
		}
		msgs := recordMessages(t, "outcome", b.WaitForMessages(waitContext(t), "replies", 1))
		b.CreateQueue("replies", sbbroker.QueueOptions{})
		if len(msgs) != 1 {
			t.Fatalf("encoding %d: %d outcomes, want 1", enc, len(msgs))
		}
		o := outcomeOf(t, msgs[0])
		if o.Subject != "PutSecrets.Failed" || o.problem.Status != 400 || o.CorrelationID != "run-5" {
			t.Errorf("encoding %d: outcome %s %d correlation %q, want PutSecrets.Failed 400 run-5", enc, o.Subject, o.problem.Status, o.CorrelationID)
		}
	}
	if len(f.env.Graph.Calls()) != 0 {
		t.Errorf("%d Graph calls for refused requests", len(f.env.Graph.Calls()))
	}
}
