package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/putsecrets/putsecrets/internal/follow"
	"github.com/putsecrets/putsecrets/internal/state"
)

// kvFollowers answers every secret with one kept state that follows it.
type kvFollowers struct{ err error }

func (f kvFollowers) Followers(_ context.Context, vault, name string) ([]*state.Kept, error) {
	if f.err != nil {
		return nil, f.err
	}
	return []*state.Kept{{ServicePrincipalID: "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c", Document: []byte(`{}`),
		References: []state.Reference{{Key: "SecretToken", Vault: vault, Name: name}}}}, nil
}

// kvSender records sends.
type kvSender struct {
	mu   sync.Mutex
	sent []*azservicebus.Message
}

func (s *kvSender) Send(_ context.Context, _ string, m *azservicebus.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, m)
	return nil
}

func kvEvent(vault string) string {
	return `{"id":"ev-1","eventType":"Microsoft.KeyVault.SecretNewVersionCreated","data":{"Id":"https://` + vault +
		`.vault.azure.net/secrets/scim-token/ee059b2bb5bc48398a53b168c6cdcb10","NBF":"1"}}`
}

func TestPutSecretsFromKeyVault(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		body       []byte
		store      follow.Followers
		wantStatus int
		wantSent   int
		wantLog    string
	}{
		{"re-applied", queueEnvelope(t, kvEvent("contoso-kv")), kvFollowers{}, http.StatusOK, 1, `"action":"reapplied"`},
		{"vault not allowed", queueEnvelope(t, kvEvent("evil-kv")), kvFollowers{}, http.StatusOK, 0, `not in PUTSECRETS_ALLOWED_VAULTS`},
		{"no state store", queueEnvelope(t, kvEvent("contoso-kv")), nil, http.StatusOK, 0, `no state store is configured`},
		{"unreadable event", queueEnvelope(t, `{"eventType":"x"}`), kvFollowers{}, http.StatusInternalServerError, 0, `the event has no id`},
		{"store down", queueEnvelope(t, kvEvent("contoso-kv")), kvFollowers{err: errors.New("connection refused")}, http.StatusInternalServerError, 0, `connection refused`},
		{"unreadable envelope", []byte(`{"Data":`), kvFollowers{}, http.StatusInternalServerError, 0, `unreadable invocation request`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logs, nil))
			s := &kvSender{}
			ev := &follow.Events{Logger: log, Sender: s, Suffix: "vault.azure.net",
				AllowedVaults: []string{"contoso-kv.vault.azure.net"}, RequestQueue: "putsecrets-requests"}
			if tt.store != nil {
				ev.Store = tt.store
			}
			h := New(Options{Logger: log, Events: ev, InvocationTimeout: 10e9})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/"+FunctionKeyVault, bytes.NewReader(tt.body)))
			if rec.Code != tt.wantStatus {
				t.Errorf("status: got %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			var a struct{ Logs []string }
			if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || len(a.Logs) != 1 {
				t.Errorf("answer %s is not the host's answer object with one log entry (%v)", rec.Body, err)
			}
			if rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type: got %q", rec.Header().Get("Content-Type"))
			}
			if len(s.sent) != tt.wantSent {
				t.Errorf("sent %d, want %d", len(s.sent), tt.wantSent)
			}
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log does not say %q:\n%s", tt.wantLog, logs.String())
			}
			if n := strings.Count(logs.String(), "\n"); n != 1 {
				t.Errorf("got %d log lines, want one per invocation:\n%s", n, logs.String())
			}
		})
	}
}

func TestPutSecretsFromKeyVaultUnrouted(t *testing.T) {
	t.Parallel()
	h := New(Options{Logger: slog.New(slog.DiscardHandler)})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/"+FunctionKeyVault, strings.NewReader(`{}`)))
	if rec.Code != http.StatusNotFound {
		t.Errorf("got %d, want 404 without an events handler", rec.Code)
	}
}
