package state

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// fail wraps a storage failure of op on the blob (or prefix) name, saying which container and
// blob, and on 403 which role the app's identity needs. The *azcore.ResponseError stays
// reachable with errors.As, so callers can tell a transient failure (429, 5xx) from the rest.
func (s *Store) fail(op, name string, err error) error {
	what := s.blobURL(name)
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusForbidden {
		hint := "grant the app's managed identity Storage Blob Data Contributor (or Owner) on the storage account or on the container"
		if re.ErrorCode == "AuthenticationFailed" || re.ErrorCode == "InvalidAuthenticationInfo" {
			hint = "the storage account refused the app's token (" + re.ErrorCode + "): check that it is an Entra ID token for https://storage.azure.com from the app's managed identity, in the account's tenant"
		}
		return fmt.Errorf("state: %s %s: 403 %s: %s: %w", op, what, re.ErrorCode, hint, err)
	}
	return fmt.Errorf("state: %s %s: %w", op, what, err)
}

// isNotFound reports a 404 without an error code, as a HEAD (GetProperties) answers: the
// response of a HEAD has no body to carry one.
func isNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}
