package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/putsecrets/putsecrets/internal/follow"
	"github.com/putsecrets/putsecrets/internal/server"
	"github.com/putsecrets/putsecrets/internal/settle"
)

// serve runs the custom handler until ctx ends, then drains in-flight
// invocations. It listens before doing anything that could be slow: the host
// polls for readiness for 30 s, and no network I/O happens before listening
// (clients are built without any; the first token and secret fetches happen
// on first use).
func serve(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	w, err := loadWiring(getenv, stdout, true)
	if err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}
	cfg, log := w.cfg, w.log
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", cfg.Port))
	if err != nil {
		return fmt.Errorf("listen on 127.0.0.1:%s (FUNCTIONS_CUSTOMHANDLER_PORT): %w", cfg.Port, err)
	}
	svc, err := w.service()
	if err != nil {
		_ = ln.Close()
		return err
	}
	// Outcome messages go through one Service Bus client for the process,
	// built (without network I/O) from the trigger's own connection settings.
	var outcomes settle.Publisher
	var sender follow.Sender
	if cfg.ServiceBus.Configured() {
		sb, err := w.serviceBus(cfg.ServiceBus)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("refusing to start: %w", err)
		}
		defer w.closeServiceBus()
		outcomes, sender = sb, sb
	}
	events, err := w.events(sender)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("refusing to start: %w", err)
	}
	reconciler, err := w.reconciler(sender)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("refusing to start: %w", err)
	}
	srv := &http.Server{
		Handler: server.New(server.Options{
			Logger: log, Service: svc, InvocationTimeout: cfg.InvocationTimeout,
			Queue:        settle.NewProcessor(svc, queueOptions(cfg, outcomes, cfg.Queue)),
			RequiredRole: cfg.RequiredRole, DebugEndpoints: cfg.DebugEndpoints, Events: events, Reconciler: reconciler,
		}),
		ReadHeaderTimeout: server.ReadHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("handler listening", append([]any{"address", ln.Addr().String(), "credential", string(w.credKind),
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
