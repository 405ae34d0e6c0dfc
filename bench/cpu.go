package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/putsecrets/putsecrets/standin/azure"
	"github.com/putsecrets/putsecrets/standin/host"
)

// envelopeOf returns the envelope named name.
func envelopeOf(name string) envelope {
	for _, e := range envelopes {
		if e.Name == name {
			return e
		}
	}
	panic("bench: no envelope " + name)
}

// cpuResult is one row of the CPU table: one envelope, one number of
// references, the handler beside the bare server.
type cpuResult struct {
	Envelope string
	Refs     int
	// Handler, Bare and Compare (the -compare binary) hold one sample per
	// repeat; Peers the same for each peer, by name.
	Handler, Bare, Compare []sample
	Peers                  map[string]*[]sample
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
// the stand-ins answering at once, beside the bare server in the same run
// (and, with -compare, another handler binary with stand-ins of its own).
// Their runs alternate, in an order that rotates from one repeat to the next.
func measureCPU(ctx context.Context, o options, p plan, r *report) error {
	env, settings, err := fakeAzure()
	if err != nil {
		return err
	}
	defer env.Close()
	sp := newGUID()
	env.Graph.AddServicePrincipal(sp)

	type target struct {
		name          string
		h             *host.Host
		check, allocs bool
		slot          func(*cpuResult) *[]sample
		proc          proc
	}
	var targets []*target
	// The handlers report their heap allocations at /debug/goroutines; the
	// endpoint costs nothing per invocation.
	debug := "PUTSECRETS_DEBUG_ENDPOINTS=true"
	startProc := func(p proc, settings []string, slot func(*cpuResult) *[]sample) error {
		h, err := p.start(ctx, o.app, append(settings, debug))
		if err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		targets = append(targets, &target{name: p.Name, h: h, check: p.Check, allocs: p.Allocs, slot: slot, proc: p})
		return nil
	}
	start := func(name, binary string, settings []string, check bool, slot func(*cpuResult) *[]sample) error {
		return startProc(proc{Name: name, Cmd: []string{binary}, Check: check, Allocs: check}, settings, slot)
	}
	defer func() {
		for _, t := range targets {
			stopHost(t.h)
		}
	}()
	if err := start("handler", o.handler, settings, true, func(c *cpuResult) *[]sample { return &c.Handler }); err != nil {
		return err
	}
	if err := start("bare", o.bare, settings, false, func(c *cpuResult) *[]sample { return &c.Bare }); err != nil {
		return err
	}
	if o.compare != "" {
		cenv, csettings, err := fakeAzure()
		if err != nil {
			return err
		}
		defer cenv.Close()
		cenv.Graph.AddServicePrincipal(sp)
		if err := start("compare", o.compare, append(csettings, o.compareEnv...), true, func(c *cpuResult) *[]sample { return &c.Compare }); err != nil {
			return err
		}
	}

	ps, err := peers(o)
	if err != nil {
		return err
	}
	peerEnvs := map[string]*azure.Env{}
	for _, pr := range ps {
		penv, psettings, err := fakeAzure()
		if err != nil {
			return err
		}
		defer penv.Close()
		penv.Graph.AddServicePrincipal(sp)
		name := pr.Name
		peerEnvs[name] = penv
		if err := startProc(pr, psettings, func(c *cpuResult) *[]sample { return c.peer(name) }); err != nil {
			return err
		}
	}
	r.Peers = ps

	var rows []*cpuResult
	for _, e := range envelopes {
		for _, n := range refCounts {
			rows = append(rows, &cpuResult{Envelope: e.Name, Refs: n})
		}
	}
	runOne := func(row *cpuResult, t *target, n int) (sample, error) {
		doc := document(sp, row.Refs)
		e := envelopeOf(row.Envelope)
		var b0, o0 uint64
		if t.allocs {
			var err error
			if b0, o0, err = allocations(ctx, t.h); err != nil {
				return sample{}, err
			}
		}
		s, err := drive(ctx, t.h.PID(), p.Concurrency, n, 0, func(ctx context.Context) error {
			return e.invoke(ctx, t.h, doc, t.check)
		})
		if err != nil || !t.allocs {
			return s, err
		}
		b1, o1, err := allocations(ctx, t.h)
		s.AllocBytes, s.AllocObjects, s.HasAllocs = b1-b0, o1-o0, true
		return s, err
	}

	logf("cpu: warming up (%d invocations per configuration)", p.Warm)
	for _, row := range rows {
		for _, t := range targets {
			if _, err := runOne(row, t, t.proc.invocations(p.Warm)); err != nil {
				return fmt.Errorf("warm-up %s %s %d refs: %w", t.name, row.Envelope, row.Refs, err)
			}
		}
	}
	connects0, invocations := len(env.Proxy.Connects()), 0
	served := map[string]int{}
	peerConnects0 := map[string]int{}
	for name, penv := range peerEnvs {
		peerConnects0[name] = len(penv.Proxy.Connects())
	}
	for i := range p.Repeat {
		for _, row := range rows {
			// Rotate which goes first, so that none always follows another's
			// garbage collection or the driver's.
			var line []string
			for k := range targets {
				t := targets[(i+k)%len(targets)]
				s, err := runOne(row, t, t.proc.invocations(p.CPUInvocations))
				if err != nil {
					return fmt.Errorf("%s %s %d refs: %w", t.name, row.Envelope, row.Refs, err)
				}
				*t.slot(row) = append(*t.slot(row), s)
				if t.name == "handler" {
					invocations += s.N
				}
				served[t.name] += s.N
			}
			for _, t := range targets {
				ss := *t.slot(row)
				s := ss[len(ss)-1]
				line = append(line, fmt.Sprintf("%s %5.0f µs/inv %5.0f inv/s", t.name, us(s.CPUPerInvocation()), s.Rate()))
			}
			logf("cpu %d/%d: %-11s %2d refs: %s", i+1, p.Repeat, row.Envelope, row.Refs, strings.Join(line, "; "))
		}
	}
	r.CPURows = rows
	r.PeerReuse = map[string]reuse{}
	for name, penv := range peerEnvs {
		pu := reuse{Invocations: served[name], Tokens: map[string]int{}, Connects: len(penv.Proxy.Connects()) - peerConnects0[name]}
		for _, t := range penv.Identity.Requests() {
			pu.Tokens[t.Resource]++
		}
		r.PeerReuse[name] = pu
	}

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

// peer is the samples of the peer name.
func (c *cpuResult) peer(name string) *[]sample {
	if c.Peers == nil {
		c.Peers = map[string]*[]sample{}
	}
	if c.Peers[name] == nil {
		c.Peers[name] = new([]sample)
	}
	return c.Peers[name]
}
