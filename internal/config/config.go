// Package config reads the app settings (environment variables) of
// docs/contract.md §5 once, at start-up, and reports every problem at once, each
// naming its setting. A setting never silently switches a check off or
// makes a loop: a list that lists nothing, a blank role, a results queue
// equal to the request or events queue, and any value the handler cannot use
// are refused.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/putsecrets/putsecrets/internal/cloud"
	"github.com/putsecrets/putsecrets/internal/graph"
	"github.com/putsecrets/putsecrets/internal/request"
)

// The settings this program reads.
const (
	SettingPort                     = "FUNCTIONS_CUSTOMHANDLER_PORT"
	SettingHTTPWorkerPort           = "FUNCTIONS_HTTPWORKER_PORT"
	SettingAllowedVaults            = "PUTSECRETS_ALLOWED_VAULTS"
	SettingCloud                    = "AZURE_CLOUD"
	SettingGraphAPIVersion          = "PUTSECRETS_GRAPH_API_VERSION"
	SettingClientID                 = "AZURE_CLIENT_ID"
	SettingAllowLiteralCredentials  = "PUTSECRETS_ALLOW_LITERAL_CREDENTIALS"
	SettingQueue                    = "PUTSECRETS_QUEUE"
	SettingResultsQueue             = "PUTSECRETS_RESULTS_QUEUE"
	SettingEventsQueue              = "PUTSECRETS_EVENTS_QUEUE"
	SettingStateURL                 = "PUTSECRETS_STATE_URL"
	SettingReconcileSchedule        = "PUTSECRETS_RECONCILE_SCHEDULE"
	SettingServiceBusConnection     = "ServiceBusConnection"
	SettingServiceBusNamespace      = "ServiceBusConnection__fullyQualifiedNamespace"
	SettingServiceBusClientID       = "ServiceBusConnection__clientId"
	SettingServiceBusCredential     = "ServiceBusConnection__credential"
	SettingRequiredRole             = "PUTSECRETS_REQUIRED_ROLE"
	SettingAllowedServicePrincipals = "PUTSECRETS_ALLOWED_SERVICE_PRINCIPALS"
	SettingInvocationTimeout        = "PUTSECRETS_INVOCATION_TIMEOUT"
	SettingConsistencyWait          = "PUTSECRETS_GRAPH_CONSISTENCY_WAIT"
	SettingDebugEndpoints           = "PUTSECRETS_DEBUG_ENDPOINTS"

	// SettingWebsiteAuthEnabled is injected by App Service: "True" while App
	// Service Authentication is on (read-only, never set by the app).
	SettingWebsiteAuthEnabled = "WEBSITE_AUTH_ENABLED"
	// SettingStorageBlobServiceURI and SettingStorageAccountName are the host
	// storage's identity-based connection; PUTSECRETS_STATE_URL defaults to a
	// container in that account.
	SettingStorageBlobServiceURI = "AzureWebJobsStorage__blobServiceUri"
	SettingStorageAccountName    = "AzureWebJobsStorage__accountName"
)

// Defaults.
const (
	DefaultQueue             = "putsecrets-requests"
	DefaultEventsQueue       = "putsecrets-kv-events"
	DefaultStateContainer    = "putsecrets-state"
	DefaultReconcileSchedule = "0 0 3 * * *"   // daily, 03:00 UTC
	DefaultFunctionTimeout   = 5 * time.Minute // Consumption's default functionTimeout
	DefaultConsistencyWait   = 30 * time.Second
	DefaultGraphAPIVersion   = graph.APIVersionV1
)

