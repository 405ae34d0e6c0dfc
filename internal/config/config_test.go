package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/putsecrets/putsecrets/internal/cloud"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
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
			want: &Config{Cloud: cloud.Public, AllowedVaults: []string{"contoso-kv.vault.azure.net"}, GraphAPIVersion: "v1.0",
				Queue: DefaultQueue, InvocationTimeout: 5*time.Minute - 5*time.Second, ConsistencyWait: 30 * time.Second},
		},
		{
			name: "everything set",
			env: map[string]string{
				SettingPort: "7071", SettingAllowedVaults: "b-kv, A-KV.vault.azure.cn;https://c-kv.vault.azure.cn/",
				SettingCloud: "azurechina", SettingGraphAPIVersion: "BETA", SettingClientID: "cid",
				SettingAllowLiteralCredentials: "true", SettingQueue: "q", SettingResultsQueue: "r",
				SettingServiceBusNamespace: "ns.servicebus.chinacloudapi.cn", SettingServiceBusClientID: "sbcid",
				SettingServiceBusCredential: "managedidentity", SettingRequiredRole: "PutSecrets.Invoke",
				SettingAllowedServicePrincipals: "6A9B2C1E-5F4D-4E3A-9B8C-7D6E5F4A3B2C",
				SettingInvocationTimeout:        "90s", SettingConsistencyWait: "5s", SettingDebugEndpoints: "true",
			},
			want: &Config{Port: "7071", Cloud: cloud.China,
				AllowedVaults:   []string{"a-kv.vault.azure.cn", "b-kv.vault.azure.cn", "c-kv.vault.azure.cn"},
				GraphAPIVersion: "beta", ClientID: "cid", AllowLiteralCredentials: true, Queue: "q", ResultsQueue: "r",
				ServiceBus:   ServiceBus{Namespace: "ns.servicebus.chinacloudapi.cn", ClientID: "sbcid"},
				RequiredRole: "PutSecrets.Invoke", AllowedServicePrincipals: []string{"6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"},
				InvocationTimeout: 90 * time.Second, ConsistencyWait: 5 * time.Second, DebugEndpoints: true},
		},
		{
			name:     "host.json functionTimeout",
			env:      with(map[string]string{SettingHTTPWorkerPort: "8080"}),
			hostJSON: `{"version":"2.0","functionTimeout":"00:10:00"}`,
			want: &Config{Port: "8080", Cloud: cloud.Public, AllowedVaults: []string{"contoso-kv.vault.azure.net"},
				GraphAPIVersion: "v1.0", Queue: DefaultQueue, InvocationTimeout: 10*time.Minute - 5*time.Second, ConsistencyWait: 30 * time.Second},
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
			},
			wantErrs: []string{
				"FUNCTIONS_CUSTOMHANDLER_PORT", "AZURE_CLOUD", "PUTSECRETS_GRAPH_API_VERSION", "PUTSECRETS_ALLOW_LITERAL_CREDENTIALS",
				"PUTSECRETS_ALLOWED_SERVICE_PRINCIPALS", "ServiceBusConnection__credential", "ServiceBusConnection: not a Service Bus connection string",
				"PUTSECRETS_INVOCATION_TIMEOUT", "PUTSECRETS_GRAPH_CONSISTENCY_WAIT", "PUTSECRETS_DEBUG_ENDPOINTS",
			},
		},
		{
			name:     "vault under another cloud's suffix",
			env:      map[string]string{SettingAllowedVaults: "contoso-kv.vault.azure.cn, ab"},
			wantErrs: []string{`"contoso-kv.vault.azure.cn" is not under the AzurePublic Key Vault suffix vault.azure.net`, `"ab" is not a Key Vault name`},
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
			got, err := Load(env(tt.env), []byte(tt.hostJSON))
			if len(tt.wantErrs) > 0 {
				if err == nil {
					t.Fatalf("Load() = %+v, want errors %q", got, tt.wantErrs)
				}
				for _, want := range tt.wantErrs {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("Load() error = %v\nwant it to contain %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Load() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(cloud.Cloud{}, "SDK")); diff != "" {
				t.Errorf("Load() (-want +got):\n%s", diff)
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
