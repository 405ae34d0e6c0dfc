package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/putsecrets/putsecrets/internal/config"
	"github.com/putsecrets/putsecrets/internal/follow"
	"github.com/putsecrets/putsecrets/internal/servicebus"
	"github.com/putsecrets/putsecrets/internal/state"
	"github.com/putsecrets/putsecrets/standin/azure"
	"github.com/putsecrets/putsecrets/standin/azurite"
	"github.com/putsecrets/putsecrets/standin/eventgrid"
	"github.com/putsecrets/putsecrets/standin/graph"
	"github.com/putsecrets/putsecrets/standin/host"
	"github.com/putsecrets/putsecrets/standin/keyvault"
	"github.com/putsecrets/putsecrets/standin/sbbroker"
)

// Versions of the followed secret.
const (
	v1 = "1111111111111111111111111111aaaa"
	v2 = "2222222222222222222222222222bbbb"
)

// eventsRig is a handler with a state store, the broker's queues, an Event
// Grid subscription to the events queue, and a store client to seed kept
// states with (the follow field's save path is the follow helper's; these
// tests start from kept states).
type eventsRig struct {
	*fixture
	b     *sbbroker.Broker
	sb    *servicebus.Client
	store *state.Store
	grid  *eventgrid.Subscription
}

func startEvents(t *testing.T, schema eventgrid.Schema, quirks eventgrid.Quirks, extra settings) *eventsRig {
	t.Helper()
	b := startBroker(t, "requests", "kv-events", "results")
	s := settings{"ServiceBusConnection": b.ConnectionString(), "PUTSECRETS_QUEUE": "requests",
		"PUTSECRETS_EVENTS_QUEUE": "kv-events", "PUTSECRETS_RESULTS_QUEUE": "results", "PUTSECRETS_GRAPH_CONSISTENCY_WAIT": "0s"}
	for k, v := range extra {
		s[k] = v
	}
	f := start(t, s, azure.WithStorage())
	f.env.Graph.AddServicePrincipal(sp2)
	sb, err := servicebus.New(config.ServiceBus{ConnectionString: b.ConnectionString()}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close(context.Background()) })
	st, err := state.New(f.env.StateURL, identityCred{f.env}, &state.Options{ClientOptions: azcore.ClientOptions{Transport: f.env.HTTPClient()}})
	if err != nil {
		t.Fatal(err)
	}
	r := &eventsRig{fixture: f, b: b, sb: sb, store: st,
		grid: &eventgrid.Subscription{Name: "kv-to-queue", Sender: sb, Queue: "kv-events", Schema: schema, Quirks: quirks}}
	t.Cleanup(r.recordBlobs)
	return r
}

// setSecret stores a canary as a new version of name (belonging under key)
// and returns it.
func (r *eventsRig) setSecret(name, key, version string) string {
	v := newCanary(r.t)
	r.belongs[v] = key
	r.stored[name] = v
	r.env.KeyVault.SetSecret(r.vaultHost(vault), name, v, keyvault.Version(version))
	return v
}

// keep seeds the kept state of sp: a document with one reference per entry
// (key → secretUri, pinned when version is set).
func (r *eventsRig) keep(sp string, refs ...state.Reference) {
	r.t.Helper()
	var secrets []map[string]any
	for i := range refs {
		refs[i].Vault = r.vaultHost(vault)
		refs[i].Field = fmt.Sprintf("secrets[%d].secretUri", i)
		u := "https://" + refs[i].Vault + "/secrets/" + refs[i].Name
		if refs[i].Version != "" {
			u += "/" + refs[i].Version
		}
		secrets = append(secrets, uri(refs[i].Key, u))
	}
	k := &state.Kept{ServicePrincipalID: sp, Document: encode(r.t, doc(sp, secrets...)), References: refs, SavedAt: time.Now().UTC()}
	if err := r.store.Put(context.Background(), k); err != nil {
		r.t.Fatalf("seed the kept state of %s: %v", sp, err)
	}
}

