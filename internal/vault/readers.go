package vault

import (
	"sync/atomic"
	"time"
)

// maxReaders bounds a Resolver's reader goroutines across all its Resolve
// calls; past it, a read waits for a reader to be free.
const maxReaders = 256

// readerIdle is how long a reader waits for work before it ends.
const readerIdle = time.Minute

// readers runs a Resolver's reads on long-lived goroutines. A read goes
// through azcore's deep pipeline and the TLS client, so a new goroutine's
// stack is grown and copied several times on every read; a reader kept
// from one invocation to the next keeps its grown stack. Readers start on
// demand, at most maxReaders, and end after readerIdle without work.
//
// run's functions must recover their own panics: a panic left in a reader
// would end the process.
type readers struct {
	work    chan func()
	started atomic.Int32
}

// newReaders returns a pool with no reader yet; run starts them.
func newReaders() *readers { return &readers{work: make(chan func())} }

// run runs f on an idle reader, on a new one when none is idle, or, with
// maxReaders busy, on the first to be free.
func (p *readers) run(f func()) {
	select {
	case p.work <- f:
		return
	default:
	}
	if p.started.Add(1) <= maxReaders {
		go p.loop(f)
		return
	}
	p.started.Add(-1)
	p.work <- f
}

// loop runs f, then whatever run hands it, until it is idle for readerIdle.
func (p *readers) loop(f func()) {
	idle := time.NewTimer(readerIdle)
	defer idle.Stop()
	for {
		f()
		f = nil
		idle.Reset(readerIdle)
		select {
		case f = <-p.work:
		case <-idle.C:
			p.started.Add(-1)
			return
		}
	}
}
