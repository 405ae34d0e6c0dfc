package graph

import (
	"context"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// GetJobResponse is a synchronization job as Graph returned it.
type GetJobResponse struct {
	Job
	RequestIDs
}

// GetJob reads a synchronization job:
// GET …/servicePrincipals/{id}/synchronization/jobs/{jobID} → 200 with a
// synchronizationJob.
//
// Invalid arguments are refused before any I/O.
func (c *Client) GetJob(ctx context.Context, apiVersion, servicePrincipalID, jobID string) (GetJobResponse, error) {
	const operation = OperationGetJob
	var err error
	ctx, endSpan := runtime.StartSpan(ctx, "Client."+operation, c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()

	req, sentID, err := c.jobRequest(ctx, http.MethodGet, apiVersion, servicePrincipalID, jobID, "")
	if err != nil {
		return GetJobResponse{}, err
	}
	resp, ids, err := c.send(req, operation, sentID, nil, http.StatusOK)
	if err != nil {
		return GetJobResponse{RequestIDs: ids}, err
	}
	defer resp.Body.Close()
	var job Job
	if job, err = decodeJob(resp.Body); err != nil {
		return GetJobResponse{RequestIDs: ids}, err
	}
	return GetJobResponse{Job: job, RequestIDs: ids}, nil
}
