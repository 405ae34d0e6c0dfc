package provision_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/putsecrets/putsecrets/internal/problem"
	"github.com/putsecrets/putsecrets/internal/provision"
	graphstandin "github.com/putsecrets/putsecrets/standin/graph"
)

// TestPutOutOfTime: when the invocation's time runs out, the failure says
// the stage reached and whether the secrets were saved: a Graph call that
// hangs stands for any slow dependency, and the context's deadline for the
// invocation's budget.
func TestPutOutOfTime(t *testing.T) {
	t.Parallel()
	paused := graphstandin.Job{ID: jobID, TemplateID: "scim", State: graphstandin.JobState{Code: graphstandin.StatusPaused}}
	hang := graphstandin.Response{Delay: time.Minute}
	tests := []struct {
		name   string
		extra  string
		script []graphstandin.Response
		stage  string
		saved  *bool // nil: cannot be known
		detail string
	}{
		{
			name: "validating", extra: `,"validate":{"templateId":"scim"}`, script: []graphstandin.Response{hang},
			stage: provision.StageValidating, saved: ptr(false), detail: "nothing was saved",
		},
		{
			name: "saving", script: []graphstandin.Response{hang},
			stage: provision.StageSaving, detail: "may or may not have been saved",
		},
		{
			name: "restarting the job", extra: `,"job":{"id":"` + jobID + `","action":"restart"}`,
			script: []graphstandin.Response{{}, hang},
			stage:  provision.StageRestartJob, saved: ptr(true), detail: "restarting the synchronization job did not finish in time",
		},
		{
			name: "starting the job", extra: `,"job":{"id":"` + jobID + `","action":"start"}`,
			script: []graphstandin.Response{{}, hang},
			stage:  provision.StageStartJob, saved: ptr(true), detail: "The secrets were saved (Graph request-id",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, g := setup(t, 0)
			g.AddJob(spID, paused)
			g.Script(spID, tt.script...)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := svc.Put(ctx, document(tt.extra))
			if err == nil {
				t.Fatal("Put succeeded past its deadline")
			}
			p := problem.From(err)
			if p.Status != 503 || p.Doc.Stage != tt.stage || !strings.Contains(p.Doc.Detail, tt.detail) {
				t.Errorf("got %d, stage %q, detail %q; want 503, stage %q, detail with %q", p.Status, p.Doc.Stage, p.Doc.Detail, tt.stage, tt.detail)
			}
			switch {
			case tt.saved == nil && p.Doc.Saved != nil:
				t.Errorf("saved = %v, want it absent (unknown)", *p.Doc.Saved)
			case tt.saved != nil && (p.Doc.Saved == nil || *p.Doc.Saved != *tt.saved):
				t.Errorf("saved = %v, want %v", p.Doc.Saved, *tt.saved)
			}
			if strings.Contains(string(p.JSON()), token) {
				t.Error("the problem document holds the secret value")
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
