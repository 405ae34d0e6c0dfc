package follow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/putsecrets/putsecrets/internal/graph"
	"github.com/putsecrets/putsecrets/internal/request"
	"github.com/putsecrets/putsecrets/internal/state"
	"github.com/putsecrets/putsecrets/internal/vault"
)

// SubjectJobQuarantined is the Subject of the report of a quarantined
// synchronization job (docs/contract.md §8).
const SubjectJobQuarantined = "PutSecrets.JobQuarantined"

// DefaultReconcileConcurrency is how many reads (kept states, Key Vault,
// Graph) and sends a reconcile run has in flight at once unless told
// otherwise.
const DefaultReconcileConcurrency = 16

// States lists and reads kept states; *state.Store implements it.
type States interface {
	List(ctx context.Context) ([]string, error)
	Get(ctx context.Context, servicePrincipalID string) (*state.Kept, error)
}

// Versions reads Key Vault secrets; *vault.Resolver implements it.
// Reconcile keeps only the version of what it reads: Key Vault has no call
// that returns the current version without its value (listing a secret's
// versions pages through its whole history and needs the List permission
// besides Get), so the value is read, never looked at, and dropped at once
// (a secret.Value, which redacts itself everywhere).
type Versions interface {
	Resolve(ctx context.Context, refs []vault.Ref) ([]vault.Resolved, error)
}

// Jobs reads synchronization jobs; *graph.Client implements it.
type Jobs interface {
	GetJob(ctx context.Context, apiVersion, servicePrincipalID, jobID string) (graph.GetJobResponse, error)
}

// Reconciler is one Reconcile run's dependencies (docs/contract.md §8): for every
// followed service principal it reads the current version of each
// unversioned reference, sends the kept document to the request queue where
// one moved on, and reports a quarantined job. It sends work to the queue
// rather than doing it, so that thousands of followed service principals
// finish inside the function timeout.
type Reconciler struct {
	Logger *slog.Logger
	// States are the kept states; nil when no store is configured, and then
	// a run does nothing and says so.
	States   States
	Versions Versions
	// Jobs reads the jobs kept documents name; nil skips the job check.
	Jobs   Jobs
	Sender Sender
	// Policy is the request policy: a kept document is read with it, as
	// the queue function will read it when it is re-applied.
	Policy *request.Policy
	// RequestQueue receives re-applied requests (PUTSECRETS_QUEUE).
	RequestQueue string
	// ResultsQueue, when set, receives quarantine reports
	// (PUTSECRETS_RESULTS_QUEUE).
	ResultsQueue string
	// Concurrency bounds the calls in flight; 0 means
	// DefaultReconcileConcurrency.
	Concurrency int
}

// Report counts what one run did; it is logged as one line.
type Report struct {
	RunID string
	// States is how many service principals are followed.
	States int
	// Secrets is how many distinct unversioned secrets were read.
	Secrets int
	// Reapplied counts the kept documents sent to the request queue.
	Reapplied int
	// Unchanged counts the states whose every reference is current (or
	// pinned).
	Unchanged int
	// Jobs counts the jobs read, Quarantined those found in quarantine.
	Jobs, Quarantined int
	// Failed counts the service principals where something failed
	// (reading its state, a secret it uses, its job, or a send); Skipped
	// those whose kept document the policy no longer accepts; NotReached
	// those left when the run ran out of time.
	Failed, Skipped, NotReached int
	// ReappliedIDs are the service principals re-applied, sorted.
	ReappliedIDs []string
}

// LogAttrs returns the report's counts for its log line.
func (r *Report) LogAttrs() []any {
	return []any{"runId", r.RunID, "states", r.States, "secrets", r.Secrets, "reapplied", r.Reapplied,
		"unchanged", r.Unchanged, "jobs", r.Jobs, "quarantined", r.Quarantined,
		"failed", r.Failed, "skipped", r.Skipped, "notReached", r.NotReached}
}

// secretKey names one secret: vault host and name, lower-case (Key Vault
// names are case-insensitive).
type secretKey struct{ vault, name string }

func keyOf(ref state.Reference) secretKey {
	return secretKey{strings.ToLower(ref.Vault), strings.ToLower(ref.Name)}
}

// followed is one kept state as the run sees it.
type followed struct {
	kept   *state.Kept
	req    *request.Request // nil when unreadable or refused
	failed bool
	done   bool // the run got to the end of this state
}

