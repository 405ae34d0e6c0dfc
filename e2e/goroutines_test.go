package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// debugSettings turn on the handler's debug endpoint (GET /debug/goroutines
// on its loopback listener), which the goroutine and memory checks read.
func debugSettings(s settings) settings {
	if s == nil {
		s = settings{}
	}
	s["PUTSECRETS_DEBUG_ENDPOINTS"] = "true"
	return s
}

// processState is what the handler's debug endpoint reports.
type processState struct {
	PID    int    `json:"pid"`
	Count  int    `json:"count"`
	Stacks string `json:"stacks"`
}

// debugClient opens a new connection per request, so that asking does not
// leave an idle connection behind in the handler.
var debugClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}, Timeout: 10 * time.Second}

// state asks the handler for its goroutines.
func (f *fixture) state(t testing.TB) processState {
	t.Helper()
	resp, err := debugClient.Get(f.host.URL() + "/debug/goroutines")
	if err != nil {
		t.Fatalf("debug endpoint: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("debug endpoint answered %d (is PUTSECRETS_DEBUG_ENDPOINTS=true set?)", resp.StatusCode)
	}
	var s processState
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatalf("debug endpoint: %v", err)
	}
	return s
}

// working returns the goroutines that are not an idle keep-alive
// connection, each as its state and its innermost frame of this module or
// net/http. An idle connection is owned and bounded by net/http's pools (the
// Azure SDK's transport keeps up to 10 per host; the host's client keeps its
// own): it is not a goroutine an invocation left behind. A connection whose
// response body was never closed is not idle: its read loop waits in
// "select", not "IO wait", and is counted.
func (s processState) working() []string {
	var out []string
	for _, g := range strings.Split(strings.TrimSpace(s.Stacks), "\n\n") {
		header, _, _ := strings.Cut(g, "\n")
		state := ""
		if i, j := strings.IndexByte(header, '['), strings.IndexByte(header, ']'); i >= 0 && j > i {
			state, _, _ = strings.Cut(header[i+1:j], ",")
		}
		switch {
		case strings.Contains(g, "net/http.(*persistConn).writeLoop("):
			continue // paired with its read loop, which is judged below
		case strings.Contains(g, "net/http.(*persistConn).readLoop(") && state == "IO wait":
			continue // an idle outbound connection
		case strings.Contains(g, "net/http.(*conn).serve(") && state == "IO wait" && !strings.Contains(g, "ServeHTTP("):
			continue // an idle inbound connection from the host, waiting for its next request
		case idleReader(g):
			continue // a Key Vault reader waiting for the next read
		}
		out = append(out, state+" "+frameOf(g))
	}
	sort.Strings(out)
	return out
}

// idleReader reports a goroutine of the Key Vault resolver's reader pool
// waiting for work: its first frame outside the runtime is the reader's
// loop. Like an idle connection, it is owned and bounded by the pool (at
// most 256 readers, each ending after a minute idle), not left behind by an
// invocation; a reader stuck in a read has the read's frames on top and is
// counted.
func idleReader(g string) bool {
	for _, line := range strings.Split(g, "\n")[1:] {
		if strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "runtime.") {
			continue
		}
		return strings.HasPrefix(line, "github.com/putsecrets/putsecrets/internal/vault.(*readers).loop(")
	}
	return false
}

// frameOf names the innermost frame of a goroutine that belongs to this
// module, else its outermost one.
func frameOf(g string) string {
	var last string
	for _, line := range strings.Split(g, "\n")[1:] {
		if strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "created by") {
			continue
		}
		name := line
		if i := strings.LastIndexByte(line, '('); i > 0 {
			name = line[:i] // without the arguments
		}
		if strings.HasPrefix(name, "github.com/putsecrets/") {
			return name
		}
		last = name
	}
	return last
}

// expectGoroutinesBack waits until the handler runs no more working
// goroutines than it did at baseline, failing with the ones left over.
func (f *fixture) expectGoroutinesBack(t testing.TB, baseline []string) processState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		s := f.state(t)
		now := s.working()
		if len(now) <= len(baseline) {
			return s
		}
		select {
		case <-ctx.Done():
			t.Errorf("the handler runs %d goroutines besides idle connections, %d at baseline; left over:\n  %s",
				len(now), len(baseline), strings.Join(leftOver(baseline, now), "\n  "))
			return s
		case <-tick.C:
		}
	}
}

// leftOver lists what now holds beyond baseline.
func leftOver(baseline, now []string) []string {
	have := map[string]int{}
	for _, g := range baseline {
		have[g]++
	}
	var out []string
	for _, g := range now {
		if have[g] > 0 {
			have[g]--
			continue
		}
		out = append(out, g)
	}
	return out
}

// peakRSS returns the process's peak resident set size (VmHWM) in bytes.
func peakRSS(t testing.TB, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read the handler's peak RSS: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}
