package graph

import (
	"net/http"
	"time"
)

// errorDoc is Graph's error document.
type errorDoc struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code       string     `json:"code"`
	Message    string     `json:"message"`
	InnerError innerError `json:"innerError"`
}

type innerError struct {
	Date            string `json:"date"`
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id"`
}

// writeError answers Graph's error document.
func writeError(w http.ResponseWriter, c *call, status int, code, message string) {
	doc := errorDoc{Error: errorBody{
		Code:    code,
		Message: message,
		InnerError: innerError{
			Date:            time.Now().UTC().Format("2006-01-02T15:04:05"),
			RequestID:       c.requestID,
			ClientRequestID: c.clientID,
		},
	}}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(marshal(doc))
}

// challenge is the WWW-Authenticate header of Graph's 401 answers.
const challenge = `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`

// unauthenticated answers 401 InvalidAuthenticationToken with Graph's
// challenge header.
func unauthenticated(w http.ResponseWriter, c *call, message string) {
	w.Header().Set("WWW-Authenticate", challenge)
	writeError(w, c, http.StatusUnauthorized, "InvalidAuthenticationToken", message)
}

// syncError is the synchronization service's own error, which Graph passes
// on as text in the message of an "UnknownError" (decode it a second time).
// Modelled on AZURE-FACTS §2; the field set is the service's usual one.
type syncError struct {
	Message    string  `json:"Message"`
	Code       string  `json:"Code"`
	Target     *string `json:"Target"`
	Details    *string `json:"Details"`
	InnerError *string `json:"InnerError"`
	Instance   *string `json:"Instance"`
}

// writeSyncError answers status with code "UnknownError" whose message is
// the synchronization service's error JSON carrying innerCode.
func writeSyncError(w http.ResponseWriter, c *call, status int, innerCode, message string) {
	writeError(w, c, status, "UnknownError", string(marshal(syncError{Message: message, Code: innerCode})))
}

// writeScripted answers a scripted Response, filling in Graph's usual code
// and message for its status.
func writeScripted(w http.ResponseWriter, c *call, r Response) {
	if r.RetryAfter != "" {
		w.Header().Set("Retry-After", r.RetryAfter)
	}
	if r.Location != "" {
		w.Header().Set("Location", r.Location)
	}
	if r.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", challenge)
	}
	code, msg := defaultError(r.Status)
	if r.Message != "" {
		msg = r.Message
	}
	if r.InnerCode != "" {
		code = "UnknownError"
		msg = string(marshal(syncError{Message: msg, Code: r.InnerCode}))
	}
	if r.Code != "" {
		code = r.Code
	}
	writeError(w, c, r.Status, code, msg)
}

// defaultError is Graph's usual code and message for a status.
func defaultError(status int) (code, message string) {
	switch status {
	case http.StatusBadRequest:
		return "BadRequest", "Bad request."
	case http.StatusUnauthorized, http.StatusForbidden:
		return "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
	case http.StatusNotFound:
		return "Request_ResourceNotFound", "Resource does not exist or one of its queried reference-property objects are not present."
	case http.StatusConflict:
		return "Conflict", "The operation conflicts with the current state of the synchronization service. Try again later."
	case http.StatusTooManyRequests:
		return "TooManyRequests", "Too many requests."
	case http.StatusInternalServerError:
		return "UnknownError", "An internal server error occurred."
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return "ServiceUnavailable", "The service is temporarily unavailable. Please retry later."
	}
	return "UnknownError", http.StatusText(status)
}
