package follow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/putsecrets/putsecrets/internal/follow"
	"github.com/putsecrets/putsecrets/internal/graph"
	"github.com/putsecrets/putsecrets/internal/request"
	"github.com/putsecrets/putsecrets/internal/state"
	"github.com/putsecrets/putsecrets/internal/vault"
	"github.com/putsecrets/putsecrets/standin/azure"
	graphstandin "github.com/putsecrets/putsecrets/standin/graph"
	kvstandin "github.com/putsecrets/putsecrets/standin/keyvault"
)

const kvHost = "contoso-kv.vault.azure.net"

// sender records the messages sent, safe for concurrent use.
type sender struct {
	mu   sync.Mutex
	sent []sentMessage
}

type sentMessage struct {
	queue string
	m     *azservicebus.Message
}

func (s *sender) Send(_ context.Context, queue string, m *azservicebus.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, sentMessage{queue, m})
	return nil
}

func (s *sender) to(queue string) []*azservicebus.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*azservicebus.Message
	for _, sm := range s.sent {
		if sm.queue == queue {
			out = append(out, sm.m)
		}
	}
	return out
}

// world is a fake Azure with storage, and a Reconciler on it.
type world struct {
	env    *azure.Env
	store  *state.Store
	sender *sender
	log    *bytes.Buffer
	rec    *follow.Reconciler
	kv     *countingVersions
}

// countingVersions counts the Key Vault reads per secret.
type countingVersions struct {
	next  follow.Versions
	mu    sync.Mutex
	reads map[string]int
}

func (c *countingVersions) Resolve(ctx context.Context, refs []vault.Ref) ([]vault.Resolved, error) {
	c.mu.Lock()
	for _, r := range refs {
		c.reads[strings.ToLower(r.Name)]++
	}
	c.mu.Unlock()
	return c.next.Resolve(ctx, refs)
}

