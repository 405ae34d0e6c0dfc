package request

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/putsecrets/putsecrets/internal/secret"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the parser's output")

// goldenRequest is a stable rendering of a Request that shows each literal
// value's length only.
type goldenRequest struct {
	ServicePrincipalID string          `json:"servicePrincipalId"`
	APIVersion         string          `json:"apiVersion"`
	DryRun             bool            `json:"dryRun"`
	Secrets            []goldenEntry   `json:"secrets"`
	Validate           *goldenValidate `json:"validate,omitempty"`
	Job                *goldenJob      `json:"job,omitempty"`
	Follow             string          `json:"follow,omitempty"`
}

type goldenValidate struct {
	TemplateID string `json:"templateId,omitempty"`
	JobID      string `json:"jobId,omitempty"`
}

type goldenJob struct {
	ID         string `json:"id"`
	Action     string `json:"action"`
	ResetScope string `json:"resetScope,omitempty"`
}

type goldenEntry struct {
	Key        string     `json:"key"`
	Field      string     `json:"field"`
	ValueBytes *int       `json:"valueBytes,omitempty"`
	Ref        *goldenRef `json:"ref,omitempty"`
}

type goldenRef struct {
	Vault    string `json:"vault"`
	Host     string `json:"host"`
	Name     string `json:"name"`
	Version  string `json:"version,omitempty"`
	Field    string `json:"field"`
	URI      string `json:"uri"`
	VaultURL string `json:"vaultURL"`
}

type goldenProblem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Policy  bool   `json:"policy,omitempty"`
}

type goldenResult struct {
	Request    *goldenRequest  `json:"request,omitempty"`
	Problems   []goldenProblem `json:"problems,omitempty"`
	PolicyOnly bool            `json:"policyOnly,omitempty"`
}

func render(req *Request, err error) ([]byte, error) {
	var out goldenResult
	if err != nil {
		perr, ok := err.(*Error)
		if !ok {
			return nil, err
		}
		for _, p := range perr.Problems {
			out.Problems = append(out.Problems, goldenProblem(p))
		}
		out.PolicyOnly = perr.PolicyOnly()
	} else {
		g := &goldenRequest{
			ServicePrincipalID: req.ServicePrincipalID, APIVersion: req.APIVersion, DryRun: req.DryRun,
		}
		if v := req.Validate; v != nil {
			g.Validate = &goldenValidate{v.TemplateID, v.JobID}
		}
		if j := req.Job; j != nil {
			g.Job = &goldenJob{j.ID, j.Action, j.ResetScope}
		}
		if req.Follow != FollowAbsent {
			g.Follow = req.Follow.String()
		}
		for _, e := range req.Secrets {
			ge := goldenEntry{Key: e.Key, Field: e.Field}
			if e.Ref != nil {
				r := e.Ref
				ge.Ref = &goldenRef{r.Vault, r.Host, r.Name, r.Version, r.Field, r.URI(), r.VaultURL()}
			} else {
				n := len(e.Value.Reveal())
				ge.ValueBytes = &n
			}
			g.Secrets = append(g.Secrets, ge)
		}
		out.Request = g
	}
	b, err := json.MarshalIndent(out, "", "  ")
	return append(b, '\n'), err
}

// TestGolden parses testdata/*.json under testPolicy and compares the result
// with testdata/*.golden; go test -update rewrites them.
func TestGolden(t *testing.T) {
	t.Parallel()
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			req, err := Parse(body, testPolicy())
			if perr, ok := err.(*Error); ok {
				checkMessages(t, perr)
			}
			got, err := render(req, err)
			if err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(in, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s:\n%s", in, golden, got)
			}
		})
	}
}

// TestGoldenContractExample pins the docs/contract.md §2 example's values, which
// the golden file shows as lengths only.
func TestGoldenContractExample(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile(filepath.Join("testdata", "contract-example.json"))
	if err != nil {
		t.Fatal(err)
	}
	req, err := Parse(body, testPolicy())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"BaseAddress":              "https://scim.example.com/scim/v2",
		"SyncNotificationSettings": `{"Enabled":true,"Recipients":"ops@example.com","DeleteThresholdEnabled":true,"DeleteThresholdValue":50}`,
		"SyncAll":                  "false",
	}
	for _, e := range req.Secrets {
		if w, ok := want[e.Key]; ok && !e.Value.Equal(secret.New(w)) {
			t.Errorf("%s: value differs (got %d bytes, want %d)", e.Key, len(e.Value.Reveal()), len(w))
		}
	}
}
