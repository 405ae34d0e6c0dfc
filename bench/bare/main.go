// Command bare is the floor the benchmarks compare the handler with: the
// least a Go custom handler can do. It listens where the Functions host
// says (FUNCTIONS_CUSTOMHANDLER_PORT on 127.0.0.1), reads each request's
// body and answers 204, with nothing else: no logging, no configuration, no
// clients. `make bench` builds it with the handler's flags and drives it
// exactly as it drives the handler.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
)

func main() {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT")))
	if err != nil {
		fmt.Fprintf(os.Stderr, "bare: %v\n", err)
		os.Exit(1)
	}
	err = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	fmt.Fprintf(os.Stderr, "bare: %v\n", err)
	os.Exit(1)
}
