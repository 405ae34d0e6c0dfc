// Package config reads the app settings (environment variables) of
// CONTRACT.md §5 once, at start-up, and reports every problem at once, each
// naming its setting.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/putsecrets/putsecrets/internal/cloud"
	"github.com/putsecrets/putsecrets/internal/graph"
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
	SettingServiceBusConnection     = "ServiceBusConnection"
	SettingServiceBusNamespace      = "ServiceBusConnection__fullyQualifiedNamespace"
	SettingServiceBusClientID       = "ServiceBusConnection__clientId"
	SettingServiceBusCredential     = "ServiceBusConnection__credential"
	SettingRequiredRole             = "PUTSECRETS_REQUIRED_ROLE"
	SettingAllowedServicePrincipals = "PUTSECRETS_ALLOWED_SERVICE_PRINCIPALS"
	SettingInvocationTimeout        = "PUTSECRETS_INVOCATION_TIMEOUT"
	SettingConsistencyWait          = "PUTSECRETS_GRAPH_CONSISTENCY_WAIT"
	SettingDebugEndpoints           = "PUTSECRETS_DEBUG_ENDPOINTS"
)

// Defaults.
const (
	DefaultQueue             = "putsecrets-requests"
	DefaultFunctionTimeout   = 5 * time.Minute // Consumption's default functionTimeout
	DefaultConsistencyWait   = 30 * time.Second
	DefaultGraphAPIVersion   = graph.APIVersionV1
	invocationTimeoutReserve = 5 * time.Second
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
	// ClientID is a user-assigned managed identity's client ID, or empty for system-assigned.
	ClientID string
	// AllowLiteralCredentials lets credential-bearing keys carry literal values.
	AllowLiteralCredentials bool
	// Queue is the request queue; ResultsQueue the default outcome destination (may be empty).
	Queue, ResultsQueue string
	// ServiceBus is how to reach Service Bus (may be empty: then no outcomes can be sent).
	ServiceBus ServiceBus
	// RequiredRole, when set, is the app role HTTP callers must carry.
	RequiredRole string
	// AllowedServicePrincipals, when non-empty, are the only target service principals (lower-case GUIDs).
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

// ServiceBus holds the Service Bus connection settings shared by the trigger,
// the outcome sender and the commands.
type ServiceBus struct {
	// ConnectionString is set for a connection string (local, emulator).
	ConnectionString string
	// Namespace is the fully qualified namespace for an identity-based connection.
	Namespace string
	// ClientID is the user-assigned identity for Service Bus, when set.
	ClientID string
}

// Configured reports whether a Service Bus connection is configured.
func (s ServiceBus) Configured() bool { return s.ConnectionString != "" || s.Namespace != "" }

// Load reads the settings through getenv. hostJSON is the content of
// host.json (nil when there is none); its functionTimeout bounds invocations.
// Every problem is reported, each naming its setting.
func Load(getenv func(string) string, hostJSON []byte) (*Config, error) {
	var errs []error
	bad := func(setting, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{setting}, args...)...))
	}
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }

	c := &Config{
		Port:         get(SettingPort),
		ClientID:     get(SettingClientID),
		Queue:        get(SettingQueue),
		ResultsQueue: get(SettingResultsQueue),
		RequiredRole: get(SettingRequiredRole),
		ServiceBus: ServiceBus{
			ConnectionString: get(SettingServiceBusConnection),
			Namespace:        get(SettingServiceBusNamespace),
			ClientID:         get(SettingServiceBusClientID),
		},
	}
	if c.Port == "" {
		c.Port = get(SettingHTTPWorkerPort)
	}
	if c.Port != "" {
		if n, err := strconv.Atoi(c.Port); err != nil || n < 0 || n > 65535 { // 0: any free port (tests)
			bad(SettingPort, "%q is not a TCP port", c.Port)
		}
	}
	if c.Queue == "" {
		c.Queue = DefaultQueue
	}

	var err error
	if c.Cloud, err = cloud.Lookup(get(SettingCloud)); err != nil {
		errs = append(errs, err)
	}

	if v := get(SettingGraphAPIVersion); v == "" {
		c.GraphAPIVersion = DefaultGraphAPIVersion
	} else if c.GraphAPIVersion, _ = graph.CanonicalAPIVersion(v); c.GraphAPIVersion == "" {
		bad(SettingGraphAPIVersion, "%q is neither %s nor %s", v, graph.APIVersionV1, graph.APIVersionBeta)
	}

	if c.AllowLiteralCredentials, err = parseBool(get(SettingAllowLiteralCredentials)); err != nil {
		bad(SettingAllowLiteralCredentials, "%v", err)
	}
	if c.DebugEndpoints, err = parseBool(get(SettingDebugEndpoints)); err != nil {
		bad(SettingDebugEndpoints, "%v", err)
	}

	if v := get(SettingAllowedVaults); v == "" {
		bad(SettingAllowedVaults, "not set: list the Key Vault names (or host names) the app may read, "+
			"comma-separated, e.g. %s=contoso-kv; the handler refuses to start without it", SettingAllowedVaults)
	} else if c.Cloud.KeyVaultSuffix != "" {
		c.AllowedVaults, err = parseVaults(v, c.Cloud)
		if err != nil {
			bad(SettingAllowedVaults, "%v", err)
		}
	}

	if v := get(SettingAllowedServicePrincipals); v != "" {
		for _, id := range splitList(v) {
			if !guidPattern.MatchString(id) {
				bad(SettingAllowedServicePrincipals, "%q is not a GUID (service principal object ID)", id)
				continue
			}
			c.AllowedServicePrincipals = append(c.AllowedServicePrincipals, strings.ToLower(id))
		}
	}

	if cred := get(SettingServiceBusCredential); cred != "" && !strings.EqualFold(cred, "managedidentity") {
		bad(SettingServiceBusCredential, "%q is not supported; use managedidentity or leave it unset", cred)
	}
	if c.ServiceBus.ConnectionString != "" && c.ServiceBus.Namespace != "" {
		bad(SettingServiceBusConnection, "set either %s (connection string) or %s (identity), not both",
			SettingServiceBusConnection, SettingServiceBusNamespace)
	}
	if c.ServiceBus.ConnectionString != "" && !strings.Contains(strings.ToLower(c.ServiceBus.ConnectionString), "endpoint=") {
		bad(SettingServiceBusConnection, "not a Service Bus connection string (no Endpoint=); "+
			"for an identity-based connection set %s instead", SettingServiceBusNamespace)
	}

	c.InvocationTimeout, err = invocationTimeout(get(SettingInvocationTimeout), hostJSON)
	if err != nil {
		errs = append(errs, err)
	}
	c.ConsistencyWait = DefaultConsistencyWait
	if v := get(SettingConsistencyWait); v != "" {
		if c.ConsistencyWait, err = time.ParseDuration(v); err != nil || c.ConsistencyWait < 0 {
			bad(SettingConsistencyWait, "%q is not a duration such as 30s", v)
		}
	}

	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
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

