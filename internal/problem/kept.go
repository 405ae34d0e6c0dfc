package problem

import (
	"cmp"
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/putsecrets/putsecrets/internal/provision"
)

// fromNotKept is the 503 document of a kept state that could not be read,
// kept, replaced or forgotten (docs/contract.md §8): a retry (the queue's
// redelivery, or the caller's) does it all again, and saving the secrets
// again is harmless. The document names Graph's request-id of the save and
// what the blob service answered; never the kept document.
func fromNotKept(e *provision.NotKeptError) *Problem {
	dep := &Dependency{Service: "storage"}
	why := "the blob service could not be reached"
	var re *azcore.ResponseError
	if errors.As(e.Err, &re) {
		dep.Status, dep.Code = re.StatusCode, re.ErrorCode
		if re.RawResponse != nil {
			dep.RequestID = re.RawResponse.Header.Get("x-ms-request-id")
		}
		why = fmt.Sprintf("the blob service answered %d %s", re.StatusCode, re.ErrorCode)
		if re.StatusCode == 401 || re.StatusCode == 403 {
			why += " (the app's identity needs Storage Blob Data Contributor or Owner on the account of PUTSECRETS_STATE_URL)"
		}
	}
	detail := fmt.Sprintf("The secrets were saved (Graph request-id %s), but the desired state could not be %s: %s; "+
		"retry: saving again is harmless, and keeps the state", e.RequestID, pastTense(e.Action), why)
	if e.RequestID == "" {
		detail = fmt.Sprintf("The desired state of service principal %s could not be %s: %s; nothing was saved; retry later",
			e.ServicePrincipalID, pastTense(e.Action), why)
	}
	p := New(503, detail)
	p.Doc.Dependency = dep
	return p
}

// pastTense is how a detail tells that action was not done.
func pastTense(action string) string {
	return cmp.Or(map[string]string{provision.ActionRead: "read", provision.ActionKeep: "kept",
		provision.ActionReplace: "replaced", provision.ActionForget: "forgotten"}[action], action+"ed")
}
