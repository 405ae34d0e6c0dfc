// Package host emulates the Azure Functions host (v4) in front of a custom
// handler, as AZURE-FACTS §1 describes it, so that end-to-end tests run the
// real handler binary the way Azure runs it.
//
// Start launches the binary with FUNCTIONS_CUSTOMHANDLER_PORT,
// FUNCTIONS_HTTPWORKER_PORT and the app settings (and nothing else of the
// test's environment but PATH and HOME), then polls GET / every 25 ms until
// any HTTP answer. InvokeHTTP and InvokeServiceBus POST the host's
// {"Data","Metadata"} envelope to /<function>, chunked, with the host's
// headers, and report both the handler's raw answer and what the host would
// make of it: the HTTP caller's response, or whether a Service Bus message
// would be completed or abandoned.
//
// Not emulated: worker restarts after a crash or a timeout, function keys
// (every caller is authorized), output bindings other than http, and the
// host's periodic health pings.
package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/putsecrets/putsecrets/standin/internal/wire"
)

// DefaultHostVersion is the host version the emulator claims.
const DefaultHostVersion = "4.1036.1.23224"

// Options configure Start.
type Options struct {
	// Binary is the handler executable. Empty: host.json's
	// customHandler.description.defaultExecutablePath, relative to Dir.
	Binary string
	// Args are the handler's arguments. Empty: host.json's arguments.
	Args []string
	// Dir is the app root holding host.json and the function folders; it is
	// the handler's working directory. Empty: no configuration is read and
	// function names are not checked.
	Dir string
	// Env are the app settings ("NAME=value").
	Env []string
	// StartTimeout bounds the wait for the handler to answer; default 30s.
	StartTimeout time.Duration
	// FunctionTimeout bounds each invocation; default host.json's
	// functionTimeout, else 5 minutes.
	FunctionTimeout time.Duration
	// Stdout and Stderr, when set, receive a copy of the handler's output.
	Stdout, Stderr io.Writer
	// HostVersion is sent as X-Azure-Functions-HostVersion; default
	// DefaultHostVersion.
	HostVersion string
	// ServiceBusNamespace names the namespace in Service Bus Metadata;
	// default "contoso-sb.servicebus.windows.net".
	ServiceBusNamespace string
}

// Host is a running emulated Functions host with its handler process.
type Host struct {
	opts    Options
	port    int
	cmd     *exec.Cmd
	client  *http.Client
	exited  chan struct{}
	stdout  *syncBuffer
	stderr  *syncBuffer
	sb      sbClient
	timeout time.Duration

	mu       sync.Mutex
	sequence int64
	waitErr  error
}

