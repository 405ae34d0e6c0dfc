package vault

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestReadersBounded: however many reads are asked for at once, no more
// than maxReaders readers run, every read runs exactly once, and readers
// are reused rather than started per read.
func TestReadersBounded(t *testing.T) {
	p := newReaders()
	const reads = 4 * maxReaders
	var (
		ran, running, peak atomic.Int32
		release            = make(chan struct{})
		wg                 sync.WaitGroup
	)
	wg.Add(reads)
	for range reads {
		go p.run(func() {
			defer wg.Done()
			n := running.Add(1)
			for m := peak.Load(); n > m && !peak.CompareAndSwap(m, n); m = peak.Load() {
			}
			<-release
			running.Add(-1)
			ran.Add(1)
		})
	}
	// Wait until every reader is busy: the rest of the reads are queued.
	for peak.Load() < maxReaders {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if got := ran.Load(); got != reads {
		t.Errorf("%d reads ran, want %d", got, reads)
	}
	if got := peak.Load(); got != maxReaders {
		t.Errorf("%d reads ran at once, want at most (and here exactly) %d", got, maxReaders)
	}
	if got := p.started.Load(); got > maxReaders {
		t.Errorf("%d readers started, want at most %d", got, maxReaders)
	}
}

// TestResolveReusesReaders: many Resolve calls in a row and at once start
// no more readers than the bound allows, and every call gets its values.
func TestResolveReusesReaders(t *testing.T) {
	r := New(&fakeCredential{token: testToken}, &Options{ClientOptions: memoryOptions()})
	refs := make([]Ref, 10)
	for i := range refs {
		refs[i] = ref("https://contoso-kv.vault.azure.net", fmt.Sprintf("bench-%d", i), "")
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				got, err := r.Resolve(t.Context(), refs)
				if err != nil || len(got) != len(refs) {
					t.Errorf("Resolve = %d values, %v", len(got), err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := r.readers.started.Load(); got < 1 || got > maxReaders {
		t.Errorf("%d readers started for 160 Resolve calls of 10 references, want 1 to %d", got, maxReaders)
	}
}
