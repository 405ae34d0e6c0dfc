// Package e2e runs the real handler binary behind an emulated Functions host
// against the local Azure stand-ins: the real azidentity, azsecrets and azcore
// clients, over TLS, through HTTPS_PROXY, exactly as in Azure but for the
// addresses.
//
// Every secret value a test uses is a canary: a unique random string. After
// the whole suite, TestMain checks that no handler output, answer or problem
// document holds any canary, and each test checks that the Graph stand-in
// received its canaries exactly under the keys they belong to.
package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// appDir is a function app root built for the suite: the handler binary,
// host.json and the function folders, as `make package` lays them out.
var appDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "putsecrets-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	appDir = dir
	if err := buildApp(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	if leaks := canaryLeaks(); len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "CANARY: %d secret value(s) leaked outside the Graph request body:\n%s\n",
			len(leaks), strings.Join(leaks, "\n"))
		code = 1
	} else if code == 0 {
		fmt.Printf("canary: %d secret values, %d outputs searched, none leaked\n", canaries.count(), outputs.count())
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildApp builds the handler into dir with the configuration beside it.
func buildApp(dir string) error {
	root, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "handler"), ".")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build handler: %v\n%s", err, out)
	}
	for _, f := range []string{"host.json", "PutSecrets/function.json", "PutSecretsFromQueue/function.json", "Reconcile/function.json"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// registry is a concurrency-safe list of strings.
type registry struct {
	mu    sync.Mutex
	items []labelled
}

type labelled struct{ label, text string }

func (r *registry) add(label, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = append(r.items, labelled{label, text})
}

func (r *registry) all() []labelled {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]labelled(nil), r.items...)
}

func (r *registry) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.items)
}

var (
	// canaries are every secret value used (label: the test).
	canaries registry
	// outputs are every handler output and answer (label: what it is).
	outputs registry
)

// newCanary returns a unique random secret value and registers it.
func newCanary(t testing.TB) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	v := "canary-" + hex.EncodeToString(b)
	canaries.add(t.Name(), v)
	return v
}

// canaryLeaks lists (without the values) every output holding a canary.
func canaryLeaks() []string {
	var leaks []string
	cs := canaries.all()
	for _, o := range outputs.all() {
		for _, c := range cs {
			if strings.Contains(o.text, c.text) {
				leaks = append(leaks, fmt.Sprintf("  a canary of %s in %s", c.label, o.label))
			}
		}
	}
	return leaks
}
