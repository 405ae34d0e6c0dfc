package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/putsecrets/putsecrets/standin/sbbroker"
)

// TestEnqueue runs `handler enqueue` in-process against the test broker with
// the real azservicebus client.
func TestEnqueue(t *testing.T) {
	t.Parallel()
	b := sbbroker.Start(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const doc = `{"servicePrincipalId":"6A9B2C1E-5F4D-4E3A-9B8C-7D6E5F4A3B2C","secrets":[
		{"key":"SecretToken","secretUri":"https://contoso-kv.vault.azure.net/secrets/scim-token"},
		{"key":"baseaddress","value":"https://scim.example.com"}]}`
	valid := write("valid.json", doc)
	invalid := write("invalid.json", `{"servicePrincipalId":"nope","secrets":[
		{"key":"SecretToken","value":"a-literal-credential"},
		{"key":"SecretToken","secretUri":"https://evil-kv.vault.azure.net/secrets/x"}]}`)
	cs := b.ConnectionString()
	withSB := map[string]string{"PUTSECRETS_ALLOWED_VAULTS": "contoso-kv", "ServiceBusConnection": cs}
	noSB := map[string]string{"PUTSECRETS_ALLOWED_VAULTS": "contoso-kv"}

	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		queue     string // where the message must arrive ("" for nowhere)
		wantErr   string
		usage     bool
		inStderr  []string
		notInAny  []string
		wantMsgID string
		wantSess  string
		wantCorr  string
		wantReply string
	}{
		{
			name: "invalid: every problem printed, nothing sent", args: []string{"--file", invalid, "--queue", "q-invalid"}, env: withSB,
			wantErr: "nothing was sent", inStderr: []string{"servicePrincipalId:", "secrets[0].value:", "secrets[1].key:", "evil-kv"},
			notInAny: []string{"a-literal-credential"},
		},
		{
			name: "invalid is refused before any connection is looked for", args: []string{"--file", invalid}, env: noSB,
			wantErr: "nothing was sent", inStderr: []string{"servicePrincipalId:"},
		},
		{
			name: "policy refusal: a vault not allowed", args: []string{"--file", valid, "--queue", "q-policy"},
			env:     map[string]string{"PUTSECRETS_ALLOWED_VAULTS": "other-kv", "ServiceBusConnection": cs},
			wantErr: "nothing was sent", inStderr: []string{"secrets[0].secretUri:"},
		},
		{
			name: "valid, connection from the setting, defaults", args: []string{"--file", valid, "--queue", "q-defaults"}, env: withSB,
			queue: "q-defaults", wantSess: "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c",
		},
		{
			name: "valid, every property from flags, connection string flag",
			args: []string{"--file", valid, "--queue", "q-flags", "--connection-string", cs, "--message-id", "req-1",
				"--correlation-id", "build-7", "--reply-to", "replies", "--session-id", "pipeline-42"},
			env:   noSB,
			queue: "q-flags", wantMsgID: "req-1", wantSess: "pipeline-42", wantCorr: "build-7", wantReply: "replies",
		},
		{
			name: "queue from PUTSECRETS_QUEUE", args: []string{"--file", valid},
			env:   map[string]string{"PUTSECRETS_ALLOWED_VAULTS": "contoso-kv", "ServiceBusConnection": cs, "PUTSECRETS_QUEUE": "q-setting"},
			queue: "q-setting", wantSess: "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c",
		},
		{name: "no connection", args: []string{"--file", valid}, env: noSB, wantErr: "no Service Bus connection"},
		{name: "both connection flags", args: []string{"--file", valid, "--namespace", "x.servicebus.windows.net", "--connection-string", cs},
			env: noSB, wantErr: "not both", usage: true},
		{name: "stray argument", args: []string{"--file", valid, "extra"}, env: withSB, wantErr: "no arguments", usage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			err := run(ctx, append([]string{"handler", "enqueue"}, tt.args...), envOf(tt.env), &stdout, &stderr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("enqueue: %v, want an error containing %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("enqueue: %v\nstderr: %s", err, stderr.String())
			}
			var u usageError
			if errors.As(err, &u) != tt.usage {
				t.Errorf("usage error = %v, want %v", errors.As(err, &u), tt.usage)
			}
			for _, w := range tt.inStderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			for _, n := range tt.notInAny {
				if strings.Contains(stdout.String()+stderr.String()+errString(err), n) {
					t.Errorf("output holds %q", n)
				}
			}
			for _, q := range []string{"q-invalid", "q-policy"} {
				// The broker creates a queue when a link first attaches to it.
				if _, ok := b.Stats().Queues[q]; ok {
					t.Errorf("something attached to queue %s: an invalid document reached Service Bus", q)
				}
			}
			if tt.queue == "" {
				return
			}
			var out enqueued
			if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
				t.Fatalf("stdout is not one JSON object: %v: %s", err, stdout.String())
			}
			msgs := b.WaitForMessages(ctx, tt.queue, 1)
			if len(msgs) != 1 {
				t.Fatalf("queue %s holds %d messages, want 1", tt.queue, len(msgs))
			}
			m := msgs[0]
			if string(m.Body) != doc || m.ContentType != "application/json" {
				t.Errorf("body (%d bytes) / content type %q: want the document as given, application/json", len(m.Body), m.ContentType)
			}
			if tt.wantMsgID != "" && m.MessageID != tt.wantMsgID || tt.wantMsgID == "" && len(m.MessageID) != 36 {
				t.Errorf("MessageId = %q, want %q (or a new UUID)", m.MessageID, tt.wantMsgID)
			}
			if m.SessionID != tt.wantSess || m.CorrelationID != tt.wantCorr || m.ReplyTo != tt.wantReply {
				t.Errorf("session %q correlation %q reply-to %q, want %q %q %q", m.SessionID, m.CorrelationID, m.ReplyTo, tt.wantSess, tt.wantCorr, tt.wantReply)
			}
			if out.MessageID != m.MessageID || out.Queue != tt.queue || out.SessionID != m.SessionID ||
				strings.Join(out.Keys, ",") != "SecretToken,BaseAddress" {
				t.Errorf("printed %+v, does not describe the message sent", out)
			}
		})
	}
}

