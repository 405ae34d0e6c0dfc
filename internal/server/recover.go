package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/putsecrets/putsecrets/internal/envelope"
	"github.com/putsecrets/putsecrets/internal/problem"
)

// recoverHTTP turns a panic in the HTTP function into a 500 problem for the
// caller and keeps the process serving. Neither the panic value (it may hold
// request data) nor the request is logged: only the value's type and the stack.
func recoverHTTP(log *slog.Logger, next http.Handler) http.Handler {
	return recoverWith(log, FunctionHTTP, next, func(w http.ResponseWriter, r *http.Request) {
		inv := invocationLog{function: FunctionHTTP, invocationID: r.Header.Get(envelope.InvocationIDHeader)}
		p := problem.New(http.StatusInternalServerError, "an internal error occurred; the invocation ID identifies it in the logs")
		writeHTTPProblem(log, w, inv, p, time.Now(), nil)
	})
}

// recoverFailed turns a panic in a triggered function (queue, Key Vault
// events, Reconcile) into a failed invocation: the host abandons a message,
// so Service Bus redelivers it and, if it keeps failing, dead-letters it; a
// timer run is recorded as failed and the next schedule tries again.
func recoverFailed(log *slog.Logger, function string, next http.Handler) http.Handler {
	return recoverWith(log, function, next, func(w http.ResponseWriter, _ *http.Request) {
		writeAnswer(log, w, http.StatusInternalServerError, envelope.Answer{Logs: []string{"internal error"}})
	})
}

// recoverWith serves next and, when it panics, logs the panic (its type and
// stack only) and lets answer reply to the Functions host.
func recoverWith(log *slog.Logger, function string, next http.Handler, answer func(http.ResponseWriter, *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				logPanic(log, function, r, v)
				answer(w, r)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// carried is a panic that happened in another goroutine of the invocation
// and was carried to the invocation's own (vault.Panic).
type carried interface {
	PanicType() string
	PanicStack() []byte
}

func logPanic(log *slog.Logger, function string, r *http.Request, v any) {
	panicType, stack := fmt.Sprintf("%T", v), debug.Stack()
	if c, ok := v.(carried); ok {
		panicType = c.PanicType()
		stack = append(append(c.PanicStack(), "\ncarried to the invocation's goroutine:\n"...), stack...)
	}
	log.Error("invocation panicked",
		"function", function,
		"invocationId", r.Header.Get(envelope.InvocationIDHeader),
		"panicType", panicType,
		"stack", string(stack))
}
