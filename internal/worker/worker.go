// Package worker is the `handler worker` command's engine: a standalone
// Service Bus receiver that processes request messages exactly as the
// PutSecretsFromQueue function does (settle.Processor) and settles each one
// itself, for Container Apps or Kubernetes with KEDA.
//
//   - Concurrency bounds the messages processed at once (without sessions) or
//     the sessions held at once (with sessions).
//   - Complete on success and on a reported permanent failure; dead-letter,
//     with DeadLetterReason and DeadLetterErrorDescription, a permanent failure
//     that has nowhere to be reported; abandon a transient failure (Service
//     Bus redelivers it, and dead-letters it after MaxDeliveryCount).
//   - Sessions: each session is held by one receiver that takes one message
//     at a time and settles it before the next, so the updates of one service
//     principal apply in order while different sessions run in parallel. A
//     session idle for SessionIdleTimeout is released for others.
//   - Locks are renewed while a message is processed (and a session's while
//     it is held), like the Functions host's maxAutoLockRenewalDuration.
//   - Key Vault events: with EventsQueue and Events set, a second receiver
//     takes events from the events queue and handles them as the
//     PutSecretsFromKeyVault function does (events.go). A missing events
//     queue is logged and skipped, not fatal.
//   - When ctx ends (SIGTERM), Run stops receiving, lets in-flight messages
//     finish and settles them, closes its receivers and returns.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/go-amqp"

	"github.com/putsecrets/putsecrets/internal/follow"
	"github.com/putsecrets/putsecrets/internal/request"
	"github.com/putsecrets/putsecrets/internal/settle"
)

// Defaults.
const (
	DefaultConcurrency        = 8
	DefaultSessionIdleTimeout = 30 * time.Second
	DefaultInvocationTimeout  = 5 * time.Minute
	// DefaultSettleTimeout bounds a settlement: on a session receiver the
	// client retries a lost lock for about 45 s whatever its RetryOptions.
	DefaultSettleTimeout = 20 * time.Second
	// MaxConcurrency is the most Concurrency the worker command accepts.
	// Each message (or session) in flight holds a receiver's buffers, a lock
	// renewal and its Key Vault and Graph calls; without a ceiling
	// --concurrency 200000 reached 1.3 GB in 6 s. 256 is 32 times the
	// default; to go wider, run more workers.
	MaxConcurrency = 256
	closeTimeout   = 10 * time.Second
	maxBackoff     = 30 * time.Second
)

// Options configure Run.
type Options struct {
	// Client is the Service Bus client receivers are made from.
	Client *azservicebus.Client
	// Queue is the request queue.
	Queue string
	// Processor does the work; the same one the function uses.
	Processor *settle.Processor
	// Logger receives one JSON line per message and the worker's life events.
	Logger *slog.Logger
	// Concurrency bounds the messages (or, with Sessions, the sessions)
	// processed at once (default DefaultConcurrency).
	Concurrency int
	// Sessions accepts sessions on a session-enabled queue.
	Sessions bool
	// SessionIdleTimeout releases a session that delivered nothing for this
	// long (default DefaultSessionIdleTimeout).
	SessionIdleTimeout time.Duration
	// InvocationTimeout bounds the processing of one message (default
	// DefaultInvocationTimeout).
	InvocationTimeout time.Duration
	// SettleTimeout bounds each settlement (default DefaultSettleTimeout).
	SettleTimeout time.Duration
	// EventsQueue is the Key Vault events queue (PUTSECRETS_EVENTS_QUEUE);
	// with Events, Run also receives from it (never with sessions).
	EventsQueue string
	// Events handles Key Vault events; the same one the function uses.
	Events *follow.Events
}

// worker is one Run's receiver on one queue.
type worker struct {
	Options
	log *slog.Logger
	// events makes this the events queue's receiver: handle acts on Key
	// Vault events instead of requests.
	events bool
}

// Run receives and processes messages until ctx ends, then drains: it stops
// receiving, finishes and settles the messages in flight, closes its
// receivers and returns nil. It returns an error at once for a mistake that
// retrying cannot fix (no such queue; sessions asked for on a queue without
// them, or the other way round).
func Run(ctx context.Context, o Options) error {
	if o.Client == nil || o.Processor == nil || o.Queue == "" {
		return errors.New("worker: a client, a processor and a queue are required")
	}
	w := &worker{Options: o, log: o.Logger}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.Concurrency <= 0 {
		w.Concurrency = DefaultConcurrency
	}
	if w.SessionIdleTimeout <= 0 {
		w.SessionIdleTimeout = DefaultSessionIdleTimeout
	}
	if w.InvocationTimeout <= 0 {
		w.InvocationTimeout = DefaultInvocationTimeout
	}
	if w.SettleTimeout <= 0 {
		w.SettleTimeout = DefaultSettleTimeout
	}
	w.log.Info("worker receiving", "queue", w.Queue, "concurrency", w.Concurrency, "sessions", w.Sessions,
		"invocationTimeout", w.InvocationTimeout.String())
	ctx, cancel := context.WithCancel(ctx)
	var events sync.WaitGroup
	defer func() {
		cancel() // a fatal error on the request queue stops the events receiver too
		events.Wait()
	}()
	if w.EventsQueue != "" && w.Events != nil {
		events.Add(1)
		go func() {
			defer events.Done()
			w.runEvents(ctx)
		}()
	}
	var err error
	if w.Sessions {
		err = w.runSessions(ctx)
	} else {
		err = w.runQueue(ctx)
	}
	if err != nil {
		return err
	}
	w.log.Info("worker stopped: in-flight messages settled", "queue", w.Queue)
	return nil
}

