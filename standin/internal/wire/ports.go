package wire

import (
	"errors"
	"fmt"
	"net"
	"sync"
)

// ports records the loopback ports this process's stand-ins hold: those
// they listen on (kept while a server is stopped, so that it can listen
// again) and those reserved for another process, such as the handler the
// emulated host starts. The kernel knows only the first kind while they are
// open; without this record a stand-in listening on port 0 could be given a
// port reserved for a handler that has not bound it yet, or the port of an
// identity endpoint that is down, and answer in its place.
var ports = struct {
	mu    sync.Mutex
	taken map[int]bool
}{taken: map[int]bool{}}

// listenFresh listens on a free port of 127.0.0.1 that ports does not hold,
// and records it there. Ports the kernel offers that are held stay open
// until the choice is made, so that it does not offer them again.
func listenFresh() (net.Listener, error) {
	ports.mu.Lock()
	defer ports.mu.Unlock()
	var held []net.Listener
	defer func() {
		for _, ln := range held {
			_ = ln.Close()
		}
	}()
	for range 1000 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if !ports.taken[port] {
			ports.taken[port] = true
			return ln, nil
		}
		held = append(held, ln)
	}
	return nil, errors.New("no free loopback port that this process's stand-ins do not hold")
}

// ReservePort returns a free port of 127.0.0.1 for another process to listen
// on, and holds it until ReleasePort: no stand-in of this process listens on
// it meanwhile, and no other reservation gets it.
func ReservePort() (int, error) {
	ln, err := listenFresh()
	if err != nil {
		return 0, fmt.Errorf("pick a port: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return port, nil
}

// ReleasePort gives back a port from ReservePort once the process it was
// for has exited.
func ReleasePort(port int) {
	ports.mu.Lock()
	defer ports.mu.Unlock()
	delete(ports.taken, port)
}
