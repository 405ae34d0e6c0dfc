// Package provision does the product's one job: take a request document,
// resolve its Key Vault references with the app's identity, and store the
// complete set of secrets on the service principal with Microsoft Graph.
//
// A rotation can ask for more (see Put): validate the credentials with the
// synchronization service before saving them, and start or restart the
// synchronization job afterwards. Every Graph call of one invocation goes
// through one graph.ReplicationWait, which rides out the 401s and 404s of a
// service principal created moments ago.
//
// The HTTP function, the Service Bus function and the worker command all call
// Service.Put; what differs between them (how the answer travels) lives with
// them.
package provision

import (
	"context"
	"fmt"
	"time"

	"github.com/putsecrets/putsecrets/internal/graph"
	"github.com/putsecrets/putsecrets/internal/request"
	"github.com/putsecrets/putsecrets/internal/secret"
	"github.com/putsecrets/putsecrets/internal/vault"
)

// The outcome statuses of a successful Put (Result.Status): the secrets were
// saved, or a dry run checked everything and sent nothing to Graph.
const StatusSaved, StatusDryRun = "saved", "dryRun"

// Result is the success answer of docs/contract.md §3. It never holds a value.
// On failure Put still returns what it learnt (service principal, keys) for
// the log line and the outcome message.
type Result struct {
	ServicePrincipalID string   `json:"servicePrincipalId"`
	Status             string   `json:"status"`
	APIVersion         string   `json:"apiVersion"`
	Keys               []string `json:"keys"`
	// Validated reports that the synchronization service accepted the
	// credentials before they were saved (the request's validate).
	Validated      bool       `json:"validated"`
	Job            *JobResult `json:"job,omitempty"`
	GraphRequestID string     `json:"graphRequestId,omitempty"`
	// Followed reports that the document is kept as the service
	// principal's desired state after this save (docs/contract.md §8).
	Followed   bool  `json:"followed,omitempty"`
	DurationMs int64 `json:"durationMs"`
}

// Why a job action was not performed (JobResult.Skipped): a running job is
// not started again, and a dry run touches no job.
const SkippedAlreadyRunning, SkippedDryRun = "alreadyRunning", "dryRun"

// JobResult is what the job follow-up did and found.
type JobResult struct {
	// ID is the synchronization job's ID.
	ID string `json:"id"`
	// Action is the action the request asked for, "start" or "restart".
	Action string `json:"action"`
	// Skipped, when set, says why the action was not performed:
	// SkippedAlreadyRunning (a running job is not started again) or
	// SkippedDryRun.
	Skipped string `json:"skipped,omitempty"`
	// StatusCode is the job's status.code as read after the action:
	// NotConfigured, NotRun, Active, Paused or Quarantine.
	StatusCode string `json:"statusCode,omitempty"`
	// Quarantine is set when the job reports a quarantine.
	Quarantine *JobQuarantine `json:"quarantine,omitempty"`
}

// JobQuarantine is why a job is held. The synchronization error's message
// is left out: it quotes the target application's answers, which can hold
// the values sent to it.
type JobQuarantine struct {
	// Reason is the quarantineReason, e.g. "EncounteredQuarantineException".
	Reason string `json:"reason,omitempty"`
	// ErrorCode is the synchronizationError's code, e.g.
	// "SystemForCrossDomainIdentityManagementCredentialValidationFailure".
	ErrorCode string `json:"errorCode,omitempty"`
}

// The stages of Put, as a failure names them (StageError.Stage).
const (
	StageResolving  = "resolving the Key Vault references"
	StageValidating = "validating the credentials with Microsoft Graph"
	StageSaving     = "saving the secrets to Microsoft Graph"
	StageStartJob   = "starting the synchronization job"
	StageRestartJob = "restarting the synchronization job"
)

// Options are a Service's settings.
type Options struct {
	// ConsistencyWait bounds how long one invocation retries Graph's 401 and
	// 404 for a service principal created moments ago
	// (PUTSECRETS_GRAPH_CONSISTENCY_WAIT); 0 retries nothing.
	ConsistencyWait time.Duration
	// States keeps the desired states of followed service principals
	// (PUTSECRETS_STATE_URL); nil when no store is configured, and then the
	// policy refuses follow.
	States States
}

// Service puts secrets. It is safe for concurrent use.
type Service struct {
	policy *request.Policy
	vault  *vault.Resolver
	graph  *graph.Client
	opts   Options
}

// New returns a Service. Nothing here does network I/O.
func New(policy *request.Policy, resolver *vault.Resolver, graphClient *graph.Client, opts Options) *Service {
	return &Service{policy: policy, vault: resolver, graph: graphClient, opts: opts}
}