func splitList(v string) []string {
	var out []string
	for _, s := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

var (
	guidPattern  = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	vaultPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,22}[a-z0-9]$`)
)

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
		if !vaultPattern.MatchString(name) || strings.Contains(name, "--") {
			errs = append(errs, fmt.Errorf("%q is not a Key Vault name (3-24 letters, digits and hyphens, starting with a letter)", entry))
			continue
		}
		hosts = append(hosts, name+suffix)
	}
	if len(hosts) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("lists no vault"))
	}
	slices.Sort(hosts)
	return slices.Compact(hosts), errors.Join(errs...)
}

// invocationTimeout is the override when set, else host.json's
// functionTimeout less a reserve for answering, else Consumption's default.
func invocationTimeout(override string, hostJSON []byte) (time.Duration, error) {
	if override != "" {
		d, err := time.ParseDuration(override)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("%s: %q is not a positive duration such as 90s", SettingInvocationTimeout, override)
		}
		return d, nil
	}
	timeout := DefaultFunctionTimeout
	if len(hostJSON) > 0 {
		var h struct {
			FunctionTimeout string `json:"functionTimeout"`
		}
		if err := json.Unmarshal(hostJSON, &h); err != nil {
			return 0, fmt.Errorf("host.json: %w", err)
		}
		if h.FunctionTimeout != "" {
			d, err := ParseTimeSpan(h.FunctionTimeout)
			if err != nil {
				return 0, fmt.Errorf("host.json: functionTimeout: %w", err)
			}
			if d > 0 {
				timeout = d
			}
		}
	}
	reserve := min(invocationTimeoutReserve, timeout/10)
	return timeout - reserve, nil
}

// ParseTimeSpan parses a .NET TimeSpan as host.json writes it:
// [d.]hh:mm:ss[.fffffff]. "-1" (no limit) parses as 0.
func ParseTimeSpan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "-1" {
		return 0, nil
	}
	var days int64
	if i := strings.IndexByte(s, '.'); i >= 0 && i < strings.IndexByte(s, ':') {
		d, err := strconv.ParseInt(s[:i], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%q is not a time span such as 00:05:00", s)
		}
		days, s = d, s[i+1:]
	}
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, fmt.Errorf("%q is not a time span such as 00:05:00", s)
	}
	h, err1 := strconv.ParseUint(parts[0], 10, 8)
	m, err2 := strconv.ParseUint(parts[1], 10, 8)
	sec, err3 := strconv.ParseFloat(parts[2], 64)
	if err1 != nil || err2 != nil || err3 != nil || m > 59 || sec < 0 || sec >= 60 {
		return 0, fmt.Errorf("%q is not a time span such as 00:05:00", s)
	}
	return time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(sec*float64(time.Second)), nil
}
