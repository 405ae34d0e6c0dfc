// Package server is the custom handler's HTTP surface: the routes the Azure
// Functions host calls (docs/contract.md §1). addRoutes lists all of it.
package server

import (
	"cmp"
	"log/slog"
	"net/http"
	"time"

	"github.com/putsecrets/putsecrets/internal/follow"
	"github.com/putsecrets/putsecrets/internal/provision"
	"github.com/putsecrets/putsecrets/internal/settle"
)

// Function names: the folder names, which are also the host's paths.
const (
	FunctionHTTP  = "PutSecrets"
	FunctionQueue = "PutSecretsFromQueue"
	// FunctionKeyVault receives Key Vault events (docs/contract.md §8).
	FunctionKeyVault = "PutSecretsFromKeyVault"
)

// Binding names from the function.json files.
const (
	bindingRequest  = "req"
	bindingResponse = "res"
	bindingMessage  = "message"
)

// Options are the server's dependencies.
type Options struct {
	Logger  *slog.Logger
	Service provision.Putter
	Queue   *settle.Processor
	// Events handles Key Vault events; nil leaves PutSecretsFromKeyVault unrouted.
	Events *follow.Events
	// Reconciler runs Reconcile; nil leaves it unrouted.
	Reconciler *follow.Reconciler
	// InvocationTimeout bounds each invocation.
	InvocationTimeout time.Duration
	// RequiredRole, when set, is the app role HTTP callers must carry
	// (PUTSECRETS_REQUIRED_ROLE).
	RequiredRole string
	// DebugEndpoints adds GET /debug/goroutines (PUTSECRETS_DEBUG_ENDPOINTS).
	DebugEndpoints bool
	// BodyReadTimeout bounds reading one invocation request's body; zero
	// means BodyReadTimeout.
	BodyReadTimeout time.Duration
}

// Time limits of the handler's HTTP server.
const (
	// ReadHeaderTimeout bounds reading a request's headers (http.Server's
	// ReadHeaderTimeout). The host is on the same machine: it sends them at
	// once.
	ReadHeaderTimeout = 10 * time.Second
	// BodyReadTimeout bounds reading an invocation request's body, so that a
	// connection that stalls in the middle of one cannot hold a goroutine
	// (and a graceful shutdown) for ever. It is generous: the host sends
	// over the loopback interface, where even a 100 MB envelope takes well
	// under a second. It is set per request rather than as http.Server's
	// ReadTimeout, which would also cut the connection's background read
	// once the body is in and so cancel a long invocation's context.
	BodyReadTimeout = 30 * time.Second
	// HTTPAnswerLimit bounds an HTTP invocation, from its start to its
	// answer: the platform's front end cuts every HTTP-triggered call at
	// 230 s whatever functionTimeout says ("230 seconds is the maximum amount
	// of time that an HTTP triggered function can take to respond", Learn,
	// functions-scale), and a caller cut off learns nothing while the PUT may
	// still happen. 5 s are left for the host to relay the answer. The
	// budget is the shorter of this and the invocation timeout
	// (PUTSECRETS_INVOCATION_TIMEOUT shortens it, e.g. in tests).
	HTTPAnswerLimit = 225 * time.Second
)

// httpBudget is how long an HTTP invocation may take: the shorter of
// HTTPAnswerLimit and the invocation timeout.
func httpBudget(invocationTimeout time.Duration) time.Duration {
	if invocationTimeout <= 0 {
		return HTTPAnswerLimit
	}
	return min(HTTPAnswerLimit, invocationTimeout)
}

// workDeadline is when an invocation started at start with budget must stop
// working: early enough to build and send the answer, a tenth of the budget
// and at most a second before its end.
func workDeadline(start time.Time, budget time.Duration) time.Time {
	return start.Add(budget - min(time.Second, budget/10))
}

// New returns the handler's http.Handler.
func New(o Options) http.Handler {
	mux := http.NewServeMux()
	addRoutes(mux, o)
	return mux
}

func addRoutes(mux *http.ServeMux, o Options) {
	mux.Handle("GET /{$}", handleReady())
	bodyTimeout := cmp.Or(o.BodyReadTimeout, BodyReadTimeout)
	mux.Handle("POST /"+FunctionHTTP, recoverHTTP(o.Logger, handlePutSecrets(o.Logger, o.Service, httpBudget(o.InvocationTimeout), bodyTimeout, o.RequiredRole)))
	mux.Handle("POST /"+FunctionQueue, recoverFailed(o.Logger, FunctionQueue, handlePutSecretsFromQueue(o.Logger, o.Queue, o.InvocationTimeout, bodyTimeout)))
	if o.Events != nil {
		mux.Handle("POST /"+FunctionKeyVault, recoverFailed(o.Logger, FunctionKeyVault, handlePutSecretsFromKeyVault(o.Logger, o.Events, o.InvocationTimeout, bodyTimeout)))
	}
	if o.Reconciler != nil {
		mux.Handle("POST /"+FunctionReconcile, recoverFailed(o.Logger, FunctionReconcile, handleReconcile(o.Logger, o.Reconciler, o.InvocationTimeout)))
	}
	if o.DebugEndpoints {
		mux.Handle("GET "+GoroutinesPath, handleGoroutines())
	}
}

// handleReady answers the host's readiness probe and its periodic pings.
func handleReady() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ready"}`))
	})
}
