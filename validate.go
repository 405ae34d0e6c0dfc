package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/putsecrets/putsecrets/internal/config"
	"github.com/putsecrets/putsecrets/internal/request"
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
	_, req, _, err := loadDocument(*file, getenv, stdout)
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

// checkDocument validates a request document with the functions' own
// parser and policy, printing every problem to out, one per line.
// loadDocument reads the settings and the request document at path and
// checks the document with the functions' own validator and policy, printing
// every problem to out. The commands share it so that they judge a document
// exactly as the functions do.
func loadDocument(path string, getenv func(string) string, out io.Writer) (*config.Config, *request.Request, []byte, error) {
	cfg, err := config.LoadLookup(config.ProcessLookup(getenv), nil)
	if err != nil {
		return nil, nil, nil, err
	}
	body, err := readDocument(path)
	if err != nil {
		return nil, nil, nil, err
	}
	req, err := checkDocument(path, body, cfg, out)
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, req, body, nil
}

func checkDocument(name string, body []byte, cfg *config.Config, out io.Writer) (*request.Request, error) {
	req, err := request.Parse(body, policyFor(cfg))
	var reqErr *request.Error
	if errors.As(err, &reqErr) {
		for _, p := range reqErr.Problems {
			field := p.Field
			if field == "" {
				field = "(document)"
			}
			fmt.Fprintf(out, "%s: %s\n", field, p.Message)
		}
		return nil, fmt.Errorf("%s: %d problem(s)", name, len(reqErr.Problems))
	}
	return req, err
}

// readDocument reads a request document from a file, or stdin for "-",
// refusing anything over the contract's size limit.
func readDocument(path string) ([]byte, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, request.MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}
