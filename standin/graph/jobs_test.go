package graph_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/putsecrets/putsecrets/standin/graph"
)

const jobID = "scim.e5b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5.6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"

// send makes one request through an azcore pipeline with a Graph token and
// returns the status and body.
func (r *rig) send(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	c := r.pipeline(t, "https://graph.microsoft.com/.default")
	req, err := runtime.NewRequest(context.Background(), method, "https://graph.microsoft.com"+path)
	if err != nil {
		t.Fatal(err)
	}
	switch b := body.(type) {
	case nil:
	case string:
		if err := req.SetBody(nopSeeker(b), "application/json"); err != nil {
			t.Fatal(err)
		}
	default:
		if err := runtime.MarshalAsJSON(req, b); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := c.Pipeline().Do(req)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

type seeker struct{ *strings.Reader }

func (seeker) Close() error { return nil }

func nopSeeker(s string) seeker { return seeker{strings.NewReader(s)} }

// errorCodes returns error.code and, when error.message holds the
// synchronization service's JSON, its Code and Message.
func errorCodes(t *testing.T, raw []byte) (code, inner, innerMessage string) {
	t.Helper()
	var outer struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(raw, &outer); err != nil {
		t.Fatalf("error body %s: %v", raw, err)
	}
	var in struct{ Code, Message string }
	if json.Unmarshal([]byte(outer.Error.Message), &in) == nil {
		return outer.Error.Code, in.Code, in.Message
	}
	return outer.Error.Code, "", outer.Error.Message
}

func TestValidateCredentials(t *testing.T) {
	t.Parallel()
	base := "/v1.0/servicePrincipals/" + sp + "/synchronization/jobs"
	creds := []graph.KeyValue{{Key: "BaseAddress", Value: "https://scim.example.com/scim/v2"}, {Key: "SecretToken", Value: "tok-value"}}
	tests := []struct {
		name       string
		validation graph.Validation
		path       string
		body       any
		wantStatus int
		wantCode   string
		wantInner  string
		wantInMsg  string
	}{
		{
			name: "collection-level accepted", path: base + "/validateCredentials",
			body:       map[string]any{"useSavedCredentials": false, "templateId": "scim", "credentials": creds},
			wantStatus: 204,
		},
		{
			name: "job-bound accepted", path: base + "/" + jobID + "/validateCredentials",
			body:       map[string]any{"useSavedCredentials": false, "credentials": creds},
			wantStatus: 204,
		},
		{
			name: "refused, the message quotes BaseAddress", validation: graph.Validation{Reject: true},
			path:       base + "/validateCredentials",
			body:       map[string]any{"useSavedCredentials": false, "templateId": "scim", "credentials": creds},
			wantStatus: 400, wantCode: "UnknownError", wantInner: graph.CredentialValidationFailure,
			wantInMsg: "Resource: https://scim.example.com/scim/v2/Users",
		},
		{
			name: "refused with a scripted reason", validation: graph.Validation{Reject: true, Code: "SystemForCrossDomainIdentityManagementCredentialValidationUnavailable", Message: "unreachable"},
			path:       base + "/" + jobID + "/validateCredentials",
			body:       map[string]any{"useSavedCredentials": false, "credentials": creds},
			wantStatus: 400, wantCode: "UnknownError", wantInner: "SystemForCrossDomainIdentityManagementCredentialValidationUnavailable", wantInMsg: "unreachable",
		},
		{
			name: "templateId is not a parameter of the job-bound action in v1.0", path: base + "/" + jobID + "/validateCredentials",
			body:       map[string]any{"useSavedCredentials": false, "templateId": "scim", "credentials": creds},
			wantStatus: 400, wantCode: "BadRequest", wantInMsg: "not a valid parameter",
		},
		{
			name: "the list is credentials, not value", path: base + "/validateCredentials",
			body:       map[string]any{"templateId": "scim", "value": creds},
			wantStatus: 400, wantCode: "BadRequest", wantInMsg: "'value'",
		},
		{
			name: "unknown key", path: base + "/validateCredentials",
			body:       map[string]any{"templateId": "scim", "credentials": []graph.KeyValue{{Key: "OAuth2ClientId", Value: "x"}}},
			wantStatus: 400, wantCode: "BadRequest", wantInMsg: "Requested value 'OAuth2ClientId' was not found.",
		},
		{
			name: "no template for the collection-level action", path: base + "/validateCredentials",
			body:       map[string]any{"credentials": creds},
			wantStatus: 400, wantCode: "UnknownError", wantInner: "TemplateIdRequired",
		},
		{
			name: "unknown job", path: base + "/nope/validateCredentials",
			body:       map[string]any{"credentials": creds},
			wantStatus: 404, wantCode: "UnknownError", wantInner: "SynchronizationJobNotFound",
		},
		{
			name: "not JSON", path: base + "/validateCredentials", body: "{",
			wantStatus: 400, wantCode: "BadRequest", wantInMsg: "Unable to read JSON request payload",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			r.g.AddJob(sp, graph.Job{ID: jobID, TemplateID: "scim", State: graph.JobState{Code: graph.StatusPaused}})
			r.g.SetValidation(sp, tt.validation)
			status, raw := r.send(t, http.MethodPost, tt.path, tt.body)
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", status, tt.wantStatus, raw)
			}
			if tt.wantStatus == 204 {
				return
			}
			code, inner, msg := errorCodes(t, raw)
			if code != tt.wantCode || inner != tt.wantInner || !strings.Contains(msg, tt.wantInMsg) {
				t.Errorf("error = %s / %s / %q, want %s / %s / containing %q", code, inner, msg, tt.wantCode, tt.wantInner, tt.wantInMsg)
			}
			if len(r.g.Saved(sp)) != 0 {
				t.Error("validateCredentials saved the credentials")
			}
		})
	}
}

