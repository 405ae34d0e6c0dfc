package main

import (
	"context"
	"fmt"
	"io"

	"github.com/putsecrets/putsecrets/internal/config"
	"github.com/putsecrets/putsecrets/internal/settle"
	"github.com/putsecrets/putsecrets/internal/worker"
)

// runWorker receives from the request queue and processes each message as
// the PutSecretsFromQueue function does, settling it itself (docs/contract.md
// §6), until ctx ends (SIGTERM); then it drains: no new messages, the ones
// in flight finish and are settled.
func runWorker(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("worker", stderr)
	queueName := fs.String("queue", "", "request queue (default: PUTSECRETS_QUEUE, else "+config.DefaultQueue+")")
	var conn connectionFlags
	fs.StringVar(&conn.namespace, "namespace", "", "fully qualified Service Bus namespace, reached with the app's identity "+
		"(default: ServiceBusConnection__fullyQualifiedNamespace)")
	fs.StringVar(&conn.connectionString, "connection-string", "", "Service Bus connection string (default: ServiceBusConnection)")
	concurrency := fs.Int("concurrency", worker.DefaultConcurrency, "messages (with --sessions: sessions) processed at once")
	sessions := fs.Bool("sessions", false, "accept sessions (the queue requires sessions)")
	idle := fs.Duration("session-idle", worker.DefaultSessionIdleTimeout, "release a session that delivered nothing for this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *concurrency < 1 || *concurrency > worker.MaxConcurrency {
		return usageError{fmt.Sprintf("--concurrency must be from 1 to %d (worker.MaxConcurrency), got %d", worker.MaxConcurrency, *concurrency)}
	}
	if *idle <= 0 {
		return usageError{"--session-idle must be positive"}
	}
	w, err := loadWiring(getenv, stdout, true)
	if err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}
	cfg, log := w.cfg, w.log
	q := orDefault(*queueName, cfg.Queue)
	if err := cfg.CheckRequestQueue(q, "--queue"); err != nil {
		return usageError{err.Error()}
	}
	c, err := conn.connection(cfg.ServiceBus)
	if err != nil {
		return err
	}
	svc, err := w.service()
	if err != nil {
		return err
	}
	sb, err := w.serviceBus(c)
	if err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}
	defer w.closeServiceBus()
	events, err := w.events(sb)
	if err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}
	log.Info("worker starting", append(cfg.LogAttrs(), "receiveQueue", q, "serviceBus", connectionKind(c), "credential", string(w.credKind))...)
	return worker.Run(ctx, worker.Options{
		Client:             sb.SDK(),
		Queue:              q,
		Processor:          settle.NewProcessor(svc, queueOptions(cfg, sb, q)),
		Logger:             log,
		Concurrency:        *concurrency,
		Sessions:           *sessions,
		SessionIdleTimeout: *idle,
		InvocationTimeout:  cfg.InvocationTimeout,
		SettleTimeout:      worker.DefaultSettleTimeout,
		EventsQueue:        cfg.EventsQueue,
		Events:             events,
	})
}
