package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Credential returns an azcore.TokenCredential that asks this endpoint for
// a token on every call, as App Service's managed identity source does, for
// a test's in-process clients. Unlike azidentity's ManagedIdentityCredential
// it reads no process environment and shares no process-wide token cache,
// so every fake Azure of a test binary can have an identity of its own. It
// takes one scope and asks for its resource (the scope without
// "/.default"), and fails on any answer but a token.
func (s *Server) Credential() azcore.TokenCredential { return credential{s} }

type credential struct{ s *Server }

// loopback reaches the endpoint directly, never through a proxy.
var loopback = &http.Client{Transport: &http.Transport{}}

func (c credential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if len(o.Scopes) != 1 {
		return azcore.AccessToken{}, fmt.Errorf("identity credential: %d scopes, want one", len(o.Scopes))
	}
	q := url.Values{"api-version": {APIVersion}, "resource": {strings.TrimSuffix(o.Scopes[0], "/.default")}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.s.Endpoint()+"?"+q.Encode(), nil)
	if err != nil {
		return azcore.AccessToken{}, fmt.Errorf("identity credential: %w", err)
	}
	req.Header.Set("X-IDENTITY-HEADER", c.s.Header())
	resp, err := loopback.Do(req)
	if err != nil {
		return azcore.AccessToken{}, fmt.Errorf("identity credential: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return azcore.AccessToken{}, fmt.Errorf("identity credential: the endpoint answered %d", resp.StatusCode)
	}
	var tok tokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		return azcore.AccessToken{}, fmt.Errorf("identity credential: no token in the answer (%v)", err)
	}
	exp, err := strconv.ParseInt(tok.ExpiresOn, 10, 64)
	if err != nil {
		return azcore.AccessToken{}, fmt.Errorf("identity credential: expires_on %q: %w", tok.ExpiresOn, err)
	}
	return azcore.AccessToken{Token: tok.AccessToken, ExpiresOn: time.Unix(exp, 0)}, nil
}
