// Command handler is the putsecrets custom handler for Azure Functions and
// the command-line tool a pipeline runs.
//
// Started by the Functions host (FUNCTIONS_CUSTOMHANDLER_PORT set), it serves
// the PutSecrets, PutSecretsFromQueue, PutSecretsFromKeyVault and Reconcile
// functions on 127.0.0.1. Otherwise
// its first argument is a command:
//
//	handler validate --file request.json
//	handler enqueue  --file request.json [--queue q] [--namespace ns | --connection-string cs] ...
//	handler worker   [--queue q] [--namespace ns | --connection-string cs] [--concurrency n] [--sessions] [--session-idle d]
//	handler reconcile
//	handler state    list | show ID | forget ID [--state-url URL]
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "handler: %v\n", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const usage = `usage:
  handler validate --file PATH
  handler enqueue  --file PATH [--queue Q] [--namespace FQDN | --connection-string CS]
                   [--reply-to Q] [--correlation-id ID] [--message-id ID] [--session-id ID]
  handler worker   [--queue Q] [--namespace FQDN | --connection-string CS] [--concurrency N] [--sessions]
                   [--session-idle DURATION]
  handler reconcile
  handler state    list | show ID | forget ID [--state-url URL]

Every command reads the functions' settings (PUTSECRETS_ALLOWED_VAULTS, PUTSECRETS_QUEUE,
ServiceBusConnection, ...); flags override them.

Started by the Azure Functions host (FUNCTIONS_CUSTOMHANDLER_PORT set), the handler serves
the PutSecrets, PutSecretsFromQueue, PutSecretsFromKeyVault and Reconcile functions instead.`

// run is the whole program; main only wires it to the process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if getenv("FUNCTIONS_CUSTOMHANDLER_PORT") != "" || getenv("FUNCTIONS_HTTPWORKER_PORT") != "" {
		return serve(ctx, getenv, stdout)
	}
	if len(args) < 2 {
		return usageError{"FUNCTIONS_CUSTOMHANDLER_PORT is not set: the Azure Functions host sets it when it starts " +
			"the handler (run `func start` in the project folder); to use the handler as a tool, name a command\n" + usage}
	}
	cmd, rest := args[1], args[2:]
	switch cmd {
	case "validate":
		return runValidate(rest, getenv, stdout, stderr)
	case "enqueue":
		return runEnqueue(ctx, rest, getenv, stdout, stderr)
	case "worker":
		return runWorker(ctx, rest, getenv, stdout, stderr)
	case "reconcile":
		return runReconcile(ctx, rest, getenv, stdout, stderr)
	case "state":
		return runState(ctx, rest, getenv, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		return usageError{fmt.Sprintf("unknown command %q\n%s", cmd, usage)}
	}
}