// Put validates body, resolves its references and then, in this order:
//
//  1. with validate (and not a dry run), asks the synchronization service to
//     test the resolved credentials (validateCredentials); a refusal ends
//     here, nothing saved;
//  2. unless it is a dry run, PUTs the secrets;
//  3. with job, starts or restarts the job (a start only when the job is not
//     already Active, which is read first) and reads the job once to report
//     its status;
//  4. keeps, replaces or forgets the service principal's desired state as
//     the request's follow says (see keep).
//
// A dry run resolves and checks everything and sends nothing to Graph
// (docs/contract.md §2), so it neither validates, saves, touches the job nor
// keeps a state. A failure of steps 1 to 3 is a *StageError, saying which
// stage failed and whether the secrets were saved by then (step 3 runs after
// the save); one of step 4 is a *NotKeptError; a refused document is a
// *request.Error. internal/problem turns them into answers.
//
// Every value of the invocation joins the context's secret.Scrubber (one is
// attached when ctx has none) as soon as it is known: the literals once the
// document is parsed, the Key Vault values once resolved, before any Graph
// call. Graph's and Key Vault's error construction read it there, and the
// error Put returns is wrapped by it (Scrubber.Wrap), so its text and the
// problem document built from it are scrubbed too.
func (s *Service) Put(ctx context.Context, body []byte) (_ *Result, err error) {
	start := time.Now()
	res := &Result{}
	defer func() { res.DurationMs = time.Since(start).Milliseconds() }()
	ctx, scrubber := secret.WithScrubber(ctx)
	defer func() { err = scrubber.Wrap(err) }()

	req, err := request.Parse(body, s.policy)
	if err != nil {
		return res, err
	}
	for _, e := range req.Secrets {
		scrubber.Add(e.Value)
	}
	res.ServicePrincipalID, res.APIVersion = req.ServicePrincipalID, req.APIVersion
	res.Keys = make([]string, len(req.Secrets))
	for i, e := range req.Secrets {
		res.Keys[i] = e.Key
	}

	if err := s.refuseLiteralForFollowed(ctx, req); err != nil {
		return res, err
	}
	secrets, versions, err := s.resolve(ctx, req)
	if err != nil {
		return res, failed(ctx, &StageError{Stage: StageResolving, Dependency: DependencyKeyVault, Err: err})
	}
	for _, sec := range secrets {
		scrubber.Add(sec.Value)
	}
	wait := graph.NewReplicationWait(s.opts.ConsistencyWait)
	if v := req.Validate; v != nil && !req.DryRun {
		err := wait.Do(ctx, func(ctx context.Context) error {
			_, err := s.graph.ValidateCredentials(ctx, req.APIVersion, req.ServicePrincipalID,
				graph.CredentialsTarget{TemplateID: v.TemplateID, JobID: v.JobID}, secrets)
			return err
		})
		if err != nil {
			return res, failed(ctx, &StageError{Stage: StageValidating, Dependency: DependencyGraph, Err: err})
		}
		res.Validated = true
	}
	if req.DryRun {
		res.Status = StatusDryRun
		if req.Job != nil {
			res.Job = &JobResult{ID: req.Job.ID, Action: req.Job.Action, Skipped: SkippedDryRun}
		}
		return res, nil
	}
	var put graph.PutSecretsResponse
	err = wait.Do(ctx, func(ctx context.Context) error {
		var err error
		put, err = s.graph.PutSecrets(ctx, req.APIVersion, req.ServicePrincipalID, secrets)
		return err
	})
	res.GraphRequestID = put.RequestID
	if err != nil {
		saved := SavedNo
		if ctx.Err() != nil { // the PUT was under way when the time ran out
			saved = SavedUnknown
		}
		return res, failed(ctx, &StageError{Stage: StageSaving, Dependency: DependencyGraph, Saved: saved, Err: err})
	}
	res.Status = StatusSaved
	if req.Job != nil {
		if res.Job, err = s.followUp(ctx, wait, req); err != nil {
			stage := StageStartJob
			if req.Job.Action == request.JobRestart {
				stage = StageRestartJob
			}
			return res, failed(ctx, &StageError{Stage: stage, Dependency: DependencyGraph, Saved: SavedYes,
				RequestID: put.RequestID, Fields: []string{"job.id"}, Err: err})
		}
	}
	if res.Followed, err = s.keep(ctx, req, body, versions, put.RequestID); err != nil {
		return res, err
	}
	return res, nil
}

