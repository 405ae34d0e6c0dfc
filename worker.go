package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/putsecrets/putsecrets/internal/config"
	"github.com/putsecrets/putsecrets/internal/queue"
	"github.com/putsecrets/putsecrets/internal/worker"
)

// runWorker receives from the request queue and processes each message as
// the PutSecretsFromQueue function does, settling it itself (CONTRACT.md
// §6), until ctx ends (SIGTERM); then it drains: no new messages, the ones
// in flight finish and are settled.
func runWorker(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	queueName := fs.String("queue", "", "request queue (default: PUTSECRETS_QUEUE, else "+config.DefaultQueue+")")
	var conn connectionFlags
	fs.StringVar(&conn.namespace, "namespace", "", "fully qualified Service Bus namespace, reached with the app's identity "+
		"(default: ServiceBusConnection__fullyQualifiedNamespace)")
	fs.StringVar(&conn.connectionString, "connection-string", "", "Service Bus connection string (default: ServiceBusConnection)")
	concurrency := fs.Int("concurrency", worker.DefaultConcurrency, "messages (with --sessions: sessions) processed at once")
	sessions := fs.Bool("sessions", false, "accept sessions (the queue requires sessions)")
	idle := fs.Duration("session-idle", worker.DefaultSessionIdleTimeout, "release a session that delivered nothing for this long")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("worker takes no arguments, got %q", fs.Args())}
	}
	if *concurrency < 1 || *idle <= 0 {
		return usageError{"--concurrency must be at least 1 and --session-idle positive"}
	}
	log := slog.New(slog.NewJSONHandler(stdout, nil))
	cfg, err := config.LoadLookup(config.ProcessLookup(getenv), readHostJSON())
	if err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}
	q := firstNonEmpty(*queueName, cfg.Queue)
	if err := cfg.CheckRequestQueue(q, "--queue"); err != nil {
		return usageError{err.Error()}
	}
	c, err := conn.connection(cfg.ServiceBus)
	if err != nil {
		return err
	}
	svc, kind, err := newService(cfg, getenv)
	if err != nil {
		return err
	}
	sb, err := newServiceBus(cfg, getenv, c)
	if err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}
	defer closeServiceBus(log, sb)
	events, err := newEvents(cfg, getenv, log, sb)
	if err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}
	log.Info("worker starting", append(cfg.LogAttrs(), "receiveQueue", q, "serviceBus", connectionKind(c), "credential", string(kind))...)
	return worker.Run(ctx, worker.Options{
		Client:             sb.SDK(),
		Queue:              q,
		Processor:          queue.NewProcessor(svc, queue.Options{Outcomes: sb, ResultsQueue: cfg.ResultsQueue}),
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