// deliver takes the one event Event Grid put on the events queue from the
// broker, with a real azservicebus receiver, and invokes PutSecretsFromKeyVault
// with it as the host would (deliveryCount as given).
func (r *eventsRig) deliver(ctx context.Context, deliveryCount int) (*host.Result, *azservicebus.ReceivedMessage) {
	r.t.Helper()
	rc, err := r.sb.SDK().NewReceiverForQueue("kv-events", nil)
	if err != nil {
		r.t.Fatal(err)
	}
	defer rc.Close(ctx)
	msgs, err := rc.ReceiveMessages(ctx, 1, nil)
	if err != nil || len(msgs) != 1 {
		r.t.Fatalf("receive the event: %d messages, %v", len(msgs), err)
	}
	m := msgs[0]
	if err := rc.CompleteMessage(ctx, m, nil); err != nil {
		r.t.Fatal(err)
	}
	return r.invokeEvent(ctx, m, deliveryCount), m
}

func (r *eventsRig) invokeEvent(ctx context.Context, m *azservicebus.ReceivedMessage, deliveryCount int) *host.Result {
	r.t.Helper()
	res, err := r.host.InvokeServiceBus(ctx, "PutSecretsFromKeyVault", host.Message{Body: m.Body, MessageID: m.MessageID,
		ContentType: deref(m.ContentType), ApplicationProperties: m.ApplicationProperties, DeliveryCount: deliveryCount})
	if err != nil {
		r.t.Fatalf("invoke PutSecretsFromKeyVault: %v", err)
	}
	outputs.add(r.t.Name()+" PutSecretsFromKeyVault answer", string(res.Raw))
	return res
}

// publish sends a Key Vault event for the followed secret through Event Grid.
func (r *eventsRig) publish(ctx context.Context, typ, name, version string) eventgrid.Event {
	r.t.Helper()
	ev, err := r.grid.Publish(ctx, eventgrid.Event{Type: typ, Vault: r.vaultHost(vault), Name: name, Version: version,
		NotBefore: time.Now().Add(-time.Minute), Expires: time.Now().Add(30 * 24 * time.Hour)})
	if err != nil {
		r.t.Fatal(err)
	}
	return ev
}

// recordBlobs registers every blob of the state container for the canary check.
func (r *eventsRig) recordBlobs() {
	c, err := container.NewClient(r.env.StateURL, identityCred{r.env}, &container.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: r.env.HTTPClient()}})
	if err != nil {
		r.t.Error(err)
		return
	}
	ctx := context.Background()
	pager := c.NewListBlobsFlatPager(nil)
	n := 0
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if !strings.Contains(err.Error(), "ContainerNotFound") {
				r.t.Errorf("list kept-state blobs: %v", err)
			}
			return
		}
		for _, it := range page.Segment.BlobItems {
			resp, err := c.NewBlobClient(*it.Name).DownloadStream(ctx, nil)
			if err != nil {
				r.t.Errorf("read blob %s: %v", *it.Name, err)
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			outputs.add(r.t.Name()+" blob "+*it.Name, *it.Name+"\n"+string(b))
			n++
		}
	}
	if n == 0 {
		r.t.Error("the state container holds no blob to check for canaries")
	}
}