// Config is the program's settings.
type Config struct {
	// Port is where the Functions host expects the handler; empty outside Functions.
	Port string
	// Cloud is the Azure cloud (AZURE_CLOUD).
	Cloud cloud.Cloud
	// AllowedVaults are the Key Vault host names the app may read, lower-case, sorted.
	AllowedVaults []string
	// GraphAPIVersion is the default Graph version, "v1.0" or "beta".
	GraphAPIVersion string
	// ClientID is a user-assigned managed identity's client ID (a GUID), or
	// empty for system-assigned.
	ClientID string
	// AllowLiteralCredentials lets credential-bearing keys carry literal values.
	AllowLiteralCredentials bool
	// Queue is the request queue; ResultsQueue the default outcome destination
	// (may be empty). They never name the same queue (case-insensitively),
	// nor does ResultsQueue name EventsQueue: outcomes would come back as work.
	Queue, ResultsQueue string
	// EventsQueue is the queue Event Grid delivers Key Vault events to
	// (PUTSECRETS_EVENTS_QUEUE), distinct from Queue and ResultsQueue.
	EventsQueue string
	// StateURL is the blob container URL for kept desired states
	// (PUTSECRETS_STATE_URL or its default in the host storage account),
	// https and without a query; empty when none is known: then `follow` is
	// refused and the docs/contract.md §8 functions say so.
	StateURL string
	// ReconcileSchedule is the six-field NCRONTAB schedule of Reconcile.
	ReconcileSchedule string
	// ServiceBus is how to reach Service Bus (may be empty: then no outcomes can be sent).
	ServiceBus ServiceBus
	// RequiredRole, when set, is the app role HTTP callers must carry.
	RequiredRole string
	// AppServiceAuth is what the platform said about App Service
	// Authentication (WEBSITE_AUTH_ENABLED), for the start-up line.
	AppServiceAuth AppServiceAuth
	// AllowedServicePrincipals, when non-empty, are the only target service
	// principals (lower-case GUIDs, sorted).
	AllowedServicePrincipals []string
	// InvocationTimeout bounds one invocation: functionTimeout from host.json less a
	// reserve to answer in, or PUTSECRETS_INVOCATION_TIMEOUT.
	InvocationTimeout time.Duration
	// ConsistencyWait bounds how long a Graph 401/404 for a newly created
	// service principal is retried (replication delay).
	ConsistencyWait time.Duration
	// DebugEndpoints serves GET /debug/goroutines on the handler's loopback
	// listener (PUTSECRETS_DEBUG_ENDPOINTS; off by default).
	DebugEndpoints bool
}

// AppServiceAuth is the WEBSITE_AUTH_ENABLED variable as the process saw it.
type AppServiceAuth struct {
	// Seen reports whether the variable was present at all.
	Seen bool
	// Value is its value (trimmed) when seen.
	Value string
}

// On reports whether the platform says App Service Authentication is on.
func (a AppServiceAuth) On() bool { return a.Seen && strings.EqualFold(a.Value, "True") }

// ServiceBus holds the Service Bus connection settings shared by the trigger,
// the outcome sender and the commands.
type ServiceBus struct {
	// ConnectionString is set for a connection string (local, emulator).
	ConnectionString string
	// Namespace is the fully qualified namespace for an identity-based connection.
	Namespace string
	// ClientID is the user-assigned identity for Service Bus (a GUID), when set.
	ClientID string
}

// Configured reports whether a Service Bus connection is configured.
func (s ServiceBus) Configured() bool { return s.ConnectionString != "" || s.Namespace != "" }

// Load reads the settings through getenv, for which a setting is present
// when its value is not empty. hostJSON is the content of host.json (nil
// when there is none); its functionTimeout bounds invocations. Every problem
// is reported, each naming its setting.
func Load(getenv func(string) string, hostJSON []byte) (*Config, error) {
	return LoadLookup(func(k string) (string, bool) {
		v := getenv(k)
		return v, v != ""
	}, hostJSON)
}

// ProcessLookup reads values through getenv and, where getenv returns
// nothing, presence from the process environment (os.LookupEnv): os.Getenv
// cannot tell a setting that is present but blank (which LoadLookup refuses
// for the role, the lists, the queues, the state URL, the schedule and the
// durations) from an unset one. The root's run keeps its getenv; its
// commands load settings through ProcessLookup(getenv).
func ProcessLookup(getenv func(string) string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		if v := getenv(k); v != "" {
			return v, true
		}
		_, ok := os.LookupEnv(k)
		return "", ok
	}
}

