package graph

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// CredentialValidationFailure is the synchronization service's code for
// credentials the target application refused, as the portal's "Test
// Connection" shows it.
const CredentialValidationFailure = "SystemForCrossDomainIdentityManagementCredentialValidationFailure"

// Validation is the outcome of validateCredentials for a service principal.
// The zero Validation accepts every well-formed request.
type Validation struct {
	// Reject refuses the credentials with a 400 from the synchronization
	// service.
	Reject bool
	// Code is the synchronization service's code; CredentialValidationFailure
	// when empty.
	Code string
	// Message is the service's message. When empty it is the service's usual
	// text, which quotes the target's answer and with it the BaseAddress
	// sent (as the real one does), so that callers must scrub it.
	Message string
}

// SetValidation scripts the outcome of validateCredentials for an existing
// service principal; it reports false when there is none.
func (s *Server) SetValidation(spID string, v Validation) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, ok := s.sps[strings.ToLower(spID)]
	if ok {
		sp.validation = v
	}
	return ok
}

// validateCredentialsParameters are the action's parameters: the
// collection-level action (…/jobs/validateCredentials) has all four, the
// job-bound one (…/jobs/{jobId}/validateCredentials) has templateId in beta
// only.
var validateCredentialsParameters = map[string]map[string]bool{
	"collection": {"applicationIdentifier": true, "templateId": true, "useSavedCredentials": true, "credentials": true},
	"job v1.0":   {"useSavedCredentials": true, "credentials": true},
	"job beta":   {"useSavedCredentials": true, "credentials": true, "templateId": true},
}

// validateCredentials serves both validateCredentials actions: it checks the
// parameters strictly, then answers 204 or the scripted refusal.
func (s *Server) validateCredentials(w http.ResponseWriter, r *http.Request) {
	c := callOf(r)
	bound := r.PathValue("job") != ""
	params := validateCredentialsParameters["collection"]
	if bound {
		params = validateCredentialsParameters["job "+c.version]
	}
	var body map[string]json.RawMessage
	if !readJSON(w, r, &body) {
		return
	}
	for k := range body {
		if !params[k] {
			writeError(w, c, http.StatusBadRequest, "BadRequest", invalidParameter(k, "validateCredentials"))
			return
		}
	}
	var useSaved bool
	if raw, ok := body["useSavedCredentials"]; ok && json.Unmarshal(raw, &useSaved) != nil {
		writeError(w, c, http.StatusBadRequest, "BadRequest", "Cannot convert a primitive value to the expected type 'Edm.Boolean'. See the inner exception for more details.")
		return
	}
	var templateID string
	if raw, ok := body["templateId"]; ok && json.Unmarshal(raw, &templateID) != nil {
		writeError(w, c, http.StatusBadRequest, "BadRequest", "Cannot convert a primitive value to the expected type 'Edm.String'. See the inner exception for more details.")
		return
	}
	if !bound && templateID == "" {
		// Modelled: the service needs a template to know the target.
		writeSyncError(w, c, http.StatusBadRequest, "TemplateIdRequired", "A templateId is required to validate credentials without a job.")
		return
	}
	var creds []KeyValue
	if raw, ok := body["credentials"]; ok {
		var status int
		var code, msg string
		if creds, status, code, msg = parsePairs(raw); status != 0 {
			writeError(w, c, status, code, msg)
			return
		}
	}
	if useSaved {
		creds = s.Saved(c.spID)
	}
	if len(creds) == 0 {
		writeSyncError(w, c, http.StatusBadRequest, "CredentialsMissing", "No credentials were provided to validate.")
		return
	}
	if bound && !s.withJob(w, r, func(*Job) {}) {
		return
	}
	s.mu.Lock()
	v := s.sps[strings.ToLower(c.spID)].validation
	s.mu.Unlock()
	if !v.Reject {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	code, msg := v.Code, v.Message
	if code == "" {
		code = CredentialValidationFailure
	}
	if msg == "" {
		base := ""
		for _, kv := range creds {
			if kv.Key == "BaseAddress" {
				base = kv.Value
			}
		}
		// Modelled on the portal's Test Connection text for a SCIM
		// endpoint that answered 401.
		msg = fmt.Sprintf("While attempting to validate our authorization to access your application, we received this unexpected response:\r\n\r\n"+
			"Received response from Web resource.\r\n   Resource: %s/Users?filter=userName+eq+\"%s\"\r\n   Operation: GET\r\n"+
			"   Response Status Code: Unauthorized\r\n   Response Content: {\"errors\":[{\"code\":\"401\",\"message\":\"Unauthorized\"}]}",
			strings.TrimSuffix(base, "/"), "a1b2c3d4-0000-4000-8000-000000000000")
	}
	writeSyncError(w, c, http.StatusBadRequest, code, msg)
}