// TestFollowNewVersion: a new version of a followed secret, in either schema
// and with Key Vault's quirks, makes exactly one request per service
// principal that follows it without a version reach the request queue with
// the §8 properties; processed by PutSecretsFromQueue it saves the NEW value.
// A pinned reference gets nothing; a redelivered event sends the same MessageId.
func TestFollowNewVersion(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		schema eventgrid.Schema
		quirks eventgrid.Quirks
	}{
		{"EventGridSchema with the quirks", eventgrid.EventGridSchema, eventgrid.Quirks{CamelCase: true, SpacedKey: true, SpacedValue: true, StringTimes: true}},
		{"CloudEvents", eventgrid.CloudEventsSchema, eventgrid.Quirks{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := waitContext(t)
			r := startEvents(t, tt.schema, tt.quirks, nil)
			r.setSecret("scim-token", "SecretToken", v1)
			r.keep(spID, state.Reference{Key: "SecretToken", Name: "scim-token", Resolved: v1})
			r.keep(sp2, state.Reference{Key: "SecretToken", Name: "scim-token", Version: v1, Resolved: v1})

			// Key Vault's rotation publishes SecretNewVersionCreated through Event Grid.
			r.env.KeyVault.OnNewVersion(func(nv keyvault.NewVersion) {
				if _, err := r.grid.Publish(ctx, eventgrid.Event{Type: eventgrid.SecretNewVersionCreated, Vault: nv.Vault, Name: nv.Name,
					Version: nv.Version, NotBefore: time.Now().Add(-time.Second)}); err != nil {
					t.Errorf("publish: %v", err)
				}
			})
			newValue := r.setSecret("scim-token", "SecretToken", v2)
			r.env.KeyVault.OnNewVersion(nil)

			res, ev := r.deliver(ctx, 1)
			if res.Failed {
				t.Fatalf("the invocation failed: %s %v", res.Reason, res.Logs)
			}
			reqs := recordMessages(t, "request", r.b.WaitForMessages(ctx, "requests", 1))
			if len(reqs) != 1 {
				t.Fatalf("the request queue holds %d messages, want 1 (the pinned SP gets none)", len(reqs))
			}
			m := reqs[0]
			if m.MessageID != follow.MessageID(ev.MessageID, spID) || m.CorrelationID != ev.MessageID || m.SessionID != spID ||
				m.ContentType != "application/json" {
				t.Errorf("request MessageId %q CorrelationId %q SessionId %q ContentType %q; want the derived ID, event %s, %s",
					m.MessageID, m.CorrelationID, m.SessionID, m.ContentType, ev.MessageID, spID)
			}

			// The usual path saves the new value.
			qres, err := r.host.InvokeServiceBus(ctx, "PutSecretsFromQueue", host.Message{Body: m.Body, MessageID: m.MessageID,
				CorrelationID: m.CorrelationID, SessionID: m.SessionID, ContentType: m.ContentType})
			if err != nil || qres.Failed {
				t.Fatalf("PutSecretsFromQueue: %v %+v", err, qres)
			}
			outputs.add(t.Name()+" PutSecretsFromQueue answer", string(qres.Raw))
			r.expectSaved(spID, []graph.KeyValue{{Key: "SecretToken", Value: newValue}})
			if got := r.env.Graph.Saved(sp2); len(got) != 0 {
				t.Errorf("the pinned service principal was saved: keys %v", keysOf(got))
			}

			// Redelivered (the host abandoned it, say): the same MessageId, which
			// duplicate detection drops.
			if res := r.invokeEvent(ctx, ev, 2); res.Failed {
				t.Fatalf("the redelivery failed: %s", res.Reason)
			}
			reqs = recordMessages(t, "request", r.b.WaitForMessages(ctx, "requests", 2))
			if len(reqs) != 2 || reqs[1].MessageID != reqs[0].MessageID {
				t.Errorf("after a redelivery: %d requests, MessageIds %v; want the same MessageId twice", len(reqs), messageIDs(reqs))
			}
		})
	}
}

func messageIDs(msgs []sbbroker.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.MessageID)
	}
	return out
}