// Run does one reconcile run, identified by runID (the invocation ID), and
// logs its report in one line. It stops early when ctx ends (the invocation
// timeout), counting what it did not reach. It returns an error only when it
// could not run at all (the kept states could not be listed, or nothing can
// be sent); failures of single states are counted, logged and left to the
// next run.
func (r *Reconciler) Run(ctx context.Context, runID string) (*Report, error) {
	rep := &Report{RunID: runID, ReappliedIDs: []string{}}
	log := r.logger()
	if r.States == nil {
		log.Info("reconcile: nothing to do, no state store is configured (PUTSECRETS_STATE_URL)", rep.LogAttrs()...)
		return rep, nil
	}
	ids, err := r.States.List(ctx)
	if err != nil {
		return rep, fmt.Errorf("reconcile: list the kept states: %w", err)
	}
	rep.States = len(ids)
	if len(ids) > 0 && r.Sender == nil {
		return rep, errors.New("reconcile: no Service Bus connection to send with: set ServiceBusConnection or ServiceBusConnection__fullyQualifiedNamespace")
	}

	// Read every kept state, then each distinct unversioned secret once.
	states := make([]followed, len(ids))
	r.each(ctx, len(ids), func(i int) {
		k, err := r.States.Get(ctx, ids[i])
		switch {
		case errors.Is(err, state.ErrNotFound): // forgotten since the list
			states[i].done = true
		case err != nil:
			states[i].failed, states[i].done = true, true
			log.Warn("reconcile: cannot read a kept state", "runId", runID, "servicePrincipalId", ids[i], "error", err.Error())
		default:
			states[i].kept = k
		}
	})
	var secrets []secretKey
	seen := map[secretKey]bool{}
	for i := range states {
		k := states[i].kept
		if k == nil {
			continue
		}
		req, err := request.Parse(k.Document, r.Policy)
		if err != nil {
			states[i].kept, states[i].done = nil, true
			rep.Skipped++
			log.Warn("reconcile: a kept document no longer passes the app's settings; it is not re-applied",
				"runId", runID, "servicePrincipalId", k.ServicePrincipalID, "problems", err.Error())
			continue
		}
		states[i].req = req
		for _, ref := range k.References {
			if sk := keyOf(ref); ref.Version == "" && !seen[sk] {
				seen[sk] = true
				secrets = append(secrets, sk)
			}
		}
	}
	if len(secrets) > 0 && r.Versions == nil {
		return rep, errors.New("reconcile: no Key Vault client to read the current versions with")
	}
	current := make([]string, len(secrets))
	readErr := make([]error, len(secrets))
	r.each(ctx, len(secrets), func(i int) {
		s := secrets[i]
		got, err := r.Versions.Resolve(ctx, []vault.Ref{{
			VaultURL: "https://" + s.vault, Vault: strings.SplitN(s.vault, ".", 2)[0], Name: s.name,
		}})
		if err != nil {
			readErr[i] = err
			log.Warn("reconcile: cannot read the current version of a secret", "runId", runID,
				"vault", s.vault, "secret", s.name, "error", err.Error())
			return
		}
		current[i] = got[0].Version // the value is not kept
	})
	rep.Secrets = len(secrets)
	at := make(map[secretKey]int, len(secrets))
	for i, s := range secrets {
		at[s] = i
	}

	// Re-apply what moved on, and check jobs.
	var (
		mu          sync.Mutex
		reapplied   []string
		unchanged   atomic.Int64
		jobs        atomic.Int64
		quarantined atomic.Int64
	)
	r.each(ctx, len(states), func(i int) {
		st := &states[i]
		if st.kept == nil {
			return
		}
		defer func() { st.done = true }()
		k := st.kept
		var moved []string
		for _, ref := range k.References {
			if ref.Version != "" {
				continue
			}
			j := at[keyOf(ref)]
			switch {
			case readErr[j] != nil:
				st.failed = true
			case current[j] != "" && !strings.EqualFold(current[j], ref.Resolved):
				moved = append(moved, keyOf(ref).vault+"/"+keyOf(ref).name+"/"+strings.ToLower(current[j]))
			}
		}
		if len(moved) > 0 {
			slices.Sort(moved)
			mid := MessageID(append([]string{"reconcile", k.ServicePrincipalID}, moved...)...)
			if err := Reapply(ctx, r.Sender, r.RequestQueue, k, mid, "reconcile-"+runID, noSchedule); err != nil {
				st.failed = true
				log.Warn("reconcile: cannot re-apply a kept state", "runId", runID, "servicePrincipalId", k.ServicePrincipalID, "error", err.Error())
			} else {
				mu.Lock()
				reapplied = append(reapplied, k.ServicePrincipalID)
				mu.Unlock()
			}
		} else if !st.failed {
			unchanged.Add(1)
		}
		if st.req.Job != nil && r.Jobs != nil {
			jobs.Add(1)
			q, err := r.checkJob(ctx, runID, st.req)
			switch {
			case err != nil:
				st.failed = true
				log.Warn("reconcile: cannot check a synchronization job", "runId", runID,
					"servicePrincipalId", k.ServicePrincipalID, "jobId", st.req.Job.ID, "error", err.Error())
			case q:
				quarantined.Add(1)
			}
		}
	})
	slices.Sort(reapplied)
	rep.ReappliedIDs = append(rep.ReappliedIDs, reapplied...)
	rep.Reapplied, rep.Unchanged = len(reapplied), int(unchanged.Load())
	rep.Jobs, rep.Quarantined = int(jobs.Load()), int(quarantined.Load())
	for _, st := range states {
		switch {
		case !st.done:
			rep.NotReached++
		case st.failed:
			rep.Failed++
		}
	}
	log.Info("reconcile run", rep.LogAttrs()...)
	return rep, nil
}

