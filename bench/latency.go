package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/putsecrets/putsecrets/standin/azure"
	"github.com/putsecrets/putsecrets/standin/graph"
	"github.com/putsecrets/putsecrets/standin/identity"
	"github.com/putsecrets/putsecrets/standin/keyvault"
)

// latencyResult is one row of the latency table.
type latencyResult struct {
	Refs, Concurrency int
	// Samples holds one run per repeat.
	Samples []sample
	// Connects counts new connections to Key Vault and Graph during the
	// measured runs.
	Connects int
	// Stalls holds, per run, the largest lateness of a 1 ms timer in the
	// benchmark process (see stallWatch).
	Stalls []time.Duration
	// Extra counts requests to Key Vault and Graph beyond one per reference
	// and one PUT per invocation during the measured runs: retries.
	Extra int
}

// floorResult is the latency floor: one Key Vault read plus one Graph PUT,
// in sequence, from a Go client over warm connections through the same
// proxy, with the same delays.
type floorResult struct {
	KeyVault, Graph, Sum []time.Duration
}

// measureLatency measures invocation latency with every stand-in delayed
// (Key Vault, Graph and the managed identity endpoint answer after 20 ms)
// at concurrency 1 and 16, for each number of references, against a fresh
// handler. It also times the floor the latencies are compared with.
func measureLatency(ctx context.Context, o options, p plan, r *report) error {
	env, settings, err := fakeAzure()
	if err != nil {
		return err
	}
	defer env.Close()
	if err := env.Identity.SetFault(identity.Fault{Kind: identity.FaultDelay, Delay: delay}); err != nil {
		return err
	}
	env.KeyVault.Script(vaultHost, "", keyvault.Fault{Delay: delay}) // every read, forever
	// Graph plays scripted answers per service principal: each run gets a
	// service principal of its own with one delayed answer per PUT.
	slowSP := func(puts int) string {
		sp := newGUID()
		env.Graph.AddServicePrincipal(sp)
		rs := make([]graph.Response, puts)
		for i := range rs {
			rs[i] = graph.Response{Delay: delay}
		}
		env.Graph.Script(sp, rs...)
		return sp
	}

	floor, err := measureFloor(ctx, env, slowSP(p.FloorSamples+1), p.FloorSamples)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	r.Floor = floor
	logf("latency floor (Key Vault + Graph round trip): median %.2f ms", ms(percentile(floor.Sum, 50)))

	h, err := startHost(ctx, o.handler, o.app, settings)
	if err != nil {
		return err
	}
	defer stopHost(h)

	var rows []*latencyResult
	for _, n := range refCounts {
		for _, c := range []int{1, p.Concurrency} {
			rows = append(rows, &latencyResult{Refs: n, Concurrency: c})
		}
	}
	runOne := func(row *latencyResult, n int) (sample, error) {
		doc := document(slowSP(n), row.Refs)
		var spread time.Duration
		if !o.lockstep {
			spread = nominalFloor / time.Duration(row.Concurrency)
		}
		return drive(ctx, h.PID(), row.Concurrency, n, spread, func(ctx context.Context) error {
			return envHTTP.invoke(ctx, h, doc, true)
		})
	}
	count := func(row *latencyResult) int {
		if row.Concurrency == 1 {
			return p.Latency1
		}
		return p.Latency16
	}
	logf("latency: warming up")
	for _, row := range rows {
		// Enough rounds at full concurrency for the connection pools to
		// reach their steady size.
		if _, err := runOne(row, 10*row.Concurrency); err != nil {
			return fmt.Errorf("warm-up %d refs at %d: %w", row.Refs, row.Concurrency, err)
		}
	}
	for i := range p.LatencyRepeat {
		for _, row := range rows {
			c0, kv0, g0 := len(env.Proxy.Connects()), len(env.KeyVault.Requests()), len(env.Graph.Calls())
			watch := watchStalls()
			s, err := runOne(row, count(row))
			row.Stalls = append(row.Stalls, watch.Stop())
			if err != nil {
				return fmt.Errorf("%d refs at %d: %w", row.Refs, row.Concurrency, err)
			}
			row.Connects += len(env.Proxy.Connects()) - c0
			row.Extra += len(env.KeyVault.Requests()) - kv0 + len(env.Graph.Calls()) - g0 - s.N*(row.Refs+1)
			row.Samples = append(row.Samples, s)
			logf("latency %d/%d: %2d refs at concurrency %2d: p50 %.2f ms p99 %.2f ms max %.2f ms; timer stall %.1f ms", i+1, p.LatencyRepeat,
				row.Refs, row.Concurrency, ms(percentile(s.Latency, 50)), ms(percentile(s.Latency, 99)), ms(percentile(s.Latency, 100)),
				ms(row.Stalls[len(row.Stalls)-1]))
		}
	}
	r.Latency = rows
	return nil
}

// measureFloor times n sequential pairs of one Key Vault read and one Graph
// PUT from this process, over the proxy and TLS, after one unmeasured pair
// that opens the connections and gets the tokens.
func measureFloor(ctx context.Context, env *azure.Env, sp string, n int) (*floorResult, error) {
	client := env.HTTPClient()
	defer client.CloseIdleConnections()
	kvToken, err := token(ctx, env, "https://vault.azure.net")
	if err != nil {
		return nil, err
	}
	graphToken, err := token(ctx, env, "https://graph.microsoft.com")
	if err != nil {
		return nil, err
	}
	do := func(method, u, tok, body string) (time.Duration, error) {
		req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		drain(resp.Body)
		d := time.Since(start)
		if resp.StatusCode/100 != 2 {
			return 0, fmt.Errorf("%s %s: %d", method, u, resp.StatusCode)
		}
		return d, nil
	}
	kvURL := "https://" + vaultHost + "/secrets/bench-0?api-version=7.6"
	graphURL := "https://graph.microsoft.com/v1.0/servicePrincipals/" + sp + "/synchronization/secrets"
	body := `{"value":[{"key":"BaseAddress","value":"https://scim.example.com/scim/v2"}]}`
	f := &floorResult{}
	for i := range n + 1 {
		kv, err := do(http.MethodGet, kvURL, kvToken, "")
		if err != nil {
			return nil, err
		}
		g, err := do(http.MethodPut, graphURL, graphToken, body)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			continue
		}
		f.KeyVault, f.Graph, f.Sum = append(f.KeyVault, kv), append(f.Graph, g), append(f.Sum, kv+g)
	}
	return f, nil
}

// token gets a token for resource from the identity stand-in, as App
// Service's endpoint is called.
func token(ctx context.Context, env *azure.Env, resource string) (string, error) {
	u := env.Identity.Endpoint() + "?api-version=" + identity.APIVersion + "&resource=" + url.QueryEscape(resource)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("X-IDENTITY-HEADER", env.Identity.Header())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	var t struct {
		AccessToken string `json:"access_token"`
	}
	err = json.Unmarshal(drain(resp.Body), &t)
	if err != nil || t.AccessToken == "" {
		return "", fmt.Errorf("token for %s: status %d", resource, resp.StatusCode)
	}
	return t.AccessToken, nil
}
