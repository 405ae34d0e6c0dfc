package cloud

import "testing"

func TestLookup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in        string
		graph     string
		authority string
		suffix    string
		storage   string
		wantErr   bool
	}{
		{"", "https://graph.microsoft.com", "login.microsoftonline.com", "vault.azure.net", "core.windows.net", false},
		{"AzurePublic", "https://graph.microsoft.com", "login.microsoftonline.com", "vault.azure.net", "core.windows.net", false},
		{"azureusgovernment", "https://graph.microsoft.us", "login.microsoftonline.us", "vault.usgovcloudapi.net", "core.usgovcloudapi.net", false},
		{"AzureUSGovernmentDoD", "https://dod-graph.microsoft.us", "login.microsoftonline.us", "vault.usgovcloudapi.net", "core.usgovcloudapi.net", false},
		{" AzureChina ", "https://microsoftgraph.chinacloudapi.cn", "login.chinacloudapi.cn", "vault.azure.cn", "core.chinacloudapi.cn", false},
		{"AzureGermany", "", "", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			c, err := Lookup(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Lookup(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if c.Graph != tt.graph || c.Authority != tt.authority || c.KeyVaultSuffix != tt.suffix || c.StorageSuffix != tt.storage {
				t.Errorf("Lookup(%q) = %+v, want graph %s authority %s suffix %s storage %s", tt.in, c, tt.graph, tt.authority, tt.suffix, tt.storage)
			}
			if got, want := c.GraphScope(), tt.graph+"/.default"; got != want {
				t.Errorf("GraphScope() = %s, want %s", got, want)
			}
			if got := c.SDK.ActiveDirectoryAuthorityHost; got != "https://"+tt.authority+"/" {
				t.Errorf("SDK authority = %s, want https://%s/", got, tt.authority)
			}
		})
	}
}
