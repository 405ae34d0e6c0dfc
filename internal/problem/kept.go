package problem

import (
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// NotKept marks a failure to keep, replace or forget a service principal's
// desired state (docs/contract.md §8) after its secrets were saved, or to read it
// before (RequestID ""). It is always 503: a retry (the queue's redelivery,
// or the caller's) does it all again, and saving the secrets again is
// harmless. The document names Graph's request-id of the save and what the
// blob service answered; never the kept document.
type NotKept struct {
	// RequestID is Graph's request-id of the successful PUT; "" when
	// nothing was saved.
	RequestID string
	// ServicePrincipalID is whose state it was.
	ServicePrincipalID string
	// Action is what failed: "read" (before the save), "keep", "replace"
	// or "forget".
	Action string
	Err    error
}

func (e *NotKept) Error() string {
	if e.RequestID == "" {
		return fmt.Sprintf("could not %s the desired state of %s: %v", e.Action, e.ServicePrincipalID, e.Err)
	}
	return fmt.Sprintf("saved (Graph request-id %s), but could not %s the desired state of %s: %v",
		e.RequestID, e.Action, e.ServicePrincipalID, e.Err)
}

func (e *NotKept) Unwrap() error { return e.Err }

// problem is the 503 document of e.
func (e *NotKept) problem() *Problem {
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

func pastTense(action string) string {
	switch action {
	case "keep":
		return "kept"
	case "forget":
		return "forgotten"
	case "replace":
		return "replaced"
	case "read":
		return "read"
	}
	return action + "ed"
}
