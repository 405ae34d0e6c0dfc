package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// profileResult is where the handler's CPU time goes.
type profileResult struct {
	Invocations   int
	Flat, Cum     string
	Profile, Exec string
}

// measureProfile runs the handler's test binary as the handler (see
// profile_test.go at the repository root), which writes a CPU profile of its
// life, drives ProfileInvocations HTTP invocations with three references
// through it, and keeps the top of `go tool pprof -top`.
func measureProfile(ctx context.Context, o options, p plan, r *report) error {
	if o.profile == "" {
		return nil
	}
	env, settings, err := fakeAzure()
	if err != nil {
		return err
	}
	defer env.Close()
	sp := newGUID()
	env.Graph.AddServicePrincipal(sp)
	doc := document(sp, 3)

	exe, err := filepath.Abs(o.profile)
	if err != nil {
		return err
	}
	out := strings.TrimSuffix(exe, filepath.Ext(exe)) + ".cpu.pprof"
	_ = os.Remove(out)
	h, err := startHost(ctx, exe, o.app, append(settings, "PUTSECRETS_BENCH_CPUPROFILE="+out))
	if err != nil {
		return err
	}
	n := p.Warm + p.ProfileInvocations
	_, err = drive(ctx, h.PID(), p.Concurrency, n, 0, func(ctx context.Context) error {
		return envHTTP.invoke(ctx, h, doc, true)
	})
	stopHost(h)
	if err != nil {
		return err
	}
	res := &profileResult{Invocations: n, Profile: out, Exec: exe}
	if res.Flat, err = pprofTop(ctx, exe, out); err != nil {
		return err
	}
	if res.Cum, err = pprofTop(ctx, exe, out, "-cum"); err != nil {
		return err
	}
	r.Profile = res
	logf("profile: %s (%d invocations)", out, n)
	return nil
}

// pprofTop is the first 25 rows of `go tool pprof -top`.
func pprofTop(ctx context.Context, exe, profile string, extra ...string) (string, error) {
	args := append([]string{"tool", "pprof", "-top", "-nodecount=25"}, extra...)
	cmd := exec.CommandContext(ctx, "go", append(args, exe, profile)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go tool pprof: %w: %s", err, stderr.String())
	}
	return strings.TrimSpace(string(b)), nil
}
