package standin_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNotImportedByProduct fails when a non-test build of any package
// outside standin/ depends on a standin package: the handler binary must
// never carry the stand-ins.
func TestNotImportedByProduct(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./...")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const prefix = "github.com/putsecrets/putsecrets/standin"
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], prefix) {
			continue
		}
		for _, dep := range fields[1:] {
			if dep == prefix || strings.HasPrefix(dep, prefix+"/") {
				t.Errorf("%s imports %s", fields[0], dep)
			}
		}
	}
}
