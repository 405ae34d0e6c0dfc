package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/putsecrets/putsecrets/internal/provision"
	"github.com/putsecrets/putsecrets/internal/settle"
)

// panicky panics on its first Put with a value that holds the request body
// (the worst a bug could do), and succeeds afterwards.
type panicky struct{ calls atomic.Int32 }

func (p *panicky) Put(_ context.Context, body []byte) (*provision.Result, error) {
	if p.calls.Add(1) == 1 {
		panic(fmt.Sprintf("unexpected request %s", body))
	}
	return &provision.Result{ServicePrincipalID: "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c", Status: provision.StatusSaved,
		APIVersion: "v1.0", Keys: []string{"SecretToken"}}, nil
}

// syncBuffer is a log destination the server's goroutines may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// holdsPiece reports whether text holds any 12-character run of the canary
// v, byte for byte or percent- or \u-escaped (the product's promise is about
// every run of 12 characters, not only the whole value).
func holdsPiece(text, v string) bool {
	for i := 0; i+12 <= len(v); i++ {
		p := v[i : i+12]
		var u, pct strings.Builder
		for i := 0; i < len(p); i++ {
			fmt.Fprintf(&u, `\u%04x`, p[i])
			fmt.Fprintf(&pct, "%%%02x", p[i])
		}
		if strings.Contains(text, p) || strings.Contains(text, u.String()) || strings.Contains(text, pct.String()) {
			return true
		}
	}
	return false
}

// canary is a random secret value, unique to the test.
func canary(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "canary-" + hex.EncodeToString(b)
}

func requestDoc(value string) string {
	return `{"servicePrincipalId":"6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c","secrets":[{"key":"SecretToken","value":"` + value + `"}]}`
}

