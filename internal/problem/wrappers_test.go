package problem

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/putsecrets/putsecrets/internal/secret"
)

// TestFromSeesThroughWrappers: every failed secret is listed, also when the
// failures come wrapped as Put returns them (out of time, scrubbed).
func TestFromSeesThroughWrappers(t *testing.T) {
	t.Parallel()
	_, s := secret.WithScrubber(context.Background())
	joined := errors.Join(
		AtFields(vaultErr("a", kvError(404, "SecretNotFound", "", "")), "secrets[0].secretUri"),
		AtFields(vaultErr("b", fmt.Errorf("get: %w", context.DeadlineExceeded)), "secrets[1].secretUri"))
	for name, err := range map[string]error{
		"joined":                joined,
		"scrubbed":              s.Wrap(joined),
		"out of time":           &OutOfTime{Stage: "resolving the Key Vault references", Err: joined},
		"scrubbed, out of time": s.Wrap(&OutOfTime{Stage: "resolving the Key Vault references", Err: joined}),
	} {
		if p := From(err); len(p.Doc.Errors) != 2 || p.Status != 422 {
			t.Errorf("%s: status %d with %d field errors, want 422 with 2", name, p.Status, len(p.Doc.Errors))
		}
	}
}
