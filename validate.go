package main

import (
	"fmt"
	"io"
)

// runValidate checks a request document offline, with the functions' own
// validator and settings, printing every problem. Exit status 0 when valid.
func runValidate(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", stderr)
	file := fs.String("file", "-", "request document to check (- for standard input)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	w, err := loadWiring(getenv, stdout, false)
	if err != nil {
		return err
	}
	req, _, err := w.loadDocument(*file, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: valid: service principal %s, %d secret(s), Graph %s", *file, req.ServicePrincipalID, len(req.Secrets), req.APIVersion)
	if req.DryRun {
		fmt.Fprint(stdout, ", dry run")
	}
	fmt.Fprintln(stdout)
	return nil
}
