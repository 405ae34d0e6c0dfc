package main

import (
	"context"
	"fmt"
)

// memoryResult is the resident memory of fresh processes after
// MemoryInvocations HTTP invocations with three references each.
type memoryResult struct {
	Invocations int
	// RSS and Peak are VmRSS and VmHWM in bytes, one per process.
	RSS, Peak []int64
}

// measureMemory runs MemoryInvocations in each of MemoryRepeat fresh
// handler processes (and bare servers) and reads their resident memory.
func measureMemory(ctx context.Context, o options, p plan, r *report) error {
	env, settings, err := fakeAzure()
	if err != nil {
		return err
	}
	defer env.Close()
	sp := newGUID()
	env.Graph.AddServicePrincipal(sp)
	doc := document(sp, 3)

	r.MemHandler = &memoryResult{Invocations: p.MemoryInvocations}
	r.MemBare = &memoryResult{Invocations: p.MemoryInvocations}
	ps, err := peers(o)
	if err != nil {
		return err
	}
	r.MemPeers = map[string]*memoryResult{}
	for _, pr := range ps {
		r.MemPeers[pr.Name] = &memoryResult{Invocations: p.MemoryInvocations}
	}
	for i := range p.MemoryRepeat {
		for _, handler := range []bool{true, false} {
			binary, res := o.bare, r.MemBare
			if handler {
				binary, res = o.handler, r.MemHandler
			}
			h, err := startHost(ctx, binary, o.app, settings)
			if err != nil {
				return err
			}
			_, err = drive(ctx, h.PID(), p.Concurrency, p.MemoryInvocations, 0, func(ctx context.Context) error {
				return envHTTP.invoke(ctx, h, doc, handler)
			})
			var rss, peak int64
			if err == nil {
				rss, peak, err = memory(h.PID())
			}
			stopHost(h)
			if err != nil {
				return fmt.Errorf("%s: %w", binary, err)
			}
			res.RSS = append(res.RSS, rss)
			res.Peak = append(res.Peak, peak)
		}
		logf("memory %d/%d after %d invocations: handler VmRSS %.1f MB (peak %.1f MB); bare %.1f MB", i+1, p.MemoryRepeat,
			p.MemoryInvocations, mb(r.MemHandler.RSS[i]), mb(r.MemHandler.Peak[i]), mb(r.MemBare.RSS[i]))
		for _, pr := range ps {
			if pr.OneMemoryRun && i > 0 {
				continue
			}
			h, err := pr.start(ctx, o.app, settings)
			if err != nil {
				return fmt.Errorf("%s: %w", pr.Name, err)
			}
			_, err = drive(ctx, h.PID(), p.Concurrency, p.MemoryInvocations, 0, func(ctx context.Context) error {
				return envHTTP.invoke(ctx, h, doc, pr.Check)
			})
			var rss, peak int64
			if err == nil {
				rss, peak, err = memory(h.PID())
			}
			stopHost(h)
			if err != nil {
				return fmt.Errorf("%s: %w", pr.Name, err)
			}
			res := r.MemPeers[pr.Name]
			res.RSS, res.Peak = append(res.RSS, rss), append(res.Peak, peak)
			logf("memory %d/%d after %d invocations: %s VmRSS %.1f MB (peak %.1f MB)", i+1, p.MemoryRepeat,
				p.MemoryInvocations, pr.Name, mb(rss), mb(peak))
		}
	}
	return nil
}

// mb converts bytes to MB (10^6 bytes).
func mb(n int64) float64 { return float64(n) / 1e6 }