func httpEnvelope(t *testing.T, doc string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"Data": map[string]any{"req": map[string]any{
			"Url": "https://contoso-fn.azurewebsites.net/api/PutSecrets", "Method": "POST", "Query": map[string]string{},
			"Headers": map[string][]string{"Content-Type": {"application/json"}, "Content-Length": {fmt.Sprint(len(doc))}},
			"Body":    doc,
		}},
		"Metadata": map[string]any{},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func queueEnvelope(t *testing.T, doc string) []byte {
	t.Helper()
	single, _ := json.Marshal(doc)
	b, err := json.Marshal(map[string]any{
		"Data":     map[string]any{"message": string(single)},
		"Metadata": map[string]any{"MessageId": `"m-1"`, "DeliveryCount": "1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPanicsAreContained: a panic in an invocation of either function
// becomes an internal error, in the function's own way, without the
// request's contents or the panic value in the answer or the log, and the
// process keeps serving the next invocation.
func TestPanicsAreContained(t *testing.T) {
	t.Parallel()
	tests := []struct {
		function string
		envelope func(*testing.T, string) []byte
		// check inspects the answer to the panicking invocation, then to the next.
		panicked, next func(t *testing.T, status int, answer map[string]json.RawMessage)
	}{
		{
			function: FunctionHTTP, envelope: httpEnvelope,
			panicked: func(t *testing.T, status int, a map[string]json.RawMessage) {
				res := callerAnswer(t, status, a)
				if res.StatusCode != 500 || res.Headers["Content-Type"] != "application/problem+json" {
					t.Errorf("caller got %d %s, want 500 application/problem+json", res.StatusCode, res.Headers["Content-Type"])
				}
				var p struct{ Type, Detail string }
				if err := json.Unmarshal([]byte(res.Body), &p); err != nil || p.Type != "urn:putsecrets:problem:internal-error" {
					t.Errorf("problem type %q (%v), want internal-error", p.Type, err)
				}
			},
			next: func(t *testing.T, status int, a map[string]json.RawMessage) {
				if res := callerAnswer(t, status, a); res.StatusCode != 200 {
					t.Errorf("the next invocation got %d, want 200", res.StatusCode)
				}
			},
		},
		{
			function: FunctionQueue, envelope: queueEnvelope,
			panicked: func(t *testing.T, status int, _ map[string]json.RawMessage) {
				if status != 500 {
					t.Errorf("handler answered %d, want 500 (a failed invocation: the message is redelivered)", status)
				}
			},
			next: func(t *testing.T, status int, _ map[string]json.RawMessage) {
				if status != 200 {
					t.Errorf("the next invocation got %d, want 200", status)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.function, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			log := slog.New(slog.NewJSONHandler(&logs, nil))
			svc := &panicky{}
			srv := httptest.NewServer(New(Options{Logger: log, Service: svc, Queue: settle.NewProcessor(svc, settle.Options{}), InvocationTimeout: 10 * time.Second}))
			defer srv.Close()

			secret := canary(t)
			status, raw, answer := invoke(t, srv, tt.function, tt.envelope(t, requestDoc(secret)))
			tt.panicked(t, status, answer)
			status, raw2, answer := invoke(t, srv, tt.function, tt.envelope(t, requestDoc(canary(t))))
			tt.next(t, status, answer)

			line := panicLine(t, logs.String())
			if line["function"] != tt.function || line["panicType"] != "string" || line["stack"] == "" {
				t.Errorf("panic log line has function %v, panicType %v, stack of %d bytes", line["function"], line["panicType"], len(fmt.Sprint(line["stack"])))
			}
			for what, text := range map[string]string{"answer": string(raw), "next answer": string(raw2), "log": logs.String()} {
				if holdsPiece(text, secret) {
					t.Errorf("the %s holds the request's secret value", what)
				}
				if strings.Contains(text, "unexpected request") {
					t.Errorf("the %s holds the panic value", what)
				}
			}
		})
	}
}

// invoke POSTs an envelope as the host does.
func invoke(t *testing.T, srv *httptest.Server, function string, envelope []byte) (int, []byte, map[string]json.RawMessage) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/"+function, bytes.NewReader(envelope))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Azure-Functions-InvocationId", "inv-"+function)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("invoke %s: %v (did the panic take the server down?)", function, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var a map[string]json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("the answer to the host is not JSON: %v", err)
	}
	return resp.StatusCode, raw, a
}

type httpOutput struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

// callerAnswer is what the host makes of an HTTP function's answer.
func callerAnswer(t *testing.T, status int, a map[string]json.RawMessage) httpOutput {
	t.Helper()
	if status != 200 {
		t.Fatalf("handler answered the host %d; the HTTP function must answer 200 and carry the status in Outputs.res", status)
	}
	var outputs map[string]httpOutput
	if err := json.Unmarshal(a["Outputs"], &outputs); err != nil {
		t.Fatalf("Outputs: %v", err)
	}
	return outputs[bindingResponse]
}

// panicLine returns the log line about the panic.
func panicLine(t *testing.T, logs string) map[string]any {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %v", err)
		}
		if m["msg"] == "invocation panicked" {
			return m
		}
	}
	t.Fatal("no log line says the invocation panicked")
	return nil
}

// TestDebugEndpoint: GET /debug/goroutines exists only when enabled.
func TestDebugEndpoint(t *testing.T) {
	t.Parallel()
	for _, enabled := range []bool{false, true} {
		t.Run(fmt.Sprint(enabled), func(t *testing.T) {
			t.Parallel()
			h := New(Options{Logger: slog.New(slog.DiscardHandler), DebugEndpoints: enabled})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, GoroutinesPath, nil))
			if !enabled {
				if rec.Code != http.StatusNotFound {
					t.Errorf("disabled: %s answered %d, want 404", GoroutinesPath, rec.Code)
				}
				return
			}
			var g Goroutines
			if err := json.Unmarshal(rec.Body.Bytes(), &g); err != nil || rec.Code != 200 {
				t.Fatalf("enabled: %d, %v", rec.Code, err)
			}
			if g.PID <= 0 || g.Count <= 0 || !strings.Contains(g.Stacks, "goroutine ") {
				t.Errorf("answer = pid %d, count %d, %d bytes of stacks", g.PID, g.Count, len(g.Stacks))
			}
		})
	}
}

// carriedPanic stands for vault.Panic: a panic of another goroutine of the
// invocation, carried to the invocation's own.
type carriedPanic struct{}

func (carriedPanic) PanicType() string { return "runtime.Error" }
func (carriedPanic) PanicStack() []byte {
	return []byte("goroutine 7 [running]:\nvault.(*Resolver).get(...)")
}

type carrier struct{}

func (carrier) Put(context.Context, []byte) (*provision.Result, error) { panic(carriedPanic{}) }

// TestCarriedPanicLogsItsOrigin: the log names the original panic's type and
// stack, not the carrier's.
func TestCarriedPanicLogsItsOrigin(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	srv := httptest.NewServer(New(Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Service: carrier{},
		Queue: settle.NewProcessor(carrier{}, settle.Options{}), InvocationTimeout: 10 * time.Second}))
	defer srv.Close()
	status, _, answer := invoke(t, srv, FunctionHTTP, httpEnvelope(t, requestDoc(canary(t))))
	if res := callerAnswer(t, status, answer); res.StatusCode != 500 {
		t.Errorf("caller got %d, want 500", res.StatusCode)
	}
	line := panicLine(t, logs.String())
	stack, _ := line["stack"].(string)
	if line["panicType"] != "runtime.Error" || !strings.HasPrefix(stack, "goroutine 7") || !strings.Contains(stack, "carried to") {
		t.Errorf("panic log line: type %v, stack %.60q…", line["panicType"], stack)
	}
}
