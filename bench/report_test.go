package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestChangesSection: the hand-written section is read from -changes and
// written into the report as is; a missing file means no section, not an
// error; an unreadable one is an error.
func TestChangesSection(t *testing.T) {
	dir := t.TempDir()
	section := "## Cost work\n\n| change | saved |\n|---|---|\n| pool | 4 KB |"
	file := filepath.Join(dir, "CHANGES.md")
	if err := os.WriteFile(file, []byte(section+"\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, changes string
		want          string
		wantErr       bool
	}{
		{"kept as is", file, section, false},
		{"missing file", filepath.Join(dir, "none.md"), "", false},
		{"no flag", "", "", false},
		{"a directory", dir, "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &report{}
			err := r.readExtras(options{changes: tt.changes})
			if (err != nil) != tt.wantErr {
				t.Fatalf("readExtras = %v, want error %v", err, tt.wantErr)
			}
			if r.Changes != tt.want {
				t.Errorf("Changes = %q, want %q", r.Changes, tt.want)
			}
			md := r.markdown()
			if tt.want != "" && !strings.Contains(md, tt.want+"\n") {
				t.Errorf("the report lacks the section:\n%s", md)
			}
			if tt.want == "" && strings.Contains(md, "## Cost work") {
				t.Errorf("the report has a section nobody wrote:\n%s", md)
			}
		})
	}
}
