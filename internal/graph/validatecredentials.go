package graph

import (
	"context"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// CredentialsTarget says what ValidateCredentials checks the credentials
// for; exactly one field is set.
type CredentialsTarget struct {
	// TemplateID validates against a synchronization template, before any
	// job exists: POST …/synchronization/jobs/validateCredentials.
	TemplateID string
	// JobID validates against an existing job's configuration:
	// POST …/synchronization/jobs/{JobID}/validateCredentials.
	JobID string
}

// ValidateCredentialsResponse describes a successful ValidateCredentials
// call: the target application accepted the credentials.
type ValidateCredentialsResponse struct {
	RequestIDs
}

// ValidateCredentials asks the synchronization service to test secrets
// against the target application without saving them
// (useSavedCredentials false), as the portal's "Test Connection" does.
// Graph answers 204 when the target accepted them; a refusal is a
// *ResponseError, usually a 400 whose InnerCode and Message carry the
// synchronization service's reason, scrubbed of every value sent.
//
// Invalid arguments are refused before any I/O.
func (c *Client) ValidateCredentials(ctx context.Context, apiVersion, servicePrincipalID string, target CredentialsTarget, secrets []Secret) (ValidateCredentialsResponse, error) {
	const operation = OperationValidateCredentials
	var err error
	ctx, endSpan := runtime.StartSpan(ctx, "Client."+operation, c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()

	req, sentID, err := c.validateCredentialsCreateRequest(ctx, apiVersion, servicePrincipalID, target, secrets)
	if err != nil {
		return ValidateCredentialsResponse{}, err
	}
	var ids RequestIDs
	_, ids, err = c.send(req, operation, sentID, secrets, http.StatusOK, http.StatusNoContent)
	return ValidateCredentialsResponse{ids}, err
}

// validateCredentialsBody is the action's body. The list is named
// "credentials" here (the PUT's is "value"); templateId belongs to the
// collection-level action only.
type validateCredentialsBody struct {
	UseSavedCredentials bool       `json:"useSavedCredentials"`
	TemplateID          string     `json:"templateId,omitempty"`
	Credentials         []keyValue `json:"credentials"`
}

func (c *Client) validateCredentialsCreateRequest(ctx context.Context, apiVersion, servicePrincipalID string, target CredentialsTarget, secrets []Secret) (*policy.Request, string, error) {
	id, err := pathParam("servicePrincipalID", servicePrincipalID)
	if err != nil {
		return nil, "", err
	}
	path := "/servicePrincipals/" + id + "/synchronization/jobs/validateCredentials"
	switch {
	case target.TemplateID != "" && target.JobID != "":
		return nil, "", argumentError("credentials target has both a template ID and a job ID")
	case target.JobID != "":
		job, err := pathParam("jobID", target.JobID)
		if err != nil {
			return nil, "", err
		}
		path = "/servicePrincipals/" + id + "/synchronization/jobs/" + job + "/validateCredentials"
	case target.TemplateID == "":
		return nil, "", argumentError("credentials target needs a template ID or a job ID")
	}
	pairs, err := revealPairs(secrets)
	if err != nil {
		return nil, "", err
	}
	req, sentID, err := c.newRequest(ctx, http.MethodPost, apiVersion, path)
	if err != nil {
		return nil, "", err
	}
	body := validateCredentialsBody{UseSavedCredentials: false, TemplateID: target.TemplateID, Credentials: pairs}
	if err := setJSONBody(req, body); err != nil {
		return nil, "", err
	}
	return req, sentID, nil
}
