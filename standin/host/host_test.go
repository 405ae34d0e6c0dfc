package host_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/putsecrets/putsecrets/standin/host"
)

// appRoot is an app folder like the project's: host.json, one folder per
// function, and the fake handler built as ./handler.
var appRoot string

// leakVar is set in the test process and must not reach the handler.
const leakVar = "STANDIN_HOST_TEST_LEAK"

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "standin-host-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	appRoot = dir
	if err := writeApp(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "handler"), "./testdata/fakehandler")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build fake handler: %v\n%s", err, out)
		return 1
	}
	os.Setenv(leakVar, "1")
	return m.Run()
}

// writeApp writes host.json (the shared fixture's) and function.json files.
func writeApp(dir string) error {
	hostJSON, err := os.ReadFile(filepath.Join("testdata", "fixtures", "config", "host.json"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "host.json"), hostJSON, 0o644); err != nil {
		return err
	}
	httpFn := `{"bindings":[{"name":"req","type":"httpTrigger","direction":"in","authLevel":"function","methods":["post"]},{"name":"res","type":"http","direction":"out"}]}`
	sbFn := `{"bindings":[{"name":"message","type":"serviceBusTrigger","direction":"in","queueName":"%%PUTSECRETS_QUEUE%%","connection":"ServiceBusConnection"%s}]}`
	fns := map[string]string{
		"Queue":       fmt.Sprintf(sbFn, ""),
		"QueueFail":   fmt.Sprintf(sbFn, ""),
		"BinaryQueue": fmt.Sprintf(sbFn, `,"dataType":"binary"`),
	}
	for _, name := range []string{"Echo", "Problem", "StringStatus", "ObjectBody", "NoRes", "TextPlain", "Handler500", "Empty", "Null", "Array", "Slow"} {
		fns[name] = httpFn
	}
	for name, fj := range fns {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name, "function.json"), []byte(fj), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func start(t *testing.T, opts host.Options) *host.Host {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = appRoot
	}
	h, err := host.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return h
}

// received mirrors the fake handler's report.
type received struct {
	Method           string
	Path             string
	Headers          map[string][]string
	TransferEncoding []string
	ContentLength    int64
	Body             string
	Env              []string
	Cwd              string
}

