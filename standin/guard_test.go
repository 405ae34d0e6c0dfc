package standin_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNotImportedByProduct fails when a non-test build of any package
// outside standin/ depends on a standin package: the handler binary must
// never carry the stand-ins. The benchmark harness (bench/) is a tool that
// drives the handler against the stand-ins, like standin/cmd/demo, and is
// exempt; nothing may import it.
func TestNotImportedByProduct(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./...")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const (
		prefix = "github.com/putsecrets/putsecrets/standin"
		bench  = "github.com/putsecrets/putsecrets/bench"
	)
	under := func(pkg, root string) bool { return pkg == root || strings.HasPrefix(pkg, root+"/") }
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || under(fields[0], prefix) || under(fields[0], bench) {
			continue
		}
		for _, dep := range fields[1:] {
			if under(dep, prefix) || under(dep, bench) {
				t.Errorf("%s imports %s", fields[0], dep)
			}
		}
	}
}
