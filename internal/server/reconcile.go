package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/putsecrets/putsecrets/internal/envelope"
	"github.com/putsecrets/putsecrets/internal/follow"
)

// FunctionReconcile is the timer function of docs/contract.md §8.
const FunctionReconcile = "Reconcile"

// bindingTimer is the timer trigger's binding name.
const bindingTimer = "timer"

// handleReconcile serves the Reconcile timer function: one reconcile run per
// invocation, bounded by the invocation timeout, answered 2xx with empty
// Outputs. The run itself logs its counts in one line. An invocation request
// that is not a timer's, or a run that could not start (the kept states
// could not be listed, nothing to send with), fails the invocation so that
// the host records a failed run; the next schedule tries again.
func handleReconcile(log *slog.Logger, rec *follow.Reconciler, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		invocationID := r.Header.Get(envelope.InvocationIDHeader)
		timer, err := envelope.DecodeTimer(r.Body, bindingTimer)
		if err != nil {
			failUnreadable(log, w, FunctionReconcile, invocationID, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		rep, err := rec.Run(ctx, invocationID)
		attrs := []any{"function", FunctionReconcile, "invocationId", invocationID, "isPastDue", timer.IsPastDue,
			"durationMs", time.Since(start).Milliseconds()}
		if err != nil {
			log.Error("invocation failed", append(attrs, "status", http.StatusInternalServerError, "error", err.Error())...)
			writeAnswer(log, w, http.StatusInternalServerError, envelope.Answer{Logs: []string{"reconcile failed: " + err.Error()}})
			return
		}
		log.Info("invocation succeeded", append(attrs, "status", http.StatusOK)...)
		writeAnswer(log, w, http.StatusOK, envelope.Answer{Logs: []string{fmt.Sprintf(
			"reconcile: %d followed, %d re-applied, %d unchanged, %d quarantined, %d failed, %d skipped, %d not reached",
			rep.States, rep.Reapplied, rep.Unchanged, rep.Quarantined, rep.Failed, rep.Skipped, rep.NotReached)}})
	})
}
