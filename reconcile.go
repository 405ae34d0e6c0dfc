package main

import (
	"context"
	"fmt"
	"io"

	"github.com/google/uuid"

	"github.com/putsecrets/putsecrets/internal/follow"
)

// reconciler builds what a Reconcile run needs from the settings, without
// network I/O: the kept-state store (none without PUTSECRETS_STATE_URL: a
// run then does nothing and says so), the process's Key Vault and Graph
// clients, and sender for the request and results queues (nil without a
// Service Bus connection: a run with followed service principals then
// fails, saying so).
func (w *wiring) reconciler(sender follow.Sender) (*follow.Reconciler, error) {
	cfg := w.cfg
	rec := &follow.Reconciler{
		Logger: w.log, Policy: w.policy(), RequestQueue: cfg.Queue, ResultsQueue: cfg.ResultsQueue,
	}
	if sender != nil {
		rec.Sender = sender
	}
	st, err := w.stateStore()
	if err != nil || st == nil {
		return rec, err
	}
	rec.States = st
	if rec.Versions, err = w.vaultResolver(); err != nil {
		return nil, err
	}
	g, err := w.graphClient()
	if err != nil {
		return nil, err
	}
	rec.Jobs = g
	return rec, nil
}

// runReconcile is `handler reconcile`: one run of what the Reconcile function
// does (docs/contract.md §6, §8), for a scheduler outside Functions such as a
// Container Apps job, with the functions' settings and bounded by the same
// invocation timeout. Its log lines (JSON) go to stdout; it exits non-zero
// when the run could not start or anything in it failed, so that the
// scheduler shows the run as failed.
func runReconcile(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if err := parseFlags(newFlags("reconcile", stderr), args); err != nil {
		return err
	}
	w, err := loadWiring(getenv, stdout, true)
	if err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}
	cfg := w.cfg
	var sender follow.Sender
	if cfg.ServiceBus.Configured() {
		sb, err := w.serviceBus(cfg.ServiceBus)
		if err != nil {
			return fmt.Errorf("refusing to start: %w", err)
		}
		defer w.closeServiceBus()
		sender = sb
	}
	rec, err := w.reconciler(sender)
	if err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.InvocationTimeout)
	defer cancel()
	rep, err := rec.Run(ctx, uuid.NewString())
	if err != nil {
		return err
	}
	if n := rep.Failed + rep.NotReached; n > 0 {
		return fmt.Errorf("reconcile: %d of %d followed service principals failed or were not reached; the log says which", n, rep.States)
	}
	return nil
}