func newWorld(t *testing.T) *world {
	t.Helper()
	env := azure.Start(t, azure.WithStorage())
	cred := env.Identity.Credential()
	opts := azcore.ClientOptions{Transport: env.HTTPClient()}
	st, err := state.New(env.StateURL, cred, &state.Options{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	g, err := graph.NewClient("https://graph.microsoft.com", cred, &graph.ClientOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{env: env, store: st, sender: &sender{}, log: &bytes.Buffer{}}
	w.kv = &countingVersions{next: vault.New(cred, &vault.Options{ClientOptions: &azsecrets.ClientOptions{ClientOptions: opts}}), reads: map[string]int{}}
	w.rec = &follow.Reconciler{
		Logger: slog.New(slog.NewJSONHandler(&lockedWriter{w: w.log}, nil)),
		States: st, Versions: w.kv, Jobs: g, Sender: w.sender,
		Policy: &request.Policy{
			KeyVaultSuffix: "vault.azure.net", AllowedVaults: map[string]bool{kvHost: true}, StateStore: true,
		},
		RequestQueue: "putsecrets-requests", ResultsQueue: "putsecrets-results",
	}
	return w
}

// lockedWriter serialises the concurrent log lines of a run.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// ref is one reference of a kept document: a secretUri entry.
type ref struct{ key, name, pinned, resolved string }

// keep stores a followed state for sp as a save would have, the document
// naming refs (and the job, when jobID is set).
func (w *world) keep(t *testing.T, sp, jobID string, refs ...ref) *state.Kept {
	t.Helper()
	var entries []string
	k := &state.Kept{ServicePrincipalID: sp, SavedAt: time.Now().UTC(), GraphRequestID: "req-" + sp[:8]}
	for i, r := range refs {
		uri := "https://" + kvHost + "/secrets/" + r.name
		if r.pinned != "" {
			uri += "/" + r.pinned
		}
		entries = append(entries, fmt.Sprintf(`{"key":%q,"secretUri":%q}`, r.key, uri))
		k.References = append(k.References, state.Reference{
			Field: fmt.Sprintf("secrets[%d]", i), Key: r.key, Vault: kvHost, Name: r.name, Version: r.pinned, Resolved: r.resolved,
		})
	}
	job := ""
	if jobID != "" {
		job = fmt.Sprintf(`,"job":{"id":%q,"action":"restart"}`, jobID)
	}
	k.Document = []byte(fmt.Sprintf(`{"servicePrincipalId":%q,"secrets":[%s]%s,"follow":true}`, sp, strings.Join(entries, ","), job))
	if err := w.store.Put(t.Context(), k); err != nil {
		t.Fatalf("keep %s: %v", sp, err)
	}
	return k
}

const (
	v1 = "11111111111111111111111111111111"
	v2 = "22222222222222222222222222222222"
	v3 = "33333333333333333333333333333333"
	p1 = "99999999999999999999999999999999"

	spMoved     = "aaaaaaaa-0000-4000-8000-000000000001"
	spPinned    = "bbbbbbbb-0000-4000-8000-000000000002"
	spUnchanged = "cccccccc-0000-4000-8000-000000000003"
	spCasing    = "dddddddd-0000-4000-8000-000000000004"
	spJob       = "eeeeeeee-0000-4000-8000-000000000005"
	spMissing   = "ffffffff-0000-4000-8000-000000000006"
	spTwo       = "12345678-0000-4000-8000-000000000007"
)

// TestReconcile re-applies exactly the service principals whose unversioned
// reference has a newer version than the one kept, not the pinned or the
// unchanged ones, reads each secret once, and reports a quarantined job.
func TestReconcile(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	kv := w.env.KeyVault
	kv.SetSecret(kvHost, "scim-token", "value-1", kvstandin.Version(v1))
	kv.SetSecret(kvHost, "scim-token", "value-2", kvstandin.Version(v2)) // the new current version
	kv.SetSecret(kvHost, "steady", "value-3", kvstandin.Version(v3))
	kv.SetSecret(kvHost, "pinned-only", "value-p", kvstandin.Version(v2))

	w.keep(t, spMoved, "", ref{"SecretToken", "scim-token", "", v1})
	w.keep(t, spPinned, "", ref{"SecretToken", "scim-token", v1, v1}, ref{"Password", "pinned-only", p1, p1})
	w.keep(t, spUnchanged, "", ref{"SecretToken", "steady", "", v3})
	w.keep(t, spCasing, "", ref{"SecretToken", "SCIM-Token", "", strings.ToUpper(v2)}) // already current, other casings
	w.keep(t, spTwo, "", ref{"SecretToken", "steady", "", v3}, ref{"Password", "scim-token", "", v1})
	w.keep(t, spMissing, "", ref{"SecretToken", "gone", "", v1})

	const jobID = "scim.0123456789abcdef0123456789abcdef.eeeeeeee-0000-4000-8000-000000000005"
	w.env.Graph.AddServicePrincipal(spJob)
	w.env.Graph.AddJob(spJob, graphstandin.Job{ID: jobID, TemplateID: "scim", State: graphstandin.JobState{
		Code: graphstandin.StatusQuarantine, Quarantine: &graphstandin.Quarantine{
			Reason: "EncounteredQuarantineException", ErrorCode: graphstandin.CredentialValidationFailure, ErrorMessage: "the target said: value-3",
		}}})
	w.keep(t, spJob, jobID, ref{"SecretToken", "steady", "", v3})

	rep, err := w.rec.Run(t.Context(), "run-1")
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if want := []string{spTwo, spMoved}; !slices.Equal(rep.ReappliedIDs, want) {
		t.Errorf("re-applied %v, want %v", rep.ReappliedIDs, want)
	}
	want := follow.Report{RunID: "run-1", States: 7, Secrets: 3, Reapplied: 2, Unchanged: 4, Jobs: 1, Quarantined: 1, Failed: 1, ReappliedIDs: rep.ReappliedIDs}
	if fmt.Sprint(*rep) != fmt.Sprint(want) {
		t.Errorf("report = %+v, want %+v", *rep, want)
	}
	for name, n := range w.kv.reads {
		if n != 1 {
			t.Errorf("secret %s read %d times, want once", name, n)
		}
	}
	if _, ok := w.kv.reads["pinned-only"]; ok {
		t.Error("a pinned-only secret was read")
	}

	sent := w.sender.to("putsecrets-requests")
	if len(sent) != 2 {
		t.Fatalf("sent %d requests, want 2", len(sent))
	}
	for _, m := range sent {
		k, err := w.store.Get(t.Context(), *m.SessionID)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m.Body, k.Document) || *m.CorrelationID != "reconcile-run-1" || *m.ContentType != "application/json" || m.ScheduledEnqueueTime != nil {
			t.Errorf("message for %s = body %s, correlation %q; want the kept document, reconcile-run-1, now", *m.SessionID, m.Body, *m.CorrelationID)
		}
	}

	results := w.sender.to("putsecrets-results")
	if len(results) != 1 {
		t.Fatalf("sent %d results, want the one quarantine report", len(results))
	}
	q := results[0]
	var body follow.JobQuarantined
	if err := json.Unmarshal(q.Body, &body); err != nil {
		t.Fatal(err)
	}
	if *q.Subject != follow.SubjectJobQuarantined || body != (follow.JobQuarantined{
		ServicePrincipalID: spJob, JobID: jobID, Reason: "EncounteredQuarantineException", ErrorCode: graphstandin.CredentialValidationFailure, RunID: "run-1",
	}) || q.ApplicationProperties["servicePrincipalId"] != spJob {
		t.Errorf("quarantine report = subject %q body %s properties %v", *q.Subject, q.Body, q.ApplicationProperties)
	}

	logs := w.log.String()
	for _, v := range []string{"value-1", "value-2", "value-3", "value-p"} {
		if strings.Contains(logs, v) || strings.Contains(string(q.Body), v) {
			t.Errorf("a secret value (%d bytes) is in the logs or the report", len(v))
		}
	}
	if n := strings.Count(logs, `"msg":"reconcile run"`); n != 1 {
		t.Errorf("%d report lines, want 1:\n%s", n, logs)
	}

	// A second run with nothing new sends the same MessageIds, which
	// duplicate detection drops.
	first := map[string]string{}
	for _, m := range sent {
		first[*m.SessionID] = *m.MessageID
	}
	if _, err := w.rec.Run(t.Context(), "run-2"); err != nil {
		t.Fatal(err)
	}
	again := w.sender.to("putsecrets-requests")[2:]
	for _, m := range again {
		if first[*m.SessionID] != *m.MessageID {
			t.Errorf("run 2 sent %s for %s, run 1 %s; want the same", *m.MessageID, *m.SessionID, first[*m.SessionID])
		}
	}
	// Yet another version is a new message.
	kv.SetSecret(kvHost, "scim-token", "value-4")
	if _, err := w.rec.Run(t.Context(), "run-3"); err != nil {
		t.Fatal(err)
	}
	for _, m := range w.sender.to("putsecrets-requests")[4:] {
		if first[*m.SessionID] == *m.MessageID {
			t.Errorf("run 3 repeats MessageId %s for %s after a new version", *m.MessageID, *m.SessionID)
		}
	}
}

// TestReconcileNothingToDo: no store, and an empty store, are runs that do
// nothing and succeed; with states but no sender the run refuses.
func TestReconcileNothingToDo(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rep, err := w.rec.Run(t.Context(), "empty")
	if err != nil || rep.States != 0 || len(w.sender.sent) != 0 {
		t.Errorf("empty store: %+v, %v", rep, err)
	}
	w.keep(t, spMoved, "", ref{"SecretToken", "scim-token", "", v1})
	noSender := *w.rec
	noSender.Sender = nil
	if _, err := noSender.Run(t.Context(), "x"); err == nil || !strings.Contains(err.Error(), "ServiceBusConnection") {
		t.Errorf("without a sender: %v, want an error naming ServiceBusConnection", err)
	}
	noVersions := *w.rec
	noVersions.Versions = nil
	if _, err := noVersions.Run(t.Context(), "x"); err == nil || !strings.Contains(err.Error(), "Key Vault") {
		t.Errorf("without a Key Vault client: %v, want an error saying so", err)
	}
	noStore := follow.Reconciler{Logger: slog.New(slog.DiscardHandler)}
	if rep, err := noStore.Run(t.Context(), "x"); err != nil || rep.States != 0 {
		t.Errorf("without a store: %+v, %v", rep, err)
	}
}

// TestReconcileSkipsRefusedDocuments: a kept document that the settings no
// longer accept (its vault was removed from PUTSECRETS_ALLOWED_VAULTS) is
// neither read nor re-applied.
func TestReconcileSkipsRefusedDocuments(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.env.KeyVault.SetSecret(kvHost, "scim-token", "value-1", kvstandin.Version(v2))
	w.keep(t, spMoved, "", ref{"SecretToken", "scim-token", "", v1})
	w.rec.Policy.AllowedVaults = map[string]bool{"other-kv.vault.azure.net": true}
	rep, err := w.rec.Run(t.Context(), "x")
	if err != nil || rep.Skipped != 1 || rep.Reapplied != 0 || len(w.kv.reads) != 0 {
		t.Errorf("report %+v, %v, reads %v; want one skipped, nothing read", rep, err, w.kv.reads)
	}
}

// TestReconcileThousands: a run over 1,000 followed service principals
// sharing a handful of secrets finishes well inside the invocation timeout,
// because it only reads and enqueues.
func TestReconcileThousands(t *testing.T) {
	t.Parallel()
	const n = 1000
	w := newWorld(t)
	for i := range 10 {
		w.env.KeyVault.SetSecret(kvHost, fmt.Sprintf("s%d", i), "v", kvstandin.Version(v2))
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	start := time.Now()
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			sp := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
			resolved := v2
			if i%2 == 0 {
				resolved = v1
			}
			w.keep(t, sp, "", ref{"SecretToken", fmt.Sprintf("s%d", i%10), "", resolved})
		}()
	}
	wg.Wait()
	seeded := time.Since(start)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute) // under Consumption's 5-minute default
	defer cancel()
	start = time.Now()
	rep, err := w.rec.Run(ctx, "big")
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reconcile of %d kept states (%d secrets): %v (seeding them: %v)", rep.States, rep.Secrets, took, seeded)
	if rep.States != n || rep.Reapplied != n/2 || rep.Unchanged != n/2 || rep.Secrets != 10 || rep.NotReached != 0 || rep.Failed != 0 {
		t.Errorf("report = %+v", rep)
	}
}

// TestReconcileOutOfTime: a run whose time is up stops and counts what it
// did not reach rather than running past the invocation timeout.
func TestReconcileOutOfTime(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.keep(t, spMoved, "", ref{"SecretToken", "scim-token", "", v1})
	w.keep(t, spUnchanged, "", ref{"SecretToken", "steady", "", v3})
	ctx, cancel := context.WithCancel(t.Context())
	w.rec.States = cancelAfterList{w.store, cancel}
	rep, err := w.rec.Run(ctx, "late")
	if err != nil || rep.NotReached != 2 || rep.Reapplied != 0 {
		t.Errorf("report %+v, %v; want 2 not reached", rep, err)
	}
}

// cancelAfterList ends the run's context once the states are listed, as an
// invocation timeout would.
type cancelAfterList struct {
	*state.Store
	cancel context.CancelFunc
}

func (c cancelAfterList) List(ctx context.Context) ([]string, error) {
	ids, err := c.Store.List(ctx)
	c.cancel()
	return ids, err
}
