package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/putsecrets/putsecrets/standin/graph"
	"github.com/putsecrets/putsecrets/standin/host"
)

// jobID is a synchronization job of spID in the shape Graph gives them.
const jobID = "scim.e5b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5.6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"

// rotation is the success answer with the fields of a rotation.
type rotation struct {
	Status    string `json:"status"`
	Validated *bool  `json:"validated"`
	Job       *struct {
		ID         string `json:"id"`
		Action     string `json:"action"`
		Skipped    string `json:"skipped"`
		StatusCode string `json:"statusCode"`
		Quarantine *struct {
			Reason    string `json:"reason"`
			ErrorCode string `json:"errorCode"`
		} `json:"quarantine"`
	} `json:"job"`
}

// shown returns text for a failure message, or only its length when it holds
// a canary or a piece of one: test output never shows a secret value.
func shown(text string) string {
	if holdsCanaryPiece(text) {
		return fmt.Sprintf("<%d bytes withheld: they hold a secret value>", len(text))
	}
	return fmt.Sprintf("%q", text)
}

// lacks reports each wanted substring that text does not hold.
func lacks(t *testing.T, what, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s %s lacks %q", what, shown(text), w)
		}
	}
}

func rotated(t *testing.T, res *host.HTTPResult) rotation {
	t.Helper()
	ok(t, res)
	var r rotation
	if err := json.Unmarshal(res.CallerBody, &r); err != nil {
		t.Fatal(err)
	}
	if r.Validated == nil {
		t.Errorf("answer has no validated: %s", shown(string(res.CallerBody)))
	}
	return r
}

// rotationDoc is a rotation request: a SCIM token from Key Vault, a literal
// BaseAddress (both canaries), and the given extra fields.
func rotationDoc(f *fixture, extra map[string]any) map[string]any {
	d := doc(spID,
		literal("BaseAddress", f.literal("BaseAddress")),
		uri("SecretToken", f.kvSecret("scim-token", "SecretToken")))
	for k, v := range extra {
		d[k] = v
	}
	return d
}

// syncCalls lists the Graph calls as "METHOD path after synchronization/"
// with the job ID shortened to {job}.
func syncCalls(f *fixture) []string {
	var out []string
	for _, c := range f.env.Graph.Calls() {
		_, p, _ := strings.Cut(c.Path, "/synchronization/")
		out = append(out, c.Method+" "+strings.ReplaceAll(p, jobID, "{job}"))
	}
	return out
}

// callBody decodes the body of the i-th Graph call.
func callBody(t *testing.T, f *fixture, i int, v any) {
	t.Helper()
	calls := f.env.Graph.Calls()
	if i >= len(calls) {
		t.Fatalf("Graph saw %d calls, want at least %d", len(calls), i+1)
	}
	if err := json.Unmarshal(calls[i].Body, v); err != nil {
		t.Fatalf("call %d body: %v", i, err)
	}
}

// TestValidateThenSave: the credentials are validated with the values that
// are then saved, and the canary check covers the validateCredentials body
// (checkGraphPlacement reads its credentials list).
func TestValidateThenSave(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		validate     map[string]any
		wantPath     string
		wantTemplate string
	}{
		{"with a template", map[string]any{"templateId": "scim"}, "POST jobs/validateCredentials", "scim"},
		{"against the job", map[string]any{"jobId": jobID}, "POST jobs/{job}/validateCredentials", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := start(t, nil)
			f.env.Graph.AddJob(spID, graph.Job{ID: jobID, TemplateID: "scim", State: graph.JobState{Code: graph.StatusActive}})
			d := rotationDoc(f, map[string]any{"validate": tt.validate})
			a := rotated(t, f.http(d))
			if a.Status != "saved" || !*a.Validated {
				t.Errorf("answer = status %s, validated %v; want saved, true", a.Status, *a.Validated)
			}
			if diff := cmp.Diff([]string{tt.wantPath, "PUT secrets"}, syncCalls(f)); diff != "" {
				t.Errorf("Graph calls (-want +got):\n%s", diff)
			}
			var body struct {
				UseSavedCredentials *bool            `json:"useSavedCredentials"`
				TemplateID          string           `json:"templateId"`
				Credentials         []graph.KeyValue `json:"credentials"`
			}
			callBody(t, f, 0, &body)
			if body.UseSavedCredentials == nil || *body.UseSavedCredentials || body.TemplateID != tt.wantTemplate ||
				strings.Join(keysOf(body.Credentials), ",") != "BaseAddress,SecretToken" {
				t.Errorf("validateCredentials body: useSavedCredentials %v, templateId %q, keys %v", body.UseSavedCredentials, body.TemplateID, keysOf(body.Credentials))
			}
			saved := f.env.Graph.Saved(spID)
			if len(saved) != 2 || saved[0] != body.Credentials[0] || saved[1] != body.Credentials[1] {
				t.Errorf("the values saved are not the values validated (keys %v)", keysOf(saved))
			}
		})
	}
}

