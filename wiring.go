package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/putsecrets/putsecrets/internal/config"
	"github.com/putsecrets/putsecrets/internal/credential"
	"github.com/putsecrets/putsecrets/internal/graph"
	"github.com/putsecrets/putsecrets/internal/provision"
	"github.com/putsecrets/putsecrets/internal/request"
	"github.com/putsecrets/putsecrets/internal/servicebus"
	"github.com/putsecrets/putsecrets/internal/settle"
	"github.com/putsecrets/putsecrets/internal/state"
	"github.com/putsecrets/putsecrets/internal/transport"
	"github.com/putsecrets/putsecrets/internal/vault"
)

// wiring holds what the commands share: the settings, the log, and the
// dependencies built from them. Each dependency is built on first use, once
// per process, without network I/O (the first token and secret fetches
// happen on first use); a new command adds a lazy builder here, not a copy.
type wiring struct {
	getenv func(string) string
	cfg    *config.Config
	log    *slog.Logger

	http      *http.Client
	azOptions *azcore.ClientOptions
	creds     map[string]azcore.TokenCredential // by user-assigned client ID ("" is system-assigned)
	credKind  credential.Kind
	resolver  *vault.Resolver
	graph     *graph.Client
	svc       *provision.Service
	sb        *servicebus.Client
	state     *state.Store
}

// loadWiring reads the settings through getenv (and host.json when
// withHostJSON: the functions' host.json, for the commands that run like
// them) and logs JSON lines to stdout.
func loadWiring(getenv func(string) string, stdout io.Writer, withHostJSON bool) (*wiring, error) {
	return loadWiringWith(config.ProcessLookup(getenv), getenv, stdout, withHostJSON)
}

