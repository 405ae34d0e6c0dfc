package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/google/uuid"

	"github.com/putsecrets/putsecrets/internal/config"
	"github.com/putsecrets/putsecrets/internal/credential"
	"github.com/putsecrets/putsecrets/internal/follow"
	"github.com/putsecrets/putsecrets/internal/graph"
	"github.com/putsecrets/putsecrets/internal/transport"
	"github.com/putsecrets/putsecrets/internal/vault"
)

// newReconciler builds what a Reconcile run needs from the settings, without
// network I/O: the kept-state store (none without PUTSECRETS_STATE_URL: a
// run then does nothing and says so), Key Vault and Graph clients with the
// app's credential, and sender for the request and results queues (nil
// without a Service Bus connection: a run with followed service principals
// then fails, saying so).
func newReconciler(cfg *config.Config, getenv func(string) string, log *slog.Logger, sender follow.Sender) (*follow.Reconciler, error) {
	rec := &follow.Reconciler{
		Logger: log, Policy: policyFor(cfg), RequestQueue: cfg.Queue, ResultsQueue: cfg.ResultsQueue,
	}
	if sender != nil {
		rec.Sender = sender
	}
	st, err := newStateStore(cfg, getenv)
	if err != nil || st == nil {
		return rec, err
	}
	rec.States = st
	httpClient := transport.New() // follows no redirect, as every client of the app
	cred, _, err := credential.New(getenv, cfg.Cloud, cfg.ClientID, httpClient)
	if err != nil {
		return nil, err
	}
	opts := azcore.ClientOptions{Cloud: cfg.Cloud.SDK, Transport: httpClient}
	rec.Versions = vault.New(cred, &vault.Options{ClientOptions: &azsecrets.ClientOptions{ClientOptions: opts}})
	g, err := graph.NewClient(cfg.Cloud.Graph, cred, &graph.ClientOptions{ClientOptions: opts})
	if err != nil {
		return nil, fmt.Errorf("graph client: %w", err)
	}
	rec.Jobs = g
	return rec, nil
}

// runReconcile is `handler reconcile`: one run of what the Reconcile function
// does (CONTRACT.md §6, §8), for a scheduler outside Functions such as a
// Container Apps job, with the functions' settings and bounded by the same
// invocation timeout. Its log lines (JSON) go to stdout; it exits non-zero
// when the run could not start or anything in it failed, so that the
// scheduler shows the run as failed.
func runReconcile(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("reconcile takes no arguments, got %q", fs.Args())}
	}
	log := slog.New(slog.NewJSONHandler(stdout, nil))
	cfg, err := config.LoadLookup(config.ProcessLookup(getenv), readHostJSON())
	if err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}
	var sender follow.Sender
	if cfg.ServiceBus.Configured() {
		sb, err := newServiceBus(cfg, getenv, cfg.ServiceBus)
		if err != nil {
			return fmt.Errorf("refusing to start: %w", err)
		}
		defer closeServiceBus(log, sb)
		sender = sb
	}
	rec, err := newReconciler(cfg, getenv, log, sender)
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
