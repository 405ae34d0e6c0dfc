// Command bench measures the putsecrets handler against its physical floor
// and writes BENCHMARKS.md (issue 7). `make bench` builds the handler and
// the bare server (bench/bare) with the flags of `make build` and runs it:
//
//	go run ./bench -handler bin/bench/handler -bare bin/bench/bare -app . -size handler -out BENCHMARKS.md
//
// Everything runs on this machine, with no Azure account: the stand-ins of
// standin/azure (managed identity endpoint, Key Vault and Graph over TLS
// behind the CONNECT proxy) and the Functions host emulator of standin/host,
// which starts the real handler binary and sends it the host's envelopes.
// The bare server is driven in the same run in exactly the same way: it is
// the floor the handler's CPU time and cold start are compared with.
//
// The machine is shared and noisy: each figure is measured several times and
// reported as minimum and median. Nothing here is a pass/fail test; the
// targets are checked and reported, never asserted in `make test`.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The fixed names of the benchmark's fake Azure.
const (
	vaultName = "contoso-kv"
	vaultHost = vaultName + ".vault.azure.net"
	// delay is how long each delayed stand-in takes to answer.
	delay = 20 * time.Millisecond
)

// refKeys are the keys the documents reference Key Vault secrets for, in
// order: a document with n references uses the first n.
var refKeys = []string{
	"SecretToken", "Password", "ClientSecret", "AppKey", "ConsumerSecret", "TokenKey",
	"Oauth2ClientSecret", "Oauth2AccessToken", "Oauth2RefreshToken", "Oauth2AuthorizationCode",
}

// refCounts are the numbers of Key Vault references measured.
var refCounts = []int{1, 3, 10}

// plan is how much each part of the benchmark measures.
type plan struct {
	// Repeat is how many times each CPU/throughput figure is measured.
	Repeat int
	// Concurrency is the number of invocations in flight in the CPU,
	// throughput and memory runs: the host's maxConcurrentCalls (host.json).
	Concurrency int
	// CPUInvocations is the number of invocations in one CPU run; Warm
	// runs first, unmeasured, per configuration.
	CPUInvocations, Warm int
	// LatencyRepeat is how many times each latency figure is measured, with
	// Latency1 invocations at concurrency 1 and Latency16 at 16 per run.
	LatencyRepeat, Latency1, Latency16 int
	// FloorSamples is the number of KV+Graph round trips timed for the
	// latency floor.
	FloorSamples int
	// ColdStarts is how many times each binary is started.
	ColdStarts int
	// MemoryRepeat is how many fresh processes run MemoryInvocations each
	// before their resident memory is read.
	MemoryRepeat, MemoryInvocations int
	// ProfileInvocations is how many invocations the profiled handler
	// serves after Warm.
	ProfileInvocations int
}

var (
	fullPlan = plan{
		Repeat: 5, Concurrency: 16, CPUInvocations: 2000, Warm: 300,
		LatencyRepeat: 3, Latency1: 100, Latency16: 800, FloorSamples: 50,
		ColdStarts: 20, MemoryRepeat: 3, MemoryInvocations: 10000, ProfileInvocations: 5000,
	}
	quickPlan = plan{
		Repeat: 2, Concurrency: 16, CPUInvocations: 300, Warm: 100,
		LatencyRepeat: 1, Latency1: 20, Latency16: 160, FloorSamples: 10,
		ColdStarts: 3, MemoryRepeat: 1, MemoryInvocations: 1000, ProfileInvocations: 500,
	}
)

// options are the command line.
type options struct {
	handler, bare, app, size, goTest, out string
	changes                               string
	quick, lockstep                       bool
	only                                  string
	repeat, invocations                   int
	profile, compare                      string
	goPeer, nodePeer                      string
	env, compareEnv                       []string
}

