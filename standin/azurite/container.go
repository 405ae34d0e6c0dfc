package azurite

import (
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/putsecrets/putsecrets/standin/identity"
)

// Container is a container of the test binary's shared Azurite for one test, with what the test
// needs to reach it:
//
//	c := azurite.NewContainer(t)
//	st, err := state.New(c.URL, c.Credential, &state.Options{ClientOptions: azcore.ClientOptions{Transport: c.HTTPClient}})
type Container struct {
	// Server is the shared Azurite (Shared).
	Server *Server
	// URL is the container's URL, a name no other test of the binary was given
	// (NewContainerURL). The container does not exist until something creates it.
	URL string
	// Credential is the binary's managed identity credential (Credential), whose storage tokens
	// Azurite accepts.
	Credential azcore.TokenCredential
	// WrongAudience hands out the same identity's Key Vault tokens whatever scope a client asks
	// for: Azurite refuses them with 403, as Azure Storage refuses a token for another audience.
	WrongAudience azcore.TokenCredential
	// HTTPClient trusts Azurite's certificate, for azcore.ClientOptions.Transport.
	HTTPClient *http.Client
}

// NewContainer returns a fresh container of the shared Azurite for the test. It fails the test
// if Azurite or the identity endpoint does not start.
func NewContainer(tb testing.TB) *Container {
	tb.Helper()
	s := Shared(tb)
	cred := Credential(tb)
	return &Container{
		Server:        s,
		URL:           s.NewContainerURL(),
		Credential:    cred,
		WrongAudience: keyVaultToken{cred},
		HTTPClient:    s.HTTPClient(),
	}
}

var managedIdentity struct {
	once sync.Once
	cred azcore.TokenCredential
	err  error
}

// Credential returns the test binary's one managed identity credential: azidentity's
// ManagedIdentityCredential, as the handler has, on an identity stand-in started on first use.
// MSAL caches managed identity tokens process-wide whatever the endpoint, so a binary has one
// endpoint: the first call points the process' IDENTITY_ENDPOINT and IDENTITY_HEADER at it,
// for good. The endpoint is never stopped; it ends with the binary.
func Credential(tb testing.TB) azcore.TokenCredential {
	tb.Helper()
	managedIdentity.once.Do(func() {
		mi := identity.New()
		if err := mi.Start(); err != nil {
			managedIdentity.err = err
			return
		}
		for k, v := range map[string]string{"IDENTITY_ENDPOINT": mi.Endpoint(), "IDENTITY_HEADER": mi.Header()} {
			if err := os.Setenv(k, v); err != nil {
				managedIdentity.err = err
				return
			}
		}
		managedIdentity.cred, managedIdentity.err = azidentity.NewManagedIdentityCredential(nil)
	})
	if managedIdentity.err != nil {
		tb.Fatalf("azurite: managed identity credential: %v", managedIdentity.err)
	}
	return managedIdentity.cred
}

// keyVaultToken asks for a Key Vault token whatever scope the client names.
type keyVaultToken struct{ azcore.TokenCredential }

func (k keyVaultToken) GetToken(ctx context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return k.TokenCredential.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
}

// HTTPClient returns a client that trusts Azurite's certificate and reaches it directly (never
// through a proxy), for azcore.ClientOptions.Transport.
func (s *Server) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: s.ca.Pool(), MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 32,
	}}
}