func TestInvokeHTTPWire(t *testing.T) {
	t.Parallel()
	stdout := &lockedBuffer{}
	h := start(t, host.Options{Env: []string{"PUTSECRETS_ALLOWED_VAULTS=contoso-kv", "AZURE_CLOUD=AzurePublic"}, Stdout: stdout})
	body := []byte(`{"servicePrincipalId":"6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c","dryRun":true}`)
	res, err := h.InvokeHTTP(context.Background(), "Echo", host.HTTPRequest{
		Query:   map[string]string{"code": "key"},
		Headers: map[string]string{"Content-Type": "application/json"},
		Body:    body,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed || !res.Invoked || res.CallerStatus != 200 {
		t.Fatalf("result: failed=%v (%s) invoked=%v caller=%d", res.Failed, res.Reason, res.Invoked, res.CallerStatus)
	}
	if got := res.CallerHeaders.Get("Content-Type"); got != "application/json" {
		t.Errorf("caller Content-Type: got %q", got)
	}
	if diff := cmp.Diff([]string{"echo"}, res.Logs); diff != "" {
		t.Errorf("Logs (-want +got):\n%s", diff)
	}
	var got received
	if err := json.Unmarshal(res.CallerBody, &got); err != nil {
		t.Fatalf("caller body %q: %v", res.CallerBody, err)
	}
	// The wire: POST /Echo, chunked, the host's headers.
	if got.Method != "POST" || got.Path != "/Echo" {
		t.Errorf("request line: %s %s", got.Method, got.Path)
	}
	if !cmp.Equal(got.TransferEncoding, []string{"chunked"}) || got.ContentLength != -1 {
		t.Errorf("framing: Transfer-Encoding %v, ContentLength %d; want chunked without length", got.TransferEncoding, got.ContentLength)
	}
	wantHeaders := map[string]string{
		"Content-Type":                   "application/json; charset=utf-8",
		"X-Azure-Functions-Invocationid": res.InvocationID,
		"X-Azure-Functions-Hostversion":  host.DefaultHostVersion,
		"User-Agent":                     "Azure-Functions-Host/" + host.DefaultHostVersion,
	}
	for k, want := range wantHeaders {
		if v := got.Headers[k]; len(v) != 1 || v[0] != want {
			t.Errorf("header %s: got %v, want %q", k, v, want)
		}
	}
	if _, ok := got.Headers["Accept-Encoding"]; ok {
		t.Error("Accept-Encoding sent; the host sends none")
	}
	if got.Body != string(res.Request) {
		t.Errorf("handler received a different envelope than Result.Request")
	}
	// The envelope: Data.req with Body, Metadata without the key.
	var env struct {
		Data struct {
			Req struct {
				Method string
				Query  map[string]string
				Body   *string
			} `json:"req"`
		}
		Metadata map[string]json.RawMessage
	}
	if err := json.Unmarshal(res.Request, &env); err != nil {
		t.Fatal(err)
	}
	if env.Data.Req.Body == nil || *env.Data.Req.Body != string(body) || env.Data.Req.Query["code"] != "key" {
		t.Errorf("Data.req: %+v", env.Data.Req)
	}
	if _, ok := env.Metadata["code"]; ok || !bytes.Contains(env.Metadata["Query"], []byte("{}")) {
		t.Errorf("the function key reached Metadata: %s", env.Metadata["Query"])
	}
	if string(env.Metadata["dryRun"]) != `"\"True\""` {
		t.Errorf("promoted dryRun: got %s", env.Metadata["dryRun"])
	}
	// The process: app settings and the ports, nothing else of ours; app root as cwd.
	envVars := map[string]string{}
	for _, kv := range got.Env {
		k, v, _ := strings.Cut(kv, "=")
		envVars[k] = v
	}
	port := fmt.Sprint(h.Port())
	for k, want := range map[string]string{
		"FUNCTIONS_CUSTOMHANDLER_PORT": port,
		"FUNCTIONS_HTTPWORKER_PORT":    port,
		"PUTSECRETS_ALLOWED_VAULTS":    "contoso-kv",
		"AZURE_CLOUD":                  "AzurePublic",
	} {
		if envVars[k] != want {
			t.Errorf("handler env %s: got %q, want %q", k, envVars[k], want)
		}
	}
	if _, ok := envVars[leakVar]; ok {
		t.Errorf("test process variable %s leaked into the handler", leakVar)
	}
	if _, ok := envVars["PATH"]; !ok {
		t.Error("handler has no PATH")
	}
	if got.Cwd != appRoot {
		t.Errorf("handler cwd: got %q, want the app root %q", got.Cwd, appRoot)
	}
	// Output is copied from a pipe: it is complete only once the process
	// has been reaped.
	if err := h.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "listening") || !strings.Contains(h.Stdout(), "listening") {
		t.Errorf("stdout not captured and teed: %q / %q", h.Stdout(), stdout.String())
	}
}

// lockedBuffer is a bytes.Buffer safe for the handler's output goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestInvokeHTTPChunkedCaller(t *testing.T) {
	t.Parallel()
	h := start(t, host.Options{})
	res, err := h.InvokeHTTP(context.Background(), "Echo", host.HTTPRequest{
		Headers: map[string]string{"Content-Type": "application/json"}, Body: []byte(`{"a":1}`), NoContentLength: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Data     struct{ Req map[string]json.RawMessage }
		Metadata map[string]json.RawMessage
	}
	if err := json.Unmarshal(res.Request, &env); err != nil {
		t.Fatal(err)
	}
	if _, ok := env.Data.Req["Body"]; ok {
		t.Error("Data.req.Body present for a caller without Content-Length")
	}
	if _, ok := env.Metadata["a"]; ok {
		t.Error("body promoted although the host did not read it")
	}
}

// TestCallerMapping checks what the HTTP caller gets for each kind of
// handler answer.
func TestCallerMapping(t *testing.T) {
	t.Parallel()
	h := start(t, host.Options{})
	tests := []struct {
		function    string
		method      string
		wantFailed  bool
		wantInvoked bool
		wantStatus  int
		wantCT      string
		wantBody    string
	}{
		{"Problem", "", false, true, 400, "application/problem+json", `{"title":"Invalid request","status":400}`},
		{"StringStatus", "", false, true, 202, "text/plain; charset=utf-8", "accepted"},
		{"ObjectBody", "", false, true, 200, "text/plain; charset=utf-8", "{\n  \"a\": 1\n}"},
		{"NoRes", "", false, true, 204, "", ""},
		{"TextPlain", "", true, true, 500, "", ""},
		{"Handler500", "", true, true, 500, "", ""},
		{"Empty", "", true, true, 500, "", ""},
		{"Null", "", true, true, 500, "", ""},
		{"Array", "", true, true, 500, "", ""},
		{"Echo", "GET", false, false, 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.function+tt.method, func(t *testing.T) {
			t.Parallel()
			res, err := h.InvokeHTTP(context.Background(), tt.function, host.HTTPRequest{Method: tt.method, Body: []byte("{}")})
			if err != nil {
				t.Fatal(err)
			}
			if res.Failed != tt.wantFailed || res.Invoked != tt.wantInvoked {
				t.Errorf("failed=%v (%s) invoked=%v; want failed=%v invoked=%v", res.Failed, res.Reason, res.Invoked, tt.wantFailed, tt.wantInvoked)
			}
			if res.Failed && res.Reason == "" {
				t.Error("failed without a reason")
			}
			if res.CallerStatus != tt.wantStatus || res.CallerHeaders.Get("Content-Type") != tt.wantCT || string(res.CallerBody) != tt.wantBody {
				t.Errorf("caller got %d %q %q; want %d %q %q", res.CallerStatus, res.CallerHeaders.Get("Content-Type"), res.CallerBody, tt.wantStatus, tt.wantCT, tt.wantBody)
			}
		})
	}
}

func TestFunctionTimeout(t *testing.T) {
	t.Parallel()
	h := start(t, host.Options{FunctionTimeout: 200 * time.Millisecond})
	res, err := h.InvokeHTTP(context.Background(), "Slow", host.HTTPRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Failed || !strings.Contains(res.Reason, "timeout") || res.CallerStatus != 500 {
		t.Errorf("got failed=%v reason=%q caller=%d; want a timeout failure and 500", res.Failed, res.Reason, res.CallerStatus)
	}
}

func TestInvokeServiceBus(t *testing.T) {
	t.Parallel()
	h := start(t, host.Options{})
	body := []byte(`{"servicePrincipalId":"6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"}`)
	tests := []struct {
		function   string
		msg        host.Message
		wantFailed bool
		wantData   string // JSON of Data.message
	}{
		{"Queue", host.Message{Body: body, MessageID: "m-1"}, false, string(mustJSON(t, string(mustJSON(t, string(body)))))},
		{"Queue", host.Message{Body: body, Encoding: host.EncodingSingle}, false, string(mustJSON(t, string(body)))},
		{"Queue", host.Message{Body: body, Encoding: host.EncodingObject}, false, string(body)},
		{"BinaryQueue", host.Message{Body: body}, false, string(mustJSON(t, base64.StdEncoding.EncodeToString(body)))},
		{"QueueFail", host.Message{Body: body}, true, ""},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i, tt.function), func(t *testing.T) {
			t.Parallel()
			res, err := h.InvokeServiceBus(context.Background(), tt.function, tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Failed != tt.wantFailed {
				t.Fatalf("failed=%v (%s), want %v", res.Failed, res.Reason, tt.wantFailed)
			}
			if tt.wantFailed {
				if res.HandlerStatus != 503 || !cmp.Equal(res.Logs, []string{"dependency unavailable"}) {
					t.Errorf("handler answer: %d %v", res.HandlerStatus, res.Logs)
				}
				return
			}
			var got received
			if err := json.Unmarshal([]byte(res.Logs[0]), &got); err != nil {
				t.Fatal(err)
			}
			if got.Path != "/"+tt.function || !cmp.Equal(got.TransferEncoding, []string{"chunked"}) {
				t.Errorf("request: %s, %v", got.Path, got.TransferEncoding)
			}
			var env struct {
				Data     map[string]json.RawMessage
				Metadata map[string]json.RawMessage
			}
			if err := json.Unmarshal([]byte(got.Body), &env); err != nil {
				t.Fatal(err)
			}
			if string(env.Data["message"]) != tt.wantData {
				t.Errorf("Data.message:\n got %s\nwant %s", env.Data["message"], tt.wantData)
			}
			if string(env.Metadata["DeliveryCount"]) != `"1"` || len(env.Metadata["LockToken"]) == 0 {
				t.Errorf("defaults: DeliveryCount %s LockToken %s", env.Metadata["DeliveryCount"], env.Metadata["LockToken"])
			}
		})
	}
}

func TestStartFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    host.Options
		wantErr []string
	}{
		{"exits before listening", host.Options{Env: []string{"FAKE_MODE=exit"}}, []string{"exited before listening", "exit status 3", "boom: missing setting"}},
		{"never listens", host.Options{Env: []string{"FAKE_MODE=never"}, StartTimeout: 300 * time.Millisecond}, []string{"did not answer"}},
		{"no such binary", host.Options{Binary: filepath.Join(appRoot, "nope")}, []string{"start handler"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.Dir = appRoot
			h, err := host.Start(context.Background(), tt.opts)
			if err == nil {
				_ = h.Stop(context.Background())
				t.Fatal("Start succeeded")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestStop(t *testing.T) {
	t.Parallel()
	t.Run("SIGTERM", func(t *testing.T) {
		t.Parallel()
		h, err := host.Start(context.Background(), host.Options{Dir: appRoot})
		if err != nil {
			t.Fatal(err)
		}
		if code := h.ExitCode(); code != -1 {
			t.Errorf("ExitCode while running: got %d, want -1", code)
		}
		if err := h.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if code := h.ExitCode(); code != 0 {
			t.Errorf("ExitCode: got %d, want 0", code)
		}
		if !strings.Contains(h.Stdout(), "shutting down") {
			t.Errorf("stdout %q: handler did not see SIGTERM", h.Stdout())
		}
	})
	t.Run("killed after the deadline", func(t *testing.T) {
		t.Parallel()
		h, err := host.Start(context.Background(), host.Options{Dir: appRoot, Env: []string{"FAKE_MODE=ignore-term"}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		if err := h.Stop(ctx); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Errorf("Stop: got %v, want a killed error", err)
		}
		select {
		case <-h.Exited():
		default:
			t.Error("process not reaped after kill")
		}
	})
}

func TestUnknownFunction(t *testing.T) {
	t.Parallel()
	h := start(t, host.Options{})
	if _, err := h.InvokeHTTP(context.Background(), "Nope", host.HTTPRequest{}); err == nil {
		t.Error("InvokeHTTP of a function without function.json succeeded")
	}
	if _, err := h.InvokeServiceBus(context.Background(), "Echo", host.Message{Body: []byte("x")}); err == nil {
		t.Error("InvokeServiceBus of an HTTP function succeeded")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