// runQueue receives from a queue without sessions: up to Concurrency
// messages in flight, each processed and settled on its own.
func (w *worker) runQueue(ctx context.Context) error {
	r, err := w.Client.NewReceiverForQueue(w.Queue, nil)
	if err != nil {
		return fmt.Errorf("receiver for queue %q: %w", w.Queue, err)
	}
	defer closeQuietly(r.Close)

	slots := make(chan struct{}, w.Concurrency)
	var inflight sync.WaitGroup
	defer inflight.Wait() // runs before the receiver closes: settlements need it
	var b backoff
	for {
		// Wait for a free slot, then take every other free one.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			w.log.Info("worker stopping: draining in-flight messages", "queue", w.Queue)
			return nil
		}
		n := 1
	take:
		for n < w.Concurrency {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break take
			}
		}
		msgs, err := r.ReceiveMessages(ctx, n, nil)
		for range n - len(msgs) {
			<-slots
		}
		for _, m := range msgs {
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				defer func() { <-slots }()
				renew := func(ctx context.Context) (time.Time, error) {
					err := r.RenewMessageLock(ctx, m, nil)
					return lockedUntil(m), err
				}
				w.handle(ctx, r, m, renew)
			}()
		}
		switch {
		case err == nil:
			if len(msgs) > 0 {
				b.reset()
			}
			// (nil, nil): the link failed without delivering; the next call recovers it.
		case ctx.Err() != nil:
			w.log.Info("worker stopping: draining in-flight messages", "queue", w.Queue)
			return nil
		case isFatal(err):
			inflight.Wait()
			return w.fatalError(err)
		default:
			w.log.Warn("receive failed; retrying", "queue", w.Queue, "error", err.Error())
			if !b.wait(ctx) {
				return nil
			}
		}
	}
}

// runSessions holds up to Concurrency sessions at once, each served by its
// own receiver, one message at a time.
func (w *worker) runSessions(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	var once sync.Once
	var fatal error
	for range w.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.sessionLoop(ctx); err != nil {
				once.Do(func() { fatal = err })
				cancel(err)
			}
		}()
	}
	<-ctx.Done()
	if errors.Is(context.Cause(ctx), context.Canceled) { // the caller's shutdown, not a fatal error
		w.log.Info("worker stopping: draining in-flight sessions", "queue", w.Queue)
	}
	wg.Wait()
	return fatal
}

// sessionLoop accepts the next available session, serves it until it is
// idle, and starts again, until ctx ends.
func (w *worker) sessionLoop(ctx context.Context) error {
	var b backoff
	for ctx.Err() == nil {
		sr, err := w.Client.AcceptNextSessionForQueue(ctx, w.Queue, nil)
		if err != nil {
			var sbErr *azservicebus.Error
			switch {
			case ctx.Err() != nil:
				return nil
			case errors.As(err, &sbErr) && sbErr.Code == azservicebus.CodeTimeout:
				continue // no session is available: ask again
			case isFatal(err):
				return w.fatalError(err)
			}
			w.log.Warn("accepting a session failed; retrying", "queue", w.Queue, "error", err.Error())
			if !b.wait(ctx) {
				return nil
			}
			continue
		}
		b.reset()
		w.serveSession(ctx, sr)
		closeQuietly(sr.Close)
	}
	return nil
}

// serveSession processes one session's messages in order until the session
// is idle, its receiver fails, or ctx ends.
func (w *worker) serveSession(ctx context.Context, sr *azservicebus.SessionReceiver) {
	id := sr.SessionID()
	stop := w.renewing(context.WithoutCancel(ctx), "session", id, sr.LockedUntil(), func(ctx context.Context) (time.Time, error) {
		err := sr.RenewSessionLock(ctx, nil)
		return sr.LockedUntil(), err
	})
	defer stop()
	idleUntil := time.Now().Add(w.SessionIdleTimeout)
	for ctx.Err() == nil {
		rctx, cancel := context.WithDeadline(ctx, idleUntil)
		// One at a time: with more, the client keeps spare link credit and
		// releases late arrivals behind later messages, out of order.
		msgs, err := sr.ReceiveMessages(rctx, 1, nil)
		cancel()
		if len(msgs) > 0 {
			w.handle(ctx, sr, msgs[0], nil) // the session's lock covers its messages
			idleUntil = time.Now().Add(w.SessionIdleTimeout)
			continue
		}
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !errors.Is(err, context.DeadlineExceeded):
			w.log.Warn("session receive failed; releasing the session", "queue", w.Queue, "sessionId", id, "error", err.Error())
			return
		case !time.Now().Before(idleUntil):
			return // idle: let another session have the slot
		}
		// (nil, nil): the link failed without delivering; the next call recovers it.
	}
}

