package graph

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// jobExample is the v1.0 documentation's example answer to GET job.
const jobExample = `{
    "id": "{jobId}",
    "templateId": "BoxOutDelta",
    "schedule": {"expiration": null, "interval": "P10675199DT2H48M5.4775807S", "state": "Disabled"},
    "status": {
        "countSuccessiveCompleteFailures": 0,
        "escrowsPruned": false,
        "synchronizedEntryCountByType": [],
        "code": "Paused",
        "lastExecution": null,
        "lastSuccessfulExecution": null,
        "progress": [],
        "lastSuccessfulExecutionWithExports": null,
        "steadyStateFirstAchievedTime": "0001-01-01T00:00:00Z",
        "steadyStateLastAchievedTime": "0001-01-01T00:00:00Z",
        "quarantine": {
            "currentBegan": "",
            "nextAttempt": "",
            "reason": "",
            "seriesBegan": "",
            "seriesCount": 2,
            "error": {
                "code": "SalesforceInvalidCredentials",
                "message": "Your Salesforce.com credentials are invalid.",
                "tenantActionable": true
            }
        },
        "troubleshootingUrl": null
    },
    "synchronizationJobSettings": [{"name": "QuarantineTooManyDeletesThreshold", "value": "500"}]
}`

func TestDecodeJob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		want    Job
		wantErr bool
	}{
		{"documentation example", jobExample, Job{ID: "{jobId}", TemplateID: "BoxOutDelta", Status: JobStatus{
			Code: JobPaused, Quarantine: &Quarantine{SeriesCount: 2, Error: &SynchronizationError{
				Code: "SalesforceInvalidCredentials", Message: "Your Salesforce.com credentials are invalid.", TenantActionable: true}}}}, false},
		{"active, no quarantine", `{"id":"j","status":{"code":"Active","quarantine":null},"newProperty":{"x":1}}`,
			Job{ID: "j", Status: JobStatus{Code: JobActive}}, false},
		{"quarantined", `{"id":"j","status":{"code":"Quarantine","countSuccessiveCompleteFailures":3,"quarantine":{"reason":"EncounteredQuarantineException","seriesCount":1,"currentBegan":"2025-05-14T09:31:07Z"}}}`,
			Job{ID: "j", Status: JobStatus{Code: JobQuarantine, CountSuccessiveCompleteFailures: 3,
				Quarantine: &Quarantine{Reason: "EncounteredQuarantineException", SeriesCount: 1, CurrentBegan: "2025-05-14T09:31:07Z"}}}, false},
		{"not JSON", `<html>`, Job{}, true},
		{"wrong type", `{"id":"j","status":{"code":7}}`, Job{}, true},
		{"too large", `{"id":"` + strings.Repeat("a", maxJobBody) + `"}`, Job{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeJob(strings.NewReader(tt.body))
			if (err != nil) != tt.wantErr {
				t.Fatalf("decodeJob error = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil {
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("job mismatch (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// FuzzDecodeJob feeds arbitrary bytes to the job parser: it must not panic,
// and a job it accepts must survive a round trip through JSON.
func FuzzDecodeJob(f *testing.F) {
	f.Add([]byte(jobExample))
	f.Add([]byte(`{"id":"j","status":{"code":"Active","quarantine":null}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := decodeJob(strings.NewReader(string(body)))
		if err != nil {
			return
		}
		again, err := marshalJSON(got)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", got, err)
		}
		back, err := decodeJob(strings.NewReader(string(again)))
		if err != nil {
			t.Fatalf("decoding the re-encoded job: %v", err)
		}
		if diff := cmp.Diff(got, back); diff != "" {
			t.Errorf("round trip changed the job (-first +second):\n%s", diff)
		}
	})
}

const testJobID = "scim.e5b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5.6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"

func TestJobOperations(t *testing.T) {
	t.Parallel()
	jobPath := "/v1.0/servicePrincipals/" + testSPID + "/synchronization/jobs/" + testJobID
	tests := []struct {
		name       string
		call       func(c *Client) (RequestIDs, error)
		answer     http.HandlerFunc
		wantMethod string
		wantPath   string
		wantBody   string
		wantOp     string // the Operation of the error for a 404 answer
	}{
		{
			name: "start",
			call: func(c *Client) (RequestIDs, error) {
				r, err := c.StartJob(t.Context(), APIVersionV1, testSPID, testJobID)
				return r.RequestIDs, err
			},
			wantMethod: http.MethodPost, wantPath: jobPath + "/start", wantOp: "StartJob",
		},
		{
			name: "restart with criteria",
			call: func(c *Client) (RequestIDs, error) {
				r, err := c.RestartJob(t.Context(), APIVersionV1, testSPID, testJobID, "Watermark, Escrows, QuarantineState")
				return r.RequestIDs, err
			},
			wantMethod: http.MethodPost, wantPath: jobPath + "/restart", wantOp: "RestartJob",
			wantBody: `{"criteria":{"resetScope":"Watermark, Escrows, QuarantineState"}}`,
		},
		{
			name: "restart without criteria",
			call: func(c *Client) (RequestIDs, error) {
				r, err := c.RestartJob(t.Context(), APIVersionV1, testSPID, testJobID, "")
				return r.RequestIDs, err
			},
			wantMethod: http.MethodPost, wantPath: jobPath + "/restart", wantOp: "RestartJob", wantBody: `{}`,
		},
		{
			name: "get",
			call: func(c *Client) (RequestIDs, error) {
				r, err := c.GetJob(t.Context(), APIVersionV1, testSPID, testJobID)
				if err == nil && (r.ID != "{jobId}" || r.Status.Code != JobPaused) {
					t.Errorf("job = %+v", r.Job)
				}
				return r.RequestIDs, err
			},
			answer: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, jobExample)
			},
			wantMethod: http.MethodGet, wantPath: jobPath, wantOp: "GetJob",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := make(chan captured, 2)
			var notFound atomic.Bool
			c, _, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
				got <- capture(r)
				w.Header().Set("request-id", "req-j")
				switch {
				case notFound.Load():
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusNotFound)
					_, _ = io.WriteString(w, `{"error":{"code":"Request_ResourceNotFound","message":"gone"}}`)
				case tt.answer != nil:
					tt.answer(w, r)
				default:
					w.WriteHeader(http.StatusNoContent)
				}
			}, nil)
			ids, err := tt.call(c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			req := <-got
			if req.method != tt.wantMethod || req.path != tt.wantPath || string(req.body) != tt.wantBody {
				t.Errorf("request = %s %s %q, want %s %s %q", req.method, req.path, req.body, tt.wantMethod, tt.wantPath, tt.wantBody)
			}
			if tt.wantBody != "" && req.header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type = %q", req.header.Get("Content-Type"))
			}
			if ids.RequestID != "req-j" || ids.ClientRequestID != req.header.Get("client-request-id") {
				t.Errorf("IDs = %+v", ids)
			}

			notFound.Store(true)
			_, err = tt.call(c)
			<-got
			re, ok := errors.AsType[*ResponseError](err)
			if !ok || re.StatusCode != 404 || re.Operation != tt.wantOp || re.Code != "Request_ResourceNotFound" {
				t.Errorf("error = %v, want a 404 *ResponseError of %s", err, tt.wantOp)
			}
		})
	}
}

func TestJobOperationsRejectBeforeIO(t *testing.T) {
	t.Parallel()
	c, cred, srv := setup(t, status(http.StatusNoContent), nil)
	calls := map[string]func() error{
		"start empty job": func() error { _, err := c.StartJob(t.Context(), APIVersionV1, testSPID, ""); return err },
		"restart dot job": func() error { _, err := c.RestartJob(t.Context(), APIVersionV1, testSPID, ".", ""); return err },
		"get no SP":       func() error { _, err := c.GetJob(t.Context(), APIVersionV1, "", testJobID); return err },
		"get bad version": func() error { _, err := c.GetJob(t.Context(), "v2", testSPID, testJobID); return err },
	}
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s: succeeded, want an error", name)
		}
	}
	if srv.hits.Load() != 0 || len(cred.requested()) != 0 {
		t.Errorf("requests = %d, token requests = %d; want none", srv.hits.Load(), len(cred.requested()))
	}
}
