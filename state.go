package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/putsecrets/putsecrets/internal/config"
	"github.com/putsecrets/putsecrets/internal/state"
)

const stateUsage = "usage: handler state list | show ID | forget ID [--state-url URL]"

// runState is `handler state` (docs/contract.md §6): it lists, shows or forgets
// the kept desired states of followed service principals, for operators,
// with the caller's own credential (credential.New: the managed identity
// where one is, else the Azure CLI or Azure Developer CLI login), in the
// container of PUTSECRETS_STATE_URL or --state-url. A kept state holds no
// secret value, so show prints it whole. Flags may come before or after the
// subcommand and its ID.
func runState(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("state", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stateURL := fs.String("state-url", "", "blob container of the kept states (default: PUTSECRETS_STATE_URL)")
	words, err := parseInterleaved(fs, args)
	if err != nil {
		return usageError{err.Error() + "\n" + stateUsage}
	}
	if len(words) == 0 {
		return usageError{"state needs a subcommand\n" + stateUsage}
	}
	sub, rest := words[0], words[1:]
	var id string
	switch sub {
	case "list":
		if len(rest) != 0 {
			return usageError{fmt.Sprintf("state list takes no arguments, got %q\n%s", rest, stateUsage)}
		}
	case "show", "forget":
		if len(rest) != 1 {
			return usageError{fmt.Sprintf("state %s takes one service principal ID\n%s", sub, stateUsage)}
		}
		if id, err = servicePrincipalID(rest[0]); err != nil {
			return usageError{err.Error()}
		}
	default:
		return usageError{fmt.Sprintf("unknown state subcommand %q\n%s", sub, stateUsage)}
	}

	lookup := config.ProcessLookup(getenv)
	if *stateURL != "" {
		// The flag replaces the setting and is checked by the same rule.
		lookup = func(k string) (string, bool) {
			if k == config.SettingStateURL {
				return *stateURL, true
			}
			return config.ProcessLookup(getenv)(k)
		}
	}
	w, err := loadWiringWith(lookup, getenv, stdout, true)
	if err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}
	st, err := w.stateStore()
	if err != nil {
		return err
	}
	if st == nil {
		return usageError{"no state container: give --state-url https://{account}.blob.core.windows.net/{container} " +
			"or set " + config.SettingStateURL}
	}

	switch sub {
	case "list":
		ids, err := st.List(ctx)
		if err != nil {
			return fmt.Errorf("list the kept states: %w", err)
		}
		for _, id := range ids {
			if _, err := fmt.Fprintln(stdout, id); err != nil {
				return err
			}
		}
		return nil
	case "show":
		k, err := st.Get(ctx, id)
		if errors.Is(err, state.ErrNotFound) {
			return fmt.Errorf("no kept state for service principal %s", id)
		}
		if err != nil {
			return fmt.Errorf("read the kept state of %s: %w", id, err)
		}
		return writeKept(stdout, k)
	}
	// forget
	_, err = st.Get(ctx, id)
	switch {
	case errors.Is(err, state.ErrNotFound):
		_, err = fmt.Fprintf(stdout, "no kept state for service principal %s: nothing to forget\n", id)
		return err
	case err != nil:
		return fmt.Errorf("read the kept state of %s: %w", id, err)
	}
	if err := st.Delete(ctx, id); err != nil {
		return fmt.Errorf("forget the kept state of %s: %w", id, err)
	}
	_, err = fmt.Fprintf(stdout, "forgot the kept state of service principal %s: it is no longer followed\n", id)
	return err
}

// parseInterleaved parses args with fs, allowing flags between the
// positional words, and returns the words.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var words []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return words, nil
		}
		words = append(words, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// servicePrincipalID checks a service principal object ID given on the
// command line and returns it lower-case.
func servicePrincipalID(s string) (string, error) {
	if len(s) != 36 || strings.Count(s, "-") != 4 {
		return "", fmt.Errorf("%q is not a service principal object ID (a GUID such as 6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c)", s)
	}
	if _, err := uuid.Parse(s); err != nil {
		return "", fmt.Errorf("%q is not a service principal object ID (a GUID such as 6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c)", s)
	}
	return strings.ToLower(s), nil
}

// keptJSON is how show prints a kept state.
type keptJSON struct {
	ServicePrincipalID string            `json:"servicePrincipalId"`
	SavedAt            time.Time         `json:"savedAt"`
	GraphRequestID     string            `json:"graphRequestId,omitempty"`
	References         []state.Reference `json:"references"`
	Document           json.RawMessage   `json:"document"`
}

func writeKept(w io.Writer, k *state.Kept) error {
	out := keptJSON{ServicePrincipalID: k.ServicePrincipalID, SavedAt: k.SavedAt, GraphRequestID: k.GraphRequestID,
		References: append([]state.Reference{}, k.References...), Document: k.Document}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
