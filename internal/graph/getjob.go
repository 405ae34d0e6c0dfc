package graph

import (
	"context"
	"io"
	"net/http"
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
	var out GetJobResponse
	decode := func(r io.Reader) (err error) { out.Job, err = decodeJob(r); return err }
	ids, err := c.jobOperation(ctx, OperationGetJob, http.MethodGet, apiVersion, servicePrincipalID, jobID, "", nil, decode, http.StatusOK)
	if err != nil {
		return GetJobResponse{RequestIDs: ids}, err
	}
	out.RequestIDs = ids
	return out, nil
}
