package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/putsecrets/putsecrets/internal/envelope"
	"github.com/putsecrets/putsecrets/internal/queue"
)

// handlePutSecretsFromQueue serves the Service Bus function. A 2xx answer
// lets the host complete the message; any other fails the invocation, so the
// host abandons it and Service Bus redelivers it, dead-lettering it after
// MaxDeliveryCount (CONTRACT.md §4). The Processor publishes the outcome
// message before the answer; one that could not be sent fails the invocation.
func handlePutSecretsFromQueue(log *slog.Logger, proc *queue.Processor, timeout, bodyTimeout time.Duration) http.Handler {
	return messageFunction(log, FunctionQueue, timeout, bodyTimeout, func(ctx context.Context, w http.ResponseWriter, inv invocationLog, msg *envelope.Message, start time.Time) {
		d := proc.Process(ctx, msg.Message)

		status := http.StatusOK
		p := d.LogProblem()
		if p != nil {
			status = p.Status
		}
		extra := []any{"settlement", string(d.Settle)}
		if d.Outcome != nil {
			extra = append(extra, "outcomeTo", d.Outcome.To, "outcomeSent", d.OutcomeErr == nil)
		}
		if d.OutcomeErr != nil {
			extra = append(extra, "outcomeError", d.OutcomeErr.Error())
		}
		if len(msg.Shadowed) > 0 {
			extra = append(extra, "shadowedProperties", msg.Shadowed)
		}
		inv.log(log, start, status, d.Result, p, extra...)
		answer := envelope.Answer{Logs: []string{inv.summary(status, d.Result, p)}}
		if d.Settle == queue.Complete {
			writeAnswer(log, w, http.StatusOK, answer)
			return
		}
		writeAnswer(log, w, http.StatusInternalServerError, answer)
	})
}
