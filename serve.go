package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/putsecrets/putsecrets/internal/config"
	"github.com/putsecrets/putsecrets/internal/credential"
	"github.com/putsecrets/putsecrets/internal/follow"
	"github.com/putsecrets/putsecrets/internal/graph"
	"github.com/putsecrets/putsecrets/internal/provision"
	"github.com/putsecrets/putsecrets/internal/queue"
	"github.com/putsecrets/putsecrets/internal/request"
	"github.com/putsecrets/putsecrets/internal/server"
	"github.com/putsecrets/putsecrets/internal/servicebus"
	"github.com/putsecrets/putsecrets/internal/transport"
	"github.com/putsecrets/putsecrets/internal/vault"
)

// serve runs the custom handler until ctx ends, then drains in-flight
// invocations. It listens before doing anything that could be slow: the host
// polls for readiness for 30 s, and no network I/O happens before listening
// (clients are built without any; the first token and secret fetches happen
// on first use).
func serve(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	log := slog.New(slog.NewJSONHandler(stdout, nil))
	cfg, err := config.LoadLookup(config.ProcessLookup(getenv), readHostJSON())
	if err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", cfg.Port))
	if err != nil {
		return fmt.Errorf("listen on 127.0.0.1:%s (FUNCTIONS_CUSTOMHANDLER_PORT): %w", cfg.Port, err)
	}
	svc, kind, err := newService(cfg, getenv)
	if err != nil {
		_ = ln.Close()
		return err
	}
	// Outcome messages go through one Service Bus client for the process,
	// built (without network I/O) from the trigger's own connection settings.
	var outcomes queue.Publisher
	var sender follow.Sender
	if cfg.ServiceBus.Configured() {
		sb, err := newServiceBus(cfg, getenv, cfg.ServiceBus)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("refusing to start: %w", err)
		}
		defer closeServiceBus(log, sb)
		outcomes, sender = sb, sb
	}
	events, err := newEvents(cfg, getenv, log, sender)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("refusing to start: %w", err)
	}
	reconciler, err := newReconciler(cfg, getenv, log, sender)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("refusing to start: %w", err)
	}
	srv := &http.Server{
		Handler: server.New(server.Options{
			Logger: log, Service: svc, InvocationTimeout: cfg.InvocationTimeout,
			Queue:        queue.NewProcessor(svc, queue.Options{Outcomes: outcomes, ResultsQueue: cfg.ResultsQueue}),
			RequiredRole: cfg.RequiredRole, DebugEndpoints: cfg.DebugEndpoints, Events: events, Reconciler: reconciler,
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("handler listening", append([]any{"address", ln.Addr().String(), "credential", string(kind),
		"serviceBus", connectionKind(cfg.ServiceBus)}, cfg.LogAttrs()...)...)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight invocations")
	drain, cancel := context.WithTimeout(context.Background(), cfg.InvocationTimeout)
	defer cancel()
	if err := srv.Shutdown(drain); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

// closeServiceBus closes the Service Bus client once the invocations have
// drained, so that no outcome is cut off.
func closeServiceBus(log *slog.Logger, sb *servicebus.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sb.Close(ctx); err != nil {
		log.Warn("closing the Service Bus client", "error", err.Error())
	}
}

// readHostJSON reads host.json beside the executable (the function app's
// root), else in the working directory; nil when there is none.
func readHostJSON() []byte {
	var dirs []string
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(exe))
	}
	dirs = append(dirs, ".")
	for _, d := range dirs {
		if b, err := os.ReadFile(filepath.Join(d, "host.json")); err == nil {
			return b
		}
	}
	return nil
}

// policyFor is the request policy the settings define; the functions and the
// commands validate against the same one.
func policyFor(cfg *config.Config) *request.Policy {
	p := &request.Policy{
		KeyVaultSuffix:          cfg.Cloud.KeyVaultSuffix,
		AllowedVaults:           make(map[string]bool, len(cfg.AllowedVaults)),
		AllowLiteralCredentials: cfg.AllowLiteralCredentials,
		DefaultAPIVersion:       cfg.GraphAPIVersion,
		StateStore:              cfg.StateURL != "",
	}
	for _, h := range cfg.AllowedVaults {
		p.AllowedVaults[h] = true
	}
	if len(cfg.AllowedServicePrincipals) > 0 {
		p.AllowedServicePrincipals = make(map[string]bool, len(cfg.AllowedServicePrincipals))
		for _, id := range cfg.AllowedServicePrincipals {
			p.AllowedServicePrincipals[id] = true
		}
	}
	return p
}

// newService builds the credential and the Azure clients, once, without
// network I/O.
func newService(cfg *config.Config, getenv func(string) string) (*provision.Service, credential.Kind, error) {
	// The identity endpoint, Key Vault and Graph share one client that
	// follows no redirect and keeps enough idle connections for the parallel
	// secret reads of concurrent invocations; azcore's default keeps 10 per
	// host and re-handshakes TLS for the rest (internal/transport says why
	// and what stays the same).
	httpClient := transport.New()
	cred, kind, err := credential.New(getenv, cfg.Cloud, cfg.ClientID, httpClient)
	if err != nil {
		return nil, "", err
	}
	clientOptions := azcore.ClientOptions{Cloud: cfg.Cloud.SDK, Transport: httpClient}
	resolver := vault.New(cred, &vault.Options{ClientOptions: &azsecrets.ClientOptions{ClientOptions: clientOptions}})
	g, err := graph.NewClient(cfg.Cloud.Graph, cred, &graph.ClientOptions{ClientOptions: clientOptions})
	if err != nil {
		return nil, "", fmt.Errorf("graph client: %w", err)
	}
	opts := provision.Options{ConsistencyWait: cfg.ConsistencyWait}
	st, err := newStateStore(cfg, getenv)
	if err != nil {
		return nil, "", err
	}
	if st != nil {
		opts.States = st // a nil *state.Store must not become a non-nil interface
	}
	return provision.New(policyFor(cfg), resolver, g, opts), kind, nil
}
