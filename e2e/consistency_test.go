package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/putsecrets/putsecrets/standin/graph"
	"github.com/putsecrets/putsecrets/standin/host"
)

// denied is Graph's 403 right after a grant or an ownership.
var denied = graph.Response{Status: 403, Code: "Authorization_RequestDenied", Message: "Insufficient privileges to complete the operation."}

// putStatuses lists the statuses Graph answered the PUTs for sp.
func putStatuses(f *fixture, sp string) string {
	var out []int
	for _, c := range f.putCalls() {
		if strings.Contains(c.Path, sp) {
			out = append(out, c.Status)
		}
	}
	return fmt.Sprint(out)
}

// TestGraph403Waited: a 403 that ends within the consistency wait is a
// save, not a failure, through HTTP, the queue function and the worker
// (each with its own service principal); a lasting one is a row of
// TestFaults.
func TestGraph403Waited(t *testing.T) {
	t.Parallel()
	ctx := waitContext(t)
	b := startBroker(t, "consistency-requests", "consistency-replies")
	s := settings{"PUTSECRETS_GRAPH_CONSISTENCY_WAIT": "30s", "ServiceBusConnection": b.ConnectionString()}
	f := start(t, s)
	sps := map[string]string{}
	for i, way := range []string{"HTTP", "function", "worker"} {
		sps[way] = fmt.Sprintf("6a9b2c1e-5f4d-4e3a-9b8c-%012d", 100+i)
		f.env.Graph.AddServicePrincipal(sps[way])
		f.env.Graph.Script(sps[way], denied, denied)
	}
	saves := map[string][]graph.KeyValue{}
	request := func(way string) any {
		v := f.literal("BaseAddress")
		saves[way] = []graph.KeyValue{{Key: "BaseAddress", Value: v}}
		return doc(sps[way], literal("BaseAddress", v))
	}

	if a := ok(t, f.http(request("HTTP"))); a.Status != "saved" {
		t.Errorf("HTTP: status %q, want saved", a.Status)
	}
	if res := f.sb(request("function"), host.Message{MessageID: "function-403", ReplyTo: "consistency-replies"}); res.Failed {
		t.Errorf("function: invocation failed (%s)", res.Reason)
	}
	sendRequest(ctx, t, b, "consistency-requests", "worker-403", "consistency-replies", encode(t, request("worker")))
	w := f.command(s, nil, "worker", "--queue", "consistency-requests")
	replies := recordMessages(t, "outcome", b.WaitForMessages(ctx, "consistency-replies", 2))
	if code := w.stop(); code != 0 {
		t.Errorf("worker exit code after SIGTERM = %d, want 0", code)
	}
	got := map[string]string{}
	for _, r := range replies {
		got[r.CorrelationID] = r.Subject
	}
	if got["function-403"] != "PutSecrets.Succeeded" || got["worker-403"] != "PutSecrets.Succeeded" {
		t.Errorf("outcomes %v, want success for function-403 and worker-403", got)
	}
	for way, sp := range sps {
		if got := putStatuses(f, sp); got != "[403 403 204]" {
			t.Errorf("%s: Graph PUT statuses %s, want [403 403 204]", way, got)
		}
		f.expectSaved(sp, saves[way])
	}
}

// TestGraph403AfterSaveNotWaited: once a call of the invocation succeeded,
// a 403 on a job call is answered at once (the same permission just let the
// save through), and the problem says the secrets were saved.
func TestGraph403AfterSaveNotWaited(t *testing.T) {
	t.Parallel()
	f := start(t, settings{"PUTSECRETS_GRAPH_CONSISTENCY_WAIT": "30s"})
	f.env.Graph.AddJob(spID, graph.Job{ID: jobID, TemplateID: "scim", State: graph.JobState{Code: graph.StatusPaused}})
	// The PUT is served; the job read that follows is refused, and would be
	// served if asked again.
	f.env.Graph.Script(spID, graph.Response{}, denied)
	d := doc(spID, literal("BaseAddress", f.literal("BaseAddress")))
	d["job"] = map[string]any{"id": jobID, "action": "start"}
	p := failed(t, f.http(d), 502)
	lacks(t, "detail", p.Detail, "The secrets were saved", "Synchronization.ReadWrite.All")
	if strings.Contains(p.Detail, "waiting at most") {
		t.Errorf("detail %q says it waited", p.Detail)
	}
	if got, want := fmt.Sprint(syncCalls(f)), "[PUT secrets GET jobs/{job}]"; got != want {
		t.Errorf("Graph calls %s, want %s (no retry of the job read)", got, want)
	}
}