// settler settles messages: *azservicebus.Receiver and *SessionReceiver.
type settler interface {
	CompleteMessage(ctx context.Context, m *azservicebus.ReceivedMessage, o *azservicebus.CompleteMessageOptions) error
	AbandonMessage(ctx context.Context, m *azservicebus.ReceivedMessage, o *azservicebus.AbandonMessageOptions) error
	DeadLetterMessage(ctx context.Context, m *azservicebus.ReceivedMessage, o *azservicebus.DeadLetterOptions) error
}

// handle processes one message and settles it. Processing and settlement
// outlive ctx (a shutdown drains them) within their own time limits.
func (w *worker) handle(ctx context.Context, s settler, m *azservicebus.ReceivedMessage, renew func(context.Context) (time.Time, error)) {
	if w.events {
		w.handleEvent(ctx, s, m, renew)
		return
	}
	start := time.Now()
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.InvocationTimeout)
	stopRenewing := func() {}
	if renew != nil {
		stopRenewing = w.renewing(pctx, "message", m.MessageID, lockedUntil(m), renew)
	}
	d := w.Processor.Process(pctx, MessageOf(m))
	stopRenewing() // before settling: a renewal must not race the settlement
	cancel()

	sctx, cancelSettle := context.WithTimeout(context.WithoutCancel(ctx), w.SettleTimeout)
	defer cancelSettle()
	var err error
	switch d.Settle {
	case settle.Complete:
		err = s.CompleteMessage(sctx, m, nil)
	case settle.DeadLetter:
		err = s.DeadLetterMessage(sctx, m, &azservicebus.DeadLetterOptions{Reason: &d.Reason, ErrorDescription: &d.Description})
	default:
		err = s.AbandonMessage(sctx, m, nil)
	}
	w.logMessage(m, d, start, err)
}

// renewing runs keepLocked until the returned stop is called; stop returns
// once no renewal is in progress.
func (w *worker) renewing(ctx context.Context, what, id string, until time.Time, renew func(context.Context) (time.Time, error)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.keepLocked(ctx, what, id, until, renew)
	}()
	return func() {
		cancel()
		<-done
	}
}

// keepLocked renews a lock at half its remaining time until ctx ends or a
// renewal fails (the settlement then reports the lost lock).
func (w *worker) keepLocked(ctx context.Context, what, id string, until time.Time, renew func(context.Context) (time.Time, error)) {
	for {
		wait := time.Until(until) / 2
		if until.IsZero() || wait <= 0 {
			wait = time.Second
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, w.SettleTimeout)
		next, err := renew(rctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			w.log.Warn("lock renewal failed", "queue", w.Queue, "lock", what, "id", id, "error", err.Error())
			return
		}
		until = next
	}
}

// MessageOf is the request message a received message carries.
func MessageOf(m *azservicebus.ReceivedMessage) request.Message {
	return request.Message{
		Body:             m.Body,
		MessageID:        m.MessageID,
		CorrelationID:    deref(m.CorrelationID),
		ReplyTo:          deref(m.ReplyTo),
		ReplyToSessionID: deref(m.ReplyToSessionID),
		SessionID:        deref(m.SessionID),
		DeliveryCount:    int(m.DeliveryCount),
	}
}

func lockedUntil(m *azservicebus.ReceivedMessage) time.Time {
	if m.LockedUntil == nil {
		return time.Time{}
	}
	return *m.LockedUntil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// isFatal reports errors that retrying cannot fix.
func isFatal(err error) bool {
	var amqpErr *amqp.Error
	if errors.As(err, &amqpErr) {
		switch amqpErr.Condition {
		case amqp.ErrCondNotAllowed, amqp.ErrCondNotFound:
			return true
		}
	}
	var sbErr *azservicebus.Error
	return errors.As(err, &sbErr) && sbErr.Code == azservicebus.CodeNotFound
}

func (w *worker) fatalError(err error) error {
	hint := "run the worker with --sessions exactly when the queue requires sessions"
	var amqpErr *amqp.Error
	var sbErr *azservicebus.Error
	if errors.As(err, &amqpErr) && amqpErr.Condition == amqp.ErrCondNotFound || errors.As(err, &sbErr) && sbErr.Code == azservicebus.CodeNotFound {
		hint = "check the queue name (--queue or PUTSECRETS_QUEUE) and the namespace"
	}
	return fmt.Errorf("queue %q: %w (%s)", w.Queue, err, hint)
}

func closeQuietly(close func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_ = close(ctx)
}

// backoff waits between failed attempts: 1 s, doubling to 30 s.
type backoff struct{ next time.Duration }

func (b *backoff) reset() { b.next = 0 }

// wait waits the next delay; false when ctx ended first.
func (b *backoff) wait(ctx context.Context) bool {
	if b.next == 0 {
		b.next = time.Second
	}
	t := time.NewTimer(b.next)
	defer t.Stop()
	b.next = min(2*b.next, maxBackoff)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
