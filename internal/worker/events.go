package worker

import (
	"context"
	"errors"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/putsecrets/putsecrets/internal/follow"
)

// Dead-letter reason of an event that can never be acted on.
const reasonUnreadableEvent = "Unreadable Key Vault event"

// maxDescription bounds a dead-letter description (Service Bus allows 4 KiB
// of properties; the reason names what to fix in far less).
const maxDescription = 1024

// runEvents receives Key Vault events from the events queue until ctx ends.
// The queue is probed by attaching to it: a queue that does not exist (or
// that this receiver cannot use) is logged and skipped; the request queue's
// receiver runs on regardless.
func (w *worker) runEvents(ctx context.Context) {
	ew := &worker{Options: w.Options, log: w.log, events: true}
	ew.Queue, ew.Sessions = w.EventsQueue, false // Event Grid cannot deliver to a session-enabled queue
	w.log.Info("worker receiving Key Vault events", "queue", ew.Queue, "concurrency", ew.Concurrency)
	if err := ew.runQueue(ctx); err != nil {
		w.log.Warn("not receiving Key Vault events: the events queue cannot be received from "+
			"(create it, or set PUTSECRETS_EVENTS_QUEUE to the queue Event Grid delivers to)",
			"queue", ew.Queue, "error", err.Error())
		return
	}
	w.log.Info("worker stopped receiving Key Vault events: in-flight events settled", "queue", ew.Queue)
}

// handleEvent handles one Key Vault event and settles it: complete when it
// was acted on or there was nothing to do, dead-letter an event that can
// never be read (with the reason), abandon one whose kept states could not
// be read or whose messages could not be sent (Service Bus redelivers it;
// the same MessageIds are sent again, duplicates).
func (w *worker) handleEvent(ctx context.Context, s settler, m *azservicebus.ReceivedMessage, renew func(context.Context) (time.Time, error)) {
	start := time.Now()
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.InvocationTimeout)
	stopRenewing := func() {}
	if renew != nil {
		stopRenewing = w.renewing(pctx, "message", m.MessageID, lockedUntil(m), renew)
	}
	res, err := w.Events.Handle(pctx, m.Body)
	stopRenewing()
	cancel()

	sctx, cancelSettle := context.WithTimeout(context.WithoutCancel(ctx), w.SettleTimeout)
	defer cancelSettle()
	settlement := "complete"
	var settleErr error
	switch {
	case err == nil:
		settleErr = s.CompleteMessage(sctx, m, nil)
	case errors.Is(err, follow.ErrUnreadable):
		settlement = "deadLetter"
		reason, desc := reasonUnreadableEvent, truncate(err.Error(), maxDescription)
		settleErr = s.DeadLetterMessage(sctx, m, &azservicebus.DeadLetterOptions{Reason: &reason, ErrorDescription: &desc})
	default:
		settlement = "abandon"
		settleErr = s.AbandonMessage(sctx, m, nil)
	}

	attrs := append([]any{"function", "worker", "queue", w.Queue, "messageId", m.MessageID,
		"deliveryCount", m.DeliveryCount, "durationMs", time.Since(start).Milliseconds(), "settlement", settlement},
		res.LogAttrs()...)
	switch {
	case settleErr != nil:
		w.log.Error("event not settled; Service Bus will redeliver it when its lock expires",
			append(attrs, "settleError", settleErr.Error())...)
	case err != nil:
		w.log.Warn("event failed", append(attrs, "error", err.Error())...)
	default:
		w.log.Info("event processed", attrs...)
	}
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
