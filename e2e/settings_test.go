package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSettingsRefusedAtStart: the real binary, started as the Functions host
// starts it (and as the worker command), refuses settings that would switch a
// check off or make a loop: it exits 1 before listening and names the
// setting on stderr. A present but blank setting counts as present.
func TestSettingsRefusedAtStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     []string
		want    []string // on stderr
		mustNot string   // never on stderr
	}{
		{name: "blank required role", env: []string{"PUTSECRETS_REQUIRED_ROLE="},
			want: []string{"PUTSECRETS_REQUIRED_ROLE: present but blank"}},
		{name: "allow-list of nothing", env: []string{"PUTSECRETS_ALLOWED_SERVICE_PRINCIPALS= ; "},
			want: []string{"PUTSECRETS_ALLOWED_SERVICE_PRINCIPALS: present but lists no service principal"}},
		{name: "results queue is the request queue", env: []string{"PUTSECRETS_RESULTS_QUEUE=PutSecrets-Requests"},
			want: []string{"PUTSECRETS_RESULTS_QUEUE", "is also PUTSECRETS_QUEUE", "a loop"}},
		{name: "role with App Service Authentication off", env: []string{"PUTSECRETS_REQUIRED_ROLE=PutSecrets.Invoke", "WEBSITE_AUTH_ENABLED=False"},
			want: []string{"PUTSECRETS_REQUIRED_ROLE", `WEBSITE_AUTH_ENABLED="False"`}},
		{name: "invocation timeout 1000h", env: []string{"PUTSECRETS_INVOCATION_TIMEOUT=1000h"},
			want: []string{"PUTSECRETS_INVOCATION_TIMEOUT", "host.json's functionTimeout"}},
		{name: "state URL with a SAS", env: []string{"PUTSECRETS_STATE_URL=https://acct.blob.core.windows.net/state?sv=2024&sig=c2lnbmF0dXJl"},
			want: []string{"PUTSECRETS_STATE_URL", "SAS token is a secret"}, mustNot: "c2lnbmF0dXJl"},
		{name: "client ID not a GUID", env: []string{"AZURE_CLIENT_ID=putsecrets-identity"},
			want: []string{"AZURE_CLIENT_ID", "is not a GUID"}},
		{name: "every problem at once", env: []string{"PUTSECRETS_EVENTS_QUEUE=putsecrets-requests", "PUTSECRETS_RECONCILE_SCHEDULE=0 3 * * *"},
			want: []string{"PUTSECRETS_EVENTS_QUEUE", "PUTSECRETS_RECONCILE_SCHEDULE"}},
		{name: "worker command, results queue is the request queue", args: []string{"worker", "--connection-string", "Endpoint=sb://127.0.0.1/"},
			env:  []string{"PUTSECRETS_QUEUE=work", "PUTSECRETS_RESULTS_QUEUE=WORK"},
			want: []string{"PUTSECRETS_RESULTS_QUEUE", "is also PUTSECRETS_QUEUE"}},
		{name: "worker command, --queue is the results queue", args: []string{"worker", "--connection-string", "Endpoint=sb://127.0.0.1/", "--queue", "replies"},
			env:  []string{"PUTSECRETS_RESULTS_QUEUE=Replies"},
			want: []string{"PUTSECRETS_RESULTS_QUEUE", "is also --queue"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := append([]string{"PUTSECRETS_ALLOWED_VAULTS=" + vault}, tt.env...)
			if len(tt.args) == 0 {
				env = append(env, "FUNCTIONS_CUSTOMHANDLER_PORT=0")
			}
			code, stdout, stderr := runHandler(t, tt.args, env)
			outputs.add(t.Name()+" stderr", stderr)
			if code == 0 {
				t.Fatalf("handler exited 0, want it to refuse to start\nstdout: %s\nstderr: %s", stdout, stderr)
			}
			if strings.Contains(stdout, "listening") || strings.Contains(stdout, "worker starting") {
				t.Errorf("handler started before refusing: %s", stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr = %s\nwant it to contain %q", stderr, w)
				}
			}
			if tt.mustNot != "" && strings.Contains(stderr+stdout, tt.mustNot) {
				t.Errorf("output repeats %q: %s%s", tt.mustNot, stdout, stderr)
			}
		})
	}
}

// TestStartupLineShowsSettings: the start-up line says what App Service
// Authentication looked like (not seen, here) and which service principals
// requests may name.
func TestStartupLineShowsSettings(t *testing.T) {
	t.Parallel()
	other := "11111111-2222-4333-8444-555555555555"
	f := start(t, settings{"PUTSECRETS_REQUIRED_ROLE": invokeRole,
		"PUTSECRETS_ALLOWED_SERVICE_PRINCIPALS": strings.ToUpper(spID) + " , " + other})
	var line struct {
		Msg                      string `json:"msg"`
		RequiredRole             string `json:"requiredRole"`
		WebsiteAuthEnabled       string `json:"websiteAuthEnabled"`
		EventsQueue              string `json:"eventsQueue"`
		ReconcileSchedule        string `json:"reconcileSchedule"`
		AllowedServicePrincipals struct {
			Restricted bool     `json:"restricted"`
			Count      int      `json:"count"`
			IDs        []string `json:"ids"`
		} `json:"allowedServicePrincipals"`
	}
	for _, l := range strings.Split(f.logs(), "\n") {
		if strings.Contains(l, `"handler listening"`) {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatalf("start-up line %s: %v", l, err)
			}
		}
	}
	if line.Msg == "" {
		t.Fatal("no start-up line")
	}
	sps := line.AllowedServicePrincipals
	if line.RequiredRole != invokeRole || line.WebsiteAuthEnabled != "not seen" || !sps.Restricted || sps.Count != 2 ||
		strings.Join(sps.IDs, ",") != other+","+spID || line.EventsQueue != "putsecrets-kv-events" || line.ReconcileSchedule != "0 0 3 * * *" {
		t.Errorf("start-up line = %+v", line)
	}
}

// runHandler runs the built handler with exactly env and returns its exit
// code and output. A handler that does not exit is killed when the test's
// context ends, and that is a failure.
func runHandler(t *testing.T, args, env []string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(appDir, "handler"), args...)
	cmd.Dir = appDir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("handler %q did not exit: it started instead of refusing\nstdout: %s\nstderr: %s", args, stdout.String(), stderr.String())
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run handler: %v", err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}
