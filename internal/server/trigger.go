package server

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/putsecrets/putsecrets/internal/envelope"
)

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
