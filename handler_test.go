package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestRunCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	valid := write("valid.json", `{"servicePrincipalId":"6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c","secrets":[
		{"key":"SecretToken","secretUri":"https://contoso-kv.vault.azure.net/secrets/scim-token"},
		{"key":"BaseAddress","value":"https://scim.example.com"}],"dryRun":true}`)
	invalid := write("invalid.json", `{"servicePrincipalId":"nope","secrets":[
		{"key":"SecretToken","value":"a-literal-credential"},
		{"key":"SecretToken","secretUri":"https://evil-kv.vault.azure.net/secrets/x"}]}`)
	settings := map[string]string{"PUTSECRETS_ALLOWED_VAULTS": "contoso-kv"}

	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantErr  string
		usage    bool
		wantOut  []string
		notInOut []string
	}{
		{name: "no port, no command", args: []string{"handler"}, env: settings, usage: true,
			wantErr: "FUNCTIONS_CUSTOMHANDLER_PORT is not set"},
		{name: "unknown command", args: []string{"handler", "frobnicate"}, env: settings, usage: true,
			wantErr: `unknown command "frobnicate"`},
		{name: "help", args: []string{"handler", "help"}, env: settings, wantOut: []string{"handler validate"}},
		{name: "validate: valid", args: []string{"handler", "validate", "--file", valid}, env: settings,
			wantOut: []string{"valid: service principal 6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c, 2 secret(s), Graph v1.0, dry run"}},
		{name: "validate: every problem printed, no value", args: []string{"handler", "validate", "--file", invalid}, env: settings,
			wantErr:  "problem(s)",
			wantOut:  []string{"servicePrincipalId:", "secrets[0].value:", "secrets[1].key:", "evil-kv"},
			notInOut: []string{"a-literal-credential"}},
		{name: "validate: settings are required", args: []string{"handler", "validate", "--file", valid}, env: map[string]string{},
			wantErr: "PUTSECRETS_ALLOWED_VAULTS"},
		{name: "validate: missing file", args: []string{"handler", "validate", "--file", filepath.Join(dir, "nope.json")}, env: settings,
			wantErr: "no such file"},
		{name: "validate: a stray document is refused, not ignored", args: []string{"handler", "validate", "--file", valid, invalid},
			env: settings, usage: true, wantErr: "takes no arguments",
			notInOut: []string{"valid: service principal"}},
		{name: "validate: a document without --file is refused", args: []string{"handler", "validate", valid},
			env: settings, usage: true, wantErr: "takes no arguments"},
		{name: "enqueue: a stray argument is refused before anything is read", args: []string{"handler", "enqueue", "--file", valid, invalid},
			env: settings, usage: true, wantErr: "enqueue takes no arguments"},
		{name: "validate: bad flag", args: []string{"handler", "validate", "--fiel", valid}, env: settings, usage: true,
			wantErr: "flag provided but not defined"},
		{name: "serve: refuses without allowed vaults", args: []string{"handler"}, env: map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "0"},
			wantErr: "refusing to start: PUTSECRETS_ALLOWED_VAULTS: not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, envOf(tt.env), &stdout, &stderr)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("run() error = %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("run() error = %v, want it to contain %q", err, tt.wantErr)
			}
			var u usageError
			if got := errors.As(err, &u); got != tt.usage {
				t.Errorf("usage error = %v, want %v", got, tt.usage)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			for _, n := range tt.notInOut {
				if strings.Contains(stdout.String()+stderr.String()+errString(err), n) {
					t.Errorf("output holds %q", n)
				}
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestServeAnswersAndStops runs the handler in-process on a free port: the
// readiness probe answers, and cancelling the context stops it cleanly.
func TestServeAnswersAndStops(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout syncBuffer
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"handler"}, envOf(map[string]string{
			"FUNCTIONS_CUSTOMHANDLER_PORT": "0", "PUTSECRETS_ALLOWED_VAULTS": "contoso-kv",
			"IDENTITY_ENDPOINT": "http://127.0.0.1:1/msi/token", "IDENTITY_HEADER": "h",
		}), &stdout, &bytes.Buffer{})
	}()
	addr := waitForListening(t, &stdout)
	resp, err := httpGet("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	if resp != 200 {
		t.Errorf("GET / = %d, want 200", resp)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("run() after cancel = %v, want nil", err)
	}
	if !strings.Contains(stdout.String(), `"msg":"stopped"`) {
		t.Errorf("no stop line in the log:\n%s", stdout.String())
	}
}
