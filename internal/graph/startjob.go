package graph

import (
	"context"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
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
	const operation = OperationStartJob
	var err error
	ctx, endSpan := runtime.StartSpan(ctx, "Client."+operation, c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()

	req, sentID, err := c.jobRequest(ctx, http.MethodPost, apiVersion, servicePrincipalID, jobID, "/start")
	if err != nil {
		return StartJobResponse{}, err
	}
	var ids RequestIDs
	_, ids, err = c.send(req, operation, sentID, nil, http.StatusOK, http.StatusNoContent)
	return StartJobResponse{ids}, err
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
