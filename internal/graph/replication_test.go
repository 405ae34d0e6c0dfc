package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeClock makes a ReplicationWait's time: every wait returns at once and
// moves the clock on by the delay asked for.
type fakeClock struct {
	t      time.Time
	delays []time.Duration
}

func (c *fakeClock) install(w *ReplicationWait) {
	w.now = func() time.Time { return c.t }
	w.after = func(d time.Duration) <-chan time.Time {
		c.delays = append(c.delays, d)
		c.t = c.t.Add(d)
		ch := make(chan time.Time, 1)
		ch <- c.t
		return ch
	}
}

func answer(status int) error {
	return fmt.Errorf("put secrets: %w", &ResponseError{StatusCode: status, Operation: "PutSecrets"})
}

func TestReplicationWait(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	errOther := errors.New("connection refused")
	tests := []struct {
		name        string
		limit       time.Duration
		deadline    time.Duration // context deadline (less the try reserve) from the start; 0: none
		answers     []error       // one per call; the last repeats
		wantCalls   int
		wantDelays  []time.Duration
		wantErr     error // nil: success
		wantWait    *ReplicationError
		wantSettled bool
	}{
		{
			name: "success at once", limit: 30 * time.Second,
			answers: []error{nil}, wantCalls: 1, wantSettled: true,
		},
		{
			name: "404 twice then success", limit: 30 * time.Second,
			answers: []error{answer(404), answer(404), nil}, wantCalls: 3,
			wantDelays: []time.Duration{500 * ms, 1000 * ms}, wantSettled: true,
		},
		{
			name: "401 until the limit", limit: 2 * time.Second,
			answers: []error{answer(401)}, wantCalls: 4,
			wantDelays: []time.Duration{500 * ms, 1000 * ms, 500 * ms},
			wantWait:   &ReplicationError{Tries: 4, Waited: 2 * time.Second, Limit: 2 * time.Second},
		},
		{
			name: "backoff is capped at 4s", limit: 20 * time.Second,
			answers: []error{answer(404)}, wantCalls: 9,
			wantDelays: []time.Duration{500 * ms, 1000 * ms, 2000 * ms, 4000 * ms, 4000 * ms, 4000 * ms, 4000 * ms, 500 * ms},
			wantWait:   &ReplicationError{Tries: 9, Waited: 20 * time.Second, Limit: 20 * time.Second},
		},
		{
			name: "limit 0 retries nothing", limit: 0,
			answers: []error{answer(401), nil}, wantCalls: 1,
			wantWait: &ReplicationError{Tries: 1, Limit: 0},
		},
		{
			name: "the invocation's deadline is closer than the limit", limit: 30 * time.Second, deadline: 1500 * ms,
			answers: []error{answer(404)}, wantCalls: 3,
			wantDelays: []time.Duration{500 * ms, 1000 * ms},
			wantWait:   &ReplicationError{Tries: 3, Waited: 1500 * ms, Limit: 30 * time.Second},
		},
		{
			name: "403 twice then success", limit: 30 * time.Second,
			answers: []error{answer(403), answer(403), nil}, wantCalls: 3,
			wantDelays: []time.Duration{500 * ms, 1000 * ms}, wantSettled: true,
		},
		{
			name: "403 until the limit", limit: 2 * time.Second,
			answers: []error{answer(403)}, wantCalls: 4,
			wantDelays: []time.Duration{500 * ms, 1000 * ms, 500 * ms},
			wantWait:   &ReplicationError{Tries: 4, Waited: 2 * time.Second, Limit: 2 * time.Second},
		},
		{
			name: "403, 401 and 404 share one wait", limit: 2 * time.Second,
			answers: []error{answer(401), answer(403), answer(404)}, wantCalls: 4,
			wantDelays: []time.Duration{500 * ms, 1000 * ms, 500 * ms},
			wantWait:   &ReplicationError{Tries: 4, Waited: 2 * time.Second, Limit: 2 * time.Second},
		},
		{
			name: "400 is not waited for", limit: 30 * time.Second,
			answers: []error{answer(400)}, wantCalls: 1, wantErr: answer(400),
		},
		{
			name: "409 is the pipeline's, not waited for", limit: 30 * time.Second,
			answers: []error{answer(409)}, wantCalls: 1, wantErr: answer(409),
		},
		{
			name: "other errors are not waited for", limit: 30 * time.Second,
			answers: []error{errOther}, wantCalls: 1, wantErr: errOther,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			clock := &fakeClock{t: start}
			w := NewReplicationWait(tt.limit)
			clock.install(w)
			ctx := t.Context()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, start.Add(tt.deadline+replicationTryReserve))
				defer cancel()
			}
			calls := 0
			err := w.Do(ctx, func(context.Context) error {
				calls++
				return tt.answers[min(calls, len(tt.answers))-1]
			})
			if calls != tt.wantCalls {
				t.Errorf("calls = %d, want %d", calls, tt.wantCalls)
			}
			if diff := cmp.Diff(tt.wantDelays, clock.delays); diff != "" {
				t.Errorf("delays (-want +got):\n%s", diff)
			}
			if w.settled != tt.wantSettled {
				t.Errorf("settled = %v, want %v", w.settled, tt.wantSettled)
			}
			switch {
			case tt.wantWait != nil:
				re, ok := errors.AsType[*ReplicationError](err)
				if !ok {
					t.Fatalf("error = %v, want a *ReplicationError", err)
				}
				if re.Tries != tt.wantWait.Tries || re.Waited != tt.wantWait.Waited || re.Limit != tt.wantWait.Limit {
					t.Errorf("ReplicationError = tries %d waited %v limit %v, want %d %v %v", re.Tries, re.Waited, re.Limit,
						tt.wantWait.Tries, tt.wantWait.Waited, tt.wantWait.Limit)
				}
				if _, ok := errors.AsType[*ResponseError](err); !ok {
					t.Errorf("error %v does not unwrap to Graph's answer", err)
				}
			case tt.wantErr != nil:
				if err == nil || err.Error() != tt.wantErr.Error() {
					t.Errorf("error = %v, want %v", err, tt.wantErr)
				}
				if _, ok := errors.AsType[*ReplicationError](err); ok {
					t.Errorf("error %v is a ReplicationError", err)
				}
			default:
				if err != nil {
					t.Errorf("error = %v, want success", err)
				}
			}
		})
	}
}

