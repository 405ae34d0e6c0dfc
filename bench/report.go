package main

import (
	"debug/buildinfo"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// report is everything BENCHMARKS.md says.
type report struct {
	Plan                   plan
	Command                string
	Started, Finished      time.Time
	CPU, GoVersion, Kernel string
	Cores                  int
	Load, LoadEnd          string

	CPURows                   []*cpuResult
	Reuse                     *reuse
	ColdHandler, ColdBare     *coldResult
	MemHandler, MemBare       *memoryResult
	Floor                     *floorResult
	Latency                   []*latencyResult
	Profile                   *profileResult
	Peers                     []proc
	ColdPeers                 map[string]*coldResult
	MemPeers                  map[string]*memoryResult
	PeerReuse                 map[string]reuse
	Lockstep                  bool
	BinarySize                int64
	BinaryPath, GoTestBenches string
	Changes                   string // hand-written Markdown (-changes), kept as is
}

func newReport(o options, p plan) *report {
	r := &report{Plan: p, Started: time.Now(), Cores: runtime.NumCPU(), Load: loadAverage()}
	r.CPU, r.Kernel = machine()
	r.GoVersion = runtime.Version()
	if bi, err := buildinfo.ReadFile(o.handler); err == nil {
		r.GoVersion = bi.GoVersion
	}
	r.Command = "make bench (go run ./bench " + strings.Join(os.Args[1:], " ") + ")"
	return r
}

// readExtras reads the binary size and the go test -bench output.
func (r *report) readExtras(o options) error {
	if o.size != "" {
		fi, err := os.Stat(o.size)
		if err != nil {
			return fmt.Errorf("binary size: %w (make build writes it)", err)
		}
		r.BinarySize, r.BinaryPath = fi.Size(), o.size
	}
	if o.goTest != "" {
		b, err := os.ReadFile(o.goTest)
		if err != nil {
			return err
		}
		r.GoTestBenches = strings.TrimSpace(string(b))
	}
	if o.changes != "" {
		b, err := os.ReadFile(o.changes)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		r.Changes = strings.TrimSpace(string(b))
	}
	return nil
}

// Targets of issues 7 and 13.
const (
	targetPeerRatio   = 0.9                    // handler CPU per invocation / the Go peer's (3 and 10 references)
	targetAllocKB     = 35.0                   // KB allocated per invocation with 3 references
	targetCPU         = 250 * time.Microsecond // CPU per invocation with 3 references
	targetCPURatio    = 10.0                   // … and at most this times the bare server's
	targetP50Ratio    = 1.05                   // latency at concurrency 16 / floor
	targetP99Ratio    = 1.25
	targetColdRatio   = 1.3 // cold start to first GET / answer / bare server's
	targetRSS         = 25e6
	targetBinary      = 15e6
	nominalFloor      = 2 * delay
	memoryInvocations = 10000
)

func (r *report) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Benchmarks")
	w("")
	w("Written by `make bench` (`bench/`, issue 7): the real handler binary, built as `make build` builds it")
	w("(CGO off, `-trimpath -ldflags='-s -w'`, native), behind the Functions host emulator (`standin/host`), against")
	w("the local stand-ins (`standin/azure`: managed identity endpoint, Key Vault and Graph over TLS through the")
	w("CONNECT proxy, exactly the HTTPS_PROXY/SSL_CERT_FILE path the handler takes in tests). The floor is")
	w("`bench/bare`, a net/http server answering 204, built the same way and driven the same way in the same run.")
	w("No Azure account is involved. The machine is shared and noisy: every figure is measured several times and")
	w("given as **min / median**; the targets are checked against the median.")
	w("")
	w("- Machine: %s, %d cores; %s; Go %s", r.CPU, r.Cores, r.Kernel, strings.TrimPrefix(r.GoVersion, "go"))
	w("- Load (1-minute average, /proc/loadavg) at start %s, at end %s: other work shares these %d cores", r.Load, r.LoadEnd, r.Cores)
	w("- Command: `%s`", r.Command)
	w("- Run: %s, %s", r.Started.UTC().Format("2006-01-02 15:04 UTC"), r.Finished.Sub(r.Started).Round(time.Second))
	w("")
	r.targets(w)
	r.cpuSection(w)
	r.peersSection(w)
	r.latencySection(w)
	r.coldSection(w)
	r.memorySection(w)
	r.reuseSection(w)
	r.profileSection(w)
	if r.Changes != "" {
		w("%s", r.Changes)
		w("")
	}
	if r.GoTestBenches != "" {
		w("## Go benchmarks of the hot path")
		w("")
		w("`go test -run '^$' -bench . -benchmem` over the handler's packages (envelope decode, request")
		w("validation, Graph body encoding, the server's per-invocation work with a stub service). ns/op is wall time")
		w("and moves with the machine's load; B/op and allocs/op do not:")
		w("")
		w("```")
		w("%s", r.GoTestBenches)
		w("```")
		w("")
	}
	return b.String()
}

