package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/putsecrets/putsecrets/standin/host"
)

// proc is a program make bench measures: the handler, the bare server or a
// peer (bench/peers/): the same job written as a user would write it.
type proc struct {
	// Name is how the report names it.
	Name string
	// Cmd is the executable and its arguments.
	Cmd []string
	// Env are settings this program needs beyond the benchmark's.
	Env []string
	// Check: anything but a success is an error (not for the bare server).
	Check bool
	// Allocs: the program reports its heap allocation counters at
	// /debug/goroutines when PUTSECRETS_DEBUG_ENDPOINTS is true.
	Allocs bool
	// Size is the bytes it takes to install, SizeNote what they are.
	Size     int64
	SizeNote string
	// Skips is what it does not do that the handler does.
	Skips string
	// Share is the part of each CPU run's invocations it serves (0: all),
	// and OneMemoryRun that it fills one process, not MemoryRepeat: the
	// Node.js peer costs tens of times the handler's CPU per invocation, and
	// its full share would make make bench take most of an hour. CPU per
	// invocation is a rate, so fewer invocations measure it as well.
	Share        float64
	OneMemoryRun bool
}

// invocations is p's share of n invocations, at least 50.
func (p proc) invocations(n int) int {
	if p.Share <= 0 || p.Share >= 1 {
		return n
	}
	return max(int(float64(n)*p.Share), min(n, 50))
}

// The procs' names.
const (
	nameHandler  = "handler"
	nameBare     = "bare"
	nameGoPeer   = "Go peer"
	nameNodePeer = "Node.js peer"
)

// peerSkips is what both peers leave out; BENCHMARKS.md says it beside their figures.
const peerSkips = "strict parsing (unknown and repeated fields, sizes, key names, GUIDs, ids), the vault and " +
	"service-principal allow-lists, literal-credential refusal, scrubbing of dependency messages, the Graph " +
	"consistency wait, validateCredentials and the job follow-up, problem documents, outcome messages, " +
	"per-invocation log lines, time limits; a failure is a bare 500/502"

// peers are the -gopeer and -nodepeer programs.
func peers(o options) ([]proc, error) {
	var out []proc
	if o.goPeer != "" {
		fi, err := os.Stat(o.goPeer)
		if err != nil {
			return nil, fmt.Errorf("%w (make bench builds it)", err)
		}
		out = append(out, proc{Name: nameGoPeer, Cmd: []string{o.goPeer}, Check: true, Allocs: true,
			Size: fi.Size(), SizeNote: "stripped binary", Skips: peerSkips})
	}
	if o.nodePeer != "" {
		node, err := exec.LookPath("node")
		if err != nil {
			return nil, fmt.Errorf("the Node.js peer needs node on PATH: %w", err)
		}
		size, err := dirSize(o.nodePeer)
		if err != nil {
			return nil, fmt.Errorf("%w (make bench installs it with npm ci)", err)
		}
		// Node reads extra CA roots from NODE_EXTRA_CA_CERTS, not SSL_CERT_FILE;
		// its pipeline would send loopback (the identity endpoint) to the proxy
		// unless NO_PROXY says otherwise, as it would on App Service.
		out = append(out, proc{Name: nameNodePeer, Cmd: []string{node, filepath.Join(o.nodePeer, "handler.js")},
			Env: []string{"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost"}, Check: true,
			Share: 0.1, OneMemoryRun: true,
			Size: size, SizeNote: "handler.js and node_modules, without the Node.js runtime", Skips: peerSkips})
	}
	return out, nil
}

// procEnv adds what p needs to settings, the stand-ins' wiring for a handler.
func (p proc) procEnv(settings []string) []string {
	env := append([]string(nil), settings...)
	if p.Name == nameNodePeer {
		for _, kv := range settings {
			if v, ok := cut(kv, "SSL_CERT_FILE="); ok {
				env = append(env, "NODE_EXTRA_CA_CERTS="+v)
			}
		}
	}
	return append(env, p.Env...)
}

func cut(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return "", false
}

// start starts p behind the host emulator.
func (p proc) start(ctx context.Context, app string, settings []string) (*host.Host, error) {
	return host.Start(ctx, host.Options{Binary: p.Cmd[0], Args: append([]string{}, p.Cmd[1:]...), Dir: app,
		Env: p.procEnv(settings), StartTimeout: timeoutStart})
}

// allocations reads a program's heap allocation counters.
func allocations(ctx context.Context, h *host.Host) (bytes, objects uint64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL()+"/debug/goroutines", nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var a struct {
		HeapAllocBytes   uint64 `json:"heapAllocBytes"`
		HeapAllocObjects uint64 `json:"heapAllocObjects"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return 0, 0, fmt.Errorf("read allocation counters: %w", err)
	}
	return a.HeapAllocBytes, a.HeapAllocObjects, nil
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	return n, err
}
