package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/putsecrets/putsecrets/standin/graph"
	"github.com/putsecrets/putsecrets/standin/host"
)

// quotings are the ways a dependency's message may quote a value: whole,
// cut off, \u-escaped (every character, or every other one), JSON-escaped
// twice, percent-encoded, with a line break inside.
var quotings = []struct {
	name  string
	quote func(v string) string
}{
	{"whole", func(v string) string { return v }},
	{"cut-off prefix", func(v string) string { return v[:16] }},
	{"\\u-escaped", func(v string) string { return escapeEvery(v, 1, `\u%04x`) }},
	{"\\u-escaped in part", func(v string) string { return escapeEvery(v, 2, `\u%04X`) }},
	{"double-escaped", func(v string) string { return escapeEvery(v, 1, `\\u%04x`) }},
	{"percent-encoded", func(v string) string { return escapeEvery(v, 1, "%%%02x") }},
	{"with \\r\\n", func(v string) string { return v[:10] + "\r\n" + v[10:] }},
}

// escapeEvery writes every n-th byte of ASCII v with format.
func escapeEvery(v string, n int, format string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if i%n == 0 {
			fmt.Fprintf(&b, format, v[i])
		} else {
			b.WriteByte(v[i])
		}
	}
	return b.String()
}

// TestCanaryCheckCatchesPieces: the suite's canary check is not fooled by a
// piece of a canary or its re-encodings, and does not cry wolf.
func TestCanaryCheckCatchesPieces(t *testing.T) {
	t.Parallel()
	c := "canary-0f1e2d3c4b5a69788796a5b4" // not registered: nothing may hold it
	pieces := canaryPieces([]labelled{{"planted", c}})
	fragment := c[9:25] // 16 characters, not the whole value
	for _, q := range quotings {
		text := `{"detail":"target said: ` + q.quote(fragment) + `"}`
		if got := piecesIn(text, pieces); len(got) != 1 {
			t.Errorf("%s: a planted 16-character fragment was not found", q.name)
		}
	}
	for i, text := range []string{
		"",
		`{"detail":"target said: ` + c[:11] + ` and ` + c[11:22] + `"}`, // two 11-character runs apart
		"canary-[REDACTED]",
	} {
		if got := piecesIn(text, pieces); len(got) != 0 {
			t.Errorf("clean text %d: piecesIn found %d canaries, want none", i, len(got))
		}
	}
}

// TestJobErrorsQuoteNoValue: Graph's job operations (start, restart, GET
// job) answer an error whose message quotes the saved token, in every
// quoting. No piece of it reaches the caller's answer, the Logs, the
// handler's stdout or stderr.
func TestJobErrorsQuoteNoValue(t *testing.T) {
	t.Parallel()
	ops := []struct {
		name   string
		action string
		// before is how many Graph calls of the invocation are served
		// normally before the one that fails (PUT first).
		before    int
		operation string
	}{
		{"start", "start", 2, "starting the synchronization job"},       // PUT, GET job, POST start ✗
		{"restart", "restart", 1, "restarting the synchronization job"}, // PUT, POST restart ✗
		{"get job", "start", 1, "reading the synchronization job"},      // PUT, GET job ✗
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			t.Parallel()
			f := start(t, settings{"PUTSECRETS_GRAPH_CONSISTENCY_WAIT": "0s"})
			f.env.Graph.AddJob(spID, graph.Job{ID: jobID, TemplateID: "scim", State: graph.JobState{Code: graph.StatusPaused}})
			d := doc(spID, uri("SecretToken", f.kvSecret("scim-token", "SecretToken")))
			d["job"] = map[string]any{"id": jobID, "action": op.action}
			token := f.secretOf("scim-token")
			pieces := canaryPieces([]labelled{{"scim-token", token}})
			for _, q := range quotings {
				script := make([]graph.Response, op.before, op.before+1)
				f.env.Graph.Script(spID, append(script, graph.Response{Status: 400, Code: "BadRequest",
					Message: "The target answered 401 for Authorization: Bearer " + q.quote(token) + " and nothing else."})...)
				res := f.http(d)
				if len(piecesIn(string(res.Raw), pieces)) > 0 {
					t.Errorf("%s: the handler's answer (Outputs or Logs) holds a piece of the token", q.name)
				}
				var p problemDoc
				if err := json.Unmarshal(res.CallerBody, &p); err != nil || p.Status != 422 {
					t.Errorf("%s: caller got %d, want a 422 problem document", q.name, res.CallerStatus)
					continue
				}
				// The quote reached the detail, scrubbed: the test is not
				// vacuous.
				if !strings.Contains(p.Detail, "The secrets were saved") || !strings.Contains(p.Detail, op.operation) ||
					!strings.Contains(p.Detail, "Bearer [REDACTED]") {
					t.Errorf("%s: detail %s, want the saved note, the operation and the scrubbed quote", q.name, shown(p.Detail))
				}
			}
			logs := f.logs()
			if !strings.Contains(logs, "[REDACTED]") {
				t.Error("the log lines do not show the scrubbed quote")
			}
			for what, text := range map[string]string{"stdout": logs, "stderr": f.host.Stderr()} {
				if len(piecesIn(text, pieces)) > 0 {
					t.Errorf("the handler's %s holds a piece of the token", what)
				}
			}
		})
	}
}

