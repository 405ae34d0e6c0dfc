package provision_test

import (
	"go/parser"
	gotoken "go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDomainImportsNoPresentation: provision is the domain; it returns its
// own errors (StageError, NotKeptError) and never builds answers, so it
// imports none of the packages that do.
func TestDomainImportsNoPresentation(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	presentation := []string{"/internal/problem", "/internal/server", "/internal/settle", "/internal/worker"}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		parsed, err := parser.ParseFile(gotoken.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range parsed.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, p := range presentation {
				if strings.HasSuffix(path, p) {
					t.Errorf("%s imports %s: the domain must not build answers", f, path)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no source file checked")
	}
}
