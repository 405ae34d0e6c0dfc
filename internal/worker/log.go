package worker

import (
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/putsecrets/putsecrets/internal/settle"
)

// logMessage writes the one line per message of docs/contract.md §7, with the
// field names of the function's invocation lines. It never logs the body.
func (w *worker) logMessage(m *azservicebus.ReceivedMessage, d settle.Decision, start time.Time, settleErr error) {
	status := http.StatusOK
	p := d.LogProblem()
	if p != nil {
		status = p.Status
	}
	attrs := []any{
		"function", "worker",
		"queue", w.Queue,
		"messageId", m.MessageID,
		"deliveryCount", m.DeliveryCount,
		"status", status,
		"durationMs", time.Since(start).Milliseconds(),
		"settlement", string(d.Settle),
	}
	if m.SessionID != nil {
		attrs = append(attrs, "sessionId", *m.SessionID)
	}
	attrs = append(attrs, d.Result.LogAttrs(p != nil)...)
	if d.Outcome != nil {
		attrs = append(attrs, "outcomeTo", d.Outcome.To, "outcomeSent", d.OutcomeErr == nil)
	}
	if d.OutcomeErr != nil {
		attrs = append(attrs, "outcomeError", d.OutcomeErr.Error())
	}
	if d.Settle != settle.Complete {
		attrs = append(attrs, "reason", d.Reason)
	}
	if p != nil {
		attrs = append(attrs, p.LogAttrs()...)
	}
	if settleErr != nil {
		attrs = append(attrs, "settleError", d.Scrubber.Scrub(settleErr.Error()))
		w.log.Error("message not settled; Service Bus will redeliver it when its lock expires", attrs...)
		return
	}
	if p != nil {
		w.log.Warn("message failed", attrs...)
		return
	}
	w.log.Info("message processed", attrs...)
}
