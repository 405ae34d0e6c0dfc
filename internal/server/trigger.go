package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/putsecrets/putsecrets/internal/envelope"
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