// noSchedule asks Reapply to send at once.
var noSchedule time.Time

// JobQuarantined is the JSON body of a quarantine report. It carries the
// synchronization error's code, never its message: the message quotes the
// target application's answers, which can hold the values sent to it.
type JobQuarantined struct {
	ServicePrincipalID string `json:"servicePrincipalId"`
	JobID              string `json:"jobId"`
	// Reason is the quarantine's reason, e.g. "EncounteredQuarantineException".
	Reason string `json:"reason,omitempty"`
	// ErrorCode is the synchronization error's code.
	ErrorCode string `json:"errorCode,omitempty"`
	RunID     string `json:"runId"`
}

// checkJob reads the kept document's job and, when it is quarantined,
// reports it: a warning log line always, and a message to the results
// queue when one is set. It reports whether the job is quarantined.
func (r *Reconciler) checkJob(ctx context.Context, runID string, req *request.Request) (bool, error) {
	resp, err := r.Jobs.GetJob(ctx, req.APIVersion, req.ServicePrincipalID, req.Job.ID)
	if err != nil {
		return false, err
	}
	if resp.Status.Code != graph.JobQuarantine {
		return false, nil
	}
	rep := JobQuarantined{ServicePrincipalID: req.ServicePrincipalID, JobID: req.Job.ID, RunID: runID}
	if q := resp.Status.Quarantine; q != nil {
		rep.Reason = q.Reason
		if q.Error != nil {
			rep.ErrorCode = q.Error.Code
		}
	}
	r.logger().Warn("reconcile: a followed service principal's synchronization job is quarantined",
		"runId", runID, "servicePrincipalId", rep.ServicePrincipalID, "jobId", rep.JobID,
		"reason", rep.Reason, "errorCode", rep.ErrorCode, "resultsQueue", r.ResultsQueue)
	if r.ResultsQueue == "" {
		return true, nil
	}
	body, err := json.Marshal(rep)
	if err != nil {
		return true, fmt.Errorf("encode the quarantine report: %w", err)
	}
	mid, corr, subject, ct := MessageID(runID, req.ServicePrincipalID, req.Job.ID, SubjectJobQuarantined), "reconcile-"+runID, SubjectJobQuarantined, contentType
	m := &azservicebus.Message{
		MessageID: &mid, CorrelationID: &corr, Subject: &subject, ContentType: &ct, Body: body,
		ApplicationProperties: map[string]any{"servicePrincipalId": rep.ServicePrincipalID, "jobId": rep.JobID, "status": graph.JobQuarantine},
	}
	if err := r.Sender.Send(ctx, r.ResultsQueue, m); err != nil {
		return true, fmt.Errorf("report the quarantined job %s of %s to queue %q: %w", rep.JobID, rep.ServicePrincipalID, r.ResultsQueue, err)
	}
	return true, nil
}

// each calls f(0) … f(n-1), at most Concurrency at once, and returns when
// all have returned. Once ctx is done it starts no more.
func (r *Reconciler) each(ctx context.Context, n int, f func(i int)) {
	limit := r.Concurrency
	if limit <= 0 {
		limit = DefaultReconcileConcurrency
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(limit, n) {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
}

func (r *Reconciler) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}
