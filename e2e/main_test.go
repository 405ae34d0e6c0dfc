// Package e2e runs the real handler binary behind an emulated Functions host
// against the local Azure stand-ins: the real azidentity, azsecrets and azcore
// clients, over TLS, through HTTPS_PROXY, exactly as in Azure but for the
// addresses.
//
// Every secret value a test uses is a canary: a unique random string. After
// the whole suite, TestMain checks that no handler output, answer or problem
// document holds any canary or any 12-character piece of one, plain or
// re-encoded (canaryLeaks), and each test checks that the Graph stand-in
// received its canaries exactly under the keys they belong to.
package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
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
	for _, f := range []string{"host.json", "PutSecrets/function.json", "PutSecretsFromQueue/function.json", "PutSecretsFromKeyVault/function.json", "Reconcile/function.json"} {
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

// canaryLeaks lists (without the values) every output holding a canary, or
// any piece of one, in any of the encodings holdsCanaryPiece undoes.
func canaryLeaks() []string {
	var leaks []string
	pieces := canaryPieces(canaries.all())
	for _, o := range outputs.all() {
		for _, label := range piecesIn(o.text, pieces) {
			leaks = append(leaks, fmt.Sprintf("  a canary (or a piece of one) of %s in %s", label, o.label))
		}
	}
	return leaks
}

// pieceLen is the length of the shortest piece of a canary the check looks
// for: the product promises that no run of 12 characters of a value survives.
const pieceLen = 12

// canaryPieces maps every pieceLen-character run of every canary to the
// canary's label.
func canaryPieces(cs []labelled) map[string]string {
	pieces := map[string]string{}
	for _, c := range cs {
		t := strings.ToLower(c.text)
		for i := 0; i+pieceLen <= len(t); i++ {
			pieces[t[i:i+pieceLen]] = c.label
		}
	}
	return pieces
}

// piecesIn returns the labels of the canaries a piece of which text holds,
// once each, after undoing the usual encodings (see unencoded).
func piecesIn(text string, pieces map[string]string) []string {
	var labels []string
	seen := map[string]bool{}
	n := unencoded(text)
	for i := 0; i+pieceLen <= len(n); i++ {
		if l, ok := pieces[n[i:i+pieceLen]]; ok && !seen[l] {
			seen[l] = true
			labels = append(labels, l)
		}
	}
	return labels
}

// holdsCanaryPiece reports whether text holds a piece of any canary.
func holdsCanaryPiece(text string) bool {
	return len(piecesIn(text, canaryPieces(canaries.all()))) > 0
}

// The check's own decoder, deliberately independent of the product's
// scrubber (internal/secret): a test oracle that reused the code under test
// would prove little. Canaries are "canary-" and lower-case hex, so undoing
// escapes to ASCII is enough.
var (
	uEscape   = regexp.MustCompile(`\\+u([0-9a-fA-F]{4})`)
	pctEscape = regexp.MustCompile(`%([0-9a-fA-F]{2})`)
	noWeight  = regexp.MustCompile(`[\\\s+]+`)
)

// unencoded is text with \uXXXX escapes (behind any number of backslashes)
// and percent-escapes decoded, backslashes, whitespace and plus signs
// dropped, in lower case: a canary quoted cut off, \u-escaped (whole or in
// part), JSON-escaped once or twice, percent-encoded, or with its line ends
// or spacing changed, shows up in it as a plain run.
func unencoded(text string) string {
	text = uEscape.ReplaceAllStringFunc(text, func(m string) string {
		n, _ := strconv.ParseUint(m[len(m)-4:], 16, 16)
		return string(rune(n))
	})
	text = pctEscape.ReplaceAllStringFunc(text, func(m string) string {
		n, _ := strconv.ParseUint(m[1:], 16, 8)
		return string([]byte{byte(n)})
	})
	return strings.ToLower(noWeight.ReplaceAllString(text, ""))
}
