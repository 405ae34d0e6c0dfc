package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemo runs what `make demo` runs, so the README's command cannot rot.
func TestDemo(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "handler")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = "../../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build handler: %v\n%s", err, out)
	}
	var out bytes.Buffer
	if err := run(bin, "../../..", &out); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"== 1. HTTP: POST /api/PutSecrets", "answer 200 application/json", `"status": "saved"`,
		"== 2. Service Bus", "the invocation succeeded: the host completes the message",
		"what Microsoft Graph received (values masked)", `{"key": "SecretToken", "value": "•••••••• (`,
		"answer 403 application/problem+json",
		"== 4. Following Key Vault", `"followed": true`, "SecretNewVersionCreated", `"action":"reapplied"`,
		"PutSecretsFromQueue saved it", "Graph now holds the new version of scim-token",
		"SecretNearExpiry: PutSecrets.SecretNearExpiry on putsecrets-results",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}
