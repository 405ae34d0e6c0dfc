package main

import (
	"io"
	"testing"

	"github.com/putsecrets/putsecrets/internal/config"
)

// TestWiringBuildsOnce: the service and the Service Bus client share one
// credential for one identity, and each dependency is built once; a
// Service Bus connection naming another identity gets its own.
func TestWiringBuildsOnce(t *testing.T) {
	t.Parallel()
	env := envOf(map[string]string{
		"PUTSECRETS_ALLOWED_VAULTS": "contoso-kv",
		"IDENTITY_ENDPOINT":         "http://127.0.0.1:1/msi/token", "IDENTITY_HEADER": "h",
	})
	tests := []struct {
		name      string
		conn      config.ServiceBus
		wantCreds int
	}{
		{"same identity", config.ServiceBus{Namespace: "ns.servicebus.windows.net"}, 1},
		{"another identity", config.ServiceBus{Namespace: "ns.servicebus.windows.net", ClientID: "3f2504e0-4f89-41d3-9a0c-0305e82c3301"}, 2},
		{"connection string: no credential", config.ServiceBus{ConnectionString: "Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=k;SharedAccessKey=fake;UseDevelopmentEmulator=true"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, err := loadWiring(env, io.Discard, false)
			if err != nil {
				t.Fatal(err)
			}
			svc, err := w.service()
			if err != nil {
				t.Fatal(err)
			}
			sb, err := w.serviceBus(tt.conn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(w.closeServiceBus)
			if again, _ := w.service(); again != svc {
				t.Error("service() built a second service")
			}
			if again, _ := w.serviceBus(tt.conn); again != sb {
				t.Error("serviceBus() built a second client")
			}
			if len(w.creds) != tt.wantCreds {
				t.Errorf("credentials built = %d, want %d", len(w.creds), tt.wantCreds)
			}
			if w.credKind == "" {
				t.Error("no credential kind recorded for the log")
			}
		})
	}
}
