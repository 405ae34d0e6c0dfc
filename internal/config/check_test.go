package config

import (
	"strings"
	"testing"

	"github.com/putsecrets/putsecrets/internal/cloud"
)

func TestCheckScheduleAccepts(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		DefaultReconcileSchedule, "* * * * * *", "0 */5 * * * *", "0 30 9-17/2 * * mon-FRI", "0 0 3 1,15 jan,Jul sun",
		"0 0 0 31 12 6", "  0  0  3  *  *  *  ", "0 0 3 * * 0-6", "5/10 * * * * *",
	} {
		if err := checkSchedule(s); err != nil {
			t.Errorf("checkSchedule(%q) = %v, want nil", s, err)
		}
	}
}

func TestCheckQueueNameAccepts(t *testing.T) {
	t.Parallel()
	for _, q := range []string{"q", "Q1", "putsecrets-requests", "a.b_c-d/e", strings.Repeat("q", 260)} {
		if err := checkQueueName(q); err != nil {
			t.Errorf("checkQueueName(%q) = %v, want nil", q, err)
		}
	}
}

func TestCheckStateURLAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"https://acct.blob.core.windows.net/putsecrets-state", "https://acct.blob.core.windows.net/putsecrets-state"},
		{"HTTPS://ACCT.BLOB.CORE.WINDOWS.NET/abc/", "https://acct.blob.core.windows.net/abc"},
		{"https://acct.blob.core.windows.net:443/abc", "https://acct.blob.core.windows.net:443/abc"},
		{"https://127.0.0.1:10000/devstoreaccount1/putsecrets-state", "https://127.0.0.1:10000/devstoreaccount1/putsecrets-state"},
		{"https://localhost:10000/devstoreaccount1/a-b-c", "https://localhost:10000/devstoreaccount1/a-b-c"},
		{"https://[::1]:10000/devstoreaccount1/abc", "https://[::1]:10000/devstoreaccount1/abc"},
	}
	for _, tt := range tests {
		got, err := checkStateURL(tt.in, cloud.Public)
		if err != nil || got != tt.want {
			t.Errorf("checkStateURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// FuzzLoadLookup: no setting value makes Load panic, and a refused state
// URL never repeats its query (where a SAS would be).
func FuzzLoadLookup(f *testing.F) {
	for _, s := range []string{DefaultReconcileSchedule, "https://acct.blob.core.windows.net/s?sig=x", "a//b", " , ", "1000h", "*/0 * * * * *"} {
		f.Add(s, s, s)
	}
	f.Fuzz(func(t *testing.T, queue, stateURL, schedule string) {
		env := map[string]string{SettingAllowedVaults: "contoso-kv", SettingQueue: queue, SettingResultsQueue: queue + "r",
			SettingStateURL: stateURL, SettingReconcileSchedule: schedule, SettingInvocationTimeout: schedule,
			SettingAllowedServicePrincipals: queue}
		c, err := LoadLookup(lookup(env), nil)
		if err == nil {
			if c.StateURL != "" && (strings.ContainsAny(c.StateURL, "?#@")) {
				t.Fatalf("accepted state URL %q has a query, fragment or user", c.StateURL)
			}
			return
		}
		i := strings.Index(stateURL, "?")
		if i < 0 || len(stateURL[i:]) < 4 {
			return
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if strings.HasPrefix(line, SettingStateURL+": ") && strings.Contains(line, stateURL[i:]) {
				t.Fatalf("error repeats the state URL's query: %s", line)
			}
		}
	})
}

func TestCheckRequestQueue(t *testing.T) {
	t.Parallel()
	c, err := LoadLookup(lookup(map[string]string{SettingAllowedVaults: "contoso-kv", SettingResultsQueue: "replies"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ queue, wantErr string }{
		{"work", ""},
		{"REPLIES", `PUTSECRETS_RESULTS_QUEUE: "replies" is also --queue`},
		{"Putsecrets-KV-Events", `PUTSECRETS_EVENTS_QUEUE: "putsecrets-kv-events" is also --queue`},
		{"a b", "--queue: \"a b\" is not a Service Bus queue name"},
	}
	for _, tt := range tests {
		err := c.CheckRequestQueue(tt.queue, "--queue")
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("CheckRequestQueue(%q) = %v, want %q", tt.queue, err, tt.wantErr)
		}
	}
}