// Start starts the handler and waits until it answers HTTP.
func Start(ctx context.Context, opts Options) (*Host, error) {
	cfg, err := readHostConfig(opts.Dir)
	if err != nil {
		return nil, err
	}
	if cfg.CustomHandler.EnableForwardingHTTPRequest {
		return nil, errors.New("host.json: enableForwardingHttpRequest is true; the emulator only speaks the envelope protocol")
	}
	binary := opts.Binary
	if binary == "" {
		if cfg.CustomHandler.Description.DefaultExecutablePath == "" {
			return nil, errors.New("no Binary and no customHandler.description.defaultExecutablePath in host.json")
		}
		binary = filepath.Join(opts.Dir, cfg.CustomHandler.Description.DefaultExecutablePath)
	}
	args := opts.Args
	if args == nil {
		args = cfg.CustomHandler.Description.Arguments
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	if opts.HostVersion == "" {
		opts.HostVersion = DefaultHostVersion
	}
	if opts.ServiceBusNamespace == "" {
		opts.ServiceBusNamespace = "contoso-sb.servicebus.windows.net"
	}
	timeout := opts.FunctionTimeout
	if timeout == 0 && cfg.FunctionTimeout != "" {
		if timeout, err = parseTimeSpan(cfg.FunctionTimeout); err != nil {
			return nil, fmt.Errorf("host.json functionTimeout: %w", err)
		}
	}
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	// The port stays reserved until the handler exits: no stand-in of this
	// process can listen on it before the handler does (it would answer
	// the readiness probe in the handler's place).
	port, err := wire.ReservePort()
	if err != nil {
		return nil, err
	}

	h := &Host{
		opts:    opts,
		port:    port,
		exited:  make(chan struct{}),
		stdout:  &syncBuffer{tee: opts.Stdout},
		stderr:  &syncBuffer{tee: opts.Stderr},
		sb:      sbClient{namespace: opts.ServiceBusNamespace, identifier: opts.ServiceBusNamespace + "-" + wire.UUID()},
		timeout: timeout,
		client: &http.Client{Transport: &http.Transport{
			DisableCompression: true, // .NET's HttpClient sends no Accept-Encoding
			Proxy:              nil,
			// .NET's pool keeps every connection it opened: without this Go
			// would keep 2 and open a new one for each concurrent invocation.
			MaxIdleConnsPerHost: 64,
		}},
	}
	cmd := exec.Command(binary, args...)
	cmd.Dir = opts.Dir
	if wd := cfg.CustomHandler.Description.WorkingDirectory; wd != "" {
		cmd.Dir = filepath.Join(opts.Dir, wd)
	}
	p := strconv.Itoa(port)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, opts.Env...)
	cmd.Env = append(cmd.Env, "FUNCTIONS_CUSTOMHANDLER_PORT="+p, "FUNCTIONS_HTTPWORKER_PORT="+p)
	cmd.Stdout, cmd.Stderr = h.stdout, h.stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		wire.ReleasePort(port)
		return nil, fmt.Errorf("start handler: %w", err)
	}
	h.cmd = cmd
	go func() {
		err := cmd.Wait()
		wire.ReleasePort(port)
		h.mu.Lock()
		h.waitErr = err
		h.mu.Unlock()
		close(h.exited)
	}()
	if err := h.waitReady(ctx); err != nil {
		h.kill()
		return nil, fmt.Errorf("%w\nstdout:\n%s\nstderr:\n%s", err, h.stdout.String(), h.stderr.String())
	}
	return h, nil
}

// waitReady polls GET / every 25 ms until any HTTP answer, the process
// exits, StartTimeout passes or ctx ends.
func (h *Host) waitReady(ctx context.Context) error {
	deadline := time.NewTimer(h.opts.StartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	probe := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	for {
		select {
		case <-h.exited:
			return fmt.Errorf("handler exited before listening: %s", h.exitDescription())
		case <-deadline.C:
			return fmt.Errorf("handler did not answer on port %d within %v", h.port, h.opts.StartTimeout)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			resp, err := probe.Get(h.URL() + "/")
			if err == nil {
				resp.Body.Close()
				return nil
			}
		}
	}
}

// URL returns the handler's base URL, "http://127.0.0.1:<port>".
func (h *Host) URL() string { return "http://127.0.0.1:" + strconv.Itoa(h.port) }

// PID returns the handler's process ID, for benchmarks that read its CPU
// time and memory.
func (h *Host) PID() int { return h.cmd.Process.Pid }

// Port returns FUNCTIONS_CUSTOMHANDLER_PORT.
func (h *Host) Port() int { return h.port }

// Exited is closed when the handler process has exited.
func (h *Host) Exited() <-chan struct{} { return h.exited }

// ExitCode returns the handler's exit code: -1 while it runs or when a
// signal ended it.
func (h *Host) ExitCode() int {
	select {
	case <-h.exited:
		return h.cmd.ProcessState.ExitCode()
	default:
		return -1
	}
}

// Stdout returns what the handler wrote to stdout so far.
func (h *Host) Stdout() string { return h.stdout.String() }

// Stderr returns what the handler wrote to stderr so far.
func (h *Host) Stderr() string { return h.stderr.String() }

// Stop sends SIGTERM and waits for the handler to exit; when ctx ends
// first it kills the process and reports that it had to.
func (h *Host) Stop(ctx context.Context) error {
	h.client.CloseIdleConnections()
	select {
	case <-h.exited:
		return nil
	default:
	}
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal handler: %w", err)
	}
	select {
	case <-h.exited:
		return nil
	case <-ctx.Done():
		h.kill()
		return fmt.Errorf("handler did not exit after SIGTERM (%w); killed", ctx.Err())
	}
}