// LoadLookup is Load with a lookup that tells a present but blank setting
// (refused where blank would switch something off or disagree with the
// Functions host's bindings) from an unset one (its default).
func LoadLookup(lookup func(string) (string, bool), hostJSON []byte) (*Config, error) {
	l := loader{lookup: lookup}
	c := l.load(hostJSON)
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	return c, nil
}

// loader collects the problems of one Load.
type loader struct {
	lookup func(string) (string, bool)
	errs   []error
}

func (l *loader) bad(setting, format string, args ...any) {
	l.errs = append(l.errs, fmt.Errorf("%s: "+format, append([]any{setting}, args...)...))
}

// get is the trimmed value of a setting ("" when unset).
func (l *loader) get(k string) string {
	v, _ := l.lookup(k)
	return strings.TrimSpace(v)
}

// nonBlank is the trimmed value of a setting, refusing one that is present
// but blank; remedy says what to do instead.
func (l *loader) nonBlank(k, remedy string) string {
	v, ok := l.lookup(k)
	v = strings.TrimSpace(v)
	if ok && v == "" {
		l.bad(k, "present but blank; %s", remedy)
	}
	return v
}

func (l *loader) load(hostJSON []byte) *Config {
	c := &Config{
		Port:         l.get(SettingPort),
		ClientID:     l.get(SettingClientID),
		RequiredRole: l.nonBlank(SettingRequiredRole, "remove the setting to let any caller with a function key in, or name the app role callers must carry"),
		ServiceBus: ServiceBus{
			ConnectionString: l.get(SettingServiceBusConnection),
			Namespace:        l.get(SettingServiceBusNamespace),
			ClientID:         l.get(SettingServiceBusClientID),
		},
	}
	if c.Port == "" {
		c.Port = l.get(SettingHTTPWorkerPort)
	}
	if c.Port != "" {
		if n, err := strconv.Atoi(c.Port); err != nil || n < 0 || n > 65535 { // 0: any free port (tests)
			l.bad(SettingPort, "%q is not a TCP port", c.Port)
		}
	}

	var err error
	if c.Cloud, err = cloud.Lookup(l.get(SettingCloud)); err != nil {
		l.errs = append(l.errs, err)
	}

	if v := l.get(SettingGraphAPIVersion); v == "" {
		c.GraphAPIVersion = DefaultGraphAPIVersion
	} else if c.GraphAPIVersion, _ = graph.CanonicalAPIVersion(v); c.GraphAPIVersion == "" {
		l.bad(SettingGraphAPIVersion, "%q is neither %s nor %s", v, graph.APIVersionV1, graph.APIVersionBeta)
	}

	if c.AllowLiteralCredentials, err = parseBool(l.get(SettingAllowLiteralCredentials)); err != nil {
		l.bad(SettingAllowLiteralCredentials, "%v", err)
	}
	if c.DebugEndpoints, err = parseBool(l.get(SettingDebugEndpoints)); err != nil {
		l.bad(SettingDebugEndpoints, "%v", err)
	}

	if v := l.get(SettingAllowedVaults); v == "" {
		l.bad(SettingAllowedVaults, "not set: list the Key Vault names (or host names) the app may read, "+
			"comma-separated, e.g. %s=contoso-kv; the handler refuses to start without it", SettingAllowedVaults)
	} else if c.Cloud.KeyVaultSuffix != "" {
		c.AllowedVaults, err = parseVaults(v, c.Cloud)
		if err != nil {
			l.bad(SettingAllowedVaults, "%v", err)
		}
	}

	l.loadServicePrincipals(c)
	l.loadRole(c)
	l.loadIdentities(c)
	l.loadQueues(c)
	l.loadServiceBus(c)
	l.loadState(c)

	c.InvocationTimeout, err = invocationTimeout(l.nonBlank(SettingInvocationTimeout,
		"remove the setting to use host.json's functionTimeout, or give a duration such as 90s"), hostJSON)
	if err != nil {
		l.errs = append(l.errs, err)
	}
	c.ConsistencyWait, err = consistencyWait(l.nonBlank(SettingConsistencyWait,
		"remove the setting for the default 30s, or give a duration such as 30s (0s: no wait)"))
	if err != nil {
		l.errs = append(l.errs, err)
	}
	return c
}

