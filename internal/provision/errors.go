package provision

import (
	"fmt"
	"strings"
)

// The errors of Put are the domain's: they say where Put failed and what it
// had done by then, and leave statuses and wording to internal/problem, the
// one place that turns errors into answers.

// The dependencies a stage of Put calls (StageError.Dependency).
const (
	DependencyGraph    = "Microsoft Graph"
	DependencyKeyVault = "Key Vault"
)

// Saved says whether an invocation's secrets were saved when it failed.
type Saved int

// The Saved states.
const (
	// SavedNo: nothing was saved.
	SavedNo Saved = iota
	// SavedUnknown: the PUT was under way, and may or may not have been
	// applied.
	SavedUnknown
	// SavedYes: the PUT succeeded (StageError.RequestID is its Graph
	// request-id), and a later stage failed.
	SavedYes
)

// StageError is the failure of one stage of Put: which (Stage, one of the
// Stage constants), the dependency it was calling, whether the secrets were
// saved by then, and whether the invocation's time ran out. Err is the cause:
// a *graph.ResponseError, a join of *vault.Error (each naming its request
// fields), a token, network or context error.
type StageError struct {
	Stage string
	// Dependency is the service the stage calls (DependencyGraph,
	// DependencyKeyVault), for causes that cannot tell (a token or network
	// failure on the way to it).
	Dependency string
	Saved      Saved
	// RequestID is Graph's request-id of the successful PUT (SavedYes).
	RequestID string
	// Fields are the request fields the failure concerns when the cause does
	// not name its own ("job.id" for the job follow-up).
	Fields []string
	// OutOfTime reports that the invocation's context was done (its deadline
	// passed, or it was cancelled) when the stage failed.
	OutOfTime bool
	Err       error
}

func (e *StageError) Error() string {
	var b strings.Builder
	switch {
	case e.OutOfTime:
		b.WriteString("out of time " + e.Stage + ": ")
	case e.Saved == SavedYes:
		b.WriteString("after the secrets were saved: ")
	}
	if len(e.Fields) > 0 {
		b.WriteString(strings.Join(e.Fields, ", ") + ": ")
	}
	if e.Dependency != "" {
		b.WriteString(e.Dependency + ": ")
	}
	b.WriteString(fmt.Sprint(e.Err))
	return b.String()
}

// Unwrap returns Err.
func (e *StageError) Unwrap() error { return e.Err }

// The actions on a kept state (NotKeptError.Action).
const (
	ActionRead    = "read"
	ActionKeep    = "keep"
	ActionReplace = "replace"
	ActionForget  = "forget"
)

// NotKeptError is the failure to keep, replace or forget a service
// principal's desired state (docs/contract.md §8) after its secrets were
// saved, or to read it before (RequestID ""). A retry (the queue's
// redelivery, or the caller's) does it all again, and saving the secrets
// again is harmless. Err is the blob service's error; the kept document is
// never part of it.
type NotKeptError struct {
	// RequestID is Graph's request-id of the successful PUT; "" when
	// nothing was saved.
	RequestID string
	// ServicePrincipalID is whose state it was.
	ServicePrincipalID string
	// Action is what failed: ActionRead (before the save), ActionKeep,
	// ActionReplace or ActionForget.
	Action string
	Err    error
}

func (e *NotKeptError) Error() string {
	if e.RequestID == "" {
		return fmt.Sprintf("could not %s the desired state of %s: %v", e.Action, e.ServicePrincipalID, e.Err)
	}
	return fmt.Sprintf("saved (Graph request-id %s), but could not %s the desired state of %s: %v",
		e.RequestID, e.Action, e.ServicePrincipalID, e.Err)
}

// Unwrap returns Err.
func (e *NotKeptError) Unwrap() error { return e.Err }