// TestValidationRefused: nothing is saved, the job is not touched, and the
// caller gets 422 with the synchronization service's reason, whose quote of
// BaseAddress (a canary) is cut out.
func TestValidationRefused(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	f.env.Graph.AddJob(spID, graph.Job{ID: jobID, TemplateID: "scim", State: graph.JobState{Code: graph.StatusPaused}})
	f.env.Graph.SetValidation(spID, graph.Validation{Reject: true})
	d := rotationDoc(f, map[string]any{
		"validate": map[string]any{"templateId": "scim"},
		"job":      map[string]any{"id": jobID, "action": "start"},
	})
	res := f.http(d)
	p := failed(t, res, 422)
	lacks(t, "detail", p.Detail, "did not accept the credentials", graph.CredentialValidationFailure,
		"While attempting to validate our authorization", "[REDACTED]", "SecretToken", "Nothing was saved")
	if p.Dependency == nil || p.Dependency.InnerCode != graph.CredentialValidationFailure || p.Dependency.RequestID == "" {
		t.Errorf("dependency = %+v, want the inner code and a request ID", p.Dependency)
	}
	if diff := cmp.Diff([]string{"POST jobs/validateCredentials"}, syncCalls(f)); diff != "" {
		t.Errorf("Graph calls (-want +got): the PUT or a job call was made\n%s", diff)
	}
	if saved := f.env.Graph.Saved(spID); saved != nil {
		t.Errorf("Graph saved %v", keysOf(saved))
	}
	if j, _ := f.env.Graph.Job(spID, jobID); j.Starts != 0 || j.State.Code != graph.StatusPaused {
		t.Errorf("job = %+v, want untouched", j.State)
	}
}

// TestDryRunSendsNothing: a dry run sends nothing to Graph (docs/contract.md §2),
// validation and job follow-up included.
func TestDryRunSendsNothing(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	f.env.Graph.AddJob(spID, graph.Job{ID: jobID, TemplateID: "scim", State: graph.JobState{Code: graph.StatusPaused}})
	d := rotationDoc(f, map[string]any{
		"dryRun":   true,
		"validate": map[string]any{"templateId": "scim"},
		"job":      map[string]any{"id": jobID, "action": "restart"},
	})
	a := rotated(t, f.http(d))
	if a.Status != "dryRun" || *a.Validated || a.Job == nil || a.Job.Skipped != "dryRun" || a.Job.StatusCode != "" {
		t.Errorf("answer = %+v (job %+v), want dryRun, not validated, job skipped", a, a.Job)
	}
	if diff := cmp.Diff([]string(nil), syncCalls(f)); diff != "" {
		t.Errorf("Graph calls (-want +got):\n%s", diff)
	}
}

