package vault

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/putsecrets/putsecrets/standin/azure"
	"github.com/putsecrets/putsecrets/standin/keyvault"
)

// The tests of this package read secrets from the Key Vault stand-in
// (standin/keyvault) of a fake Azure of their own (standin/azure): TLS, the
// 401 challenge and the service's answers, reached through the CONNECT proxy
// under real vault host names, so that azsecrets' check of the challenge's
// resource stays on.

const (
	// testToken is the token of credentials that reach no Key Vault
	// stand-in (memoryVault takes any token).
	testToken = "fake-kv-token"
	// testTenant is the tenant of memoryVault's challenge.
	testTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	// publicKV is the public cloud's Key Vault resource.
	publicKV = "https://vault.azure.net"
)

// fakeCredential is an azcore.TokenCredential that records what it is asked
// for. With next set it passes the request on (asking for scopes instead of
// the client's, when set); without, it hands out token.
type fakeCredential struct {
	token  string
	next   azcore.TokenCredential
	scopes []string

	mu    sync.Mutex
	asked []policy.TokenRequestOptions
}

func (c *fakeCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	c.asked = append(c.asked, o)
	c.mu.Unlock()
	if c.next == nil {
		return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
	}
	if c.scopes != nil {
		o.Scopes = c.scopes
	}
	return c.next.GetToken(ctx, o)
}

func (c *fakeCredential) requests() []policy.TokenRequestOptions {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.asked)
}

// kv is the Key Vault stand-in of a test's own fake Azure.
type kv struct {
	*keyvault.Server
	env *azure.Env
}

// newKV starts a fake Azure for the test, with the vaults contoso and
// fabrikam (so that they exist with no secret in them).
func newKV(t *testing.T) *kv {
	t.Helper()
	env := azure.Start(t)
	env.KeyVault.AddVault(contoso)
	env.KeyVault.AddVault(fabrikam)
	return &kv{Server: env.KeyVault, env: env}
}

// credential returns a recording credential whose tokens come from the fake
// Azure's managed identity endpoint.
func (k *kv) credential() *fakeCredential {
	return &fakeCredential{next: k.env.Identity.Credential()}
}

// count returns how many requests the stand-in received that match.
func (k *kv) count(match func(keyvault.Request) bool) int {
	n := 0
	for _, r := range k.Requests() {
		if match(r) {
			n++
		}
	}
	return n
}

// challengeCount returns the requests to host the stand-in did not
// authorize: with good tokens, the challenge round trips.
func (k *kv) challengeCount(host string) int {
	return k.count(func(r keyvault.Request) bool { return r.Host == host && !r.Authorized })
}

// getCount returns the authorized reads of one secret version ("" for the
// current one) of host.
func (k *kv) getCount(host, name, version string) int {
	return k.count(func(r keyvault.Request) bool {
		return r.Authorized && r.Host == host && strings.EqualFold(r.Name, name) && r.Version == version
	})
}

// totalGets returns every authorized read.
func (k *kv) totalGets() int {
	return k.count(func(r keyvault.Request) bool { return r.Authorized && r.Name != "" })
}

// lastRequestID returns the x-ms-request-id of the last request received.
func (k *kv) lastRequestID() string {
	reqs := k.Requests()
	if len(reqs) == 0 {
		return ""
	}
	return reqs[len(reqs)-1].RequestID
}

// resolver returns a Resolver that reaches the stand-in, retrying after
// 1 ms unless o says otherwise, and a counter of the azsecrets clients it
// builds.
func (k *kv) resolver(cred azcore.TokenCredential, o *Options) (*Resolver, *atomic.Int32) {
	if o == nil {
		o = &Options{}
	}
	co := azsecrets.ClientOptions{}
	if o.ClientOptions != nil {
		co = *o.ClientOptions
	}
	co.Transport = k.env.HTTPClient()
	if co.Retry.RetryDelay == 0 {
		co.Retry.RetryDelay = time.Millisecond
	}
	o.ClientOptions = &co
	r := New(cred, o)
	var built atomic.Int32
	r.newClient = func(u string, c azcore.TokenCredential, opts *azsecrets.ClientOptions) (*azsecrets.Client, error) {
		built.Add(1)
		return azsecrets.NewClient(u, c, opts)
	}
	return r, &built
}
