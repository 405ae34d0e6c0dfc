package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Backoff of the replication wait: the first retry after 500 ms, each next
// one after twice as long, at most 4 s apart.
const (
	replicationFirstDelay = 500 * time.Millisecond
	replicationMaxDelay   = 4 * time.Second
	// replicationTryReserve is the invocation time left for the last try:
	// the wait never sleeps closer than this to the context's deadline, so
	// that the answer is Graph's, not a timeout.
	replicationTryReserve = time.Second
)

// ReplicationWait retries the Graph calls of one invocation while Graph
// answers 401, 403 or 404, as it does for a service principal created
// moments ago until the directory has replicated it (401, 404), and right
// after the app's identity was granted its permission or made an owner
// (403: Terraform's azuread provider retries 403 on every synchronization
// call for this reason). It is the only retry loop of this package; azcore's
// pipeline retries everything else (408, 409, 429, 5xx, transport errors).
//
// The wait is bounded twice: by its limit (PUTSECRETS_GRAPH_CONSISTENCY_WAIT),
// counted from the first such answer, and by the context's deadline (the
// invocation's remaining time). Once any call has succeeded the service
// principal has replicated and the identity's token and permission have
// reached the synchronization service for it, and a later 401, 403 or 404 (a
// job ID Graph does not know, a job operation refused) is returned at once:
// every synchronization call needs the same permission, so waiting would only
// hold the invocation, or the message's lock, for a refusal that stays.
//
// A ReplicationWait serves one invocation; it is not safe for concurrent use.
type ReplicationWait struct {
	limit time.Duration
	now   func() time.Time
	after func(time.Duration) <-chan time.Time

	began   time.Time // the first 401, 403 or 404; zero before
	tries   int       // calls answered 401, 403 or 404 while waiting
	settled bool      // a call succeeded
}

// NewReplicationWait returns a wait bounded by limit; 0 retries nothing.
func NewReplicationWait(limit time.Duration) *ReplicationWait {
	return &ReplicationWait{limit: max(limit, 0), now: time.Now, after: time.After}
}

// Do runs call until it succeeds, fails otherwise than with a 401, 403 or
// 404 *ResponseError, or the wait is over. When it ends on one of them before
// any call of the invocation succeeded, the error is a *ReplicationError
// wrapping Graph's last answer.
func (w *ReplicationWait) Do(ctx context.Context, call func(context.Context) error) error {
	for {
		err := call(ctx)
		if err == nil {
			w.settled = true
			return nil
		}
		re, ok := errors.AsType[*ResponseError](err)
		if w.settled || !ok || !replicating(re.StatusCode) {
			return err
		}
		now := w.now()
		if w.began.IsZero() {
			w.began = now
		}
		w.tries++
		end := w.began.Add(w.limit)
		if deadline, ok := ctx.Deadline(); ok {
			end = minTime(end, deadline.Add(-replicationTryReserve))
		}
		delay := min(replicationFirstDelay<<min(w.tries-1, 10), replicationMaxDelay, end.Sub(now))
		if delay <= 0 {
			return w.giveUp(now, err)
		}
		select {
		case <-ctx.Done():
			return w.giveUp(w.now(), err)
		case <-w.after(delay):
		}
	}
}

// replicating reports whether Graph answers status while it has not caught
// up yet: 401 and 404 for a new service principal, 403 for a new grant or
// ownership. These are the answers ReplicationWait waits out.
func replicating(status int) bool {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return true
	}
	return false
}

func (w *ReplicationWait) giveUp(now time.Time, err error) error {
	return &ReplicationError{Tries: w.tries, Waited: now.Sub(w.began), Limit: w.limit, Err: err}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// ReplicationError reports that Graph kept answering 401, 403 or 404 for a
// service principal throughout the replication wait. Either the service
// principal or the identity's grant has not replicated yet, or the app's
// identity may not see or write it; Graph does not say which.
type ReplicationError struct {
	// Tries counts the calls answered 401, 403 or 404.
	Tries int
	// Waited is how long the wait lasted, from the first such answer.
	Waited time.Duration
	// Limit is the configured bound (PUTSECRETS_GRAPH_CONSISTENCY_WAIT).
	Limit time.Duration
	// Err is Graph's last answer, a *ResponseError (possibly wrapped).
	Err error
}

// Error names Graph's last answer and the wait.
func (e *ReplicationError) Error() string {
	return fmt.Sprintf("%v (still after %d tries over %s, waiting at most %s for replication)",
		e.Err, e.Tries, e.Waited.Round(time.Millisecond), e.Limit)
}

// Unwrap returns Graph's last answer.
func (e *ReplicationError) Unwrap() error { return e.Err }
