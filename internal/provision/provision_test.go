package provision_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"

	"github.com/putsecrets/putsecrets/internal/graph"
	"github.com/putsecrets/putsecrets/internal/problem"
	"github.com/putsecrets/putsecrets/internal/provision"
	"github.com/putsecrets/putsecrets/internal/request"
	"github.com/putsecrets/putsecrets/internal/secret"
	graphstandin "github.com/putsecrets/putsecrets/standin/graph"
	"github.com/putsecrets/putsecrets/standin/identity"
	"github.com/putsecrets/putsecrets/standin/tlsca"
)

const (
	spID  = "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"
	jobID = "scim.e5b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5.6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"
	// token is a literal credential; the policy allows literals so that no
	// Key Vault is needed here (the e2e tests cover references).
	token = "canary-provision-token-5e1f"
)

// tokens grants "tok" for the public cloud's Graph.
type tokens struct{}

func (tokens) Grant(tk string) (identity.Grant, bool) {
	return identity.Grant{Resource: "https://graph.microsoft.com"}, tk == "tok"
}

type credential struct{}

func (credential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "tok", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// setup starts the Graph stand-in with one service principal and returns a
// Service whose Graph client reaches it over TLS.
func setup(t *testing.T, wait time.Duration) (*provision.Service, *graphstandin.Server) {
	t.Helper()
	return setupWith(t, provision.Options{ConsistencyWait: wait}, &request.Policy{KeyVaultSuffix: "vault.azure.net", AllowLiteralCredentials: true})
}

// setupWith is setup with the Service's options and policy given.
func setupWith(t *testing.T, o provision.Options, pol *request.Policy) (*provision.Service, *graphstandin.Server) {
	t.Helper()
	ca, err := tlsca.New()
	if err != nil {
		t.Fatal(err)
	}
	g, err := graphstandin.New(ca, tokens{})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	g.AddServicePrincipal(spID)
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, g.Addr())
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	opts := &graph.ClientOptions{}
	opts.Transport = &http.Client{Transport: tr}
	opts.Retry.RetryDelay = time.Millisecond
	c, err := graph.NewClient("https://graph.microsoft.com", credential{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return provision.New(pol, nil, c, o), g
}

// document is a request with a literal BaseAddress and SecretToken plus the
// given top-level fields.
func document(extra string) []byte {
	return []byte(`{"servicePrincipalId":"` + spID + `","secrets":[` +
		`{"key":"BaseAddress","value":"https://scim.example.com/scim/v2"},{"key":"SecretToken","value":"` + token + `"}]` + extra + `}`)
}

// calls lists the Graph requests as "METHOD last-path-segment".
func calls(g *graphstandin.Server) []string {
	var out []string
	for _, c := range g.Calls() {
		segs := strings.Split(c.Path, "/")
		last := segs[len(segs)-1]
		if last == jobID {
			last = "job"
		}
		out = append(out, c.Method+" "+last)
	}
	return out
}

func TestPut(t *testing.T) {
	t.Parallel()
	paused := graphstandin.Job{ID: jobID, TemplateID: "scim", State: graphstandin.JobState{Code: graphstandin.StatusPaused}}
	active := graphstandin.Job{ID: jobID, TemplateID: "scim", State: graphstandin.JobState{Code: graphstandin.StatusActive}}
	toQuarantine := paused
	toQuarantine.AfterStart = &graphstandin.JobState{Code: graphstandin.StatusQuarantine, Quarantine: &graphstandin.Quarantine{
		Reason: "EncounteredQuarantineException", ErrorCode: graphstandin.CredentialValidationFailure, ErrorMessage: "refused: " + token}}
	tests := []struct {
		name       string
		extra      string
		job        *graphstandin.Job
		validation graphstandin.Validation
		script     []graphstandin.Response
		wantCalls  []string
		wantResult provision.Result // compared without keys, IDs and duration
		wantStatus int              // a failure's status; 0 for success
		wantSaved  bool
		wantJob    *graphstandin.Job // Starts, Restarts, ResetScope afterwards
	}{
		{
			name:       "save only",
			wantCalls:  []string{"PUT secrets"},
			wantResult: provision.Result{Status: provision.StatusSaved}, wantSaved: true,
		},
		{
			name: "validate with a template, then save", extra: `,"validate":{"templateId":"scim"}`,
			wantCalls:  []string{"POST validateCredentials", "PUT secrets"},
			wantResult: provision.Result{Status: provision.StatusSaved, Validated: true}, wantSaved: true,
		},
		{
			name: "validate against the job, then save", extra: `,"validate":{"jobId":"` + jobID + `"}`, job: &paused,
			wantCalls:  []string{"POST validateCredentials", "PUT secrets"},
			wantResult: provision.Result{Status: provision.StatusSaved, Validated: true}, wantSaved: true,
		},
		{
			name: "refused validation saves nothing", extra: `,"validate":{"templateId":"scim"},"job":{"id":"` + jobID + `","action":"start"}`,
			job: &paused, validation: graphstandin.Validation{Reject: true},
			wantCalls: []string{"POST validateCredentials"}, wantStatus: 422,
		},
		{
			name: "dry run sends nothing to Graph: no validation, no save, no job", extra: `,"dryRun":true,"validate":{"templateId":"scim"},"job":{"id":"` + jobID + `","action":"start"}`,
			job:        &paused,
			wantCalls:  nil,
			wantResult: provision.Result{Status: provision.StatusDryRun, Validated: false, Job: &provision.JobResult{ID: jobID, Action: "start", Skipped: provision.SkippedDryRun}},
			wantJob:    &graphstandin.Job{},
		},
		{
			name: "start a paused job", extra: `,"job":{"id":"` + jobID + `","action":"start"}`, job: &paused,
			wantCalls:  []string{"PUT secrets", "GET job", "POST start", "GET job"},
			wantResult: provision.Result{Status: provision.StatusSaved, Job: &provision.JobResult{ID: jobID, Action: "start", StatusCode: "Active"}},
			wantSaved:  true, wantJob: &graphstandin.Job{Starts: 1},
		},
		{
			name: "a running job is not started again", extra: `,"job":{"id":"` + jobID + `","action":"start"}`, job: &active,
			wantCalls:  []string{"PUT secrets", "GET job"},
			wantResult: provision.Result{Status: provision.StatusSaved, Job: &provision.JobResult{ID: jobID, Action: "start", Skipped: provision.SkippedAlreadyRunning, StatusCode: "Active"}},
			wantSaved:  true, wantJob: &graphstandin.Job{},
		},
		{
			name: "restart with the default scope", extra: `,"job":{"id":"` + jobID + `","action":"restart"}`, job: &active,
			wantCalls:  []string{"PUT secrets", "POST restart", "GET job"},
			wantResult: provision.Result{Status: provision.StatusSaved, Job: &provision.JobResult{ID: jobID, Action: "restart", StatusCode: "Active"}},
			wantSaved:  true, wantJob: &graphstandin.Job{Restarts: 1, ResetScope: request.DefaultResetScope},
		},
		{
			name: "restart with a scope", extra: `,"job":{"id":"` + jobID + `","action":"restart","resetScope":"full"}`, job: &paused,
			wantCalls:  []string{"PUT secrets", "POST restart", "GET job"},
			wantResult: provision.Result{Status: provision.StatusSaved, Job: &provision.JobResult{ID: jobID, Action: "restart", StatusCode: "Active"}},
			wantSaved:  true, wantJob: &graphstandin.Job{Restarts: 1, ResetScope: "Full"},
		},
		{
			name: "a start that ends in quarantine reports it", extra: `,"validate":{"templateId":"scim"},"job":{"id":"` + jobID + `","action":"start"}`, job: &toQuarantine,
			wantCalls: []string{"POST validateCredentials", "PUT secrets", "GET job", "POST start", "GET job"},
			wantResult: provision.Result{Status: provision.StatusSaved, Validated: true, Job: &provision.JobResult{ID: jobID, Action: "start", StatusCode: "Quarantine",
				Quarantine: &provision.JobQuarantine{Reason: "EncounteredQuarantineException", ErrorCode: graphstandin.CredentialValidationFailure}}},
			wantSaved: true, wantJob: &graphstandin.Job{Starts: 1},
		},
		{
			name: "an unknown job fails after the save", extra: `,"job":{"id":"nope","action":"start"}`,
			wantCalls: []string{"PUT secrets", "GET nope"}, wantStatus: 404, wantSaved: true,
		},
		{
			name: "no replication wait configured: a 404 is final", script: []graphstandin.Response{{Status: 404}},
			wantCalls: []string{"PUT secrets"}, wantStatus: 404,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, g := setup(t, 0)
			if tt.job != nil {
				g.AddJob(spID, *tt.job)
			}
			g.SetValidation(spID, tt.validation)
			g.Script(spID, tt.script...)

			res, err := svc.Put(t.Context(), document(tt.extra))

			if diff := cmp.Diff(tt.wantCalls, calls(g)); diff != "" {
				t.Errorf("Graph calls (-want +got):\n%s", diff)
			}
			if saved := g.Saved(spID) != nil; saved != tt.wantSaved {
				t.Errorf("saved = %v, want %v", saved, tt.wantSaved)
			}
			if tt.wantJob != nil {
				j, _ := g.Job(spID, jobID)
				if j.Starts != tt.wantJob.Starts || j.Restarts != tt.wantJob.Restarts || j.ResetScope != tt.wantJob.ResetScope {
					t.Errorf("job: %d starts, %d restarts, scope %q; want %d, %d, %q", j.Starts, j.Restarts, j.ResetScope,
						tt.wantJob.Starts, tt.wantJob.Restarts, tt.wantJob.ResetScope)
				}
			}
			answer, _ := json.Marshal(res)
			if strings.Contains(string(answer), token) {
				t.Errorf("the result holds the token (%d bytes)", len(answer))
			}
			if tt.wantStatus != 0 {
				if err == nil {
					t.Fatalf("Put succeeded: %s", answer)
				}
				p := problem.From(err)
				if p.Status != tt.wantStatus {
					t.Errorf("status = %d, want %d: %s", p.Status, tt.wantStatus, p.Doc.Detail)
				}
				if strings.Contains(string(p.JSON()), token) {
					t.Errorf("the problem document holds the token (%d bytes)", len(p.JSON()))
				}
				return
			}
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			got := *res
			got.ServicePrincipalID, got.APIVersion, got.Keys, got.GraphRequestID, got.DurationMs = "", "", nil, "", 0
			if diff := cmp.Diff(tt.wantResult, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if !strings.Contains(string(answer), `"validated":`) {
				t.Errorf("answer %s lacks validated", answer)
			}
		})
	}
}

// TestPutScrubsEveryError: the job follow-up's Graph error quotes the token
// that was saved (a request that carried no value); the error Put returns,
// its text and the problem built from it hold no piece of it, and the
// caller's scrubber (attached before Put) learnt the values.
func TestPutScrubsEveryError(t *testing.T) {
	t.Parallel()
	svc, g := setup(t, 0)
	g.AddJob(spID, graphstandin.Job{ID: jobID, TemplateID: "scim", State: graphstandin.JobState{Code: graphstandin.StatusActive}})
	g.Script(spID, graphstandin.Response{}, graphstandin.Response{Status: 400, Message: "Bearer " + token[2:18] + " refused"})
	ctx, scrubber := secret.WithScrubber(t.Context())
	_, err := svc.Put(ctx, document(`,"job":{"id":"`+jobID+`","action":"restart"}`))
	if err == nil {
		t.Fatal("Put succeeded; want the restart's 400")
	}
	if secret.ScrubberOf(err) != scrubber {
		t.Error("Put's error does not carry the caller's scrubber")
	}
	p := problem.From(err)
	for what, text := range map[string]string{"error": err.Error(), "problem": string(p.JSON()), "log": fmt.Sprint(p.LogAttrs()...)} {
		for i := 0; i+12 <= len(token); i++ {
			if strings.Contains(text, token[i:i+12]) {
				t.Errorf("the %s holds a piece of the token", what)
				break
			}
		}
	}
	if !strings.Contains(p.Doc.Detail, "Bearer "+secret.Redacted) {
		t.Errorf("the detail (%d bytes, not shown: it may hold a value) lacks the scrubbed quote", len(p.Doc.Detail))
	}
	if got := scrubber.Scrub(token); got != secret.Redacted {
		t.Error("the caller's scrubber does not know the token")
	}
}
