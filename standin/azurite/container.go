package azurite

import (
	"context"
	"crypto/tls"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

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
	// Credential is the binary's managed identity credential (identity.Shared), whose storage
	// tokens Azurite accepts.
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
	_, cred := identity.Shared(tb)
	return &Container{
		Server:        s,
		URL:           s.NewContainerURL(),
		Credential:    cred,
		WrongAudience: keyVaultToken{cred},
		HTTPClient:    s.HTTPClient(),
	}
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
