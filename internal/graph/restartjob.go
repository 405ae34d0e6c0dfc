package graph

import (
	"context"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// RestartJobResponse describes a successful RestartJob call.
type RestartJobResponse struct {
	RequestIDs
}

// RestartJob restarts a synchronization job, making it re-process every
// object: POST …/servicePrincipals/{id}/synchronization/jobs/{jobID}/restart
// with {"criteria":{"resetScope":…}} → 204. resetScope is a comma-separated
// list of Watermark, Escrows, QuarantineState, Full, ConnectorDataStore, such
// as "Watermark, Escrows, QuarantineState"; "" sends no criteria.
//
// Invalid arguments are refused before any I/O.
func (c *Client) RestartJob(ctx context.Context, apiVersion, servicePrincipalID, jobID, resetScope string) (RestartJobResponse, error) {
	const operation = OperationRestartJob
	var err error
	ctx, endSpan := runtime.StartSpan(ctx, "Client."+operation, c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()

	req, sentID, err := c.jobRequest(ctx, http.MethodPost, apiVersion, servicePrincipalID, jobID, "/restart")
	if err != nil {
		return RestartJobResponse{}, err
	}
	var body restartJobBody
	if resetScope != "" {
		body.Criteria = &restartCriteria{ResetScope: resetScope}
	}
	if err = setJSONBody(req, body); err != nil {
		return RestartJobResponse{}, err
	}
	var ids RequestIDs
	_, ids, err = c.send(req, operation, sentID, nil, http.StatusOK, http.StatusNoContent)
	return RestartJobResponse{ids}, err
}

// restartJobBody is the action's body.
type restartJobBody struct {
	Criteria *restartCriteria `json:"criteria,omitempty"`
}

// restartCriteria is a synchronizationJobRestartCriteria.
type restartCriteria struct {
	ResetScope string `json:"resetScope"`
}
