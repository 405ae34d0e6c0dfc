package graph

import (
	"context"
	"net/http"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/putsecrets/putsecrets/internal/secret"
)

// Secret is one synchronizationSecretKeyStringValuePair: a key such as
// "BaseAddress" and its value, which Graph always receives as a string.
type Secret struct {
	Key   string
	Value secret.Value
}

// PutSecretsResponse describes a successful PutSecrets call.
type PutSecretsResponse struct {
	RequestIDs
}

// PutSecrets stores the synchronization secrets of a service principal:
// PUT {endpoint}/{apiVersion}/servicePrincipals/{id}/synchronization/secrets.
// apiVersion is APIVersionV1 or APIVersionBeta. The list replaces the stored
// set as Graph sees fit, so pass the complete set.
//
// Invalid arguments are refused before any I/O. A non-success answer is a
// *ResponseError; other errors come from the pipeline (credential, transport,
// context). On every error after the request was built, the returned
// response still carries the ClientRequestID, so the attempt can be traced.
func (c *Client) PutSecrets(ctx context.Context, apiVersion, servicePrincipalID string, secrets []Secret) (PutSecretsResponse, error) {
	const operation = OperationPutSecrets
	var err error
	ctx, endSpan := runtime.StartSpan(ctx, "Client."+operation, c.internal.Tracer(), nil)
	defer func() { endSpan(err) }()

	req, sentID, err := c.putSecretsCreateRequest(ctx, apiVersion, servicePrincipalID, secrets)
	if err != nil {
		return PutSecretsResponse{}, err
	}
	var ids RequestIDs
	_, ids, err = c.send(req, operation, sentID, secrets, http.StatusOK, http.StatusNoContent)
	return PutSecretsResponse{ids}, err
}

// putSecretsCreateRequest builds the PutSecrets request and returns it with
// the client-request-id it carries.
func (c *Client) putSecretsCreateRequest(ctx context.Context, apiVersion, servicePrincipalID string, secrets []Secret) (*policy.Request, string, error) {
	id, err := pathParam("servicePrincipalID", servicePrincipalID)
	if err != nil {
		return nil, "", err
	}
	pairs, err := revealPairs(secrets)
	if err != nil {
		return nil, "", err
	}
	req, sentID, err := c.newRequest(ctx, http.MethodPut, apiVersion, "/servicePrincipals/"+id+"/synchronization/secrets")
	if err != nil {
		return nil, "", err
	}
	if err := setJSONBody(req, putSecretsBody{Value: pairs}); err != nil {
		return nil, "", err
	}
	return req, sentID, nil
}

// putSecretsBody is the PUT's body: {"value":[{"key":…,"value":…},…]}.
type putSecretsBody struct {
	Value []keyValue `json:"value"`
}

// keyValue is synchronizationSecretKeyStringValuePair on the wire.
type keyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// revealPairs turns secrets into the pairs a request body carries. It is the
// one place where secret values are revealed, for the bodies of PutSecrets
// and ValidateCredentials. (send cuts the same values out of Graph's error
// messages.)
func revealPairs(secrets []Secret) ([]keyValue, error) {
	if len(secrets) == 0 {
		return nil, argumentError("secrets cannot be empty")
	}
	pairs := make([]keyValue, len(secrets))
	for i, sec := range secrets {
		if sec.Key == "" {
			return nil, argumentError("secrets[%d]: key cannot be empty", i)
		}
		v := sec.Value.Reveal()
		if !utf8.ValidString(v) {
			// encoding/json would silently turn the bad bytes into U+FFFD and
			// store a different value.
			return nil, argumentError("secrets[%d] (%s): value is not valid UTF-8", i, sec.Key)
		}
		pairs[i] = keyValue{Key: sec.Key, Value: v}
	}
	return pairs, nil
}

// encodePutSecretsBody returns the PUT's body for secrets (golden tests and
// benchmarks read it).
func encodePutSecretsBody(secrets []Secret) ([]byte, error) {
	pairs, err := revealPairs(secrets)
	if err != nil {
		return nil, err
	}
	return marshalJSON(putSecretsBody{Value: pairs})
}
