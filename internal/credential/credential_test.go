package credential

import (
	"testing"

	"github.com/putsecrets/putsecrets/internal/cloud"
	"github.com/putsecrets/putsecrets/internal/transport"
)

func TestNewChoosesByEnvironment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want Kind
	}{
		{"functions", map[string]string{"IDENTITY_ENDPOINT": "http://127.0.0.1:41000/msi/token", "IDENTITY_HEADER": "h"}, ManagedIdentity},
		{"legacy msi", map[string]string{"MSI_ENDPOINT": "http://127.0.0.1:41000/msi/token"}, ManagedIdentity},
		{"aks workload identity", map[string]string{"AZURE_FEDERATED_TOKEN_FILE": "/var/run/token", "AZURE_CLIENT_ID": "c", "AZURE_TENANT_ID": "t"}, WorkloadIdentity},
		{"developer machine", map[string]string{}, Developer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cred, kind, err := New(func(k string) string { return tt.env[k] }, cloud.Public, "client-id", transport.New())
			if err != nil {
				t.Fatal(err)
			}
			if cred == nil || kind != tt.want {
				t.Errorf("New() kind = %s, want %s", kind, tt.want)
			}
		})
	}
}