// TestFollowExpiry: near-expiry and expired events report to the results
// queue every followed service principal and key that uses the version,
// pinned or not, and log a warning.
func TestFollowExpiry(t *testing.T) {
	t.Parallel()
	ctx := waitContext(t)
	r := startEvents(t, eventgrid.EventGridSchema, eventgrid.Quirks{}, nil)
	r.setSecret("scim-token", "SecretToken|ClientSecret", v1)
	r.keep(spID, state.Reference{Key: "SecretToken", Name: "scim-token", Resolved: v1})
	r.keep(sp2, state.Reference{Key: "ClientSecret", Name: "scim-token", Version: v1, Resolved: v1},
		state.Reference{Key: "SecretToken", Name: "SCIM-TOKEN", Resolved: v1})
	for i, tc := range []struct{ typ, subject string }{
		{eventgrid.SecretNearExpiry, follow.SubjectNearExpiry},
		{eventgrid.SecretExpired, follow.SubjectExpired},
	} {
		ev := r.publish(ctx, tc.typ, "scim-token", v1)
		if res, _ := r.deliver(ctx, 1); res.Failed {
			t.Fatalf("%s: the invocation failed: %s", tc.typ, res.Reason)
		}
		msgs := recordMessages(t, "expiry", r.b.WaitForMessages(ctx, "results", i+1))
		m := msgs[i]
		if m.Subject != tc.subject || m.CorrelationID != ev.ID {
			t.Errorf("%s: Subject %q CorrelationId %q", tc.typ, m.Subject, m.CorrelationID)
		}
		expiry := ev.Expires.UTC().Format(time.RFC3339)
		if m.ApplicationProperties["vault"] != r.vaultHost(vault) || m.ApplicationProperties["secret"] != "scim-token" ||
			m.ApplicationProperties["expiry"] != expiry {
			t.Errorf("%s: application properties %v", tc.typ, m.ApplicationProperties)
		}
		var rep follow.Expiry
		if err := json.Unmarshal(m.Body, &rep); err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprint(rep.Vault, rep.Secret, rep.Expiry, rep.ServicePrincipals)
		want := fmt.Sprint(r.vaultHost(vault), "scim-token", expiry,
			[]follow.ExpiryUse{{ServicePrincipalID: sp2, Keys: []string{"ClientSecret", "SecretToken"}, Pinned: true},
				{ServicePrincipalID: spID, Keys: []string{"SecretToken"}}})
		if got != want {
			t.Errorf("%s: report\n got %s\nwant %s", tc.typ, got, want)
		}
	}
	if n := len(r.b.Messages("requests")); n != 0 {
		t.Errorf("an expiry sent %d requests, want none", n)
	}
	if logs := r.logs(); strings.Count(logs, `"level":"WARN","msg":"a followed Key Vault secret`) != 2 {
		t.Errorf("want two expiry warnings in the logs:\n%s", logs)
	}
}