// loadServicePrincipals reads the allow-list of target service principals:
// present, it must list at least one object ID, or it would allow any.
func (l *loader) loadServicePrincipals(c *Config) {
	v, ok := l.lookup(SettingAllowedServicePrincipals)
	if !ok {
		return
	}
	ids := splitList(v)
	if len(ids) == 0 {
		l.bad(SettingAllowedServicePrincipals, "present but lists no service principal (%q); "+
			"list the object IDs requests may name, comma-separated, or remove the setting to allow any", v)
		return
	}
	for _, id := range ids {
		if _, ok := request.ParseGUID(id); !ok {
			l.bad(SettingAllowedServicePrincipals, "%q is not a GUID (service principal object ID)", id)
			continue
		}
		c.AllowedServicePrincipals = append(c.AllowedServicePrincipals, strings.ToLower(id))
	}
	slices.Sort(c.AllowedServicePrincipals)
	c.AllowedServicePrincipals = slices.Compact(c.AllowedServicePrincipals)
}

// loadRole checks PUTSECRETS_REQUIRED_ROLE against what the platform says
// about App Service Authentication: without it, the principal header the
// role is read from is whatever the caller sent.
func (l *loader) loadRole(c *Config) {
	v, seen := l.lookup(SettingWebsiteAuthEnabled)
	c.AppServiceAuth = AppServiceAuth{Seen: seen, Value: strings.TrimSpace(v)}
	if c.RequiredRole == "" {
		return
	}
	if strings.ContainsFunc(c.RequiredRole, isSpace) || strings.Contains(c.RequiredRole, ",") {
		l.bad(SettingRequiredRole, "%q is not one app role value (no spaces or commas)", c.RequiredRole)
	}
	if seen && !c.AppServiceAuth.On() {
		l.bad(SettingRequiredRole, "set while App Service Authentication is off (%s=%q): anyone with a function key "+
			"could send the principal header the role is read from; turn App Service Authentication on "+
			"(require authentication, Return401) or remove %s", SettingWebsiteAuthEnabled, c.AppServiceAuth.Value, SettingRequiredRole)
	}
}

// loadIdentities checks that managed identity client IDs are GUIDs: another
// value would fail every token request at first use instead of at start.
func (l *loader) loadIdentities(c *Config) {
	for _, s := range []struct{ setting, value string }{
		{SettingClientID, c.ClientID},
		{SettingServiceBusClientID, c.ServiceBus.ClientID},
	} {
		if _, ok := request.ParseGUID(s.value); s.value != "" && !ok {
			l.bad(s.setting, "%q is not a GUID: give the client ID (not the object or resource ID) of the "+
				"user-assigned managed identity, or remove the setting for the system-assigned one", s.value)
		}
	}
}

// loadQueues reads the three queue names: each a name Service Bus accepts,
// the events queue not the request queue, and the results queue neither of
// them, compared case-insensitively as Service Bus compares entity names.
func (l *loader) loadQueues(c *Config) {
	queue := func(setting, def, remedy string) string {
		v := l.nonBlank(setting, remedy)
		if v == "" {
			return def
		}
		if err := checkQueueName(v); err != nil {
			l.bad(setting, "%v", err)
		}
		return v
	}
	c.Queue = queue(SettingQueue, DefaultQueue, "remove the setting for "+DefaultQueue+" or name the request queue")
	c.EventsQueue = queue(SettingEventsQueue, DefaultEventsQueue, "remove the setting for "+DefaultEventsQueue+" or name the events queue")
	c.ResultsQueue = queue(SettingResultsQueue, "", "remove the setting for no default outcome destination, or name the results queue")
	for _, err := range []error{
		c.eventsClash(c.Queue, SettingQueue),
		c.resultsLoop(c.Queue, SettingQueue),
		c.resultsLoop(c.EventsQueue, SettingEventsQueue),
	} {
		if err != nil {
			l.errs = append(l.errs, err)
		}
	}
}

