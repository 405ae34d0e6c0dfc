package vault

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

// bundle is a secret bundle as Key Vault answers GET /secrets/{name}.
const bundle = `{"value":"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv",` +
	`"id":"https://contoso-kv.vault.azure.net/secrets/bench-0/4387e9f3d6e14c459867679a90fd0f79",` +
	`"attributes":{"enabled":true,"created":1715679612,"updated":1715679612,"recoveryLevel":"Recoverable+Purgeable","recoverableDays":90},` +
	`"tags":{}}`

// memoryVault is a policy.Transporter that answers like Key Vault without a
// network: the challenge to a request without a token, the bundle to the
// rest. Its own cost (a response and a reader per request) is in the
// figures, a few hundred bytes.
type memoryVault struct{}

func (memoryVault) Do(req *http.Request) (*http.Response, error) {
	h := http.Header{"Content-Type": {"application/json; charset=utf-8"}, "X-Ms-Request-Id": {"kv-req-1"}}
	status, body := http.StatusOK, bundle
	if req.Header.Get("Authorization") == "" {
		status, body = http.StatusUnauthorized, `{"error":{"code":"Unauthorized","message":"AKV10000: Request is missing a Bearer or PoP token."}}`
		h.Set("WWW-Authenticate", `Bearer authorization="https://login.microsoftonline.com/`+testTenant+`", resource="https://vault.azure.net"`)
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body)), Request: req,
		ContentLength: int64(len(body))}, nil
}

// memoryOptions are client options over memoryVault.
func memoryOptions() *azsecrets.ClientOptions {
	return &azsecrets.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: memoryVault{}}}
}

// BenchmarkGetSecretFloor is one azsecrets GetSecret with no network: the
// floor of the SDK's own work (pipeline, challenge policy with a cached
// token, JSON decode of the bundle) that every read of the handler pays.
func BenchmarkGetSecretFloor(b *testing.B) {
	c, err := azsecrets.NewClient("https://contoso-kv.vault.azure.net", &fakeCredential{token: testToken}, memoryOptions())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.GetSecret(ctx, "bench-0", "", nil); err != nil { // the challenge
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.GetSecret(ctx, "bench-0", "", nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveThree is Resolve of three references over the same
// transport: three GetSecret floors plus the resolver's own work.
func BenchmarkResolveThree(b *testing.B) {
	r := New(&fakeCredential{token: testToken}, &Options{ClientOptions: memoryOptions()})
	refs := []Ref{
		ref("https://contoso-kv.vault.azure.net", "bench-0", ""),
		ref("https://contoso-kv.vault.azure.net", "bench-1", ""),
		ref("https://contoso-kv.vault.azure.net", "bench-2", ""),
	}
	ctx := context.Background()
	if _, err := r.Resolve(ctx, refs); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Resolve(ctx, refs); err != nil {
			b.Fatal(err)
		}
	}
}
