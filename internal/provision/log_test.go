package provision

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResultLogAttrs(t *testing.T) {
	t.Parallel()
	saved := &Result{ServicePrincipalID: "sp", Status: StatusSaved, APIVersion: "v1.0", Keys: []string{"SecretToken"},
		GraphRequestID: "g-1", Validated: true, Job: &JobResult{ID: "j", Action: "start", StatusCode: "Active"}}
	tests := []struct {
		name   string
		r      *Result
		failed bool
		want   []any
	}{
		{"nil", nil, false, nil},
		{"did not parse", &Result{}, true, nil},
		{"saved", saved, false, []any{"servicePrincipalId", "sp", "keys", []string{"SecretToken"}, "apiVersion", "v1.0",
			"graphRequestId", "g-1", "outcome", "saved", "validated", true, "jobId", "j", "jobAction", "start", "jobSkipped", "", "jobStatus", "Active"}},
		// A job step that fails after the save: the failure says "failed";
		// "saved" must not be a second outcome key on the same line.
		{"saved then failed", saved, true, []any{"servicePrincipalId", "sp", "keys", []string{"SecretToken"}, "apiVersion", "v1.0",
			"graphRequestId", "g-1", "validated", true, "jobId", "j", "jobAction", "start", "jobSkipped", "", "jobStatus", "Active"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, tt.r.LogAttrs(tt.failed)); diff != "" {
				t.Errorf("LogAttrs (-want +got):\n%s", diff)
			}
		})
	}
}
