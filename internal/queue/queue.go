// Package queue decides what happens to one request message: the processing
// shared by the PutSecretsFromQueue function and the worker command
// (CONTRACT.md §4). The function turns a Decision into its answer to the
// Functions host; the worker turns it into a settlement.
//
// Transient versus permanent is decided by problem.Problem.Transient, and
// nowhere else:
//
//	success                            → outcome PutSecrets.Succeeded (when a destination exists), Complete
//	permanent (400/403/404/422/502)    → outcome PutSecrets.Failed, Complete; without a destination, DeadLetter
//	transient (503/500)                → Abandon: Service Bus redelivers, and dead-letters after MaxDeliveryCount
//	outcome could not be sent          → Abandon: the request is redelivered, so an outcome is never lost
package queue

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/putsecrets/putsecrets/internal/problem"
	"github.com/putsecrets/putsecrets/internal/provision"
	"github.com/putsecrets/putsecrets/internal/secret"
)

// Putter does the work for one request document.
type Putter interface {
	Put(ctx context.Context, body []byte) (*provision.Result, error)
}

// Publisher sends outcome messages (internal/servicebus implements it).
type Publisher interface {
	Publish(ctx context.Context, o *Outcome) error
}

// Message is a request message, however it was received. Properties a body
// field shadowed in the Functions host's metadata arrive empty (see
// envelope.Message.Shadowed), so a forged ReplyTo cannot redirect an outcome.
type Message struct {
	Body             []byte
	MessageID        string
	CorrelationID    string
	ReplyTo          string
	ReplyToSessionID string
	SessionID        string
	DeliveryCount    int
}

// Settlement is what should happen to the message.
type Settlement string

// The settlements.
const (
	// Complete: done (success, or a permanent failure whose outcome was published).
	Complete Settlement = "complete"
	// Abandon: a transient failure, or an outcome that could not be sent;
	// Service Bus redelivers the message and dead-letters it after
	// MaxDeliveryCount.
	Abandon Settlement = "abandon"
	// DeadLetter: a permanent failure with nowhere to report it. The worker
	// dead-letters at once; the function can only fail the invocation, so
	// Service Bus dead-letters after MaxDeliveryCount.
	DeadLetter Settlement = "deadLetter"
)

// Decision is the result of processing one message.
type Decision struct {
	Settle Settlement
	// Result is always set; on failure it holds what was learnt.
	Result *provision.Result
	// Problem is set when the request failed.
	Problem *problem.Problem
	// Outcome is the outcome message, when the message had a destination.
	Outcome *Outcome
	// OutcomeErr is why Outcome could not be sent (the decision is then Abandon).
	OutcomeErr error
	// Reason and Description explain a dead-letter or abandon, for Service
	// Bus's DeadLetterReason/DeadLetterErrorDescription and the logs. They
	// never hold a secret value (problem documents never do).
	Reason, Description string
	// Scrubber knows every value of the invocation, for Service Bus errors
	// met after Process returned (settling the message).
	Scrubber *secret.Scrubber
}

// LogProblem is the failure to log for the decision: the request's problem,
// or, when only the outcome failed, the Service Bus error mapped by
// problem.From.
func (d Decision) LogProblem() *problem.Problem {
	if d.Problem == nil && d.OutcomeErr != nil {
		return problem.From(problem.During("Service Bus", d.OutcomeErr))
	}
	return d.Problem
}

// Options configure a Processor.
type Options struct {
	// Outcomes sends outcome messages; nil when no Service Bus connection is
	// configured (an outcome that has a destination then cannot be sent, and
	// the message is abandoned rather than dropped).
	Outcomes Publisher
	// ResultsQueue is the default outcome destination
	// (PUTSECRETS_RESULTS_QUEUE); a message's ReplyTo overrides it.
	ResultsQueue string
}

// Processor processes request messages. It is safe for concurrent use.
type Processor struct {
	service      Putter
	outcomes     Publisher
	resultsQueue string
}

// NewProcessor returns a Processor.
func NewProcessor(service Putter, opts Options) *Processor {
	return &Processor{service: service, outcomes: opts.Outcomes, resultsQueue: strings.TrimSpace(opts.ResultsQueue)}
}

// maxDescription bounds a dead-letter description: Service Bus keeps it in
// the message's application properties, which share a 64 KiB header limit.
const maxDescription = 4096

// Process puts the message's secrets, publishes the outcome where a
// destination exists, and decides the settlement.
//
// The invocation's secret.Scrubber rides in ctx (attached here when absent),
// so the Service Bus error of a failed publish is scrubbed like the
// request's own errors.
func (p *Processor) Process(ctx context.Context, m Message) Decision {
	ctx, scrubber := secret.WithScrubber(ctx)
	res, err := p.service.Put(ctx, m.Body)
	if res == nil {
		res = &provision.Result{}
	}
	d := Decision{Settle: Complete, Result: res, Scrubber: scrubber}
	if err != nil {
		prob := problem.From(err)
		d.Problem, d.Reason, d.Description = prob, prob.Doc.Title, describe(prob)
		if prob.Transient() {
			d.Settle = Abandon
			return d
		}
	}
	dest := p.destination(m)
	if dest == "" {
		if d.Problem != nil {
			d.Settle = DeadLetter
		}
		return d
	}
	d.Outcome = NewOutcome(dest, m, res, d.Problem)
	if err := scrubber.Wrap(p.publish(ctx, d.Outcome)); err != nil {
		d.Settle, d.OutcomeErr = Abandon, err
		d.Reason = "Outcome not sent"
		d.Description = truncate(fmt.Sprintf("the outcome could not be sent to queue %q, so the request will be processed again: %v", dest, err))
		return d
	}
	d.Settle = Complete
	return d
}

// destination is where the outcome goes: the message's ReplyTo, else the
// results queue, else nowhere.
func (p *Processor) destination(m Message) string {
	if to := strings.TrimSpace(m.ReplyTo); to != "" {
		return to
	}
	return p.resultsQueue
}

func (p *Processor) publish(ctx context.Context, o *Outcome) error {
	if p.outcomes == nil {
		return fmt.Errorf("no Service Bus connection is configured to send outcomes " +
			"(set ServiceBusConnection or ServiceBusConnection__fullyQualifiedNamespace)")
	}
	return p.outcomes.Publish(ctx, o)
}

// describe is a dead-letter description: the problem's detail and each field
// problem, which name fields and never values.
func describe(p *problem.Problem) string {
	var b strings.Builder
	b.WriteString(p.Doc.Detail)
	for _, e := range p.Doc.Errors {
		b.WriteString("; ")
		if e.Field != "" {
			b.WriteString(e.Field + ": ")
		}
		b.WriteString(e.Message)
	}
	if dep := p.Doc.Dependency; dep != nil && dep.RequestID != "" {
		fmt.Fprintf(&b, " (%s request-id %s)", dep.Service, dep.RequestID)
	}
	return truncate(b.String())
}

func truncate(s string) string {
	if len(s) <= maxDescription {
		return s
	}
	cut := maxDescription - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