// loadWiringWith is loadWiring reading the settings through lookup, for a
// command whose flag replaces a setting (and is checked by the same rule).
func loadWiringWith(lookup func(string) (string, bool), getenv func(string) string, stdout io.Writer, withHostJSON bool) (*wiring, error) {
	var host []byte
	if withHostJSON {
		host = readHostJSON()
	}
	cfg, err := config.LoadLookup(lookup, host)
	if err != nil {
		return nil, err
	}
	return &wiring{
		getenv: getenv,
		cfg:    cfg,
		log:    slog.New(slog.NewJSONHandler(stdout, nil)),
		creds:  make(map[string]azcore.TokenCredential),
	}, nil
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

// policy is the request policy the settings define; the functions and the
// commands validate against the same one.
func (w *wiring) policy() *request.Policy {
	cfg := w.cfg
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

// credential is the app's credential for the user-assigned identity
// clientID ("" for the app's own, AZURE_CLIENT_ID's or system-assigned),
// built once per identity.
func (w *wiring) credential(clientID string) (azcore.TokenCredential, error) {
	if clientID == "" {
		clientID = w.cfg.ClientID
	}
	if c, ok := w.creds[clientID]; ok {
		return c, nil
	}
	c, kind, err := credential.New(w.getenv, w.cfg.Cloud, clientID, w.httpClient())
	if err != nil {
		return nil, err
	}
	w.creds[clientID], w.credKind = c, kind
	return c, nil
}

// httpClient is the one HTTP client the app builds: the identity endpoint,
// Key Vault and Graph share it. It follows no redirect and keeps enough idle
// connections for the parallel secret reads of concurrent invocations;
// azcore's default keeps 10 per host and re-handshakes TLS for the rest
// (internal/transport says why and what stays the same).
func (w *wiring) httpClient() *http.Client {
	if w.http == nil {
		w.http = transport.New()
	}
	return w.http
}

// clientOptions are the options of the Azure clients (Key Vault, Graph): the
// settings' cloud and the shared HTTP client.
func (w *wiring) clientOptions() azcore.ClientOptions {
	if w.azOptions == nil {
		w.azOptions = &azcore.ClientOptions{Cloud: w.cfg.Cloud.SDK, Transport: w.httpClient()}
	}
	return *w.azOptions
}

// vaultResolver is the Key Vault resolver on the app's credential, one per
// process (each vault's authentication challenge is answered once).
func (w *wiring) vaultResolver() (*vault.Resolver, error) {
	return appClient(w, &w.resolver, func(cred azcore.TokenCredential, opts azcore.ClientOptions) (*vault.Resolver, error) {
		return vault.New(cred, &vault.Options{ClientOptions: &azsecrets.ClientOptions{ClientOptions: opts}}), nil
	})
}

// graphClient is the Microsoft Graph client on the app's credential, one per
// process.
func (w *wiring) graphClient() (*graph.Client, error) {
	return appClient(w, &w.graph, func(cred azcore.TokenCredential, opts azcore.ClientOptions) (*graph.Client, error) {
		g, err := graph.NewClient(w.cfg.Cloud.Graph, cred, &graph.ClientOptions{ClientOptions: opts})
		if err != nil {
			return nil, fmt.Errorf("graph client: %w", err)
		}
		return g, nil
	})
}

// appClient returns *client, first building it with build on the app's
// credential and the clients' options when there is none yet: each Azure
// client is built once per process.
func appClient[T any](w *wiring, client **T, build func(azcore.TokenCredential, azcore.ClientOptions) (*T, error)) (*T, error) {
	if *client != nil {
		return *client, nil
	}
	cred, err := w.credential("")
	if err != nil {
		return nil, err
	}
	c, err := build(cred, w.clientOptions())
	if err != nil {
		return nil, err
	}
	*client = c
	return c, nil
}

// service is the provisioning service: the Key Vault resolver, the Graph
// client and, when one is configured, the kept-state store.
func (w *wiring) service() (*provision.Service, error) {
	if w.svc != nil {
		return w.svc, nil
	}
	resolver, err := w.vaultResolver()
	if err != nil {
		return nil, err
	}
	g, err := w.graphClient()
	if err != nil {
		return nil, err
	}
	opts := provision.Options{ConsistencyWait: w.cfg.ConsistencyWait}
	st, err := w.stateStore()
	if err != nil {
		return nil, err
	}
	if st != nil {
		opts.States = st // a nil *state.Store must not become a non-nil interface
	}
	w.svc = provision.New(w.policy(), resolver, g, opts)
	return w.svc, nil
}

// serviceBus is the process's one Service Bus client, for the connection
// conn (the settings' own, or what the flags named). An identity-based
// connection uses the app's credential, with the user-assigned identity
// ServiceBusConnection__clientId names (else AZURE_CLIENT_ID's), as the
// Functions host's trigger does.
func (w *wiring) serviceBus(conn config.ServiceBus) (*servicebus.Client, error) {
	if w.sb != nil {
		return w.sb, nil
	}
	var sb *servicebus.Client
	var err error
	if conn.ConnectionString != "" {
		sb, err = servicebus.New(conn, nil, nil)
	} else {
		var cred azcore.TokenCredential
		if cred, err = w.credential(conn.ClientID); err != nil {
			return nil, fmt.Errorf("service bus credential: %w", err)
		}
		sb, err = servicebus.New(conn, cred, nil)
	}
	if err != nil {
		return nil, err
	}
	w.sb = sb
	return sb, nil
}

// closeServiceBus closes the Service Bus client, if one was built, once the
// invocations have drained, so that no outcome is cut off.
func (w *wiring) closeServiceBus() {
	if w.sb == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.sb.Close(ctx); err != nil {
		w.log.Warn("closing the Service Bus client", "error", err.Error())
	}
}

// queueOptions are the request processor's settings: outcomes go through pub
// to ReplyTo or the results queue, and never to requestQueue (the queue this
// process receives from) or the events queue.
func queueOptions(cfg *config.Config, pub settle.Publisher, requestQueue string) settle.Options {
	return settle.Options{Outcomes: pub, ResultsQueue: cfg.ResultsQueue, RequestQueue: requestQueue, EventsQueue: cfg.EventsQueue}
}

// newFlags is a command's flag set; its errors and usage go to stderr.
func newFlags(command string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses a command's arguments. Every command takes flags only: a
// stray argument (a second document after --file, a path without --file) is
// a usage error, never silently ignored.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s takes no arguments, only flags; got %q", fs.Name(), fs.Args())}
	}
	return nil
}

// connectionFlags are the Service Bus flags the enqueue and worker commands
// share; they override the ServiceBusConnection settings.
type connectionFlags struct {
	namespace, connectionString string
}

// connection is the Service Bus connection the flags and settings name: a
// flag replaces either setting.
func (f connectionFlags) connection(settings config.ServiceBus) (config.ServiceBus, error) {
	switch {
	case f.namespace != "" && f.connectionString != "":
		return config.ServiceBus{}, usageError{"give --namespace or --connection-string, not both"}
	case f.connectionString != "":
		return config.ServiceBus{ConnectionString: f.connectionString}, nil
	case f.namespace != "":
		return config.ServiceBus{Namespace: f.namespace, ClientID: settings.ClientID}, nil
	case !settings.Configured():
		return config.ServiceBus{}, errors.New("no Service Bus connection: give --namespace FQDN (identity) or " +
			"--connection-string, or set ServiceBusConnection__fullyQualifiedNamespace or ServiceBusConnection")
	}
	return settings, nil
}

// connectionKind names a connection for log lines, never showing the string.
func connectionKind(conn config.ServiceBus) string {
	switch {
	case conn.ConnectionString != "":
		return "connectionString"
	case conn.Namespace != "":
		return "namespace " + conn.Namespace
	}
	return "none"
}

// loadDocument reads the request document at path ("-" for standard input)
// and checks it with the functions' own validator and policy, printing every
// problem to out, one per line. The commands share it so that they judge a
// document exactly as the functions do.
func (w *wiring) loadDocument(path string, out io.Writer) (*request.Request, []byte, error) {
	body, err := readDocument(path)
	if err != nil {
		return nil, nil, err
	}
	req, err := request.Parse(body, w.policy())
	var reqErr *request.Error
	if errors.As(err, &reqErr) {
		for _, p := range reqErr.Problems {
			field := p.Field
			if field == "" {
				field = "(document)"
			}
			fmt.Fprintf(out, "%s: %s\n", field, p.Message)
		}
		return nil, nil, fmt.Errorf("%s: %d problem(s)", path, len(reqErr.Problems))
	}
	if err != nil {
		return nil, nil, err
	}
	return req, body, nil
}

// readDocument reads a request document from a file, or stdin for "-",
// refusing anything over the contract's size limit.
func readDocument(path string) ([]byte, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, request.MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

// orDefault is the flag's value, trimmed, or def when the flag is empty.
func orDefault(flag, def string) string {
	if v := strings.TrimSpace(flag); v != "" {
		return v
	}
	return strings.TrimSpace(def)
}
