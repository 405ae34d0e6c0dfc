// Package queue decides what happens to one request message: the processing
// shared by the PutSecretsFromQueue function and the worker command
// (CONTRACT.md §4). The function turns a Decision into its answer to the
// Functions host; the worker turns it into a settlement.
package queue

import (
	"context"

	"github.com/putsecrets/putsecrets/internal/problem"
	"github.com/putsecrets/putsecrets/internal/provision"
)

// Putter does the work for one request document.
type Putter interface {
	Put(ctx context.Context, body []byte) (*provision.Result, error)
}

// Message is a request message, however it was received.
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
	// Abandon: a transient failure; Service Bus redelivers the message and
	// dead-letters it after MaxDeliveryCount.
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
	// Problem is set on failure.
	Problem *problem.Problem
	// Reason and Description explain a dead-letter or abandon, for Service
	// Bus's DeadLetterReason/DeadLetterErrorDescription and the logs.
	Reason, Description string
}

// Processor processes request messages. It is safe for concurrent use.
type Processor struct {
	service Putter
}

// NewProcessor returns a Processor.
func NewProcessor(service Putter) *Processor {
	return &Processor{service: service}
}

// Process puts the message's secrets and decides its settlement.
// Transient versus permanent is decided by problem.Problem.Transient, here
// and nowhere else.
func (p *Processor) Process(ctx context.Context, m Message) Decision {
	res, err := p.service.Put(ctx, m.Body)
	if err == nil {
		return Decision{Settle: Complete, Result: res}
	}
	prob := problem.From(err)
	d := Decision{Result: res, Problem: prob, Reason: prob.Doc.Title, Description: prob.Doc.Detail}
	if prob.Transient() {
		d.Settle = Abandon
		return d
	}
	d.Settle = DeadLetter
	return d
}
