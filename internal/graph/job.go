package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// The synchronizationStatusCode values: the high-level state of a job.
const (
	JobNotConfigured = "NotConfigured"
	JobNotRun        = "NotRun"
	JobActive        = "Active"
	JobPaused        = "Paused"
	JobQuarantine    = "Quarantine"
)

// Job is the part of a synchronizationJob this client reads. Graph's
// resource has more (schedule, synchronizationJobSettings, the status's
// executions and progress); they are left undecoded.
type Job struct {
	ID         string    `json:"id"`         // the job's identifier, e.g. "scim.e5b1…"
	TemplateID string    `json:"templateId"` // the synchronization template the job is based on
	Status     JobStatus `json:"status"`     // the job's synchronizationStatus
}

// JobStatus is the part of a synchronizationStatus this client reads.
type JobStatus struct {
	// Code is one of NotConfigured, NotRun, Active, Paused, Quarantine
	// (JobActive and friends).
	Code string `json:"code"`
	// CountSuccessiveCompleteFailures counts the job's consecutive failures.
	CountSuccessiveCompleteFailures int64 `json:"countSuccessiveCompleteFailures"`
	// Quarantine is set when the job is, or was recently, in quarantine.
	Quarantine *Quarantine `json:"quarantine"`
}

// Quarantine is a synchronizationQuarantine: why and since when a job is
// held. Times are kept as Graph wrote them (ISO 8601, or "" as Graph's own
// example shows).
type Quarantine struct {
	// Reason is a quarantineReason, e.g. "EncounteredQuarantineException",
	// "TooManyDeletes".
	Reason       string `json:"reason"`
	CurrentBegan string `json:"currentBegan"`
	NextAttempt  string `json:"nextAttempt"`
	SeriesBegan  string `json:"seriesBegan"`
	SeriesCount  int64  `json:"seriesCount"`
	// Error is the synchronizationError that put the job in quarantine.
	Error *SynchronizationError `json:"error"`
}

// SynchronizationError is a synchronizationError. Its Message quotes what
// the target application answered and so may hold values sent to it: show
// Code, not Message, to anyone but the tenant's administrators.
type SynchronizationError struct {
	Code             string `json:"code"`
	Message          string `json:"message"`
	TenantActionable bool   `json:"tenantActionable"`
}

// maxJobBody caps how much of a job document is parsed.
const maxJobBody = 1 << 20

// decodeJob reads a synchronizationJob. Unknown properties are ignored, as
// Graph adds properties over time; a body that is not a JSON object, or whose
// known properties have the wrong types, is an error.
func decodeJob(r io.Reader) (Job, error) {
	var j Job
	body, err := io.ReadAll(io.LimitReader(r, maxJobBody+1))
	if err != nil {
		return Job{}, fmt.Errorf("read synchronization job: %w", err)
	}
	if len(body) > maxJobBody {
		return Job{}, fmt.Errorf("synchronization job is larger than %d bytes", maxJobBody)
	}
	if err := json.Unmarshal(body, &j); err != nil {
		return Job{}, fmt.Errorf("decode synchronization job: %w", err)
	}
	return j, nil
}

// jobOperation runs one operation on a synchronization job, the steps
// GetJob, StartJob and RestartJob share: it traces the call as
// Client.{operation}, sends method to …/jobs/{jobID}{suffix} with body as
// JSON (nil: none), checks that Graph answered one of ok, and hands a
// successful answer's body to decode (nil: ignore it). Invalid arguments are
// refused before any I/O. The IDs are set whenever a request was sent.
func (c *Client) jobOperation(ctx context.Context, operation, method, apiVersion, servicePrincipalID, jobID, suffix string,
	body any, decode func(io.Reader) error, ok ...int) (ids RequestIDs, err error) {
	ctx, endSpan := runtime.StartSpan(ctx, "Client."+operation, c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()

	req, sentID, err := c.jobRequest(ctx, method, apiVersion, servicePrincipalID, jobID, suffix)
	if err != nil {
		return RequestIDs{}, err
	}
	if body != nil {
		if err = setJSONBody(req, body); err != nil {
			return RequestIDs{}, err
		}
	}
	resp, ids, err := c.send(req, operation, sentID, nil, ok...)
	if err != nil {
		return ids, err
	}
	defer resp.Body.Close()
	if decode != nil {
		err = decode(resp.Body)
	}
	return ids, err
}

// jobRequest builds a request for
// /servicePrincipals/{id}/synchronization/jobs/{jobID}{suffix}.
func (c *Client) jobRequest(ctx context.Context, method, apiVersion, servicePrincipalID, jobID, suffix string) (*policy.Request, string, error) {
	id, err := pathParam("servicePrincipalID", servicePrincipalID)
	if err != nil {
		return nil, "", err
	}
	job, err := pathParam("jobID", jobID)
	if err != nil {
		return nil, "", err
	}
	return c.newRequest(ctx, method, apiVersion, "/servicePrincipals/"+id+"/synchronization/jobs/"+job+suffix)
}
