package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/putsecrets/putsecrets/standin/graph"
	"github.com/putsecrets/putsecrets/standin/host"
)

// TestReconcileFunction drives the Reconcile timer function through the
// emulated host, with the TimerInfo as the host's JSON string and as an
// object: it re-applies the followed service principal whose secret has a
// new version (and not the pinned one), and reports a quarantined job.
func TestReconcileFunction(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "putsecrets-requests", "results")
	f := startFollowing(t, settings{"ServiceBusConnection": b.ConnectionString(), "PUTSECRETS_RESULTS_QUEUE": "results"})
	ctx := waitContext(t)

	token := f.kvVersion("scim-token", "SecretToken", ver1)
	moved := doc(spID, uri("SecretToken", token))
	moved["follow"] = true
	ok(t, f.http(moved))

	f.env.Graph.AddServicePrincipal(sp2)
	pinned := doc(sp2, uri("SecretToken", token+"/"+ver1))
	pinned["follow"] = true
	ok(t, f.http(pinned))

	const spJob = "3c3c3c3c-0000-4000-8000-00000000000c"
	const jobID = "scim.0123456789abcdef0123456789abcdef.3c3c3c3c-0000-4000-8000-00000000000c"
	f.env.Graph.AddServicePrincipal(spJob)
	f.env.Graph.AddJob(spJob, graph.Job{ID: jobID, TemplateID: "scim", State: graph.JobState{Code: graph.StatusPaused},
		AfterStart: &graph.JobState{Code: graph.StatusQuarantine, Quarantine: &graph.Quarantine{
			Reason: "EncounteredQuarantineException", ErrorCode: graph.CredentialValidationFailure, ErrorMessage: "refused " + f.secretOf("scim-token"),
		}}})
	withJob := doc(spJob, uri("SecretToken", token))
	withJob["follow"], withJob["job"] = true, map[string]any{"id": jobID, "action": "start"}
	ok(t, f.http(withJob))

	// The secret gets a new version; the pinned reference stays where it is.
	f.env.KeyVault.SetSecret(f.vaultHost(vault), "scim-token", f.literal("SecretToken"))

	var ids []string
	for _, tm := range []host.Timer{
		{Last: time.Now().Add(-24 * time.Hour), Next: time.Now().Add(24 * time.Hour)},
		{IsPastDue: true, AsObject: true},
	} {
		res, err := f.host.InvokeTimer(ctx, "Reconcile", tm)
		if err != nil {
			t.Fatal(err)
		}
		outputs.add(t.Name()+" Reconcile answer", string(res.Raw))
		if res.Failed || res.HandlerStatus != 200 || len(res.Outputs) != 0 {
			t.Fatalf("Reconcile (object %v) answered %d %s (failed: %v %s); want 2xx with empty Outputs", tm.AsObject, res.HandlerStatus, res.Raw, res.Failed, res.Reason)
		}
		ids = append(ids, res.InvocationID)
	}

	requests := recordMessages(t, "request queue", b.WaitForMessages(ctx, "putsecrets-requests", 4))
	var reapplied []string
	for i, m := range requests {
		reapplied = append(reapplied, m.SessionID)
		if m.SessionID == sp2 {
			t.Errorf("the pinned service principal was re-applied")
		}
		if m.CorrelationID != "reconcile-"+ids[i/2] || m.ContentType != "application/json" {
			t.Errorf("message %d: correlation %q content type %q; want reconcile-%s, application/json", i, m.CorrelationID, m.ContentType, ids[i/2])
		}
		want := moved
		if m.SessionID == spJob {
			want = withJob
		}
		if string(m.Body) != string(encode(t, want)) {
			t.Errorf("message %d for %s does not carry the kept document", i, m.SessionID)
		}
	}
	if len(requests) != 4 || requests[0].MessageID != requests[2].MessageID && requests[0].MessageID != requests[3].MessageID {
		t.Errorf("re-applied %v; want %s and %s twice, the second run with the same MessageIds", reapplied, spID, spJob)
	}

	results := recordMessages(t, "results queue", b.WaitForMessages(ctx, "results", 2))
	var quarantined int
	for _, m := range results {
		if m.Subject != "PutSecrets.JobQuarantined" {
			continue
		}
		quarantined++
		var body struct {
			ServicePrincipalID, JobID, Reason, ErrorCode string
		}
		if err := json.Unmarshal(m.Body, &body); err != nil || body.ServicePrincipalID != spJob || body.JobID != jobID ||
			body.Reason != "EncounteredQuarantineException" || body.ErrorCode != graph.CredentialValidationFailure {
			t.Errorf("quarantine report = %s (%v)", m.Body, err)
		}
		if strings.Contains(string(m.Body), "refused") {
			t.Error("the quarantine report carries the synchronization error's message")
		}
	}
	if quarantined != 2 {
		t.Errorf("%d quarantine reports, want one per run", quarantined)
	}
	logs := f.logs()
	if n := strings.Count(logs, `"msg":"reconcile run"`); n != 2 {
		t.Errorf("%d reconcile report lines, want 2", n)
	}
}
