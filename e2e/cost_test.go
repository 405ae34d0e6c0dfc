package e2e

import "testing"

// TestIdleReader: the goroutine checks pass over a Key Vault reader waiting
// for work, and only that: a reader in the middle of a read, or any other
// goroutine parked in a select, is counted.
func TestIdleReader(t *testing.T) {
	for _, tt := range []struct {
		name, stack string
		want        bool
	}{
		{"idle reader", "goroutine 41 [select]:\n" +
			"runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)\n\t/go/src/runtime/proc.go:460 +0xce\n" +
			"runtime.selectgo(0xc000, 0xc000, 0x0?, 0x0, 0x0?, 0x1)\n\t/go/src/runtime/select.go:351 +0x837\n" +
			"github.com/putsecrets/putsecrets/internal/vault.(*readers).loop(0xc000, 0xc000)\n\t/w/internal/vault/readers.go:58 +0xd1\n" +
			"created by github.com/putsecrets/putsecrets/internal/vault.(*readers).run in goroutine 40\n\t/w/internal/vault/readers.go:40 +0xcf", true},
		{"reader in a read", "goroutine 42 [select]:\n" +
			"runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)\n\t/go/src/runtime/proc.go:460 +0xce\n" +
			"runtime.selectgo(0xc000, 0xc000, 0x0?, 0x0, 0x0?, 0x1)\n\t/go/src/runtime/select.go:351 +0x837\n" +
			"net/http.(*persistConn).roundTrip(0xc000, 0xc000)\n\t/go/src/net/http/transport.go:2800 +0x9a5\n" +
			"github.com/putsecrets/putsecrets/internal/vault.(*Resolver).get(0xc000, {0x0, 0x0})\n\t/w/internal/vault/vault.go:280 +0x1\n" +
			"github.com/putsecrets/putsecrets/internal/vault.(*readers).loop(0xc000, 0xc000)\n\t/w/internal/vault/readers.go:52 +0xd1", false},
		{"another select", "goroutine 43 [select]:\n" +
			"runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)\n\t/go/src/runtime/proc.go:460 +0xce\n" +
			"github.com/putsecrets/putsecrets/internal/queue.(*Processor).wait(0xc000)\n\t/w/internal/queue/queue.go:10 +0x1", false},
		{"look-alike name", "goroutine 44 [select]:\n" +
			"github.com/putsecrets/putsecrets/internal/vault.(*readers).loopback(0xc000)\n\t/w/x.go:1 +0x1", false},
		{"no frames", "goroutine 45 [select]:", false},
	} {
		if got := idleReader(tt.stack); got != tt.want {
			t.Errorf("%s: idleReader = %v, want %v", tt.name, got, tt.want)
		}
	}
}