func main() {
	var o options
	flag.StringVar(&o.handler, "handler", "bin/bench/handler", "the handler binary to measure")
	flag.StringVar(&o.bare, "bare", "bin/bench/bare", "the bare server binary (go build ./bench/bare)")
	flag.StringVar(&o.app, "app", ".", "the function app root (host.json and the function folders)")
	flag.StringVar(&o.size, "size", "handler", "the `make build` output whose size is reported")
	flag.StringVar(&o.goTest, "gotest", "", "a file of `go test -bench` output to include")
	flag.StringVar(&o.changes, "changes", "bench/CHANGES.md", "a hand-written Markdown section to include, kept as is; none when the file is missing")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "the report to write")
	flag.BoolVar(&o.quick, "quick", false, "measure a little of everything (to try the harness, not to report)")
	flag.BoolVar(&o.lockstep, "lockstep", false, "start the latency runs' workers together instead of spread over one floor")
	flag.StringVar(&o.only, "only", "", "comma-separated parts to run: cold,cpu,memory,latency,profile (default all)")
	flag.StringVar(&o.profile, "profile", "", "the root package's test binary (go test -c): run it as the handler and profile it")
	flag.StringVar(&o.goPeer, "gopeer", "", "the Go peer binary (go build ./bench/peers/gopeer) to measure beside the handler")
	flag.StringVar(&o.nodePeer, "nodepeer", "", "the Node.js peer's folder (bench/peers/node, npm ci done) to measure beside the handler")
	flag.StringVar(&o.compare, "compare", "", "another handler binary to measure beside -handler in the CPU part (before/after)")
	flag.Func("env", "an extra `NAME=value` for every process measured (repeatable; for experiments such as GOGC)", func(s string) error {
		if !strings.Contains(s, "=") {
			return fmt.Errorf("%q is not NAME=value", s)
		}
		o.env = append(o.env, s)
		return nil
	})
	flag.Func("refs", "comma-separated numbers of references to measure (default 1,3,10)", func(s string) error {
		refCounts = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 || n > len(refKeys) {
				return fmt.Errorf("%q is not a number of references from 1 to %d", f, len(refKeys))
			}
			refCounts = append(refCounts, n)
		}
		return nil
	})
	flag.Func("compare-env", "an extra `NAME=value` for the -compare binary only (repeatable; -compare defaults to -handler)", func(s string) error {
		if !strings.Contains(s, "=") {
			return fmt.Errorf("%q is not NAME=value", s)
		}
		o.compareEnv = append(o.compareEnv, s)
		return nil
	})
	flag.IntVar(&o.repeat, "repeat", 0, "override the plan's number of CPU runs per configuration")
	flag.IntVar(&o.invocations, "invocations", 0, "override the plan's invocations per CPU run")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func run(o options) error {
	p := fullPlan
	if o.quick {
		p = quickPlan
	}
	if len(o.compareEnv) > 0 && o.compare == "" {
		o.compare = o.handler
	}
	if o.repeat > 0 {
		p.Repeat = o.repeat
	}
	if o.invocations > 0 {
		p.CPUInvocations = o.invocations
	}
	for _, f := range []*string{&o.handler, &o.bare, &o.app, &o.compare, &o.goPeer, &o.nodePeer} {
		if *f == "" {
			continue
		}
		abs, err := filepath.Abs(*f)
		if err != nil {
			return err
		}
		*f = abs
	}
	for _, f := range []string{o.handler, o.bare} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%w (make bench builds it)", err)
		}
	}
	parts := map[string]bool{"cold": true, "cpu": true, "memory": true, "latency": true, "profile": true}
	if o.only != "" {
		parts = map[string]bool{}
		for _, s := range strings.Split(o.only, ",") {
			parts[strings.TrimSpace(s)] = true
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	extraEnv = o.env
	r := newReport(o, p)
	r.Lockstep = o.lockstep
	logf("machine: %s, %d cores, %s, %s; load %s", r.CPU, r.Cores, r.GoVersion, r.Kernel, r.Load)

	steps := []struct {
		part string
		fn   func(context.Context, options, plan, *report) error
	}{
		{"cold", measureColdStart},
		{"cpu", measureCPU},
		{"memory", measureMemory},
		{"latency", measureLatency},
		{"profile", measureProfile},
	}
	for _, s := range steps {
		if !parts[s.part] {
			continue
		}
		if err := s.fn(ctx, o, p, r); err != nil {
			return fmt.Errorf("%s: %w", s.part, err)
		}
	}
	r.Finished, r.LoadEnd = time.Now(), loadAverage()
	if err := r.readExtras(o); err != nil {
		return err
	}
	if err := os.WriteFile(o.out, []byte(r.markdown()), 0o644); err != nil {
		return err
	}
	logf("wrote %s", o.out)
	return nil
}

// logf reports progress on stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// document is a request document whose n secrets are all Key Vault
// references to distinct secrets of the benchmark's vault.
func document(spID string, n int) []byte {
	if n > len(refKeys) {
		panic("bench: too many references")
	}
	var b strings.Builder
	fmt.Fprintf(&b, `{"servicePrincipalId":%q,"secrets":[`, spID)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"key":%q,"secretUri":"https://%s/secrets/bench-%d"}`, refKeys[i], vaultHost, i)
	}
	b.WriteString("]}")
	return []byte(b.String())
}

// randomValue is a credential-like value, new each run. Values are never
// printed: the report holds timings and counts only.
func randomValue() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newGUID returns a random version 4 UUID.
func newGUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
