package main

import (
	"flag"
	"fmt"
	"io"
)

// runValidate checks a request document offline, with the functions' own
// validator and settings, printing every problem. Exit status 0 when valid.
func runValidate(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("file", "-", "request document to check (- for standard input)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("validate checks one document, given with --file; it takes no arguments, got %q", fs.Args())}
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