func TestJobActions(t *testing.T) {
	t.Parallel()
	job := "/v1.0/servicePrincipals/" + sp + "/synchronization/jobs/" + jobID
	quarantined := &graph.JobState{Code: graph.StatusQuarantine, Quarantine: &graph.Quarantine{
		Reason: "EncounteredQuarantineException", ErrorCode: graph.CredentialValidationFailure, ErrorMessage: "refused"}}
	tests := []struct {
		name         string
		afterStart   *graph.JobState
		path         string
		body         any
		wantStatus   int
		wantState    string
		wantStarts   int
		wantRestarts int
		wantScope    string
	}{
		{name: "start", path: job + "/start", wantStatus: 204, wantState: graph.StatusActive, wantStarts: 1},
		{name: "start into quarantine", afterStart: quarantined, path: job + "/start", wantStatus: 204, wantState: graph.StatusQuarantine, wantStarts: 1},
		{name: "start in other casing", path: "/v1.0/SERVICEPRINCIPALS/" + sp + "/Synchronization/Jobs/" + strings.ToUpper(jobID) + "/Start", wantStatus: 204, wantState: graph.StatusActive, wantStarts: 1},
		{
			name: "restart with criteria", path: job + "/restart",
			body:       map[string]any{"criteria": map[string]any{"resetScope": "Watermark, Escrows, QuarantineState"}},
			wantStatus: 204, wantState: graph.StatusActive, wantRestarts: 1, wantScope: "Watermark, Escrows, QuarantineState",
		},
		{name: "restart without a body", path: job + "/restart", wantStatus: 204, wantState: graph.StatusActive, wantRestarts: 1},
		{
			name: "restart with an unknown scope", path: job + "/restart",
			body:       map[string]any{"criteria": map[string]any{"resetScope": "Watermark, Everything"}},
			wantStatus: 400, wantState: graph.StatusPaused,
		},
		{
			name: "restart with an unknown parameter", path: job + "/restart",
			body:       map[string]any{"resetScope": "Full"},
			wantStatus: 400, wantState: graph.StatusPaused,
		},
		{name: "start an unknown job", path: "/v1.0/servicePrincipals/" + sp + "/synchronization/jobs/nope/start", wantStatus: 404, wantState: graph.StatusPaused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			r.g.AddJob(sp, graph.Job{ID: jobID, TemplateID: "scim", State: graph.JobState{Code: graph.StatusPaused}, AfterStart: tt.afterStart})
			status, raw := r.send(t, http.MethodPost, tt.path, tt.body)
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", status, tt.wantStatus, raw)
			}
			j, _ := r.g.Job(sp, jobID)
			if j.State.Code != tt.wantState || j.Starts != tt.wantStarts || j.Restarts != tt.wantRestarts || j.ResetScope != tt.wantScope {
				t.Errorf("job = %s, %d starts, %d restarts, scope %q; want %s, %d, %d, %q",
					j.State.Code, j.Starts, j.Restarts, j.ResetScope, tt.wantState, tt.wantStarts, tt.wantRestarts, tt.wantScope)
			}
		})
	}
}

// TestGetJob: the answer has the shape of Graph's documented example.
func TestGetJob(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.g.AddJob(sp, graph.Job{ID: jobID, TemplateID: "scim", State: graph.JobState{Code: graph.StatusQuarantine, Quarantine: &graph.Quarantine{
		Reason: "EncounteredQuarantineException", ErrorCode: graph.CredentialValidationFailure, ErrorMessage: "refused"}}})
	status, raw := r.send(t, http.MethodGet, "/v1.0/servicePrincipals/"+sp+"/synchronization/jobs/"+jobID, nil)
	if status != 200 {
		t.Fatalf("status = %d: %s", status, raw)
	}
	var doc struct {
		Context    string `json:"@odata.context"`
		ID         string `json:"id"`
		TemplateID string `json:"templateId"`
		Schedule   struct {
			Interval, State string
		} `json:"schedule"`
		Status struct {
			Code       string          `json:"code"`
			Progress   json.RawMessage `json:"progress"`
			Quarantine *struct {
				Reason      string `json:"reason"`
				SeriesCount int    `json:"seriesCount"`
				Error       struct {
					Code             string `json:"code"`
					Message          string `json:"message"`
					TenantActionable bool   `json:"tenantActionable"`
				} `json:"error"`
			} `json:"quarantine"`
		} `json:"status"`
		Settings []struct{ Name, Value string } `json:"synchronizationJobSettings"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	q := doc.Status.Quarantine
	if doc.ID != jobID || doc.TemplateID != "scim" || doc.Status.Code != "Quarantine" || string(doc.Status.Progress) != "[]" ||
		q == nil || q.Reason != "EncounteredQuarantineException" || q.Error.Code != graph.CredentialValidationFailure || !q.Error.TenantActionable ||
		len(doc.Settings) == 0 || !strings.HasSuffix(doc.Context, "/synchronization/jobs/$entity") {
		t.Errorf("job document = %s", raw)
	}
	if status, raw := r.send(t, http.MethodGet, "/v1.0/servicePrincipals/"+sp+"/synchronization/jobs/nope", nil); status != 404 {
		t.Errorf("unknown job: status %d: %s", status, raw)
	}
}
