package invariants

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// fakeBins maps a set name to the directory holding that set's fake
// executables; TestMain fills it before any test runs.
var fakeBins = map[string]string{}

// fakeBinSets lists the fake executables each test puts first on PATH: the
// owner script's az, and the post-deploy checks' az and terraform.
var fakeBinSets = map[string]map[string]string{
	"owner":  {"az": fakeAz},
	"deploy": {"az": fakeDeployAz, "terraform": fakeTF},
}

// TestMain writes every fake executable before any test starts. Writing one
// inside a parallel test races with other tests' exec.Command: a child forked
// while the file is still open for writing holds that descriptor until it
// execs, and exec of a file open for writing fails with ETXTBSY ("Text file
// busy", golang/go#22315). With no goroutine forking yet, that cannot happen.
func TestMain(m *testing.M) {
	os.Exit(runWithFakeBins(m))
}

// runWithFakeBins writes the fake executables to a temporary directory, runs
// the tests and removes the directory.
func runWithFakeBins(m *testing.M) int {
	root, err := os.MkdirTemp("", "invariants-fakebin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(root)
	for set, files := range fakeBinSets {
		dir := filepath.Join(root, set)
		if err := os.Mkdir(dir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		fakeBins[set] = dir
	}
	return m.Run()
}
