// Command nobinaries fails when git tracks build output: an executable
// (ELF, Mach-O, PE, whatever its name) or anything under bin/ or dist/.
// `make lint` runs it from the repository root.
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

func main() {
	out, err := exec.Command("git", "ls-files", "-z").Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "nobinaries: git ls-files: %v\n", err)
		os.Exit(1)
	}
	var bad []string
	for _, path := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if path == "" {
			continue
		}
		if reason := judge(path); reason != "" {
			bad = append(bad, path+": "+reason)
		}
	}
	if len(bad) > 0 {
		fmt.Fprintln(os.Stderr, "git tracks build output; `git rm --cached` it and keep it ignored (.gitignore):")
		for _, b := range bad {
			fmt.Fprintln(os.Stderr, "  "+b)
		}
		os.Exit(1)
	}
}

// judge says why the tracked file at path is build output, or "" when it
// is not. A file that cannot be read (deleted in the work tree) is judged
// by its path alone.
func judge(path string) string {
	if strings.HasPrefix(path, "bin/") || strings.HasPrefix(path, "dist/") {
		return "under " + path[:strings.IndexByte(path, '/')+1]
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	return executableKind(head[:n])
}

// executableKind names the executable format head starts with ("" for
// none): ELF, Mach-O (either byte order, 32 or 64 bits, or universal), or PE
// (an MZ stub whose e_lfanew points at "PE\0\0").
func executableKind(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		return "ELF executable"
	case len(head) >= 4 && isMachO(binary.BigEndian.Uint32(head)):
		return "Mach-O executable"
	case bytes.HasPrefix(head, []byte("MZ")) && len(head) >= 0x40:
		off := int(binary.LittleEndian.Uint32(head[0x3c:]))
		if off+4 <= len(head) && bytes.Equal(head[off:off+4], []byte("PE\x00\x00")) {
			return "PE executable"
		}
	}
	return ""
}

func isMachO(magic uint32) bool {
	switch magic {
	case 0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe, 0xcafebabe, 0xbebafeca:
		return true
	}
	return false
}
