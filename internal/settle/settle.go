// Package settle decides what happens to one request message: the processing
// shared by the PutSecretsFromQueue function and the worker command
// (docs/contract.md §4). The function turns a Decision into its answer to the
// Functions host; the worker turns it into a settlement.
//
// Transient versus permanent is decided by problem.Problem.Transient, and
// nowhere else:
//
//	success                            → outcome PutSecrets.Succeeded (when a destination exists), Complete
//	permanent (400/403/404/422/502)    → outcome PutSecrets.Failed, Complete; without a destination, DeadLetter
//	transient (503/500)                → Abandon: Service Bus redelivers, and dead-letters after MaxDeliveryCount
//	outcome could not be sent          → Abandon: the request is redelivered, so an outcome is never lost
package settle

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/putsecrets/putsecrets/internal/problem"
	"github.com/putsecrets/putsecrets/internal/provision"
	"github.com/putsecrets/putsecrets/internal/request"
	"github.com/putsecrets/putsecrets/internal/secret"
)

// Publisher sends outcome messages (internal/servicebus implements it).
type Publisher interface {
	Publish(ctx context.Context, o *Outcome) error
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
// problem.FromDependency.
func (d Decision) LogProblem() *problem.Problem {
	if d.Problem == nil && d.OutcomeErr != nil {
		return problem.FromDependency("Service Bus", d.OutcomeErr)
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
	// RequestQueue and EventsQueue are the queues this app reads requests
	// and Key Vault events from (PUTSECRETS_QUEUE, PUTSECRETS_EVENTS_QUEUE).
	// A message whose ReplyTo names one of them is refused: its outcome would
	// be read back as a request or an event (config refuses the same for
	// PUTSECRETS_RESULTS_QUEUE).
	RequestQueue, EventsQueue string
}

// Processor processes request messages. It is safe for concurrent use.
type Processor struct {
	service      provision.Putter
	outcomes     Publisher
	resultsQueue string
	ownQueues    []string // where an outcome must never go
}

// NewProcessor returns a Processor.
func NewProcessor(service provision.Putter, opts Options) *Processor {
	p := &Processor{service: service, outcomes: opts.Outcomes, resultsQueue: strings.TrimSpace(opts.ResultsQueue)}
	for _, q := range []string{opts.RequestQueue, opts.EventsQueue} {
		if q = strings.TrimSpace(q); q != "" {
			p.ownQueues = append(p.ownQueues, q)
		}
	}
	return p
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
func (p *Processor) Process(ctx context.Context, m request.Message) Decision {
	ctx, scrubber := secret.WithScrubber(ctx)
	if prob := p.checkReplyTo(m.ReplyTo); prob != nil {
		// Refused before anything is read or sent; the outcome goes to the
		// results queue, or the message is dead-lettered.
		m.ReplyTo, m.ReplyToSessionID = "", ""
		return p.settle(ctx, scrubber, m, &provision.Result{}, prob)
	}
	res, err := p.service.Put(ctx, m.Body)
	if res == nil {
		res = &provision.Result{}
	}
	var prob *problem.Problem
	if err != nil {
		prob = problem.From(err)
	}
	return p.settle(ctx, scrubber, m, res, prob)
}

// settle publishes the outcome of a processed message where a destination
// exists and decides the settlement; prob is nil for a success.
func (p *Processor) settle(ctx context.Context, scrubber *secret.Scrubber, m request.Message, res *provision.Result, prob *problem.Problem) Decision {
	d := Decision{Settle: Complete, Result: res, Scrubber: scrubber}
	if prob != nil {
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

// checkReplyTo refuses a ReplyTo that names a queue this app reads from
// (Service Bus queue names compare case-insensitively): the outcome would
// come back as a request or an event, and one message would make two.
func (p *Processor) checkReplyTo(replyTo string) *problem.Problem {
	to := strings.TrimSpace(replyTo)
	for _, q := range p.ownQueues {
		if strings.EqualFold(to, q) {
			return problem.New(http.StatusBadRequest, "the message's ReplyTo names a queue this app reads from",
				problem.FieldError{Field: "ReplyTo", Message: fmt.Sprintf(
					"names queue %q, which this app reads requests or Key Vault events from: an outcome sent there "+
						"would be read back as one; reply to another queue, or leave ReplyTo empty for PUTSECRETS_RESULTS_QUEUE", q)})
		}
	}
	return nil
}

// destination is where the outcome goes: the message's ReplyTo, else the
// results queue, else nowhere.
func (p *Processor) destination(m request.Message) string {
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
