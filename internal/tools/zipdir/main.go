// Command zipdir writes the deployment zip that Flex Consumption expects: the
// function app root (host.json, the handler binary, one folder per function)
// at the top of the archive. It exists so that `make package` needs nothing
// beyond Go.
//
//	go run ./internal/tools/zipdir -o dist/putsecrets.zip handler host.json PutSecrets PutSecretsFromQueue PutSecretsFromKeyVault
//
// With -sessions (`make package SESSIONS=true`), every serviceBusTrigger in
// the packaged function.json files that does not set it gets
// "isSessionsEnabled": true, for a
// session-enabled request queue; the files in the repository stay as they are.
package main

import (
	"archive/zip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

func main() {
	out := flag.String("o", "dist/putsecrets.zip", "zip file to write")
	flag.BoolVar(&sessions, "sessions", false, `set "isSessionsEnabled": true on every serviceBusTrigger binding`)
	flag.Parse()
	if err := write(*out, flag.Args()); err != nil {
		fmt.Fprintf(os.Stderr, "zipdir: %v\n", err)
		os.Exit(1)
	}
}

// sessions enables sessions on the packaged Service Bus triggers.
var sessions bool

func write(out string, paths []string) error {
	if len(paths) == 0 {
		return fmt.Errorf("no files to package")
	}
	var files []string
	for _, p := range paths {
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	sort.Strings(files)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	for _, name := range files {
		if err := add(zw, name); err != nil {
			f.Close()
			return err
		}
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func add(zw *zip.Writer, name string) error {
	info, err := os.Stat(name)
	if err != nil {
		return err
	}
	h, err := zip.FileInfoHeader(info)
	if err != nil {
		return err
	}
	h.Name = filepath.ToSlash(name)
	h.Method = zip.Deflate
	h.Modified = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) // reproducible archives
	// Keep the executable bit: the Functions host runs the handler directly.
	h.SetMode(info.Mode())
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	if sessions && filepath.Base(name) == "function.json" {
		b, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		if b, err = enableSessions(b); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		_, err = w.Write(b)
		return err
	}
	src, err := os.Open(name)
	if err != nil {
		return err
	}
	defer src.Close()
	_, err = io.Copy(w, src)
	return err
}

// enableSessions sets "isSessionsEnabled": true on the serviceBusTrigger
// bindings of a function.json that do not set it themselves: an explicit
// false stays (PutSecretsFromKeyVault's events queue is never session-enabled:
// Event Grid cannot deliver to one). Other files come back unchanged.
func enableSessions(b []byte) ([]byte, error) {
	var f map[string]any
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	bindings, _ := f["bindings"].([]any)
	changed := false
	for _, x := range bindings {
		if binding, ok := x.(map[string]any); ok && binding["type"] == "serviceBusTrigger" {
			if _, set := binding["isSessionsEnabled"]; set {
				continue
			}
			binding["isSessionsEnabled"] = true
			changed = true
		}
	}
	if !changed {
		return b, nil
	}
	out, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
