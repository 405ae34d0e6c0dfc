package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docFiles are the user-facing documents whose links and citations are checked.
func docFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md", "infra/README.md"}
	more, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(more) == 0 {
		t.Fatal("no docs/*.md found: run the test from the repository root")
	}
	return append(files, more...)
}

// mdLink matches an inline Markdown link or image target: [text](target).
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// fencedCode matches a fenced code block, whose contents are not Markdown.
var fencedCode = regexp.MustCompile("(?s)```.*?```")

// TestDocLinksResolve: every relative link in the README and docs/ names a file
// or folder of the repository, and every #anchor into a Markdown file names one
// of its headings, so a moved or renamed page breaks the build, not the reader.
func TestDocLinksResolve(t *testing.T) {
	t.Parallel()
	for _, doc := range docFiles(t) {
		text := readDoc(t, doc)
		for _, m := range mdLink.FindAllStringSubmatch(fencedCode.ReplaceAllString(text, ""), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			file := doc
			if path != "" {
				file = filepath.Join(filepath.Dir(doc), path)
				if _, err := os.Stat(file); err != nil {
					t.Errorf("%s: link %q: %v", doc, target, err)
					continue
				}
			}
			if anchor != "" && strings.HasSuffix(file, ".md") && !hasAnchor(readDoc(t, file), anchor) {
				t.Errorf("%s: link %q: %s has no heading with anchor #%s", doc, target, file, anchor)
			}
		}
	}
}

// citation matches a reference to the contract or platform facts files that
// are not part of the repository.
var citation = regexp.MustCompile(`CONTRACT\.md|AZURE-FACTS\.md`)

// TestDocsCiteOnlyRepositoryFiles: the docs cite docs/contract.md and
// docs/platform.md, never the CONTRACT.md or AZURE-FACTS.md that live outside
// the repository. Only docs/contract.md's preamble may name its origin.
func TestDocsCiteOnlyRepositoryFiles(t *testing.T) {
	t.Parallel()
	for _, doc := range docFiles(t) {
		text := readDoc(t, doc)
		if doc == filepath.Join("docs", "contract.md") {
			if i := strings.Index(text, "\n## "); i >= 0 {
				text = text[i:]
			}
		}
		for i, line := range strings.Split(text, "\n") {
			if citation.MatchString(line) {
				t.Errorf("%s:%d: cites a file outside the repository (use docs/contract.md or docs/platform.md): %s", doc, i+1, line)
			}
		}
	}
}

func readDoc(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hasAnchor reports whether a heading of the Markdown text has GitHub's anchor.
func hasAnchor(text, anchor string) bool {
	for _, line := range strings.Split(fencedCode.ReplaceAllString(text, ""), "\n") {
		if h, ok := strings.CutPrefix(line, "#"); ok {
			if githubAnchor(strings.TrimLeft(h, "#")) == anchor {
				return true
			}
		}
	}
	return false
}

// githubAnchor is the id GitHub gives a heading: lower case, punctuation
// dropped, spaces turned into hyphens.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127 && r != '…' && r != '§' && r != '—':
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestGithubAnchor(t *testing.T) {
	t.Parallel()
	tests := []struct{ heading, want string }{
		{"Graph permission by an administrator", "graph-permission-by-an-administrator"},
		{" Service Bus (`PutSecretsFromQueue`)", "service-bus-putsecretsfromqueue"},
		{"4. Service Bus semantics", "4-service-bus-semantics"},
		{"`handler enqueue`: the pipeline step", "handler-enqueue-the-pipeline-step"},
	}
	for _, tt := range tests {
		if got := githubAnchor(tt.heading); got != tt.want {
			t.Errorf("githubAnchor(%q) = %q, want %q", tt.heading, got, tt.want)
		}
	}
}