// TestJobFollowUp: start and restart send the right requests, a running job
// is not started again, and the answer reports the job's status.
func TestJobFollowUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		state      string
		afterStart *graph.JobState
		job        map[string]any
		wantCalls  []string
		wantScope  string // the restart's criteria.resetScope
		wantCode   string
		wantSkip   string
		wantStarts int
	}{
		{
			name: "start a paused job", state: graph.StatusPaused, job: map[string]any{"id": jobID, "action": "start"},
			wantCalls: []string{"PUT secrets", "GET jobs/{job}", "POST jobs/{job}/start", "GET jobs/{job}"}, wantCode: "Active", wantStarts: 1,
		},
		{
			name: "a running job is not started again", state: graph.StatusActive, job: map[string]any{"id": jobID, "action": "start"},
			wantCalls: []string{"PUT secrets", "GET jobs/{job}"}, wantCode: "Active", wantSkip: "alreadyRunning",
		},
		{
			name: "restart with the default scope", state: graph.StatusActive, job: map[string]any{"id": jobID, "action": "restart"},
			wantCalls: []string{"PUT secrets", "POST jobs/{job}/restart", "GET jobs/{job}"},
			wantScope: "Watermark, Escrows, QuarantineState", wantCode: "Active",
		},
		{
			name: "restart with a scope", state: graph.StatusQuarantine, job: map[string]any{"id": jobID, "action": "restart", "resetScope": "quarantinestate,watermark"},
			wantCalls: []string{"PUT secrets", "POST jobs/{job}/restart", "GET jobs/{job}"},
			wantScope: "QuarantineState, Watermark", wantCode: "Active",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := start(t, nil)
			f.env.Graph.AddJob(spID, graph.Job{ID: jobID, TemplateID: "scim", State: graph.JobState{Code: tt.state}, AfterStart: tt.afterStart})
			a := rotated(t, f.http(rotationDoc(f, map[string]any{"job": tt.job})))
			if a.Status != "saved" || a.Job == nil || a.Job.ID != jobID || a.Job.Action != tt.job["action"] ||
				a.Job.StatusCode != tt.wantCode || a.Job.Skipped != tt.wantSkip || a.Job.Quarantine != nil {
				t.Errorf("answer = %+v, job %+v", a, a.Job)
			}
			calls := syncCalls(f)
			if diff := cmp.Diff(tt.wantCalls, calls); diff != "" {
				t.Errorf("Graph calls (-want +got):\n%s", diff)
			}
			if tt.wantScope != "" {
				var body struct {
					Criteria struct {
						ResetScope string `json:"resetScope"`
					} `json:"criteria"`
				}
				callBody(t, f, 1, &body)
				if body.Criteria.ResetScope != tt.wantScope {
					t.Errorf("restart resetScope = %q, want %q", body.Criteria.ResetScope, tt.wantScope)
				}
			}
			if j, _ := f.env.Graph.Job(spID, jobID); j.Starts != tt.wantStarts {
				t.Errorf("job started %d times, want %d", j.Starts, tt.wantStarts)
			}
		})
	}
}

// TestJobQuarantineReported: a job that goes into quarantine after the start
// is reported with its reason and error code; the error's message, which
// quotes the target's answers, is not passed on.
func TestJobQuarantineReported(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	quote := f.literal("") // a value the target echoed; it must reach nobody
	f.env.Graph.AddJob(spID, graph.Job{ID: jobID, TemplateID: "scim", State: graph.JobState{Code: graph.StatusPaused},
		AfterStart: &graph.JobState{Code: graph.StatusQuarantine, Quarantine: &graph.Quarantine{
			Reason: "EncounteredQuarantineException", ErrorCode: graph.CredentialValidationFailure, ErrorMessage: "token " + quote + " refused"}}})
	a := rotated(t, f.http(rotationDoc(f, map[string]any{"job": map[string]any{"id": jobID, "action": "start"}})))
	if a.Job == nil || a.Job.StatusCode != "Quarantine" || a.Job.Quarantine == nil ||
		a.Job.Quarantine.Reason != "EncounteredQuarantineException" || a.Job.Quarantine.ErrorCode != graph.CredentialValidationFailure {
		t.Errorf("job = %+v, want Quarantine with its reason and error code", a.Job)
	}
	if logs := f.logs(); !strings.Contains(logs, `"jobId":"`+jobID+`"`) || !strings.Contains(logs, `"jobStatus":"Quarantine"`) {
		t.Errorf("the invocation's log line lacks the job and its status: %s", shown(logs))
	}
}

// TestJobUnknownAfterSave: the secrets are saved, and the failure says so
// and names the field.
func TestJobUnknownAfterSave(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	p := failed(t, f.http(rotationDoc(f, map[string]any{"job": map[string]any{"id": "scim.nope", "action": "start"}})), 404)
	lacks(t, "detail", p.Detail, "The secrets were saved", "no such synchronization job")
	if len(p.Errors) != 1 || p.Errors[0].Field != "job.id" {
		t.Errorf("errors = %s, want one for job.id", shown(fmt.Sprint(p.Errors)))
	}
	if f.env.Graph.Saved(spID) == nil {
		t.Error("nothing was saved")
	}
}

