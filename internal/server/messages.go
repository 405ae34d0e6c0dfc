package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/putsecrets/putsecrets/internal/envelope"
	"github.com/putsecrets/putsecrets/internal/follow"
	"github.com/putsecrets/putsecrets/internal/settle"
)

// messageFunction serves a Service Bus triggered function: it reads the
// invocation's message (failing an invocation it cannot read), bounds the
// work by timeout and lets handle act on the message and answer the host.
func messageFunction(log *slog.Logger, function string, timeout, bodyTimeout time.Duration,
	handle func(ctx context.Context, w http.ResponseWriter, inv invocationLog, msg *envelope.Message, start time.Time)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		inv, msg, ok := readMessage(log, w, r, function, bodyTimeout)
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		handle(ctx, w, inv, msg, start)
	})
}

// readMessage reads the Service Bus message of a queue or Key Vault events
// invocation and starts its log record. When the invocation request cannot be
// read it answers the host with a failed invocation and returns false.
func readMessage(log *slog.Logger, w http.ResponseWriter, r *http.Request, function string, bodyTimeout time.Duration) (invocationLog, *envelope.Message, bool) {
	inv := invocationLog{function: function, invocationID: r.Header.Get(envelope.InvocationIDHeader)}
	msg, err := readInvocation(w, r, bodyTimeout, envelope.DecodeMessage, bindingMessage)
	if err != nil {
		failUnreadable(log, w, function, inv.invocationID, err)
		return inv, nil, false
	}
	inv.messageID, inv.deliveryCount = msg.MessageID, msg.DeliveryCount
	return inv, msg, true
}

// failUnreadable logs an invocation request the handler cannot read and
// fails the invocation.
func failUnreadable(log *slog.Logger, w http.ResponseWriter, function, invocationID string, err error) {
	log.Error("unreadable invocation request", "function", function, "invocationId", invocationID, "error", err.Error())
	writeAnswer(log, w, http.StatusInternalServerError, envelope.Answer{
		Logs: []string{"the Functions host sent an invocation request this handler cannot read"}})
}

// handlePutSecretsFromQueue serves the Service Bus function. A 2xx answer
// lets the host complete the message; any other fails the invocation, so the
// host abandons it and Service Bus redelivers it, dead-lettering it after
// MaxDeliveryCount (docs/contract.md §4). The Processor publishes the outcome
// message before the answer; one that could not be sent fails the invocation.
func handlePutSecretsFromQueue(log *slog.Logger, proc *settle.Processor, timeout, bodyTimeout time.Duration) http.Handler {
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
		if d.Settle == settle.Complete {
			writeAnswer(log, w, http.StatusOK, answer)
			return
		}
		writeAnswer(log, w, http.StatusInternalServerError, answer)
	})
}

// handlePutSecretsFromKeyVault serves the Key Vault events function
// (docs/contract.md §8): one Event Grid event per message. A 2xx answer lets the
// host complete the message (also for an event there is nothing to do for);
// an unreadable event, a failure to read the kept states or to send fails the
// invocation, so the host abandons the message: Service Bus redelivers it
// (the same MessageIds are sent again, duplicates) and dead-letters it after
// MaxDeliveryCount.
func handlePutSecretsFromKeyVault(log *slog.Logger, events *follow.Events, timeout, bodyTimeout time.Duration) http.Handler {
	return messageFunction(log, FunctionKeyVault, timeout, bodyTimeout, func(ctx context.Context, w http.ResponseWriter, inv invocationLog, msg *envelope.Message, start time.Time) {
		res, err := events.Handle(ctx, msg.Body)

		attrs := append([]any{"function", inv.function, "invocationId", inv.invocationID,
			"messageId", inv.messageID, "deliveryCount", inv.deliveryCount}, res.LogAttrs()...)
		attrs = append(attrs, "durationMs", time.Since(start).Milliseconds())
		if err != nil {
			summary := "the event could not be read: the message is abandoned and dead-lettered after MaxDeliveryCount"
			if !errors.Is(err, follow.ErrUnreadable) {
				summary = "the event could not be acted on now: the message is abandoned for redelivery"
			}
			log.Warn("invocation failed", append(attrs, "status", http.StatusInternalServerError, "error", err.Error())...)
			writeAnswer(log, w, http.StatusInternalServerError, envelope.Answer{Logs: []string{summary + ": " + err.Error()}})
			return
		}
		log.Info("invocation succeeded", append(attrs, "status", http.StatusOK)...)
		summary := string(res.Action)
		if res.Reason != "" {
			summary += ": " + res.Reason
		}
		writeAnswer(log, w, http.StatusOK, envelope.Answer{Logs: []string{summary}})
	})
}