// TestFollowIgnoredEvents: an event for a vault not allowed or a secret
// nobody follows succeeds and sends nothing, with one line saying why; an
// unreadable event fails the invocation.
func TestFollowIgnoredEvents(t *testing.T) {
	t.Parallel()
	ctx := waitContext(t)
	r := startEvents(t, eventgrid.EventGridSchema, eventgrid.Quirks{}, nil)
	r.setSecret("scim-token", "SecretToken", v1)
	r.keep(spID, state.Reference{Key: "SecretToken", Name: "scim-token", Resolved: v1})

	if _, err := r.grid.Publish(ctx, eventgrid.Event{Type: eventgrid.SecretNewVersionCreated, Vault: "evil-kv.vault.azure.net",
		Name: "scim-token", Version: v2}); err != nil {
		t.Fatal(err)
	}
	if res, _ := r.deliver(ctx, 1); res.Failed || !strings.Contains(strings.Join(res.Logs, " "), "not in PUTSECRETS_ALLOWED_VAULTS") {
		t.Errorf("unknown vault: failed %v, logs %v", res.Failed, res.Logs)
	}
	r.publish(ctx, eventgrid.SecretNewVersionCreated, "nobody-follows", v2)
	if res, _ := r.deliver(ctx, 1); res.Failed || !strings.Contains(strings.Join(res.Logs, " "), "no followed service principal") {
		t.Errorf("unfollowed secret: failed %v, logs %v", res.Failed, res.Logs)
	}
	id := "not-an-event"
	if err := r.sb.Send(ctx, "kv-events", &azservicebus.Message{MessageID: &id, Body: []byte(`{"eventType":"Microsoft.KeyVault.SecretNewVersionCreated"}`)}); err != nil {
		t.Fatal(err)
	}
	if res, _ := r.deliver(ctx, 1); !res.Failed {
		t.Errorf("an unreadable event did not fail the invocation: %v", res.Logs)
	}
	for _, q := range []string{"requests", "results"} {
		if n := len(recordMessages(t, q, r.b.Messages(q))); n != 0 {
			t.Errorf("%s holds %d messages, want none", q, n)
		}
	}
	logs := r.logs()
	for _, want := range []string{`"reason":"vault evil-kv.vault.azure.net is not in PUTSECRETS_ALLOWED_VAULTS"`,
		`"reason":"no followed service principal references secret nobody-follows`, `"msg":"invocation failed"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

// TestFollowStorageDown: with the state store unreachable the invocation
// fails (the host abandons; Service Bus redelivers), and the redelivery
// after it is back succeeds.
func TestFollowStorageDown(t *testing.T) {
	t.Parallel()
	ctx := waitContext(t)
	// The handler reaches Azurite through a switchable forwarder.
	az := azurite.Shared(t)
	fw := newForwarder(t, az.Addr())
	u, err := url.Parse(az.NewContainerURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Host = fw.addr()
	r := startEvents(t, eventgrid.EventGridSchema, eventgrid.Quirks{}, settings{"PUTSECRETS_STATE_URL": u.String()})
	r.env.StateURL = u.String() // for recordBlobs
	st, err := state.New(u.String(), identityCred{r.env}, &state.Options{ClientOptions: azcore.ClientOptions{Transport: r.env.HTTPClient()}})
	if err != nil {
		t.Fatal(err)
	}
	r.store = st
	r.setSecret("scim-token", "SecretToken", v1)
	r.keep(spID, state.Reference{Key: "SecretToken", Name: "scim-token", Resolved: v1})

	r.publish(ctx, eventgrid.SecretNewVersionCreated, "scim-token", v2)
	fw.down.Store(true)
	res, ev := r.deliver(ctx, 1)
	if !res.Failed {
		t.Fatalf("with storage down the invocation succeeded: %v", res.Logs)
	}
	if n := len(r.b.Messages("requests")); n != 0 {
		t.Errorf("with storage down %d requests were sent", n)
	}
	fw.down.Store(false)
	if res := r.invokeEvent(ctx, ev, 2); res.Failed {
		t.Fatalf("the redelivery after storage came back failed: %s %v", res.Reason, res.Logs)
	}
	if reqs := recordMessages(t, "request", r.b.WaitForMessages(ctx, "requests", 1)); len(reqs) != 1 || reqs[0].SessionID != spID {
		t.Errorf("after the redelivery: %d requests, want 1 for %s", len(reqs), spID)
	}
}

// identityCred gets tokens from the fake Azure's managed identity endpoint,
// as azidentity does in the handler, for the test's own store clients.
type identityCred struct{ env *azure.Env }

func (c identityCred) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if len(o.Scopes) != 1 {
		return azcore.AccessToken{}, errors.New("identityCred: one scope")
	}
	q := url.Values{"api-version": {"2019-08-01"}, "resource": {strings.TrimSuffix(o.Scopes[0], "/.default")}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.env.Identity.Endpoint()+"?"+q.Encode(), nil)
	if err != nil {
		return azcore.AccessToken{}, err
	}
	req.Header.Set("X-IDENTITY-HEADER", c.env.Identity.Header())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return azcore.AccessToken{}, err
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresOn   string `json:"expires_on"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK {
		return azcore.AccessToken{}, fmt.Errorf("identityCred: %d %v", resp.StatusCode, err)
	}
	exp, _ := strconv.ParseInt(tok.ExpiresOn, 10, 64)
	return azcore.AccessToken{Token: tok.AccessToken, ExpiresOn: time.Unix(exp, 0)}, nil
}

// forwarder relays TCP connections to target, or drops them at once while down.
type forwarder struct {
	ln   net.Listener
	down atomic.Bool
}

func newForwarder(t *testing.T, target string) *forwarder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if f.down.Load() {
				c.Close()
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				u, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer u.Close()
				go func() { _, _ = io.Copy(u, c); u.Close() }()
				_, _ = io.Copy(c, u)
			}()
		}
	}()
	return f
}

func (f *forwarder) addr() string { return f.ln.Addr().String() }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