// failed returns e, marked OutOfTime when ctx has run out (its deadline
// passed, or the invocation was cancelled), so that the answer says how far
// the invocation got and whether anything was saved.
func failed(ctx context.Context, e *StageError) error {
	e.OutOfTime = ctx.Err() != nil
	return e
}

// followUp starts or restarts the job and reads it once to report on it. A
// start reads the job first: Graph advises against starting a running job,
// and that first read is then the report.
func (s *Service) followUp(ctx context.Context, wait *graph.ReplicationWait, req *request.Request) (*JobResult, error) {
	j := req.Job
	out := &JobResult{ID: j.ID, Action: j.Action}
	var job graph.GetJobResponse
	read := func(ctx context.Context) error {
		var err error
		job, err = s.graph.GetJob(ctx, req.APIVersion, req.ServicePrincipalID, j.ID)
		return err
	}
	switch j.Action {
	case request.JobStart:
		if err := wait.Do(ctx, read); err != nil {
			return out, err
		}
		if job.Status.Code == graph.JobActive {
			out.Skipped = SkippedAlreadyRunning
			out.report(job.Job)
			return out, nil
		}
		if err := wait.Do(ctx, func(ctx context.Context) error {
			_, err := s.graph.StartJob(ctx, req.APIVersion, req.ServicePrincipalID, j.ID)
			return err
		}); err != nil {
			return out, err
		}
	case request.JobRestart:
		if err := wait.Do(ctx, func(ctx context.Context) error {
			_, err := s.graph.RestartJob(ctx, req.APIVersion, req.ServicePrincipalID, j.ID, j.ResetScope)
			return err
		}); err != nil {
			return out, err
		}
	default:
		return out, fmt.Errorf("job action %q is neither start nor restart", j.Action)
	}
	if err := wait.Do(ctx, read); err != nil {
		return out, err
	}
	out.report(job.Job)
	return out, nil
}

// report copies what the answer shows of a job: its status code and the
// reason and error code of a quarantine.
func (r *JobResult) report(job graph.Job) {
	r.StatusCode = job.Status.Code
	if q := job.Status.Quarantine; q != nil {
		jq := JobQuarantine{Reason: q.Reason}
		if q.Error != nil {
			jq.ErrorCode = q.Error.Code
		}
		if jq != (JobQuarantine{}) {
			r.Quarantine = &jq
		}
	}
}

// resolve reads every Key Vault reference (each distinct secret once,
// concurrently) and returns the secrets in request order, with the version
// each reference was read from ("" for literals). A failure is vault.Resolve's:
// one *vault.Error per failed secret, naming every field that referenced it.
func (s *Service) resolve(ctx context.Context, req *request.Request) ([]graph.Secret, []string, error) {
	out := make([]graph.Secret, len(req.Secrets))
	versions := make([]string, len(req.Secrets))
	var refs []vault.Ref
	var at []int // at[i] is the entry of refs[i]
	for i, e := range req.Secrets {
		out[i] = graph.Secret{Key: e.Key, Value: e.Value}
		if e.Ref != nil {
			refs = append(refs, vault.RefOf(*e.Ref))
			at = append(at, i)
		}
	}
	if len(refs) == 0 {
		return out, versions, nil
	}
	values, err := s.vault.Resolve(ctx, refs)
	if err != nil {
		return nil, nil, err
	}
	for j, v := range values {
		out[at[j]].Value, versions[at[j]] = v.Value, v.Version
	}
	return out, versions, nil
}

// LogAttrs returns the result's fields for an invocation's log line, with
// the names docs/contract.md §7 and the README use. It holds no value. failed
// leaves out the outcome word (the failure's own attributes say "failed").
func (r *Result) LogAttrs(failed bool) []any {
	if r == nil || r.ServicePrincipalID == "" { // the request did not parse
		return nil
	}
	attrs := []any{"servicePrincipalId", r.ServicePrincipalID, "keys", r.Keys, "apiVersion", r.APIVersion}
	if r.GraphRequestID != "" {
		attrs = append(attrs, "graphRequestId", r.GraphRequestID)
	}
	if r.Status != "" && !failed {
		attrs = append(attrs, "outcome", r.Status)
	}
	if r.Validated {
		attrs = append(attrs, "validated", true)
	}
	if j := r.Job; j != nil {
		attrs = append(attrs, "jobId", j.ID, "jobAction", j.Action, "jobSkipped", j.Skipped, "jobStatus", j.StatusCode)
	}
	if r.Followed {
		attrs = append(attrs, "followed", true)
	}
	return attrs
}