// CheckRequestQueue checks a request queue named elsewhere than
// PUTSECRETS_QUEUE (the worker's --queue, given as flag): a name Service Bus
// accepts, and not the results or events queue.
func (c *Config) CheckRequestQueue(name, flag string) error {
	if err := checkQueueName(name); err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	if err := c.eventsClash(name, flag); err != nil {
		return err
	}
	return c.resultsLoop(name, flag)
}

// eventsClash refuses a request queue (named by setting) that is the events
// queue: requests would be read as Key Vault events and the other way round.
func (c *Config) eventsClash(queue, setting string) error {
	if !strings.EqualFold(c.EventsQueue, queue) {
		return nil
	}
	return fmt.Errorf("%s: %q is also %s (Service Bus names ignore case): Key Vault events and requests "+
		"need queues of their own", SettingEventsQueue, c.EventsQueue, setting)
}

// resultsLoop refuses a results queue that is the queue named by setting:
// every outcome would come back as new work.
func (c *Config) resultsLoop(queue, setting string) error {
	if c.ResultsQueue == "" || !strings.EqualFold(c.ResultsQueue, queue) {
		return nil
	}
	return fmt.Errorf("%s: %q is also %s (Service Bus names ignore case): every outcome would come back "+
		"as new work, a loop; name a queue of its own", SettingResultsQueue, c.ResultsQueue, setting)
}

// loadServiceBus checks the Service Bus connection settings.
func (l *loader) loadServiceBus(c *Config) {
	if cred := l.get(SettingServiceBusCredential); cred != "" && !strings.EqualFold(cred, "managedidentity") {
		l.bad(SettingServiceBusCredential, "%q is not supported; use managedidentity or leave it unset", cred)
	}
	if c.ServiceBus.ConnectionString != "" && c.ServiceBus.Namespace != "" {
		l.bad(SettingServiceBusConnection, "set either %s (connection string) or %s (identity), not both",
			SettingServiceBusConnection, SettingServiceBusNamespace)
	}
	if ns := c.ServiceBus.Namespace; ns != "" && (strings.Contains(ns, "/") || strings.ContainsFunc(ns, isSpace) || strings.Contains(ns, ";")) {
		l.bad(SettingServiceBusNamespace, "%q is not a fully qualified namespace: give the host name alone, e.g. "+
			"contoso-sb.servicebus.windows.net (no sb://, no path, no connection string)", redactNamespace(ns))
	}
	if c.ServiceBus.ConnectionString != "" && !strings.Contains(strings.ToLower(c.ServiceBus.ConnectionString), "endpoint=") {
		l.bad(SettingServiceBusConnection, "not a Service Bus connection string (no Endpoint=); "+
			"for an identity-based connection set %s instead", SettingServiceBusNamespace)
	}
}

// redactNamespace is a namespace setting as an error may quote it: a
// connection string pasted there would carry a SharedAccessKey, so anything
// after the first ';' is cut off.
func redactNamespace(ns string) string {
	if i := strings.IndexByte(ns, ';'); i >= 0 {
		return ns[:i] + ";…"
	}
	return ns
}