func noteIf(cond bool, note string) string {
	if cond {
		return note
	}
	return ""
}

func check(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// row finds the CPU row for an envelope and a number of references.
func (r *report) cpuRow(envelope string, refs int) *cpuResult {
	for _, row := range r.CPURows {
		if row.Envelope == envelope && row.Refs == refs {
			return row
		}
	}
	return nil
}

func cpuSummary(ss []sample) summary {
	xs := make([]float64, len(ss))
	for i, s := range ss {
		xs[i] = us(s.CPUPerInvocation())
	}
	return summarize(xs)
}

func harnessSummary(ss []sample) summary {
	xs := make([]float64, len(ss))
	for i, s := range ss {
		xs[i] = us(s.HarnessPerInvocation())
	}
	return summarize(xs)
}

func busySummary(ss []sample, cores int) summary {
	xs := make([]float64, len(ss))
	for i, s := range ss {
		xs[i] = 100 * s.Busy(cores)
	}
	return summarize(xs)
}

func rateSummary(ss []sample) summary {
	xs := make([]float64, len(ss))
	for i, s := range ss {
		xs[i] = s.Rate()
	}
	return summarize(xs)
}

// ratioSummary is the per-repeat ratio of the handler's CPU per invocation
// to the bare server's (runs of one repeat are neighbours in time).
func ratioSummary(h, bare []sample) summary {
	var xs []float64
	for i := range min(len(h), len(bare)) {
		xs = append(xs, float64(h[i].CPUPerInvocation())/float64(bare[i].CPUPerInvocation()))
	}
	return summarize(xs)
}

func latencySummary(ss []sample, p float64) summary {
	xs := make([]float64, len(ss))
	for i, s := range ss {
		xs[i] = ms(percentile(s.Latency, p))
	}
	return summarize(xs)
}

// floor is the latency floor the ratios use: the fastest measured Key Vault
// plus Graph round trip, and never less than the stand-ins' delays. The
// minimum, not the median: on a shared machine a stall during the floor's
// few seconds moved its median from 41 to 64 ms, which would flatter every
// ratio; the fastest pair is what the round trips cost when nothing else
// runs, and no invocation can beat it.
func (r *report) floor() float64 {
	if r.Floor == nil || len(r.Floor.Sum) == 0 {
		return ms(nominalFloor)
	}
	return max(ms(slices.Min(r.Floor.Sum)), ms(nominalFloor))
}

// stallNote says, for a missed latency target, how long the machine stalled
// the benchmark in those runs, when that is long enough to matter.
func stallNote(row *latencyResult) string {
	st := durSummary(row.Stalls)
	if st.Median < 5 {
		return ""
	}
	return fmt.Sprintf(" (timer stalls in these runs: %.0f / %.0f ms)", st.Min, st.Median)
}

func durSummary(ds []time.Duration) summary {
	xs := make([]float64, len(ds))
	for i, d := range ds {
		xs[i] = ms(d)
	}
	return summarize(xs)
}

func bytesSummary(ns []int64) summary {
	xs := make([]float64, len(ns))
	for i, n := range ns {
		xs[i] = mb(n)
	}
	return summarize(xs)
}

func (r *report) targets(w func(string, ...any)) {
	w("## Targets")
	w("")
	w("| target | limit | measured (median) | result |")
	w("|---|---|---|---|")
	for _, e := range envelopes {
		row := r.cpuRow(e.Name, 3)
		if row == nil {
			continue
		}
		c, ratio := cpuSummary(row.Handler), ratioSummary(row.Handler, row.Bare)
		w("| CPU per invocation, 3 references, %s | ≤ %.0f µs | %.0f µs | %s |", e.Name, us(targetCPU), c.Median, check(c.Median <= us(targetCPU)))
		w("| … as a multiple of the bare server's | ≤ %.0f × | %.1f × | %s |", targetCPURatio, ratio.Median, check(ratio.Median <= targetCPURatio))
		if a, ok := allocSummary(row.Handler); ok {
			w("| KB allocated per invocation, 3 references, %s | ≤ %.0f KB | %.1f KB | %s |", e.Name, targetAllocKB, a.Median, check(a.Median <= targetAllocKB))
		}
	}
	for _, row := range r.CPURows {
		if row.Refs == 1 || row.Peers[nameGoPeer] == nil {
			continue
		}
		h, g := cpuSummary(row.Handler).Median, cpuSummary(*row.Peers[nameGoPeer]).Median
		w("| CPU per invocation, %d references, %s / the Go peer's | ≤ %.1f × | %.2f × (%.0f vs %.0f µs) | %s |", row.Refs, row.Envelope,
			targetPeerRatio, h/g, h, g, check(h/g <= targetPeerRatio))
	}
	floor := r.floor()
	for _, row := range r.Latency {
		if row.Concurrency == 1 {
			continue
		}
		p50, p99 := latencySummary(row.Samples, 50), latencySummary(row.Samples, 99)
		ok50, ok99 := p50.Median/floor <= targetP50Ratio, p99.Median/floor <= targetP99Ratio
		w("| latency p50, %d refs, concurrency %d / floor | ≤ %.2f × | %.3f × (%.1f ms) | %s |", row.Refs, row.Concurrency,
			targetP50Ratio, p50.Median/floor, p50.Median, check(ok50)+noteIf(!ok50, stallNote(row)))
		w("| latency p99, %d refs, concurrency %d / floor | ≤ %.2f × | %.3f × (%.1f ms) | %s |", row.Refs, row.Concurrency,
			targetP99Ratio, p99.Median/floor, p99.Median, check(ok99)+noteIf(!ok99, stallNote(row)))
	}
	if r.ColdHandler != nil {
		h, b := durSummary(r.ColdHandler.Ready), durSummary(r.ColdBare.Ready)
		w("| cold start to first GET / answer / bare server's | ≤ %.1f × | %.2f × (%.1f ms vs %.1f ms) | %s |",
			targetColdRatio, h.Median/b.Median, h.Median, b.Median, check(h.Median/b.Median <= targetColdRatio))
	}
	if r.MemHandler != nil {
		m := bytesSummary(r.MemHandler.RSS)
		w("| resident memory (VmRSS) after %d invocations | ≤ %.0f MB | %.1f MB | %s |", r.MemHandler.Invocations, targetRSS/1e6, m.Median,
			check(m.Median*1e6 <= targetRSS && r.MemHandler.Invocations >= memoryInvocations))
	}
	if r.BinarySize > 0 {
		w("| stripped binary (`make build`: %s) | ≤ %.0f MB | %.2f MB (%d bytes) | %s |", r.BinaryPath, targetBinary/1e6, mb(r.BinarySize), r.BinarySize,
			check(float64(r.BinarySize) <= targetBinary))
	}
	w("")
}

func (r *report) cpuSection(w func(string, ...any)) {
	if len(r.CPURows) == 0 {
		return
	}
	w("## CPU per invocation and throughput (stand-ins answer at once)")
	w("")
	w("Each run: %d invocations, %d in flight (the host's `maxConcurrentCalls`), after %d unmeasured ones per", r.Plan.CPUInvocations, r.Plan.Concurrency, r.Plan.Warm)
	w("configuration; %d runs each, handler and bare server alternating. CPU is the measured process's CPU time", r.Plan.Repeat)
	w("(user + system, all threads: its process CPU clock, the counter behind `/proc/<pid>/stat` utime+stime, read")
	w("at ns resolution) over the run, divided by the invocations. Invocations per second are of the whole loop:")
	w("the driver, the host emulator and the stand-ins share the machine with the process measured, so they are a")
	w("floor for the handler, not its ceiling. The bare server answers 204 and does nothing else.")
	w("")
	w("| envelope | Key Vault refs | handler CPU µs/inv | bare CPU µs/inv | handler / bare | handler inv/s | bare inv/s | harness CPU µs/inv |")
	w("|---|---|---|---|---|---|---|---|")
	for _, row := range r.CPURows {
		h, b, ratio := cpuSummary(row.Handler), cpuSummary(row.Bare), ratioSummary(row.Handler, row.Bare)
		hr, br, hh := rateSummary(row.Handler), rateSummary(row.Bare), harnessSummary(row.Handler)
		w("| %s | %d | %.0f / %.0f | %.1f / %.1f | %.1f / %.1f × | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f |", row.Envelope, row.Refs,
			h.Min, h.Median, b.Min, b.Median, ratio.Min, ratio.Median, hr.Min, hr.Median, br.Min, br.Median, hh.Min, hh.Median)
	}
	w("")
	w("(inv/s: min / median across runs, like every other column. Harness CPU: what the benchmark process itself —")
	w("driver, host emulator, stand-ins, proxy, the server side of every TLS connection — spent per handler invocation.)")
	w("")
	compared := false
	for _, row := range r.CPURows {
		if len(row.Compare) == 0 {
			continue
		}
		c := cpuSummary(row.Compare)
		w("- -compare, %s %d refs: %.0f / %.0f µs/inv; handler median / compare median %.3f", row.Envelope, row.Refs,
			c.Min, c.Median, cpuSummary(row.Handler).Median/c.Median)
		compared = true
	}
	if compared {
		w("")
	}
}

func (r *report) latencySection(w func(string, ...any)) {
	if len(r.Latency) == 0 {
		return
	}
	floor := r.floor()
	w("## Latency with delayed stand-ins (Key Vault, Graph and managed identity answer after %v)", delay)
	w("")
	w("The floor is one Key Vault read plus one Graph PUT, one after the other, from a Go client in the benchmark")
	w("process over warm connections through the same proxy and TLS: %s (min / median of %d; each of the",
		fmtSummary(durSummary(r.Floor.Sum), "ms"), len(r.Floor.Sum))
	w("two answers takes %v, so %v is the physical floor). Ratios are to the fastest pair, %.2f ms: a stall during", delay, nominalFloor, floor)
	w("the floor's few seconds would move its median and flatter every ratio. Latency is an")
	w("invocation as the host emulator sees it, from building its envelope to decoding the answer, HTTP envelope.")
	w("Each run: %d invocations at concurrency 1, %d at %d, after 10 unmeasured rounds at the run's concurrency;",
		r.Plan.Latency1, r.Plan.Latency16, r.Plan.Concurrency)
	if r.Lockstep {
		w("the %d workers start together and so stay in lockstep (-lockstep);", r.Plan.Concurrency)
	} else {
		w("the %d workers start spread over %v, so that their CPU-bound steps do not all fall in the same", r.Plan.Concurrency, nominalFloor)
		w("millisecond of every cycle, as they would if they started together (-lockstep measures that);")
	}
	w("%d runs each. During the measured runs: new connections (CONNECTs the proxy saw), and requests to Key", r.Plan.LatencyRepeat)
	w("Vault and Graph beyond one per reference and one PUT per invocation (retries); max is the slowest invocation;")
	w("stall is the largest lateness of a 1 ms timer in the benchmark process during the run: the time the machine")
	w("ran nothing of the benchmark's, which no handler can beat; busy is the share of the %d cores the handler and", r.Cores)
	w("the benchmark process kept busy (other work on the machine comes on top).")
	w("")
	w("| refs | concurrency | p50 ms | p50 / floor | p99 ms | p99 / floor | max ms | stall ms | busy %% | new connections | retries |")
	w("|---|---|---|---|---|---|---|---|---|---|---|")
	for _, row := range r.Latency {
		p50, p99, top := latencySummary(row.Samples, 50), latencySummary(row.Samples, 99), latencySummary(row.Samples, 100)
		st, busy := durSummary(row.Stalls), busySummary(row.Samples, r.Cores)
		w("| %d | %d | %.2f / %.2f | %.3f / %.3f × | %.2f / %.2f | %.3f / %.3f × | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f | %d | %d |", row.Refs, row.Concurrency,
			p50.Min, p50.Median, p50.Min/floor, p50.Median/floor, p99.Min, p99.Median, p99.Min/floor, p99.Median/floor,
			top.Min, top.Median, st.Min, st.Median, busy.Min, busy.Median, row.Connects, row.Extra)
	}
	w("")
}

func fmtSummary(s summary, unit string) string {
	return fmt.Sprintf("%.2f / %.2f %s", s.Min, s.Median, unit)
}

func (r *report) coldSection(w func(string, ...any)) {
	if r.ColdHandler == nil {
		return
	}
	w("## Cold start")
	w("")
	w("Process start (just before fork/exec, environment as the host emulator sets it) to the first answer to")
	w("`GET /` (tried every 100 µs), and to the answer to the first invocation (an HTTP envelope with 3 references;")
	w("for the handler a successful one: managed identity token, Key Vault challenge and read, Graph PUT, new TLS")
	w("connections through the proxy; stand-ins answering at once). %d starts each, alternating; warm page cache.", r.Plan.ColdStarts)
	w("")
	w("| | first GET / ms | first invocation ms |")
	w("|---|---|---|")
	hr, hf := durSummary(r.ColdHandler.Ready), durSummary(r.ColdHandler.First)
	br, bf := durSummary(r.ColdBare.Ready), durSummary(r.ColdBare.First)
	w("| handler | %s | %s |", fmtSummary(hr, ""), fmtSummary(hf, ""))
	w("| bare server | %s | %s |", fmtSummary(br, ""), fmtSummary(bf, ""))
	w("| handler / bare (medians) | %.2f × | %.2f × |", hr.Median/br.Median, hf.Median/bf.Median)
	w("")
}

func (r *report) memorySection(w func(string, ...any)) {
	if r.MemHandler == nil && r.BinarySize == 0 {
		return
	}
	w("## Memory and size")
	w("")
	if r.MemHandler != nil {
		w("Fresh process, %d HTTP invocations with 3 references at concurrency %d (stand-ins answering at once),",
			r.MemHandler.Invocations, r.Plan.Concurrency)
		w("then `/proc/<pid>/status`; %d processes each.", len(r.MemHandler.RSS))
		w("")
		w("| | VmRSS MB | VmHWM (peak) MB |")
		w("|---|---|---|")
		w("| handler | %s | %s |", fmtSummary(bytesSummary(r.MemHandler.RSS), ""), fmtSummary(bytesSummary(r.MemHandler.Peak), ""))
		w("| bare server | %s | %s |", fmtSummary(bytesSummary(r.MemBare.RSS), ""), fmtSummary(bytesSummary(r.MemBare.Peak), ""))
		w("")
	}
	if r.BinarySize > 0 {
		w("Stripped binary (`make build`, linux/amd64, CGO off, `-trimpath -ldflags='-s -w'`): %s, %d bytes (%.2f MB).",
			r.BinaryPath, r.BinarySize, mb(r.BinarySize))
		w("")
	}
}

func (r *report) reuseSection(w func(string, ...any)) {
	u := r.Reuse
	if u == nil {
		return
	}
	w("## What the stand-ins saw (reuse checks)")
	w("")
	w("Over the handler process of the CPU runs (warm-up included unless said):")
	w("")
	var res []string
	for k := range u.Tokens {
		res = append(res, k)
	}
	sort.Strings(res)
	for _, k := range res {
		w("- token requests to the managed identity endpoint for %s: %d", k, u.Tokens[k])
	}
	w("- Key Vault requests without a token (azsecrets's challenge round trip): %d of %d", u.Challenges, u.KeyVaultRequests)
	w("- new connections to Key Vault and Graph (proxy CONNECTs): %d in all, %d during the %d measured invocations (%.2f per 1,000)",
		u.ConnectsTotal, u.Connects, u.Invocations, 1000*float64(u.Connects)/float64(max(u.Invocations, 1)))
	w("")
}

func (r *report) profileSection(w func(string, ...any)) {
	pr := r.Profile
	if pr == nil {
		return
	}
	w("## Where the handler's CPU time goes")
	w("")
	w("The root package's test binary run as the handler (`profile_test.go`: same `run`, plus a CPU profile of")
	w("the process's life), %d HTTP invocations with 3 references at concurrency %d, stand-ins answering at once.", pr.Invocations, r.Plan.Concurrency)
	w("`go tool pprof -top -nodecount=25` (flat, then `-cum`); the profile is kept in `%s`.", relative(pr.Profile))
	w("")
	w("```")
	w("%s", pr.Flat)
	w("```")
	w("")
	w("```")
	w("%s", pr.Cum)
	w("```")
	w("")
}

// relative shows path relative to the working directory when it is below it.
func relative(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

// peersSection sets the handler beside the peers (bench/peers/) and the bare
// server: CPU and allocations per invocation, memory, cold start, size.
func (r *report) peersSection(w func(string, ...any)) {
	if len(r.Peers) == 0 {
		return
	}
	names := []string{nameHandler}
	for _, p := range r.Peers {
		names = append(names, p.Name)
	}
	names = append(names, nameBare)
	samples := func(row *cpuResult, name string) []sample {
		switch name {
		case nameHandler:
			return row.Handler
		case nameBare:
			return row.Bare
		}
		if row.Peers[name] == nil {
			return nil
		}
		return *row.Peers[name]
	}
	w("## Beside the obvious implementations (peers)")
	w("")
	w("The same job written as a user would write it quickly, plainly and honestly (`bench/peers/`), run in the")
	w("same `make bench` behind the same host emulator and stand-ins (each program with stand-ins of its own):")
	w("")
	for _, p := range r.Peers {
		w("- **%s** (`%s`): skips %s.", p.Name, relative(p.Cmd[len(p.Cmd)-1]), p.Skips)
		if p.Share > 0 && p.Share < 1 {
			w("  It serves %.0f%% of each CPU run's invocations (CPU per invocation is a rate) and fills one process for", 100*p.Share)
			w("  the memory figure, not %d: at its cost per invocation the full share would take most of an hour.", r.Plan.MemoryRepeat)
		}
	}
	w("")
	head, rule := "|", "|---|"
	for _, n := range names {
		head += " | " + n
		rule += "---|"
	}
	head += " |"
	w("%s", head)
	w("%s", rule)
	for _, row := range r.CPURows {
		line := fmt.Sprintf("| CPU µs/inv, %s, %d refs |", row.Envelope, row.Refs)
		for _, n := range names {
			line += fmt.Sprintf(" %.0f |", cpuSummary(samples(row, n)).Median)
		}
		w("%s", line)
	}
	for _, row := range r.CPURows {
		line := fmt.Sprintf("| KB allocated/inv, %s, %d refs |", row.Envelope, row.Refs)
		for _, n := range names {
			line += " " + allocCell(samples(row, n)) + " |"
		}
		w("%s", line)
	}
	if r.MemHandler != nil {
		line := fmt.Sprintf("| VmRSS MB after %d invocations | %.1f | ", r.MemHandler.Invocations, bytesSummary(r.MemHandler.RSS).Median)
		for _, p := range r.Peers {
			if m := r.MemPeers[p.Name]; m != nil && len(m.RSS) > 0 {
				line += fmt.Sprintf("%.1f | ", bytesSummary(m.RSS).Median)
			} else {
				line += "– | "
			}
		}
		w("%s%.1f |", line, bytesSummary(r.MemBare.RSS).Median)
	}
	if r.ColdHandler != nil {
		for _, which := range []string{"first GET /", "first invocation"} {
			pick := func(c *coldResult) []time.Duration {
				if which == "first GET /" {
					return c.Ready
				}
				return c.First
			}
			line := fmt.Sprintf("| cold start to %s, ms | %.1f | ", which, durSummary(pick(r.ColdHandler)).Median)
			for _, p := range r.Peers {
				if c := r.ColdPeers[p.Name]; c != nil && len(c.Ready) > 0 {
					line += fmt.Sprintf("%.1f | ", durSummary(pick(c)).Median)
				} else {
					line += "– | "
				}
			}
			w("%s%.1f |", line, durSummary(pick(r.ColdBare)).Median)
		}
	}
	if u := r.Reuse; u != nil && u.Invocations > 0 {
		line := fmt.Sprintf("| new TLS connections per 1,000 measured invocations | %.1f | ", 1000*float64(u.Connects)/float64(u.Invocations))
		for _, p := range r.Peers {
			pu := r.PeerReuse[p.Name]
			line += fmt.Sprintf("%.1f | ", 1000*float64(pu.Connects)/float64(max(pu.Invocations, 1)))
		}
		w("%s– |", line)
	}
	line := fmt.Sprintf("| install size MB | %.2f (stripped binary) | ", mb(r.BinarySize))
	for _, p := range r.Peers {
		line += fmt.Sprintf("%.2f (%s) | ", mb(p.Size), p.SizeNote)
	}
	w("%s– |", line)
	w("")
	w("Medians. Allocations are the process's own heap counters (runtime/metrics `/gc/heap/allocs:bytes`, read")
	w("through `/debug/goroutines` before and after each CPU run, divided by its invocations): everything the real")
	w("process allocated, TLS and pools included. The Node.js runtime has no such counter (–). New TLS connections")
	w("are the proxy's CONNECTs during the measured runs: every stand-in host is reached through HTTPS_PROXY, as in an")
	w("enterprise network; the JavaScript SDK's pipeline opens a new proxied connection (and TLS handshake) for every")
	w("request, so its CPU here includes those handshakes, and it would reuse connections without a proxy.")
	w("")
	var goPeer bool
	for _, p := range r.Peers {
		goPeer = goPeer || p.Name == nameGoPeer
	}
	if !goPeer {
		return
	}
	w("Ratios to the Go peer (medians):")
	w("")
	w("| envelope | refs | handler / Go peer CPU | Node.js peer / Go peer CPU | handler / Go peer bytes allocated |")
	w("|---|---|---|---|---|")
	for _, row := range r.CPURows {
		g := cpuSummary(samples(row, nameGoPeer)).Median
		nodeRatio := "–"
		if ns := samples(row, nameNodePeer); len(ns) > 0 {
			nodeRatio = fmt.Sprintf("%.2f ×", cpuSummary(ns).Median/g)
		}
		w("| %s | %d | %.2f × | %s | %s |", row.Envelope, row.Refs, cpuSummary(row.Handler).Median/g, nodeRatio,
			allocRatio(row.Handler, samples(row, nameGoPeer)))
	}
	w("")
}

// allocSummary is the KB allocated per invocation, min and median.
func allocSummary(ss []sample) (summary, bool) {
	var vs []float64
	for _, s := range ss {
		if s.HasAllocs && s.N > 0 {
			vs = append(vs, float64(s.AllocBytes)/float64(s.N)/1e3)
		}
	}
	if len(vs) == 0 {
		return summary{}, false
	}
	return summarize(vs), true
}

func allocCell(ss []sample) string {
	if a, ok := allocSummary(ss); ok {
		return fmt.Sprintf("%.1f", a.Median)
	}
	return "–"
}

func allocRatio(h, g []sample) string {
	a, ok1 := allocSummary(h)
	b, ok2 := allocSummary(g)
	if !ok1 || !ok2 || b.Median == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f ×", a.Median/b.Median)
}
