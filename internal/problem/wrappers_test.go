package problem

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/putsecrets/putsecrets/internal/provision"
	"github.com/putsecrets/putsecrets/internal/secret"
	"github.com/putsecrets/putsecrets/internal/vault"
)

// TestFromSeesThroughWrappers: every failed secret is listed, also when the
// failures come wrapped as Put returns them (out of time, scrubbed).
func TestFromSeesThroughWrappers(t *testing.T) {
	t.Parallel()
	_, s := secret.WithScrubber(context.Background())
	joined := errors.Join(
		atFields(vaultErr("a", kvError(404, "SecretNotFound", "", "")), "secrets[0].secretUri"),
		atFields(vaultErr("b", fmt.Errorf("get: %w", context.DeadlineExceeded)), "secrets[1].secretUri"))
	for name, err := range map[string]error{
		"joined":                joined,
		"scrubbed":              s.Wrap(joined),
		"out of time":           outOfTimeAt("resolving the Key Vault references", provision.SavedNo, "", joined),
		"scrubbed, out of time": s.Wrap(outOfTimeAt("resolving the Key Vault references", provision.SavedNo, "", joined)),
	} {
		if p := From(err); len(p.Doc.Errors) != 2 || p.Status != 422 {
			t.Errorf("%s: status %d with %d field errors, want 422 with 2", name, p.Status, len(p.Doc.Errors))
		}
	}
}

// The errors below are built as internal/provision and internal/vault
// build them, in the layers the tests name.

// during is the failure of a stage of Put that calls dependency.
func during(dependency string, err error) error {
	return &provision.StageError{Dependency: dependency, Err: err}
}

// atFields names the request fields err concerns, as vault.Resolve does for
// a failed secret and Put for the job follow-up.
func atFields(err error, fields ...string) error {
	switch e := err.(type) {
	case *vault.Error:
		c := *e
		c.Fields = fields
		return &c
	case *provision.StageError:
		c := *e
		c.Fields = fields
		return &c
	}
	return &provision.StageError{Fields: fields, Err: err}
}

// afterSave marks err as a failure after the PUT with Graph request-id
// requestID succeeded.
func afterSave(requestID string, err error) error {
	e := stageOf(err)
	e.Saved, e.RequestID = provision.SavedYes, requestID
	return e
}

// outOfTimeAt marks err as a failure at stage of an invocation whose time
// ran out.
func outOfTimeAt(stage string, saved provision.Saved, requestID string, err error) error {
	e := stageOf(err)
	e.Stage, e.Saved, e.RequestID, e.OutOfTime = stage, saved, requestID, true
	return e
}

// stageOf returns a copy of err when it is a *provision.StageError, else a
// new one around it.
func stageOf(err error) *provision.StageError {
	if e, ok := err.(*provision.StageError); ok {
		c := *e
		return &c
	}
	return &provision.StageError{Err: err}
}
