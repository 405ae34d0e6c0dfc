// Package server is the custom handler's HTTP surface: the routes the Azure
// Functions host calls (CONTRACT.md §1). addRoutes lists all of it.
package server

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/putsecrets/putsecrets/internal/follow"
	"github.com/putsecrets/putsecrets/internal/provision"
	"github.com/putsecrets/putsecrets/internal/queue"
)

// Function names: the folder names, which are also the host's paths.
const (
	FunctionHTTP  = "PutSecrets"
	FunctionQueue = "PutSecretsFromQueue"
	// FunctionKeyVault receives Key Vault events (CONTRACT.md §8).
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
	Queue   *queue.Processor
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
}

// New returns the handler's http.Handler.
func New(o Options) http.Handler {
	mux := http.NewServeMux()
	addRoutes(mux, o)
	return mux
}

func addRoutes(mux *http.ServeMux, o Options) {
	mux.Handle("GET /{$}", handleReady())
	mux.Handle("POST /"+FunctionHTTP, recoverHTTP(o.Logger, handlePutSecrets(o.Logger, o.Service, o.InvocationTimeout, o.RequiredRole)))
	mux.Handle("POST /"+FunctionQueue, recoverQueue(o.Logger, handlePutSecretsFromQueue(o.Logger, o.Queue, o.InvocationTimeout)))
	if o.Events != nil {
		mux.Handle("POST /"+FunctionKeyVault, recoverKeyVault(o.Logger, handlePutSecretsFromKeyVault(o.Logger, o.Events, o.InvocationTimeout)))
	}
	if o.Reconciler != nil {
		mux.Handle("POST /"+FunctionReconcile, recoverReconcile(o.Logger, handleReconcile(o.Logger, o.Reconciler, o.InvocationTimeout)))
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