// TestReplicationWait: a service principal created moments ago answers 401
// or 404 for a while. The handler waits within PUTSECRETS_GRAPH_CONSISTENCY_WAIT,
// and when the wait runs out the answer names both causes.
func TestReplicationWait(t *testing.T) {
	t.Parallel()
	repeat := func(r graph.Response, n int) []graph.Response {
		out := make([]graph.Response, n)
		for i := range out {
			out[i] = r
		}
		return out
	}
	tests := []struct {
		name       string
		wait       string
		script     []graph.Response
		validate   bool
		wantStatus int // 0: success
		wantCalls  []int
		wantDetail []string
		budget     time.Duration // generous bound on the whole invocation
	}{
		{
			name: "404 twice then saved", wait: "30s",
			script:    []graph.Response{{Status: 404}, {Status: 404}},
			wantCalls: []int{404, 404, 204}, budget: 20 * time.Second,
		},
		{
			name: "401 until the wait runs out", wait: "2s",
			script:     repeat(graph.Response{Status: 401}, 100),
			wantStatus: 502, budget: 12 * time.Second,
			wantDetail: []string{"kept answering 401", "not replicated yet", "PUTSECRETS_GRAPH_CONSISTENCY_WAIT",
				"Synchronization.ReadWrite.All", "Application.ReadWrite.OwnedBy", "owner", "waiting at most 2s"},
		},
		{
			name: "404 until the wait runs out, while validating", wait: "2s", validate: true,
			script:     repeat(graph.Response{Status: 404}, 100),
			wantStatus: 404, budget: 12 * time.Second,
			wantDetail: []string{"kept answering 404", "validating the credentials", "not replicated yet",
				"Synchronization.ReadWrite.All", "Application.ReadWrite.OwnedBy", "object ID"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := start(t, settings{"PUTSECRETS_GRAPH_CONSISTENCY_WAIT": tt.wait})
			f.env.Graph.Script(spID, tt.script...)
			extra := map[string]any{}
			if tt.validate {
				extra["validate"] = map[string]any{"templateId": "scim"}
			}
			began := time.Now()
			res := f.http(rotationDoc(f, extra))
			took := time.Since(began)
			if took > tt.budget {
				t.Errorf("answered after %v, want within %v", took, tt.budget)
			}
			calls := f.env.Graph.Calls()
			if tt.wantStatus == 0 {
				ok(t, res)
				if diff := cmp.Diff(tt.wantCalls, statuses(calls)); diff != "" {
					t.Errorf("Graph statuses (-want +got):\n%s", diff)
				}
				return
			}
			p := failed(t, res, tt.wantStatus)
			lacks(t, "detail", p.Detail, tt.wantDetail...)
			if len(calls) < 3 {
				t.Errorf("Graph saw %d calls, want the wait to retry (at least 3 within 2s)", len(calls))
			}
			for _, c := range calls {
				if c.Method == "PUT" && tt.validate {
					t.Error("a validation that never succeeded was followed by a PUT")
				}
			}
			if f.env.Graph.Saved(spID) != nil {
				t.Error("Graph saved the secrets")
			}
		})
	}
}

// TestRotationFromQueue: the queue function runs the same rotation.
func TestRotationFromQueue(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	f.env.Graph.AddJob(spID, graph.Job{ID: jobID, TemplateID: "scim", State: graph.JobState{Code: graph.StatusPaused}})
	d := rotationDoc(f, map[string]any{
		"validate": map[string]any{"jobId": jobID},
		"job":      map[string]any{"id": jobID, "action": "start"},
	})
	res := f.sb(d, host.Message{MessageID: "rotate-1"})
	if res.Failed {
		t.Fatalf("invocation failed: %s", res.Reason)
	}
	want := []string{"POST jobs/{job}/validateCredentials", "PUT secrets", "GET jobs/{job}", "POST jobs/{job}/start", "GET jobs/{job}"}
	if diff := cmp.Diff(want, syncCalls(f)); diff != "" {
		t.Errorf("Graph calls (-want +got):\n%s", diff)
	}
}
