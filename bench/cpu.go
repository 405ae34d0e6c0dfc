package main

import (
	"context"
	"fmt"
)

// cpuResult is one row of the CPU table: one envelope, one number of
// references, the handler beside the bare server.
type cpuResult struct {
	Envelope string
	Refs     int
	// Handler and Bare hold one sample per repeat.
	Handler, Bare []sample
}

// reuse is what the stand-ins saw of the handler over the CPU part.
type reuse struct {
	Invocations int
	// Tokens counts token requests by resource.
	Tokens map[string]int
	// Challenges counts Key Vault requests without a token (azsecrets's
	// challenge round trip).
	Challenges int
	// KeyVaultRequests and Connects count requests to Key Vault and CONNECTs
	// to the proxy (new TLS connections to Key Vault or Graph).
	KeyVaultRequests, Connects int
	// ConnectsTotal counts CONNECTs over the handler's life, warm-up
	// included.
	ConnectsTotal int
}

// measureCPU measures the handler's CPU time per invocation and the
// invocations per second, for each envelope and number of references, with
// the stand-ins answering at once, beside the bare server in the same run.
// The handler and the bare server run side by side; their runs alternate.
func measureCPU(ctx context.Context, o options, p plan, r *report) error {
	env, settings, err := fakeAzure()
	if err != nil {
		return err
	}
	defer env.Close()
	sp := newGUID()
	env.Graph.AddServicePrincipal(sp)

	h, err := startHost(ctx, o.handler, o.app, settings)
	if err != nil {
		return err
	}
	defer stopHost(h)
	bare, err := startHost(ctx, o.bare, o.app, settings)
	if err != nil {
		return err
	}
	defer stopHost(bare)

	var rows []*cpuResult
	for _, e := range envelopes {
		for _, n := range refCounts {
			rows = append(rows, &cpuResult{Envelope: e.Name, Refs: n})
		}
	}
	runOne := func(row *cpuResult, e envelope, handler bool, n int) (sample, error) {
		doc := document(sp, row.Refs)
		target, check := bare, false
		if handler {
			target, check = h, true
		}
		return drive(ctx, target.PID(), p.Concurrency, n, func(ctx context.Context) error {
			return e.invoke(ctx, target, doc, check)
		})
	}
	envelopeOf := func(name string) envelope {
		for _, e := range envelopes {
			if e.Name == name {
				return e
			}
		}
		panic("bench: no envelope " + name)
	}

	logf("cpu: warming up (%d invocations per configuration)", p.Warm)
	for _, row := range rows {
		for _, handler := range []bool{true, false} {
			if _, err := runOne(row, envelopeOf(row.Envelope), handler, p.Warm); err != nil {
				return fmt.Errorf("warm-up %s %d refs: %w", row.Envelope, row.Refs, err)
			}
		}
	}
	connects0, invocations := len(env.Proxy.Connects()), 0
	for i := range p.Repeat {
		for _, row := range rows {
			// Alternate which goes first, so that neither always follows
			// the other's garbage collection or the driver's.
			order := []bool{i%2 == 0, i%2 != 0}
			for _, handler := range order {
				s, err := runOne(row, envelopeOf(row.Envelope), handler, p.CPUInvocations)
				if err != nil {
					return fmt.Errorf("%s %d refs: %w", row.Envelope, row.Refs, err)
				}
				if handler {
					row.Handler = append(row.Handler, s)
					invocations += s.N
				} else {
					row.Bare = append(row.Bare, s)
				}
			}
			hs, bs := row.Handler[len(row.Handler)-1], row.Bare[len(row.Bare)-1]
			logf("cpu %d/%d: %-11s %2d refs: handler %6.0f µs/inv %6.0f inv/s; bare %4.0f µs/inv %6.0f inv/s",
				i+1, p.Repeat, row.Envelope, row.Refs, us(hs.CPUPerInvocation()), hs.Rate(), us(bs.CPUPerInvocation()), bs.Rate())
		}
	}
	r.CPURows = rows

	total := len(env.Proxy.Connects())
	u := reuse{Invocations: invocations, Tokens: map[string]int{}, Connects: total - connects0, ConnectsTotal: total}
	for _, t := range env.Identity.Requests() {
		u.Tokens[t.Resource]++
	}
	for _, kr := range env.KeyVault.Requests() {
		u.KeyVaultRequests++
		if !kr.Authorized {
			u.Challenges++
		}
	}
	r.Reuse = &u
	return nil
}
