package config

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/putsecrets/putsecrets/internal/cloud"
)

// lookup is an environment in which every key of kv is present, with its
// value, blank ones included.
func lookup(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := kv[k]
		return v, ok
	}
}

const (
	sp1 = "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"
	sp2 = "11111111-2222-4333-8444-555555555555"
)

// defaults is the Config of an environment that sets only the allowed vault.
func defaults() *Config {
	return &Config{Cloud: cloud.Public, AllowedVaults: []string{"contoso-kv.vault.azure.net"}, GraphAPIVersion: "v1.0",
		Queue: DefaultQueue, EventsQueue: DefaultEventsQueue, ReconcileSchedule: DefaultReconcileSchedule,
		InvocationTimeout: 5*time.Minute - 5*time.Second, ConsistencyWait: 30 * time.Second}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	base := map[string]string{SettingAllowedVaults: "contoso-kv"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	modified := func(f func(c *Config)) *Config {
		c := defaults()
		f(c)
		return c
	}
	tests := []struct {
		name     string
		env      map[string]string
		hostJSON string
		want     *Config
		wantErrs []string // substrings, one per expected problem
	}{
		{
			name: "defaults",
			env:  base,
			want: defaults(),
		},
		{
			name: "everything set",
			env: map[string]string{
				SettingPort: "7071", SettingAllowedVaults: "b-kv, A-KV.vault.azure.cn;https://c-kv.vault.azure.cn/",
				SettingCloud: "azurechina", SettingGraphAPIVersion: "BETA", SettingClientID: strings.ToUpper(sp2),
				SettingAllowLiteralCredentials: "true", SettingQueue: "q", SettingResultsQueue: "r", SettingEventsQueue: "kv/events",
				SettingStateURL: "https://Acct1.blob.core.chinacloudapi.cn/state/", SettingReconcileSchedule: "0 */15 * * * Mon-Fri",
				SettingServiceBusNamespace: "ns.servicebus.chinacloudapi.cn", SettingServiceBusClientID: sp2,
				SettingServiceBusCredential: "managedidentity", SettingRequiredRole: "PutSecrets.Invoke", SettingWebsiteAuthEnabled: "true",
				SettingAllowedServicePrincipals: strings.ToUpper(sp1) + " ; " + sp2 + "," + sp1,
				SettingInvocationTimeout:        "90s", SettingConsistencyWait: "5s", SettingDebugEndpoints: "true",
			},
			want: &Config{Port: "7071", Cloud: cloud.China,
				AllowedVaults:   []string{"a-kv.vault.azure.cn", "b-kv.vault.azure.cn", "c-kv.vault.azure.cn"},
				GraphAPIVersion: "beta", ClientID: strings.ToUpper(sp2), AllowLiteralCredentials: true, Queue: "q", ResultsQueue: "r",
				EventsQueue: "kv/events", StateURL: "https://acct1.blob.core.chinacloudapi.cn/state", ReconcileSchedule: "0 */15 * * * Mon-Fri",
				ServiceBus:   ServiceBus{Namespace: "ns.servicebus.chinacloudapi.cn", ClientID: sp2},
				RequiredRole: "PutSecrets.Invoke", AppServiceAuth: AppServiceAuth{Seen: true, Value: "true"},
				AllowedServicePrincipals: []string{sp2, sp1},
				InvocationTimeout:        90 * time.Second, ConsistencyWait: 5 * time.Second, DebugEndpoints: true},
		},
		{
			name:     "host.json functionTimeout",
			env:      with(map[string]string{SettingHTTPWorkerPort: "8080"}),
			hostJSON: `{"version":"2.0","functionTimeout":"00:10:00"}`,
			want: modified(func(c *Config) {
				c.Port, c.InvocationTimeout = "8080", 10*time.Minute-5*time.Second
			}),
		},
		{
			name:     "host.json without a limit keeps the default",
			env:      base,
			hostJSON: `{"functionTimeout":"-1"}`,
			want:     defaults(),
		},
		{
			name: "required role with App Service Authentication on (any casing)",
			env:  with(map[string]string{SettingRequiredRole: "PutSecrets.Invoke", SettingWebsiteAuthEnabled: " TRUE "}),
			want: modified(func(c *Config) {
				c.RequiredRole, c.AppServiceAuth = "PutSecrets.Invoke", AppServiceAuth{Seen: true, Value: "TRUE"}
			}),
		},
		{
			name: "required role without WEBSITE_AUTH_ENABLED is allowed (logged as not seen)",
			env:  with(map[string]string{SettingRequiredRole: "PutSecrets.Invoke"}),
			want: modified(func(c *Config) { c.RequiredRole = "PutSecrets.Invoke" }),
		},
		{
			name: "WEBSITE_AUTH_ENABLED off without a role is fine",
			env:  with(map[string]string{SettingWebsiteAuthEnabled: "False"}),
			want: modified(func(c *Config) { c.AppServiceAuth = AppServiceAuth{Seen: true, Value: "False"} }),
		},
		{
			name: "unset optional settings keep their defaults",
			env:  with(map[string]string{SettingClientID: "", SettingServiceBusClientID: "", SettingGraphAPIVersion: ""}),
			want: defaults(),
		},
		{
			name: "state URL from blobServiceUri",
			env:  with(map[string]string{SettingStorageBlobServiceURI: "https://hostacct.blob.core.windows.net/", SettingStorageAccountName: "other"}),
			want: modified(func(c *Config) { c.StateURL = "https://hostacct.blob.core.windows.net/putsecrets-state" }),
		},
		{
			name: "state URL from accountName in the cloud's suffix",
			env:  with(map[string]string{SettingStorageAccountName: "hostacct", SettingCloud: "AzureUSGovernment", SettingAllowedVaults: "contoso-kv"}),
			want: modified(func(c *Config) {
				c.Cloud, c.AllowedVaults = cloud.USGovernment, []string{"contoso-kv.vault.usgovcloudapi.net"}
				c.StateURL = "https://hostacct.blob.core.usgovcloudapi.net/putsecrets-state"
			}),
		},
		{
			name: "explicit state URL wins over the host storage",
			env:  with(map[string]string{SettingStateURL: "https://127.0.0.1:10000/devstoreaccount1/putsecrets-state", SettingStorageAccountName: "hostacct"}),
			want: modified(func(c *Config) { c.StateURL = "https://127.0.0.1:10000/devstoreaccount1/putsecrets-state" }),
		},
		{
			name: "zero consistency wait (no replication wait)",
			env:  with(map[string]string{SettingConsistencyWait: "0"}),
			want: modified(func(c *Config) { c.ConsistencyWait = 0 }),
		},
		{
			name:     "longest invocation timeout host.json allows",
			env:      with(map[string]string{SettingInvocationTimeout: "10m"}),
			hostJSON: `{"functionTimeout":"00:10:00"}`,
			want:     modified(func(c *Config) { c.InvocationTimeout = 10 * time.Minute }),
		},
		{
			name:     "no allowed vaults names the setting",
			env:      map[string]string{},
			wantErrs: []string{"PUTSECRETS_ALLOWED_VAULTS: not set"},
		},
		{
			name: "every problem at once",
			env: map[string]string{
				SettingAllowedVaults: "contoso-kv.vault.azure.cn, x", SettingCloud: "Mars", SettingGraphAPIVersion: "v2",
				SettingAllowLiteralCredentials: "yes please", SettingPort: "http", SettingAllowedServicePrincipals: "not-a-guid",
				SettingServiceBusConnection: "ns.servicebus.windows.net", SettingServiceBusCredential: "connectionstring",
				SettingInvocationTimeout: "-3s", SettingConsistencyWait: "forever", SettingDebugEndpoints: "maybe",
				SettingRequiredRole: " ", SettingResultsQueue: "PUTSECRETS-requests",
			},
			wantErrs: []string{
				"FUNCTIONS_CUSTOMHANDLER_PORT", "AZURE_CLOUD", "PUTSECRETS_GRAPH_API_VERSION", "PUTSECRETS_ALLOW_LITERAL_CREDENTIALS",
				"PUTSECRETS_ALLOWED_SERVICE_PRINCIPALS", "ServiceBusConnection__credential", "ServiceBusConnection: not a Service Bus connection string",
				"PUTSECRETS_INVOCATION_TIMEOUT", "PUTSECRETS_GRAPH_CONSISTENCY_WAIT", "PUTSECRETS_DEBUG_ENDPOINTS",
				"PUTSECRETS_REQUIRED_ROLE: present but blank", "PUTSECRETS_RESULTS_QUEUE",
			},
		},
		{
			name:     "vault under another cloud's suffix",
			env:      map[string]string{SettingAllowedVaults: "contoso-kv.vault.azure.cn, ab"},
			wantErrs: []string{`"contoso-kv.vault.azure.cn" is not under the AzurePublic Key Vault suffix vault.azure.net`, `"ab" is not a Key Vault name`},
		},
		{
			name:     "allowed vaults that list nothing",
			env:      map[string]string{SettingAllowedVaults: " , ; "},
			wantErrs: []string{"PUTSECRETS_ALLOWED_VAULTS: lists no vault"},
		},
		{
			name:     "both Service Bus forms",
			env:      with(map[string]string{SettingServiceBusConnection: "Endpoint=sb://x/", SettingServiceBusNamespace: "x"}),
			wantErrs: []string{"not both"},
		},
		{
			name:     "bad host.json",
			env:      base,
			hostJSON: `{"functionTimeout":"five minutes"}`,
			wantErrs: []string{"host.json: functionTimeout"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := LoadLookup(lookup(tt.env), []byte(tt.hostJSON))
			if len(tt.wantErrs) > 0 {
				if err == nil {
					t.Fatalf("LoadLookup() = %+v, want errors %q", got, tt.wantErrs)
				}
				for _, want := range tt.wantErrs {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("LoadLookup() error = %v\nwant it to contain %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadLookup() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(cloud.Cloud{}, "SDK")); diff != "" {
				t.Errorf("LoadLookup() (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoadRefuses: every setting that would switch a check off, make a loop
// or cannot be used is refused at start, naming the setting and saying why.
func TestLoadRefuses(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("q", 261)
	tests := []struct {
		name     string
		env      map[string]string
		hostJSON string
		setting  string
		why      string // a second substring: the reason or remedy
	}{
		// Lists that list nothing would allow any target.
		{"service principals of a comma", map[string]string{SettingAllowedServicePrincipals: ","}, "", SettingAllowedServicePrincipals, "lists no service principal"},
		{"service principals of a spaced semicolon", map[string]string{SettingAllowedServicePrincipals: " ; "}, "", SettingAllowedServicePrincipals, "lists no service principal"},
		{"service principals present but empty", map[string]string{SettingAllowedServicePrincipals: ""}, "", SettingAllowedServicePrincipals, "remove the setting to allow any"},
		{"service principal look-alike", map[string]string{SettingAllowedServicePrincipals: sp1 + "," + sp2 + "0"}, "", SettingAllowedServicePrincipals, "is not a GUID"},
		{"service principal in braces", map[string]string{SettingAllowedServicePrincipals: "{" + sp1 + "}"}, "", SettingAllowedServicePrincipals, "is not a GUID"},
		// A blank role would switch the role check off.
		{"blank role", map[string]string{SettingRequiredRole: ""}, "", SettingRequiredRole, "present but blank"},
		{"whitespace role", map[string]string{SettingRequiredRole: " \t "}, "", SettingRequiredRole, "present but blank"},
		{"role with a space", map[string]string{SettingRequiredRole: "PutSecrets Invoke"}, "", SettingRequiredRole, "one app role value"},
		{"two roles", map[string]string{SettingRequiredRole: "A,B"}, "", SettingRequiredRole, "one app role value"},
		// A role while App Service Authentication is off: the header is forgeable.
		{"role with auth False", map[string]string{SettingRequiredRole: "R", SettingWebsiteAuthEnabled: "False"}, "", SettingRequiredRole, `WEBSITE_AUTH_ENABLED="False"`},
		{"role with auth false", map[string]string{SettingRequiredRole: "R", SettingWebsiteAuthEnabled: "false"}, "", SettingRequiredRole, "App Service Authentication is off"},
		{"role with auth 0", map[string]string{SettingRequiredRole: "R", SettingWebsiteAuthEnabled: "0"}, "", SettingRequiredRole, `WEBSITE_AUTH_ENABLED="0"`},
		{"role with auth 1", map[string]string{SettingRequiredRole: "R", SettingWebsiteAuthEnabled: "1"}, "", SettingRequiredRole, "App Service Authentication is off"},
		{"role with auth blank", map[string]string{SettingRequiredRole: "R", SettingWebsiteAuthEnabled: ""}, "", SettingRequiredRole, "App Service Authentication is off"},
		{"role with auth Truee", map[string]string{SettingRequiredRole: "R", SettingWebsiteAuthEnabled: "Truee"}, "", SettingRequiredRole, "App Service Authentication is off"},
		// Queues that loop.
		{"results = request queue in other casing", map[string]string{SettingResultsQueue: "PutSecrets-Requests"}, "", SettingResultsQueue, "is also PUTSECRETS_QUEUE"},
		{"results = set request queue", map[string]string{SettingQueue: "work", SettingResultsQueue: " WORK "}, "", SettingResultsQueue, "a loop"},
		{"results = events queue", map[string]string{SettingResultsQueue: "putsecrets-KV-events"}, "", SettingResultsQueue, "is also PUTSECRETS_EVENTS_QUEUE"},
		{"results = set events queue", map[string]string{SettingEventsQueue: "ev", SettingResultsQueue: "EV"}, "", SettingResultsQueue, "is also PUTSECRETS_EVENTS_QUEUE"},
		{"events = request queue", map[string]string{SettingEventsQueue: "PUTSECRETS-REQUESTS"}, "", SettingEventsQueue, "is also PUTSECRETS_QUEUE"},
		// Queue names Service Bus would refuse.
		{"queue name too long", map[string]string{SettingQueue: long}, "", SettingQueue, "longer than Service Bus allows"},
		{"queue name with a space", map[string]string{SettingQueue: "my queue"}, "", SettingQueue, "not a letter"},
		{"queue name with @", map[string]string{SettingResultsQueue: "a@b"}, "", SettingResultsQueue, "not a letter"},
		{"queue name with ?", map[string]string{SettingEventsQueue: "a?b"}, "", SettingEventsQueue, "not a letter"},
		{"queue name with unicode", map[string]string{SettingQueue: "queué"}, "", SettingQueue, "not a letter"},
		{"queue name starting with a period", map[string]string{SettingQueue: ".q"}, "", SettingQueue, "start and end"},
		{"queue name ending with a slash", map[string]string{SettingResultsQueue: "r/"}, "", SettingResultsQueue, "start and end"},
		{"queue name starting with a slash", map[string]string{SettingEventsQueue: "/e"}, "", SettingEventsQueue, "start and end"},
		{"queue name ending with a hyphen", map[string]string{SettingQueue: "q-"}, "", SettingQueue, "start and end"},
		{"queue name with an empty segment", map[string]string{SettingQueue: "a//b"}, "", SettingQueue, "empty path segment"},
		{"blank request queue", map[string]string{SettingQueue: " "}, "", SettingQueue, "present but blank"},
		{"blank results queue", map[string]string{SettingResultsQueue: ""}, "", SettingResultsQueue, "present but blank"},
		{"blank events queue", map[string]string{SettingEventsQueue: ""}, "", SettingEventsQueue, "present but blank"},
		// Durations the handler cannot use.
		{"invocation timeout 1ns", map[string]string{SettingInvocationTimeout: "1ns"}, "", SettingInvocationTimeout, "outside 1s to"},
		{"invocation timeout 999ms", map[string]string{SettingInvocationTimeout: "999ms"}, "", SettingInvocationTimeout, "outside 1s to"},
		{"invocation timeout 1000h", map[string]string{SettingInvocationTimeout: "1000h"}, "", SettingInvocationTimeout, "outside 1s to 1h0m0s"},
		{"invocation timeout beyond host.json", map[string]string{SettingInvocationTimeout: "6m"}, `{"functionTimeout":"00:05:00"}`, SettingInvocationTimeout, "host.json's functionTimeout"},
		{"invocation timeout 0", map[string]string{SettingInvocationTimeout: "0"}, "", SettingInvocationTimeout, "not a positive duration"},
		{"invocation timeout blank", map[string]string{SettingInvocationTimeout: ""}, "", SettingInvocationTimeout, "present but blank"},
		{"consistency wait negative", map[string]string{SettingConsistencyWait: "-1s"}, "", SettingConsistencyWait, "not a duration"},
		{"consistency wait 1000h", map[string]string{SettingConsistencyWait: "1000h"}, "", SettingConsistencyWait, "longer than 10m0s"},
		{"consistency wait blank", map[string]string{SettingConsistencyWait: " "}, "", SettingConsistencyWait, "present but blank"},
		// Client IDs that are not GUIDs fail every token request.
		{"client ID not a GUID", map[string]string{SettingClientID: "my-identity"}, "", SettingClientID, "is not a GUID"},
		{"client ID as a resource ID", map[string]string{SettingClientID: "/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"}, "", SettingClientID, "client ID (not the object or resource ID)"},
		{"Service Bus client ID not a GUID", map[string]string{SettingServiceBusClientID: sp1 + "x"}, "", SettingServiceBusClientID, "is not a GUID"},
		// A namespace that is a URL or a connection string.
		{"namespace as a URL", map[string]string{SettingServiceBusNamespace: "sb://contoso-sb.servicebus.windows.net/"}, "", SettingServiceBusNamespace, "give the host name alone"},
		{"namespace as a connection string", map[string]string{SettingServiceBusNamespace: "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=c2VjcmV0"}, "", SettingServiceBusNamespace, "not a fully qualified namespace"},
		// The state container URL.
		{"state URL over http", map[string]string{SettingStateURL: "http://acct.blob.core.windows.net/state"}, "", SettingStateURL, "is not https"},
		{"state URL with a SAS", map[string]string{SettingStateURL: "https://acct.blob.core.windows.net/state?sv=2022&sig=c2VjcmV0"}, "", SettingStateURL, "SAS token is a secret"},
		{"state URL with an empty query", map[string]string{SettingStateURL: "https://acct.blob.core.windows.net/state?"}, "", SettingStateURL, "has a query"},
		{"state URL with a user", map[string]string{SettingStateURL: "https://u:p@acct.blob.core.windows.net/state"}, "", SettingStateURL, "carries a user"},
		{"state URL with a fragment", map[string]string{SettingStateURL: "https://acct.blob.core.windows.net/state#x"}, "", SettingStateURL, "fragment"},
		{"state URL on another host", map[string]string{SettingStateURL: "https://acct.blob.core.windows.net.evil.example/state"}, "", SettingStateURL, "not a blob endpoint of the AzurePublic cloud"},
		{"state URL in another cloud", map[string]string{SettingStateURL: "https://acct.blob.core.chinacloudapi.cn/state"}, "", SettingStateURL, "not a blob endpoint"},
		{"state URL on the queue endpoint", map[string]string{SettingStateURL: "https://acct.queue.core.windows.net/state"}, "", SettingStateURL, "not a blob endpoint"},
		{"state URL without a container", map[string]string{SettingStateURL: "https://acct.blob.core.windows.net/"}, "", SettingStateURL, "is not a container name"},
		{"state URL of a blob", map[string]string{SettingStateURL: "https://acct.blob.core.windows.net/state/blob"}, "", SettingStateURL, "one path segment"},
		{"state URL with an upper-case container", map[string]string{SettingStateURL: "https://acct.blob.core.windows.net/State"}, "", SettingStateURL, "is not a container name"},
		{"state URL with an escaped slash", map[string]string{SettingStateURL: "https://acct.blob.core.windows.net/a%2Fb"}, "", SettingStateURL, "plain container URL"},
		{"state URL with a port", map[string]string{SettingStateURL: "https://acct.blob.core.windows.net:8443/state"}, "", SettingStateURL, "port 8443"},
		{"state URL Azurite without an account", map[string]string{SettingStateURL: "https://127.0.0.1:10000/state"}, "", SettingStateURL, "Azurite"},
		{"state URL blank", map[string]string{SettingStateURL: ""}, "", SettingStateURL, "present but blank"},
		{"state URL not a URL", map[string]string{SettingStateURL: "https://acct.blob.core.windows.net/%zz?sig=c2VjcmV0"}, "", SettingStateURL, "not a URL"},
		{"state URL default from an http blobServiceUri", map[string]string{SettingStorageBlobServiceURI: "http://acct.blob.core.windows.net"}, "", SettingStateURL, "derived from AzureWebJobsStorage__blobServiceUri"},
		{"state URL default from a bad account name", map[string]string{SettingStorageAccountName: "Not_An_Account"}, "", SettingStateURL, "derived from AzureWebJobsStorage__accountName"},
		// The Reconcile schedule.
		{"schedule of five fields", map[string]string{SettingReconcileSchedule: "0 3 * * *"}, "", SettingReconcileSchedule, "has 5 fields"},
		{"schedule as a TimeSpan", map[string]string{SettingReconcileSchedule: "01:00:00"}, "", SettingReconcileSchedule, "TimeSpan"},
		{"schedule second 60", map[string]string{SettingReconcileSchedule: "60 0 3 * * *"}, "", SettingReconcileSchedule, "second field"},
		{"schedule hour 24", map[string]string{SettingReconcileSchedule: "0 0 24 * * *"}, "", SettingReconcileSchedule, "hour field"},
		{"schedule day 0", map[string]string{SettingReconcileSchedule: "0 0 3 0 * *"}, "", SettingReconcileSchedule, "day field"},
		{"schedule month 13", map[string]string{SettingReconcileSchedule: "0 0 3 * 13 *"}, "", SettingReconcileSchedule, "month field"},
		{"schedule weekday 7", map[string]string{SettingReconcileSchedule: "0 0 3 * * 7"}, "", SettingReconcileSchedule, "day-of-week field"},
		{"schedule backwards range", map[string]string{SettingReconcileSchedule: "0 0 5-3 * * *"}, "", SettingReconcileSchedule, "runs backwards"},
		{"schedule step 0", map[string]string{SettingReconcileSchedule: "*/0 * * * * *"}, "", SettingReconcileSchedule, "step"},
		{"schedule empty list item", map[string]string{SettingReconcileSchedule: "0 0 3, * * *"}, "", SettingReconcileSchedule, "hour field"},
		{"schedule word", map[string]string{SettingReconcileSchedule: "daily"}, "", SettingReconcileSchedule, "has 1 fields"},
		{"schedule blank", map[string]string{SettingReconcileSchedule: ""}, "", SettingReconcileSchedule, "present but blank"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{SettingAllowedVaults: "contoso-kv"}
			for k, v := range tt.env {
				env[k] = v
			}
			got, err := LoadLookup(lookup(env), []byte(tt.hostJSON))
			if err == nil {
				t.Fatalf("LoadLookup(%q) = %+v, want it refused", tt.env, got)
			}
			if !strings.HasPrefix(err.Error(), tt.setting+": ") || !strings.Contains(err.Error(), tt.why) {
				t.Errorf("LoadLookup(%q) error = %v\nwant it to start with %q and contain %q", tt.env, err, tt.setting+": ", tt.why)
			}
			if strings.Contains(err.Error(), "c2VjcmV0") {
				t.Errorf("LoadLookup(%q) error repeats the SAS signature: %v", tt.env, err)
			}
		})
	}
}

// TestLoadBlankIsUnsetThroughGetenv: Load cannot see presence, so blank is
// unset there (the role check is then simply not configured, as before).
func TestLoadBlankIsUnsetThroughGetenv(t *testing.T) {
	t.Parallel()
	env := map[string]string{SettingAllowedVaults: "contoso-kv", SettingRequiredRole: "", SettingAllowedServicePrincipals: ""}
	got, err := Load(func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatalf("Load() error = %v", err)
	}
	if diff := cmp.Diff(defaults(), got, cmpopts.IgnoreFields(cloud.Cloud{}, "SDK")); diff != "" {
		t.Errorf("Load() (-want +got):\n%s", diff)
	}
}

func TestProcessLookup(t *testing.T) {
	const name = "PUTSECRETS_CONFIG_TEST_PRESENT"
	t.Setenv(name, "")
	l := ProcessLookup(func(k string) string {
		if k == "FROM_GETENV" {
			return "v"
		}
		return ""
	})
	for _, tt := range []struct {
		key    string
		want   string
		wantOK bool
	}{
		{"FROM_GETENV", "v", true},
		{name, "", true},
		{"PUTSECRETS_CONFIG_TEST_ABSENT", "", false},
	} {
		if v, ok := l(tt.key); v != tt.want || ok != tt.wantOK {
			t.Errorf("ProcessLookup()(%q) = %q, %v; want %q, %v", tt.key, v, ok, tt.want, tt.wantOK)
		}
	}
}

func TestLogAttrs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want map[string]any
	}{
		{
			name: "role with WEBSITE_AUTH_ENABLED unset is logged as not seen",
			env:  map[string]string{SettingRequiredRole: "PutSecrets.Invoke"},
			want: map[string]any{"requiredRole": "PutSecrets.Invoke", "websiteAuthEnabled": "not seen",
				"allowedServicePrincipals": map[string]any{"restricted": false, "count": 0.0, "ids": []any{}}},
		},
		{
			name: "WEBSITE_AUTH_ENABLED and the allow-list as seen",
			env: map[string]string{SettingRequiredRole: "R", SettingWebsiteAuthEnabled: "True",
				SettingAllowedServicePrincipals: sp1 + "," + sp2},
			want: map[string]any{"requiredRole": "R", "websiteAuthEnabled": "True",
				"allowedServicePrincipals": map[string]any{"restricted": true, "count": 2.0, "ids": []any{sp2, sp1}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{SettingAllowedVaults: "contoso-kv"}
			for k, v := range tt.env {
				env[k] = v
			}
			c, err := LoadLookup(lookup(env), nil)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			slog.New(slog.NewJSONHandler(&b, nil)).Info("start", c.LogAttrs()...)
			var line map[string]any
			if err := json.Unmarshal([]byte(b.String()), &line); err != nil {
				t.Fatalf("log line %q: %v", b.String(), err)
			}
			for k, want := range tt.want {
				if diff := cmp.Diff(want, line[k]); diff != "" {
					t.Errorf("log %s (-want +got):\n%s", k, diff)
				}
			}
			for _, k := range []string{"cloud", "allowedVaults", "queue", "resultsQueue", "eventsQueue", "stateUrl",
				"reconcileSchedule", "invocationTimeout", "graphConsistencyWait", "managedIdentityClientId"} {
				if _, ok := line[k]; !ok {
					t.Errorf("log line lacks %s: %s", k, b.String())
				}
			}
		})
	}
}

func TestParseTimeSpan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"00:05:00", 5 * time.Minute, false},
		{"00:00:30.5", 30*time.Second + 500*time.Millisecond, false},
		{"1.02:00:00", 26 * time.Hour, false},
		{"-1", 0, false},
		{"5m", 0, true},
		{"00:60:00", 0, true},
		{"x.00:00:01", 0, true},
		{"00:00:NaN", 0, true},
		{"00:00:Inf", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTimeSpan(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseTimeSpan(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
