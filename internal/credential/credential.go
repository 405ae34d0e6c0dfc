// Package credential picks the app's Entra ID credential from the
// environment the platform gives it.
//
//   - In Azure Functions, App Service and Container Apps (IDENTITY_ENDPOINT
//     and IDENTITY_HEADER set): the managed identity, system-assigned, or
//     user-assigned when a client ID is given (azidentity reads AZURE_CLIENT_ID
//     only for DefaultAzureCredential, so it is passed explicitly).
//   - On Kubernetes with workload identity (AZURE_FEDERATED_TOKEN_FILE set):
//     the workload identity.
//   - Anywhere else, a developer machine: Azure CLI (`az login`), then Azure
//     Developer CLI (`azd auth login`).
//
// Every credential that calls an endpoint (the identity endpoint, Entra ID
// for workload identity) sends through the client it is given, the app's one
// client of internal/transport, so it follows no redirect either: Go's
// client would carry X-IDENTITY-HEADER (it strips only Authorization and
// cookies) to whatever host a redirect names.
//
// Building a credential does no network I/O; the first token is fetched on
// first use.
package credential

import (
	"context"
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/putsecrets/putsecrets/internal/cloud"
	"github.com/putsecrets/putsecrets/internal/transport"
)

// Kind names the credential that New chose, for the start-up log line.
type Kind string

// The kinds New chooses between.
const (
	ManagedIdentity  Kind = "ManagedIdentity"
	WorkloadIdentity Kind = "WorkloadIdentity"
	Developer        Kind = "AzureCLI+AzureDeveloperCLI"
)

// New returns the credential for the environment read through getenv. Its
// token failures are *Error.
// clientID selects a user-assigned managed identity (empty: system-assigned);
// client is the HTTP client its requests go through (transport.New's).
func New(getenv func(string) string, c cloud.Cloud, clientID string, client policy.Transporter) (azcore.TokenCredential, Kind, error) {
	if client == nil {
		return nil, "", errors.New("credential: no HTTP client given")
	}
	opts := azcore.ClientOptions{Cloud: c.SDK, Transport: client}
	switch {
	case getenv("IDENTITY_ENDPOINT") != "" || getenv("MSI_ENDPOINT") != "":
		o := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts}
		if clientID != "" {
			o.ID = azidentity.ClientID(clientID)
		}
		cred, err := azidentity.NewManagedIdentityCredential(o)
		if err != nil {
			return nil, "", fmt.Errorf("managed identity credential: %w", err)
		}
		return tagged{cred}, ManagedIdentity, nil
	case getenv("AZURE_FEDERATED_TOKEN_FILE") != "":
		cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: opts,
			ClientID:      firstNonEmpty(clientID, getenv("AZURE_CLIENT_ID")),
			TenantID:      getenv("AZURE_TENANT_ID"),
			TokenFilePath: getenv("AZURE_FEDERATED_TOKEN_FILE"),
		})
		if err != nil {
			return nil, "", fmt.Errorf("workload identity credential: %w", err)
		}
		return tagged{cred}, WorkloadIdentity, nil
	default:
		tenant := getenv("AZURE_TENANT_ID")
		cli, err := azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: tenant})
		if err != nil {
			return nil, "", fmt.Errorf("azure CLI credential: %w", err)
		}
		azd, err := azidentity.NewAzureDeveloperCLICredential(&azidentity.AzureDeveloperCLICredentialOptions{TenantID: tenant})
		if err != nil {
			return nil, "", fmt.Errorf("azure developer CLI credential: %w", err)
		}
		chain, err := azidentity.NewChainedTokenCredential([]azcore.TokenCredential{cli, azd}, nil)
		if err != nil {
			return nil, "", fmt.Errorf("developer credential: %w", err)
		}
		return tagged{chain}, Developer, nil
	}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// Error is a failure to get a token: the identity endpoint (or the CLI) did
// not give one. Callers classify it with errors.As; Err is azidentity's error.
type Error struct {
	Err error
	// Redirect is the redirect the identity endpoint answered, which was not
	// followed; nil when it answered none. azidentity keeps only its text in
	// Err.
	Redirect *transport.RedirectError
}

// Error says that no token came, and why.
func (e *Error) Error() string { return "get token: " + e.Err.Error() }

// Unwrap returns azidentity's error.
func (e *Error) Unwrap() error { return e.Err }

// tagged marks every token failure of the credential it wraps as an *Error,
// so that a failure of the identity is told apart from the failure of the
// service the token was for, whichever client asked.
type tagged struct {
	cred azcore.TokenCredential
}

func (t tagged) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	ctx, redirect := transport.WatchRedirects(ctx)
	tok, err := t.cred.GetToken(ctx, opts)
	if err != nil {
		return tok, &Error{Err: err, Redirect: redirect()}
	}
	return tok, nil
}