// loadState reads PUTSECRETS_STATE_URL, else derives it from the host
// storage's identity-based settings, and the Reconcile schedule.
func (l *loader) loadState(c *Config) {
	v := l.nonBlank(SettingStateURL, "remove the setting for the default container in the host storage account, "+
		"or give a container URL such as https://account.blob.core.windows.net/"+DefaultStateContainer)
	source := SettingStateURL
	if v == "" && c.Cloud.StorageSuffix != "" {
		v, source = defaultStateURL(l.get(SettingStorageBlobServiceURI), l.get(SettingStorageAccountName), c.Cloud)
	}
	if v != "" {
		u, err := checkStateURL(v, c.Cloud)
		switch {
		case err != nil && source == SettingStateURL:
			l.bad(SettingStateURL, "%v", err)
		case err != nil:
			l.bad(SettingStateURL, "not set, and the default derived from %s is not usable: %v; set %s to the container URL",
				source, err, SettingStateURL)
		default:
			c.StateURL = u
		}
	}

	c.ReconcileSchedule = l.nonBlank(SettingReconcileSchedule, "remove the setting for the daily default "+
		strconv.Quote(DefaultReconcileSchedule)+", or give a six-field NCRONTAB schedule")
	if c.ReconcileSchedule == "" {
		c.ReconcileSchedule = DefaultReconcileSchedule
	} else if err := checkSchedule(c.ReconcileSchedule); err != nil {
		l.bad(SettingReconcileSchedule, "%v", err)
	}
}

// LogAttrs returns the settings for the start-up log line: what the
// handler will allow and where it will send, never a secret (no connection
// string; the state URL holds no query).
func (c *Config) LogAttrs() []any {
	auth := "not seen"
	if c.AppServiceAuth.Seen {
		auth = c.AppServiceAuth.Value
	}
	sps := c.AllowedServicePrincipals
	if sps == nil {
		sps = []string{}
	}
	return []any{
		"cloud", c.Cloud.Name,
		"allowedVaults", c.AllowedVaults,
		slog.Group("allowedServicePrincipals", "restricted", len(sps) > 0, "count", len(sps), "ids", sps),
		"allowLiteralCredentials", c.AllowLiteralCredentials,
		"graphApiVersion", c.GraphAPIVersion,
		"managedIdentityClientId", c.ClientID,
		"requiredRole", c.RequiredRole,
		"websiteAuthEnabled", auth,
		"queue", c.Queue,
		"resultsQueue", c.ResultsQueue,
		"eventsQueue", c.EventsQueue,
		"stateUrl", c.StateURL,
		"reconcileSchedule", c.ReconcileSchedule,
		"invocationTimeout", c.InvocationTimeout.String(),
		"graphConsistencyWait", c.ConsistencyWait.String(),
		"debugEndpoints", c.DebugEndpoints,
	}
}

func parseBool(v string) (bool, error) {
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%q is neither true nor false", v)
	}
	return b, nil
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

func splitList(v string) []string {
	var out []string
	for _, s := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' || isSpace(r) }) {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

var ()

// parseVaults turns names and host names (a URL is tolerated) into host
// names under the cloud's Key Vault suffix.
func parseVaults(v string, c cloud.Cloud) ([]string, error) {
	var hosts []string
	var errs []error
	suffix := "." + c.KeyVaultSuffix
	for _, entry := range splitList(v) {
		e := strings.ToLower(entry)
		e = strings.TrimPrefix(e, "https://")
		e = strings.TrimSuffix(e, "/")
		name := e
		if strings.Contains(e, ".") {
			if !strings.HasSuffix(e, suffix) {
				errs = append(errs, fmt.Errorf("%q is not under the %s Key Vault suffix %s", entry, c.Name, c.KeyVaultSuffix))
				continue
			}
			name = strings.TrimSuffix(e, suffix)
		}
		if request.CheckVaultName(name) != nil {
			errs = append(errs, fmt.Errorf("%q is not a Key Vault name (3-24 letters, digits and hyphens, starting with a letter)", entry))
			continue
		}
		hosts = append(hosts, name+suffix)
	}
	if len(hosts) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("lists no vault (%q)", v))
	}
	slices.Sort(hosts)
	return slices.Compact(hosts), errors.Join(errs...)
}
