package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/putsecrets/putsecrets/internal/envelope"
	"github.com/putsecrets/putsecrets/internal/follow"
	"github.com/putsecrets/putsecrets/internal/state"
)

// listStates is a kept-state store that lists ids (or fails) and holds none
// of them, so a run reads no secret.
type listStates struct {
	ids []string
	err error
}

func (s listStates) List(context.Context) ([]string, error) { return s.ids, s.err }
func (s listStates) Get(context.Context, string) (*state.Kept, error) {
	return nil, state.ErrNotFound
}

func TestReconcile(t *testing.T) {
	t.Parallel()
	fixture, err := os.ReadFile(filepath.Join("..", "envelope", "testdata", "timer-request.json"))
	if err != nil {
		t.Fatal(err)
	}
	const object = `{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"2026-12-01T03:00:00+00:00","Next":"2026-12-02T03:00:00+00:00"},"IsPastDue":true}},"Metadata":{}}`
	tests := []struct {
		name       string
		body       string
		states     follow.States
		wantStatus int
		wantLog    string
	}{
		{"timer as a string (the host's form)", string(fixture), listStates{ids: []string{"6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"}}, http.StatusOK, `"msg":"reconcile run"`},
		{"timer as an object", object, listStates{}, http.StatusOK, `"isPastDue":true`},
		{"no store", object, nil, http.StatusOK, "no state store is configured (PUTSECRETS_STATE_URL)"},
		{"the states cannot be listed", object, listStates{err: errors.New("storage unavailable")}, http.StatusInternalServerError, "storage unavailable"},
		{"not a timer invocation", `{"Data":{"message":"x"},"Metadata":{}}`, listStates{}, http.StatusInternalServerError, `Data has no \"timer\" binding`},
		{"not JSON", `{"Data":`, listStates{}, http.StatusInternalServerError, "unreadable invocation request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logs, nil))
			rec := &follow.Reconciler{Logger: log, Sender: &kvSender{}, RequestQueue: "q"}
			if tt.states != nil {
				rec.States = tt.states
			}
			h := New(Options{Logger: log, Reconciler: rec, InvocationTimeout: time.Minute})
			req := httptest.NewRequest(http.MethodPost, "/"+FunctionReconcile, strings.NewReader(tt.body))
			req.Header.Set(envelope.InvocationIDHeader, "inv-1")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d; logs:\n%s", w.Code, tt.wantStatus, logs.String())
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var a struct {
				Outputs map[string]any
				Logs    []string
			}
			if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || a.Outputs == nil || len(a.Outputs) != 0 || len(a.Logs) == 0 {
				t.Errorf("answer = %s (%v), want empty Outputs and a log line", w.Body.String(), err)
			}
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("logs lack %q:\n%s", tt.wantLog, logs.String())
			}
		})
	}
}

// TestReconcileUnrouted: without a Reconciler there is no Reconcile route.
func TestReconcileUnrouted(t *testing.T) {
	t.Parallel()
	h := New(Options{Logger: slog.New(slog.DiscardHandler)})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/"+FunctionReconcile, strings.NewReader(`{}`)))
	if w.Code != http.StatusNotFound {
		t.Errorf("status = %d, want 404", w.Code)
	}
}
