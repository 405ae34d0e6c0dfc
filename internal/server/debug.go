package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
)

// GoroutinesPath is the debug endpoint that reports the process's goroutines.
const GoroutinesPath = "/debug/goroutines"

// Goroutines is the answer of GoroutinesPath.
type Goroutines struct {
	// PID is the handler's process ID, to read its /proc/<pid>/status.
	PID int `json:"pid"`
	// Count is runtime.NumGoroutine.
	Count int `json:"count"`
	// Stacks is every goroutine's stack, as a panic prints them.
	Stacks string `json:"stacks"`
	// HeapAllocBytes and HeapAllocObjects count what the process has
	// allocated on the heap since it started (runtime/metrics
	// /gc/heap/allocs:bytes and :objects), read before the stacks are
	// written; `make bench` divides their growth over a run by its
	// invocations.
	HeapAllocBytes   uint64 `json:"heapAllocBytes"`
	HeapAllocObjects uint64 `json:"heapAllocObjects"`
}

// handleGoroutines serves GoroutinesPath, which is routed only when
// PUTSECRETS_DEBUG_ENDPOINTS is true. It exists so that tests of the real
// binary can prove that no invocation leaves a goroutine behind.
//
// It is safe to enable: the handler listens on 127.0.0.1 only, and the
// Functions host forwards callers to the function routes (POST /PutSecrets,
// POST /PutSecretsFromQueue), never to other paths. A stack holds function
// names and argument words (pointers, lengths), never the bytes of a string,
// so no request content or secret value can appear in it.
func handleGoroutines() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		allocs := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/allocs:objects"}}
		metrics.Read(allocs)
		var stacks bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&stacks, 2)
		b, _ := json.Marshal(Goroutines{PID: os.Getpid(), Count: runtime.NumGoroutine(), Stacks: stacks.String(),
			HeapAllocBytes: allocs[0].Value.Uint64(), HeapAllocObjects: allocs[1].Value.Uint64()})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(b)
	})
}
