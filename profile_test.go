package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"testing"
)

// profileEnv names the file a profiled handler writes its CPU profile to;
// its allocations go to the same name plus ".allocs".
const profileEnv = "PUTSECRETS_BENCH_CPUPROFILE"

// TestMain runs the tests, except when profileEnv is set: then this test
// binary is the handler itself (run, as main calls it) and writes CPU and
// allocation profiles of its whole life when SIGTERM stops it. `make bench`
// starts it behind the host emulator to show where an invocation's CPU time
// goes (`go tool pprof -top`), without profiling code in the real binary.
// With standinsEnv set it is BenchmarkInvocationPath's stand-ins instead.
func TestMain(m *testing.M) {
	if path := os.Getenv(profileEnv); path != "" {
		os.Exit(profiledHandler(path))
	}
	if os.Getenv(standinsEnv) == "1" {
		os.Exit(runStandins())
	}
	os.Exit(m.Run())
}

func profiledHandler(path string) int {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "handler: %v\n", err)
		return 1
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "handler: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, os.Args[:1], os.Getenv, os.Stdout, os.Stderr)
	stop()
	pprof.StopCPUProfile()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = writeAllocs(path + ".allocs")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "handler: %v\n", err)
		return 1
	}
	return 0
}

func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
