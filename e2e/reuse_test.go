package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/putsecrets/putsecrets/standin/host"
)

// TestTokensAndChallengesReused checks what `make bench` relies on for its
// per-invocation cost: after the first invocation, later ones, concurrent
// included, ask the identity endpoint for no new token (one per scope for the
// process, cached until near expiry) and repeat no Key Vault challenge.
func TestTokensAndChallengesReused(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	d := doc(spID,
		uri("SecretToken", f.kvSecret("reuse-token", "SecretToken")),
		uri("Password", f.kvSecret("reuse-password", "Password")),
		uri("ClientSecret", f.kvSecret("reuse-client-secret", "ClientSecret")),
	)
	ok(t, f.http(d))
	kvBefore := len(f.env.KeyVault.Requests())

	const concurrent = 6
	body := encode(t, d)
	var wg sync.WaitGroup
	errs := make([]error, concurrent)
	for i := range concurrent {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			res, err := f.host.InvokeHTTP(ctx, "PutSecrets", host.HTTPRequest{
				Headers: map[string]string{"Content-Type": "application/json"}, Body: body,
			})
			if err == nil {
				outputs.add(fmt.Sprintf("%s PutSecrets answer %d", t.Name(), i), string(res.Raw))
				if res.CallerStatus != 200 {
					err = fmt.Errorf("caller got %d: %s", res.CallerStatus, res.CallerBody)
				}
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("invocation %d: %v", i, err)
		}
	}

	perResource := map[string]int{}
	for _, r := range f.env.Identity.Requests() {
		perResource[r.Resource]++
	}
	want := map[string]int{"https://vault.azure.net": 1, "https://graph.microsoft.com": 1}
	if fmt.Sprint(perResource) != fmt.Sprint(want) {
		t.Errorf("token requests by resource = %v, want %v (one per scope for the process)", perResource, want)
	}
	later := f.env.KeyVault.Requests()[kvBefore:]
	if len(later) != 3*concurrent {
		t.Errorf("Key Vault saw %d requests after the first invocation, want %d", len(later), 3*concurrent)
	}
	for _, r := range later {
		if !r.Authorized {
			t.Errorf("Key Vault request %s %s after the first invocation carried no accepted token (a repeated challenge)", r.Method, r.Path)
		}
	}
}
