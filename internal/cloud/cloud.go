// Package cloud maps the AZURE_CLOUD setting to the endpoints of one Azure
// cloud: Microsoft Graph, the Entra authority and the Key Vault and Storage
// DNS suffixes.
//
// azcore/cloud knows only the login hosts; the Graph endpoints and the Key
// Vault and Storage suffixes per cloud are ours to map (docs/contract.md §5).
package cloud

import (
	"fmt"
	"strings"

	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
)

// Cloud describes one Azure cloud.
type Cloud struct {
	// Name is the AZURE_CLOUD value, e.g. "AzurePublic".
	Name string
	// Graph is the Microsoft Graph endpoint without a trailing slash.
	Graph string
	// Authority is the Entra login host.
	Authority string
	// KeyVaultSuffix is the DNS suffix of the cloud's vaults, e.g. "vault.azure.net".
	KeyVaultSuffix string
	// StorageSuffix is the DNS suffix of the cloud's storage accounts, e.g.
	// "core.windows.net" (blob endpoints are {account}.blob.{suffix}).
	StorageSuffix string
	// SDK is the azcore configuration for the same cloud, for credentials.
	SDK azcloud.Configuration
}

// The four clouds of docs/contract.md §5.
var (
	Public          = Cloud{Name: "AzurePublic", Graph: "https://graph.microsoft.com", Authority: "login.microsoftonline.com", KeyVaultSuffix: "vault.azure.net", StorageSuffix: "core.windows.net", SDK: azcloud.AzurePublic}
	USGovernment    = Cloud{Name: "AzureUSGovernment", Graph: "https://graph.microsoft.us", Authority: "login.microsoftonline.us", KeyVaultSuffix: "vault.usgovcloudapi.net", StorageSuffix: "core.usgovcloudapi.net", SDK: azcloud.AzureGovernment}
	USGovernmentDoD = Cloud{Name: "AzureUSGovernmentDoD", Graph: "https://dod-graph.microsoft.us", Authority: "login.microsoftonline.us", KeyVaultSuffix: "vault.usgovcloudapi.net", StorageSuffix: "core.usgovcloudapi.net", SDK: azcloud.AzureGovernment}
	China           = Cloud{Name: "AzureChina", Graph: "https://microsoftgraph.chinacloudapi.cn", Authority: "login.chinacloudapi.cn", KeyVaultSuffix: "vault.azure.cn", StorageSuffix: "core.chinacloudapi.cn", SDK: azcloud.AzureChina}
)

// All lists the supported clouds in the contract's order.
var All = []Cloud{Public, USGovernment, USGovernmentDoD, China}

// Lookup returns the cloud named by an AZURE_CLOUD value, matched
// case-insensitively. The empty string is AzurePublic.
func Lookup(name string) (Cloud, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return Public, nil
	}
	for _, c := range All {
		if strings.EqualFold(c.Name, name) {
			return c, nil
		}
	}
	names := make([]string, len(All))
	for i, c := range All {
		names[i] = c.Name
	}
	return Cloud{}, fmt.Errorf("AZURE_CLOUD %q is not one of %s", name, strings.Join(names, ", "))
}