// TestReplicationWaitSettles: once a call of the invocation succeeded, the
// service principal exists for Graph and the identity's permission reached
// it, and a later 401, 403 or 404 (an unknown job, a refused job operation)
// is answered at once.
func TestReplicationWaitSettles(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Now()}
	w := NewReplicationWait(30 * time.Second)
	clock.install(w)
	if err := w.Do(t.Context(), func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound} {
		calls := 0
		err := w.Do(t.Context(), func(context.Context) error { calls++; return answer(status) })
		if _, ok := errors.AsType[*ReplicationError](err); ok || calls != 1 || len(clock.delays) != 0 {
			t.Errorf("after a success: error %v, %d calls, delays %v; want Graph's %d after 1 call", err, calls, clock.delays, status)
		}
	}
}

// TestReplicationWaitCanceled: a context that ends during the wait ends it,
// with Graph's last answer.
func TestReplicationWaitCanceled(t *testing.T) {
	t.Parallel()
	w := NewReplicationWait(30 * time.Second)
	ctx, cancel := context.WithCancel(t.Context())
	w.after = func(time.Duration) <-chan time.Time { cancel(); return nil }
	err := w.Do(ctx, func(context.Context) error { return answer(http.StatusUnauthorized) })
	if re, ok := errors.AsType[*ReplicationError](err); !ok || re.Tries != 1 {
		t.Errorf("error = %v, want a *ReplicationError after 1 try", err)
	}
}
