package graph

import (
	"context"
	"net/http"
)

// StartJobResponse describes a successful StartJob call.
type StartJobResponse struct {
	RequestIDs
}

// StartJob starts a synchronization job:
// POST …/servicePrincipals/{id}/synchronization/jobs/{jobID}/start → 204.
// A paused job continues where it stopped; a quarantined one leaves
// quarantine. Graph advises against starting a job that is already running:
// read it with GetJob first.
//
// Invalid arguments are refused before any I/O.
func (c *Client) StartJob(ctx context.Context, apiVersion, servicePrincipalID, jobID string) (StartJobResponse, error) {
	ids, err := c.jobOperation(ctx, OperationStartJob, http.MethodPost, apiVersion, servicePrincipalID, jobID, "/start", nil, nil,
		http.StatusOK, http.StatusNoContent)
	return StartJobResponse{ids}, err
}
