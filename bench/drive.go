package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/putsecrets/putsecrets/standin/azure"
	"github.com/putsecrets/putsecrets/standin/host"
)

// extraEnv are the -env flags: more settings for every process measured.
var extraEnv []string

// fakeAzure starts the stand-ins with the benchmark's vault (secrets
// bench-0 … bench-9) and returns them with the app settings a handler needs.
func fakeAzure() (*azure.Env, []string, error) {
	env, err := azure.New("")
	if err != nil {
		return nil, nil, err
	}
	for i := range refKeys {
		env.KeyVault.SetSecret(vaultHost, fmt.Sprintf("bench-%d", i), randomValue())
	}
	settings := append(env.HandlerEnv(),
		"PUTSECRETS_ALLOWED_VAULTS="+vaultName,
		"PUTSECRETS_QUEUE=putsecrets-requests",
	)
	return env, append(settings, extraEnv...), nil
}

// startHost starts binary behind the host emulator. Its output is kept by
// the emulator (one log line per invocation), not printed.
func startHost(ctx context.Context, binary, app string, settings []string) (*host.Host, error) {
	return host.Start(ctx, host.Options{Binary: binary, Dir: app, Env: settings, StartTimeout: timeoutStart})
}

// timeoutStart bounds a measured program's start behind the host emulator.
const timeoutStart = time.Minute

// stopHost stops a host's process, reporting what it printed on failure.
func stopHost(h *host.Host) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.Stop(ctx); err != nil {
		logf("stop %d: %v\nstderr:\n%s", h.PID(), err, h.Stderr())
	}
}

// envelope is one kind of invocation.
type envelope struct {
	// Name is how the report names it.
	Name string
	// invoke runs one invocation of doc; with check, anything but a
	// success is an error (the bare server's answers are not checked).
	invoke func(ctx context.Context, h *host.Host, doc []byte, check bool) error
}

var (
	envHTTP = envelope{Name: "HTTP", invoke: func(ctx context.Context, h *host.Host, doc []byte, check bool) error {
		res, err := h.InvokeHTTP(ctx, "PutSecrets", host.HTTPRequest{
			Headers: map[string]string{"Content-Type": "application/json"}, Body: doc,
		})
		if err != nil {
			return err
		}
		if check && res.CallerStatus != 200 {
			return fmt.Errorf("PutSecrets answered the caller %d: %s", res.CallerStatus, problemText(res.CallerBody))
		}
		return nil
	}}
	envServiceBus = envelope{Name: "Service Bus", invoke: func(ctx context.Context, h *host.Host, doc []byte, check bool) error {
		res, err := h.InvokeServiceBus(ctx, "PutSecretsFromQueue", host.Message{Body: doc, MessageID: "bench"})
		if err != nil {
			return err
		}
		if check && res.Failed {
			return fmt.Errorf("PutSecretsFromQueue failed (%s): %v", res.Reason, res.Logs)
		}
		return nil
	}}
	envelopes = []envelope{envHTTP, envServiceBus}
)

// problemText is the type and detail of a problem document (which never
// holds a secret value), for error messages.
func problemText(body []byte) string {
	var p struct{ Type, Detail string }
	if json.Unmarshal(body, &p) != nil {
		return fmt.Sprintf("%d bytes that are not a problem document", len(body))
	}
	return p.Type + ": " + p.Detail
}

// sample is one measured run.
type sample struct {
	N    int
	Wall time.Duration
	// CPU is the CPU time the measured process used during the run.
	CPU time.Duration
	// Harness is the CPU time this process (driver, host emulator,
	// stand-ins) used during the run.
	Harness time.Duration
	// Latency holds each invocation's time, as the host saw it.
	Latency []time.Duration
	// AllocBytes and AllocObjects are what the measured process allocated
	// on the heap during the run, when HasAllocs (a Go program reporting
	// its counters).
	AllocBytes, AllocObjects uint64
	HasAllocs                bool
}

// CPUPerInvocation is CPU/N.
func (s sample) CPUPerInvocation() time.Duration { return s.CPU / time.Duration(s.N) }

// HarnessPerInvocation is Harness/N.
func (s sample) HarnessPerInvocation() time.Duration { return s.Harness / time.Duration(s.N) }

// Busy is the share of the machine's cores that the measured process and
// this one kept busy during the run.
func (s sample) Busy(cores int) float64 {
	return float64(s.CPU+s.Harness) / float64(s.Wall) / float64(cores)
}

// Rate is invocations per second of wall time.
func (s sample) Rate() float64 { return float64(s.N) / s.Wall.Seconds() }

// drive runs n invocations with conc in flight (a closed loop: each worker
// starts its next invocation when the last one answers) and measures the
// CPU time of process pid meanwhile. Worker k starts k × stagger after the
// first, so that workers whose invocations all take about as long do not
// run their CPU-bound steps in lockstep. The first failed invocation stops
// the run and is its error.
func drive(ctx context.Context, pid, conc, n int, stagger time.Duration, invoke func(context.Context) error) (sample, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s := sample{N: n, Latency: make([]time.Duration, n)}
	var next atomic.Int64
	var wg sync.WaitGroup
	cpu0, err := cpuTime(pid)
	if err != nil {
		return s, err
	}
	self0, err := cpuTime(os.Getpid())
	if err != nil {
		return s, err
	}
	start := time.Now()
	for k := range min(conc, n) {
		wg.Go(func() {
			if !sleepCtx(ctx, time.Duration(k)*stagger) {
				return
			}
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				t := time.Now()
				if err := invoke(ctx); err != nil {
					cancel(err)
					return
				}
				s.Latency[i] = time.Since(t)
			}
		})
	}
	wg.Wait()
	s.Wall = time.Since(start)
	cpu1, err := cpuTime(pid)
	if err != nil {
		return s, err
	}
	self1, err := cpuTime(os.Getpid())
	if err != nil {
		return s, err
	}
	s.CPU, s.Harness = cpu1-cpu0, self1-self0
	if err := context.Cause(ctx); err != nil {
		return s, err
	}
	return s, nil
}

// drain reads and closes a response body so the connection is reused.
func drain(r io.ReadCloser) []byte {
	var b bytes.Buffer
	_, _ = io.Copy(&b, r)
	_ = r.Close()
	return b.Bytes()
}

// stallWatch measures how late this process's timers fire while a run goes
// on: a 1 ms sleep that returns 300 ms late means nothing here ran for
// 300 ms, whatever the handler did. On a shared machine it tells stalls of
// the machine from slowness of the handler.
type stallWatch struct {
	stop chan struct{}
	done chan struct{}
	max  time.Duration
}

func watchStalls() *stallWatch {
	w := &stallWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			t := time.Now()
			time.Sleep(time.Millisecond)
			w.max = max(w.max, time.Since(t)-time.Millisecond)
		}
	}()
	return w
}

// Stop ends the watch and returns the largest lateness seen.
func (w *stallWatch) Stop() time.Duration {
	close(w.stop)
	<-w.done
	return w.max
}

// sleepCtx waits d unless ctx ends first; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