// TestWorkerUsage: the worker refuses bad flags and missing settings before
// connecting.
func TestWorkerUsage(t *testing.T) {
	t.Parallel()
	settings := map[string]string{"PUTSECRETS_ALLOWED_VAULTS": "contoso-kv"}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		usage   bool
	}{
		{"concurrency 0", []string{"--concurrency", "0"}, settings, "--concurrency must be from 1 to 256", true},
		{"concurrency above the ceiling", []string{"--concurrency", "257"}, settings, "--concurrency must be from 1 to 256", true},
		{"concurrency far above the ceiling", []string{"--concurrency", "200000"}, settings, "got 200000", true},
		{"concurrency at the ceiling is accepted", []string{"--concurrency", "256"}, settings, "no Service Bus connection", false},
		{"session idle 0", []string{"--session-idle", "0s"}, settings, "--session-idle must be positive", true},
		{"stray argument", []string{"extra"}, settings, "worker takes no arguments", true},
		{"unknown flag", []string{"--sesions"}, settings, "flag provided but not defined", true},
		{"no connection", nil, settings, "no Service Bus connection", false},
		{"no allowed vaults", []string{"--connection-string", "Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=k;SharedAccessKey=fake;UseDevelopmentEmulator=true"},
			map[string]string{}, "PUTSECRETS_ALLOWED_VAULTS", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := run(context.Background(), append([]string{"handler", "worker"}, tt.args...), envOf(tt.env), &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("worker: %v, want an error containing %q", err, tt.wantErr)
			}
			var u usageError
			if errors.As(err, &u) != tt.usage {
				t.Errorf("usage error = %v, want %v", errors.As(err, &u), tt.usage)
			}
		})
	}
}
