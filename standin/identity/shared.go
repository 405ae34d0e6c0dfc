package identity

import (
	"os"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

var shared struct {
	once sync.Once
	srv  *Server
	cred azcore.TokenCredential
	err  error
}

// Shared returns the test binary's one endpoint, started on first use, and
// azidentity's ManagedIdentityCredential on it, as the handler has. MSAL
// caches managed identity tokens process-wide whatever the endpoint, so a
// binary whose tests use that credential has one endpoint: the first call
// points the process' IDENTITY_ENDPOINT and IDENTITY_HEADER at it, for good.
// The endpoint is never stopped; it ends with the binary. Shared fails the
// test if the endpoint or the credential cannot be made.
func Shared(tb testing.TB) (*Server, azcore.TokenCredential) {
	tb.Helper()
	shared.once.Do(func() {
		s := New()
		if shared.err = s.Start(); shared.err != nil {
			return
		}
		for k, v := range map[string]string{"IDENTITY_ENDPOINT": s.Endpoint(), "IDENTITY_HEADER": s.Header()} {
			if shared.err = os.Setenv(k, v); shared.err != nil {
				return
			}
		}
		shared.srv = s
		shared.cred, shared.err = azidentity.NewManagedIdentityCredential(nil)
	})
	if shared.err != nil {
		tb.Fatalf("identity: shared endpoint: %v", shared.err)
	}
	return shared.srv, shared.cred
}
