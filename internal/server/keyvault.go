package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/putsecrets/putsecrets/internal/envelope"
	"github.com/putsecrets/putsecrets/internal/follow"
)

// handlePutSecretsFromKeyVault serves the Key Vault events function
// (CONTRACT.md §8): one Event Grid event per message. A 2xx answer lets the
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
