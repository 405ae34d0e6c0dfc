package settle

import (
	"encoding/json"
	"net/http"

	"github.com/putsecrets/putsecrets/internal/problem"
	"github.com/putsecrets/putsecrets/internal/provision"
	"github.com/putsecrets/putsecrets/internal/request"
)

// Outcome subjects (the message's Subject, also called Label).
const (
	SubjectSucceeded = "PutSecrets.Succeeded"
	SubjectFailed    = "PutSecrets.Failed"
)

// OutcomeFailed is the outcome application property of a failed request;
// a successful one carries the answer's status, provision.StatusSaved or
// provision.StatusDryRun.
const OutcomeFailed = "failed"

// The application properties of an outcome message.
const (
	// PropServicePrincipalID is the request's service principal ID ("" when
	// the document named no valid one).
	PropServicePrincipalID = "servicePrincipalId"
	// PropStatus is the HTTP status the PutSecrets function would have
	// answered (200, or the problem's status), as a 32-bit integer.
	PropStatus = "status"
	// PropOutcome is "saved", "dryRun" or "failed", as in the log lines.
	PropOutcome = "outcome"
	// PropRequestMessageID is the request's MessageId, when it had one.
	PropRequestMessageID = "requestMessageId"
)

// Outcome is an outcome message (docs/contract.md §4). Its body is the JSON the
// PutSecrets function answers over HTTP: the provision.Result on success, the
// RFC 9457 problem document on failure. It never holds a secret value: neither
// document ever does.
type Outcome struct {
	// To is the destination queue: the request's ReplyTo, else
	// PUTSECRETS_RESULTS_QUEUE.
	To string `json:"to"`
	// CorrelationID is the request's CorrelationId, else its MessageId.
	CorrelationID string `json:"correlationId,omitempty"`
	// SessionID is the request's ReplyToSessionId ("" for none).
	SessionID             string          `json:"sessionId,omitempty"`
	Subject               string          `json:"subject"`
	ContentType           string          `json:"contentType"`
	ApplicationProperties map[string]any  `json:"applicationProperties"`
	Body                  json.RawMessage `json:"body"`
}

// NewOutcome builds the outcome of a request message for the destination to:
// a success when prob is nil, else a failure.
func NewOutcome(to string, m request.Message, res *provision.Result, prob *problem.Problem) *Outcome {
	if res == nil {
		res = &provision.Result{}
	}
	o := &Outcome{
		To:            to,
		CorrelationID: m.CorrelationID,
		SessionID:     m.ReplyToSessionID,
		ApplicationProperties: map[string]any{
			PropServicePrincipalID: res.ServicePrincipalID,
		},
	}
	if o.CorrelationID == "" {
		o.CorrelationID = m.MessageID
	}
	if m.MessageID != "" {
		o.ApplicationProperties[PropRequestMessageID] = m.MessageID
	}
	if prob != nil {
		o.Subject, o.ContentType, o.Body = SubjectFailed, problem.ContentType, prob.JSON()
		o.ApplicationProperties[PropStatus] = int32(prob.Status)
		o.ApplicationProperties[PropOutcome] = OutcomeFailed
		return o
	}
	body, err := json.Marshal(res)
	if err != nil { // cannot happen: Result holds strings and ints
		body = []byte(`{}`)
	}
	o.Subject, o.ContentType, o.Body = SubjectSucceeded, "application/json", body
	o.ApplicationProperties[PropStatus] = int32(http.StatusOK)
	o.ApplicationProperties[PropOutcome] = res.Status
	return o
}
