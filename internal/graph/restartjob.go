package graph

import (
	"context"
	"net/http"
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
	var body restartJobBody
	if resetScope != "" {
		body.Criteria = &restartCriteria{ResetScope: resetScope}
	}
	ids, err := c.jobOperation(ctx, OperationRestartJob, http.MethodPost, apiVersion, servicePrincipalID, jobID, "/restart", body, nil,
		http.StatusOK, http.StatusNoContent)
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
