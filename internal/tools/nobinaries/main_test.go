package main

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestExecutableKind(t *testing.T) {
	t.Parallel()
	pe := make([]byte, 0x84)
	copy(pe, "MZ")
	binary.LittleEndian.PutUint32(pe[0x3c:], 0x80)
	copy(pe[0x80:], "PE\x00\x00")
	mzText := make([]byte, 0x84)
	copy(mzText, "MZ is how this note starts, and nothing points at a PE header")
	self, err := os.ReadFile(os.Args[0]) // this test binary: a real executable of this platform
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		head []byte
		want string
	}{
		{"ELF", []byte("\x7fELF\x02\x01\x01"), "ELF executable"},
		{"Mach-O 64 little-endian", []byte{0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1}, "Mach-O executable"},
		{"Mach-O 32 big-endian", []byte{0xfe, 0xed, 0xfa, 0xce}, "Mach-O executable"},
		{"Mach-O universal", []byte{0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2}, "Mach-O executable"},
		{"PE", pe, "PE executable"},
		{"text starting with MZ", mzText, ""},
		{"MZ alone", []byte("MZ"), ""},
		{"Go source", []byte("package main\n"), ""},
		{"empty", nil, ""},
		{"short", []byte{0x7f}, ""},
	}
	if want, ok := map[string]string{"linux": "ELF executable", "darwin": "Mach-O executable", "windows": "PE executable"}[runtime.GOOS]; ok {
		tests = append(tests, struct {
			name string
			head []byte
			want string
		}{"this test binary", self[:4096], want})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := executableKind(tt.head); got != tt.want {
				t.Errorf("executableKind() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestJudgeIgnoresTheName: a binary is build output whatever it is called,
// and bin/ and dist/ are build output whatever they hold.
func TestJudgeIgnoresTheName(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	write := func(name string, b []byte) {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("notes.txt", []byte("\x7fELF\x02\x01\x01\x00"))
	write("README.md", []byte("# readme\n"))
	write("bin/readme.txt", []byte("plain text\n"))
	write("dist/putsecrets.zip", []byte("PK\x03\x04"))
	for path, want := range map[string]bool{
		"notes.txt": true, "README.md": false, "bin/readme.txt": true, "dist/putsecrets.zip": true,
		"missing.go": false, "internal/bin/x.go": false,
	} {
		if got := judge(path) != ""; got != want {
			t.Errorf("judge(%q) flags = %v, want %v", path, got, want)
		}
	}
}
