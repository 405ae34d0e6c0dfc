package provision

import "context"

// Putter does the work for one request document: *Service is the one the
// program runs, and the HTTP function, the queue function and the worker
// depend on this interface so that their tests can stand in for it.
type Putter interface {
	Put(ctx context.Context, body []byte) (*Result, error)
}

var _ Putter = (*Service)(nil)
