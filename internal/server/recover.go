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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				logPanic(log, FunctionHTTP, r, v)
				inv := invocationLog{function: FunctionHTTP, invocationID: r.Header.Get(envelope.InvocationIDHeader)}
				p := problem.New(http.StatusInternalServerError, "an internal error occurred; the invocation ID identifies it in the logs")
				writeHTTPProblem(log, w, inv, p, time.Now(), nil)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// recoverQueue turns a panic in the queue function into a failed invocation,
// so the message is redelivered and, if it keeps failing, dead-lettered.
func recoverQueue(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				logPanic(log, FunctionQueue, r, v)
				writeAnswer(log, w, http.StatusInternalServerError, envelope.Answer{Logs: []string{"internal error"}})
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
