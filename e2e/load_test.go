package e2e

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/putsecrets/putsecrets/standin/graph"
	"github.com/putsecrets/putsecrets/standin/host"
)

// The load test's size: small in the default run, `make load` asks for the
// full one (5,000 at 64).
var (
	loadInvocations = flag.Int("load.invocations", 500, "invocations TestLoad makes")
	loadConcurrency = flag.Int("load.concurrency", 64, "invocations TestLoad keeps in flight")
)

// loadRSSLimit bounds the handler's peak resident set size under load.
const loadRSSLimit = 256 << 20

// loadKind is one kind of invocation of the mix, with the answer it must get.
type loadKind struct {
	name string
	// invoke runs one invocation and returns what was unexpected about its
	// answer ("" when nothing) and every output to search for canaries.
	invoke func(ctx context.Context) (unexpected string, outputs []string)
}

// TestLoad runs invocations of both functions at a fixed concurrency against
// one handler process, mixing successes and every kind of failure, and
// checks: no unexpected answer, no canary in any answer or log, the handler's
// goroutines back at their baseline, and its peak RSS bounded. It logs the
// figures docs/hardening.md quotes (make load).
func TestLoad(t *testing.T) {
	t.Parallel()
	const (
		throttledSP = "7b7b7b7b-1c1c-4d4d-8e8e-9f9f9f9f9f9f"
		unknownSP   = "0f0e0d0c-0b0a-4908-8706-050403020100"
	)
	n, concurrency := *loadInvocations, *loadConcurrency
	f := start(t, debugSettings(settings{
		"PUTSECRETS_REQUIRED_ROLE":          invokeRole,
		"PUTSECRETS_GRAPH_CONSISTENCY_WAIT": "0s",
	}))
	token := f.kvSecret("scim-token", "SecretToken")
	password := f.kvSecret("svc-password", "Password")
	base := f.literal("BaseAddress")
	f.env.KeyVault.AddVault(f.vaultHost(vault))
	f.env.Graph.AddServicePrincipal(throttledSP)
	f.env.Graph.Script(throttledSP, times(n, graph.Response{Status: 429, RetryAfter: "120"})...)
	pieces := canaryPieces([]labelled{{"scim-token", f.secretOf("scim-token")}, {"svc-password", f.secretOf("svc-password")}, {"BaseAddress", base}})

	caller := &host.ClientPrincipal{ID: callerOID, Roles: []string{invokeRole}}
	good := func(sp string) map[string]any {
		return doc(sp, literal("BaseAddress", base), uri("SecretToken", token),
			literal("Password", "@Microsoft.KeyVault(SecretUri="+password+")"))
	}
	httpKind := func(name string, status int, d func() map[string]any, principal *host.ClientPrincipal) loadKind {
		body := encode(t, d())
		return loadKind{name: name, invoke: func(ctx context.Context) (string, []string) {
			res, err := f.host.InvokeHTTP(ctx, "PutSecrets", host.HTTPRequest{
				Headers: map[string]string{"Content-Type": "application/json"}, Body: body, Principal: principal})
			if err != nil {
				return err.Error(), nil
			}
			outs := []string{string(res.Raw), string(res.CallerBody), fmt.Sprint(res.CallerHeaders)}
			if res.Failed || res.CallerStatus != status {
				return fmt.Sprintf("caller got %d (failed invocation: %v), want %d", res.CallerStatus, res.Failed, status), outs
			}
			return "", outs
		}}
	}
	sbKind := func(name string, wantFailed bool, d func() map[string]any) loadKind {
		body := encode(t, d())
		return loadKind{name: name, invoke: func(ctx context.Context) (string, []string) {
			res, err := f.host.InvokeServiceBus(ctx, "PutSecretsFromQueue", host.Message{Body: body, MessageID: name})
			if err != nil {
				return err.Error(), nil
			}
			outs := []string{string(res.Raw)}
			if res.Failed != wantFailed {
				return fmt.Sprintf("invocation failed = %v (%s), want %v", res.Failed, res.Reason, wantFailed), outs
			}
			return "", outs
		}}
	}
	kinds := []loadKind{
		httpKind("http 200 saved", 200, func() map[string]any { return good(spID) }, caller),
		sbKind("queue saved", false, func() map[string]any { return good(spID) }),
		httpKind("http 200 dry run", 200, func() map[string]any { d := good(spID); d["dryRun"] = true; return d }, caller),
		httpKind("http 400 invalid", 400, func() map[string]any { d := good(spID); d["extra"] = 1; return d }, caller),
		httpKind("http 403 vault not allowed", 403, func() map[string]any {
			return doc(spID, literal("BaseAddress", base), uri("SecretToken", "https://evil-kv.vault.azure.net/secrets/x"))
		}, caller),
		httpKind("http 403 no role", 403, func() map[string]any { return good(spID) }, &host.ClientPrincipal{ID: callerOID}),
		httpKind("http 422 missing secret", 422, func() map[string]any {
			return doc(spID, literal("BaseAddress", base), uri("SecretToken", "https://"+f.vaultHost(vault)+"/secrets/missing"))
		}, caller),
		httpKind("http 404 unknown service principal", 404, func() map[string]any { return good(unknownSP) }, caller),
		httpKind("http 503 Graph throttled", 503, func() map[string]any { return good(throttledSP) }, caller),
		sbKind("queue invalid", true, func() map[string]any { d := good(spID); d["extra"] = 1; return d }),
	}

	before := f.state(t)
	baseline := before.working()

	var (
		mu         sync.Mutex
		latencies  = make([]time.Duration, 0, n)
		unexpected = map[string]int{}
		examples   = map[string]string{}
		leaks      atomic.Int32
	)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	work := make(chan int)
	var wg sync.WaitGroup
	began := time.Now()
	for range concurrency {
		wg.Go(func() {
			for i := range work {
				k := kinds[i%len(kinds)]
				t0 := time.Now()
				bad, outs := k.invoke(ctx)
				d := time.Since(t0)
				for _, o := range outs {
					if len(piecesIn(o, pieces)) > 0 {
						leaks.Add(1)
					}
				}
				mu.Lock()
				latencies = append(latencies, d)
				if bad != "" {
					unexpected[k.name]++
					examples[k.name] = bad
				}
				mu.Unlock()
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	wall := time.Since(began)

	after := f.expectGoroutinesBack(t, baseline)
	rss := peakRSS(t, after.PID)

	errs := 0
	for k, c := range unexpected {
		errs += c
		t.Errorf("%d unexpected answers to %q, e.g. %s", c, k, examples[k])
	}
	if l := leaks.Load(); l > 0 {
		t.Errorf("%d answers held a canary or a piece of one", l)
	}
	if rss > loadRSSLimit {
		t.Errorf("peak RSS %d MiB, want at most %d MiB", rss>>20, loadRSSLimit>>20)
	}
	if got := len(f.putCalls()); got < n/len(kinds) {
		t.Errorf("Graph saw %d PUTs, fewer than the saving invocations", got)
	}
	slices.Sort(latencies)
	pct := func(p float64) time.Duration {
		return latencies[int(p*float64(len(latencies)-1))].Round(100 * time.Microsecond)
	}
	t.Logf("load: %d invocations (%d kinds, both functions) at concurrency %d in %v (%.0f/s); "+
		"unexpected answers %d; latency p50 %v, p99 %v, max %v; goroutines %d before, %d after "+
		"(working %d before, %d after; the rest idle keep-alive connections); peak RSS %d MiB",
		n, len(kinds), concurrency, wall.Round(time.Millisecond), float64(n)/wall.Seconds(),
		errs, pct(0.50), pct(0.99), latencies[len(latencies)-1].Round(100*time.Microsecond),
		before.Count, after.Count, len(baseline), len(after.working()), rss>>20)
}