// TestJobErrorsQuoteNoValueThroughTheQueue: the same quotes, through the
// queue: the function's failed outcome message (to PUTSECRETS_RESULTS_QUEUE)
// and, with no outcome destination, the worker's dead-letter description.
func TestJobErrorsQuoteNoValueThroughTheQueue(t *testing.T) {
	t.Parallel()
	ctx := waitContext(t)
	b := startBroker(t, "results", "requests")
	cs := b.ConnectionString()

	t.Run("function outcome", func(t *testing.T) {
		f := start(t, settings{"ServiceBusConnection": cs, "PUTSECRETS_RESULTS_QUEUE": "results", "PUTSECRETS_GRAPH_CONSISTENCY_WAIT": "0s"})
		f.env.Graph.AddJob(spID, graph.Job{ID: jobID, TemplateID: "scim", State: graph.JobState{Code: graph.StatusActive}})
		d := doc(spID, uri("SecretToken", f.kvSecret("scim-token", "SecretToken")))
		d["job"] = map[string]any{"id": jobID, "action": "restart"}
		token := f.secretOf("scim-token")
		pieces := canaryPieces([]labelled{{"scim-token", token}})
		for i, q := range quotings {
			f.env.Graph.Script(spID, graph.Response{}, graph.Response{Status: 400, Code: "BadRequest",
				Message: "401 for Authorization: Bearer " + q.quote(token)})
			res := f.sb(d, host.Message{MessageID: fmt.Sprintf("quote-%d", i)})
			if res.Failed {
				t.Fatalf("%s: invocation failed: %s", q.name, res.Reason)
			}
			if len(piecesIn(string(res.Raw), pieces)) > 0 {
				t.Errorf("%s: the handler's answer holds a piece of the token", q.name)
			}
		}
		msgs := recordMessages(t, "outcome", b.WaitForMessages(ctx, "results", len(quotings)))
		for _, m := range msgs {
			o := outcomeOf(t, m)
			if o.Subject != "PutSecrets.Failed" || !strings.Contains(o.problem.Detail, "Bearer [REDACTED]") {
				t.Errorf("outcome %s: detail %s, want the scrubbed quote", m.MessageID, shown(o.problem.Detail))
			}
			if len(piecesIn(fmt.Sprint(string(m.Body), m.ApplicationProperties), pieces)) > 0 {
				t.Errorf("outcome %s holds a piece of the token", m.MessageID)
			}
		}
		if len(piecesIn(f.logs(), pieces)) > 0 {
			t.Error("the handler's stdout holds a piece of the token")
		}
	})

	t.Run("worker dead letter", func(t *testing.T) {
		f := azureOnly(t)
		f.env.Graph.AddJob(spID, graph.Job{ID: jobID, TemplateID: "scim", State: graph.JobState{Code: graph.StatusActive}})
		sb := settings{"ServiceBusConnection": cs, "PUTSECRETS_QUEUE": "requests", "PUTSECRETS_GRAPH_CONSISTENCY_WAIT": "0s"}
		d := doc(spID, uri("SecretToken", f.kvSecret("scim-token", "SecretToken")))
		d["job"] = map[string]any{"id": jobID, "action": "restart"}
		token := f.secretOf("scim-token")
		pieces := canaryPieces([]labelled{{"scim-token", token}})
		var script []graph.Response
		for _, q := range quotings {
			script = append(script, graph.Response{}, graph.Response{Status: 400, Code: "BadRequest",
				Message: "401 for Authorization: Bearer " + q.quote(token)})
		}
		f.env.Graph.Script(spID, script...)
		for i := range quotings {
			if code, p := f.enqueue(sb, d, "--message-id", fmt.Sprintf("quote-%d", i)); code != 0 {
				t.Fatalf("enqueue: %s", p.errOut())
			}
		}
		// One at a time, so that each message meets its own scripted pair.
		w := f.command(sb, nil, "worker", "--concurrency", "1")
		dead := recordMessages(t, "dead letter", b.WaitForDeadLetters(ctx, "requests", len(quotings)))
		if code := w.stop(); code != 0 {
			t.Errorf("worker exit code after SIGTERM = %d", code)
		}
		for _, m := range dead {
			if !strings.Contains(m.DeadLetterErrorDescription, "Bearer [REDACTED]") {
				t.Errorf("dead letter %s: description %s, want the scrubbed quote", m.MessageID, shown(m.DeadLetterErrorDescription))
			}
			if len(piecesIn(m.DeadLetterReason+" "+m.DeadLetterErrorDescription, pieces)) > 0 {
				t.Errorf("dead letter %s holds a piece of the token", m.MessageID)
			}
		}
		for what, text := range map[string]string{"stdout": w.out(), "stderr": w.errOut()} {
			if len(piecesIn(text, pieces)) > 0 {
				t.Errorf("the worker's %s holds a piece of the token", what)
			}
		}
	})
}
