package wire

import (
	"net"
	"strconv"
	"testing"
)

// TestPortsNeverHandedOutTwice: while a port is reserved for another
// process, or held by a stopped server, no stand-in listening on a fresh
// port and no other reservation gets it, even though the kernel would offer
// it (nothing is bound to it). Close and ReleasePort give ports back.
func TestPortsNeverHandedOutTwice(t *testing.T) {
	// Not parallel: it counts on seeing every port this process hands out.
	reserved, err := ReservePort()
	if err != nil {
		t.Fatal(err)
	}
	stopped, err := Serve(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	stopped.Stop()
	_, p, _ := net.SplitHostPort(stopped.Addr())
	down, _ := strconv.Atoi(p)

	seen := map[int]bool{}
	for range 300 {
		port, err := ReservePort()
		if err != nil {
			t.Fatal(err)
		}
		s, err := Serve(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, sp, _ := net.SplitHostPort(s.Addr())
		served, _ := strconv.Atoi(sp)
		for _, got := range []int{port, served} {
			switch {
			case got == reserved:
				t.Fatalf("port %d handed out while reserved", got)
			case got == down:
				t.Fatalf("port %d handed out while its stopped server holds it", got)
			case seen[got]:
				t.Fatalf("port %d handed out twice while held", got)
			}
			seen[got] = true
		}
		defer ReleasePort(port)
		defer s.Close()
	}
	if err := stopped.Restart(); err != nil {
		t.Fatalf("restart on the held port: %v", err)
	}
	stopped.Close()
	if err := stopped.Restart(); err == nil {
		t.Error("a closed server restarted")
	}
	ReleasePort(reserved)
	ports.mu.Lock()
	held := ports.taken[reserved] || ports.taken[down]
	ports.mu.Unlock()
	if held {
		t.Error("Close or ReleasePort did not give the port back")
	}
}