func (h *Host) kill() {
	_ = h.cmd.Process.Kill()
	<-h.exited
}

func (h *Host) exitDescription() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.waitErr != nil {
		return h.waitErr.Error()
	}
	return "exit status 0"
}

// InvokeHTTP runs an HTTP-triggered function as the host does for a caller's
// request. The error is non-nil only when the handler could not be reached
// or ctx ended; a wrong answer is a Failed result.
func (h *Host) InvokeHTTP(ctx context.Context, function string, req HTTPRequest) (*HTTPResult, error) {
	f, err := readFunction(h.opts.Dir, function, "httpTrigger")
	if err != nil {
		return nil, err
	}
	res := &HTTPResult{}
	method := req.Method
	if method == "" {
		method = "POST"
	}
	if !f.trigger.allowsMethod(method) {
		res.CallerStatus, res.CallerHeaders = http.StatusNotFound, http.Header{}
		return res, nil
	}
	ic := invocation{now: time.Now(), randGUID: wire.UUID()}
	env, err := httpEnvelope(f, req, ic)
	if err != nil {
		return nil, err
	}
	res.Invoked = true
	if err := h.invoke(ctx, function, env, &res.Result); err != nil {
		return nil, err
	}
	out := f.httpOut
	if out == "" {
		out = "res"
	}
	res.caller(out)
	return res, nil
}

// InvokeServiceBus runs a Service Bus-triggered function for one message.
// The error is non-nil only when the handler could not be reached or ctx
// ended; a wrong answer is a Failed result (the message is abandoned).
func (h *Host) InvokeServiceBus(ctx context.Context, function string, msg Message) (*Result, error) {
	f, err := readFunction(h.opts.Dir, function, "serviceBusTrigger")
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	h.sequence++
	seq := h.sequence
	h.mu.Unlock()
	if msg.DeliveryCount == 0 {
		msg.DeliveryCount = 1
	}
	if msg.SequenceNumber == 0 {
		msg.SequenceNumber = seq
	}
	if msg.LockToken == "" {
		msg.LockToken = wire.UUID()
	}
	if msg.EnqueuedTime.IsZero() {
		msg.EnqueuedTime = time.Now().UTC().Truncate(time.Millisecond)
	}
	if msg.TimeToLive == 0 {
		msg.TimeToLive = 14 * 24 * time.Hour
	}
	env, err := serviceBusEnvelope(f, msg, h.sb, invocation{now: time.Now(), randGUID: wire.UUID()})
	if err != nil {
		return nil, err
	}
	res := &Result{}
	if err := h.invoke(ctx, function, env, res); err != nil {
		return nil, err
	}
	return res, nil
}

// invoke POSTs the envelope as the host does and decodes the answer.
func (h *Host) invoke(ctx context.Context, function string, env []byte, res *Result) error {
	res.InvocationID = wire.UUID()
	res.Request = env
	tctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(tctx, http.MethodPost, h.URL()+"/"+function, bytes.NewReader(env))
	if err != nil {
		return err
	}
	req.ContentLength = -1 // chunked, as .NET's HttpClient sends a stream
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("X-Azure-Functions-InvocationId", res.InvocationID)
	req.Header.Set("X-Azure-Functions-HostVersion", h.opts.HostVersion)
	req.Header.Set("User-Agent", "Azure-Functions-Host/"+h.opts.HostVersion)
	resp, err := h.client.Do(req)
	if err != nil {
		if ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) {
			res.Failed, res.Reason = true, fmt.Sprintf("function timeout (%v) reached; the real host would also restart the handler", h.timeout)
			return nil
		}
		return fmt.Errorf("invoke %s: %w", function, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("invoke %s: read answer: %w", function, err)
	}
	res.decode(resp.StatusCode, resp.Header.Get("Content-Type"), body)
	return nil
}

// syncBuffer collects output and copies it to tee.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	tee io.Writer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.tee != nil {
		_, _ = b.tee.Write(p)
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
