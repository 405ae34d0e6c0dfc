package tlsca_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"testing"

	"github.com/putsecrets/putsecrets/standin/tlsca"
)

func TestServerConfig(t *testing.T) {
	t.Parallel()
	ca, err := tlsca.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ca.ServerConfig("*.vault.azure.net", "graph.microsoft.com", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		serverName string
		wantErr    bool
	}{
		{"wildcard vault", "contoso-kv.vault.azure.net", false},
		{"exact graph", "graph.microsoft.com", false},
		{"wildcard covers one label only", "a.b.vault.azure.net", true},
		{"other cloud", "contoso-kv.vault.azure.cn", true},
		{"unrelated host", "login.microsoftonline.com", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := handshake(t, cfg, &tls.Config{RootCAs: ca.Pool(), ServerName: tt.serverName})
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Errorf("handshake for %q: got error %v, want error %v", tt.serverName, err, tt.wantErr)
			}
		})
	}
}

func TestOtherCAIsNotTrusted(t *testing.T) {
	t.Parallel()
	ca, err := tlsca.New()
	if err != nil {
		t.Fatal(err)
	}
	other, err := tlsca.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ca.ServerConfig("graph.microsoft.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(t, cfg, &tls.Config{RootCAs: other.Pool(), ServerName: "graph.microsoft.com"}); err == nil {
		t.Error("handshake trusting another CA succeeded, want an unknown-authority error")
	}
}

func TestWriteCertFile(t *testing.T) {
	t.Parallel()
	ca, err := tlsca.New()
	if err != nil {
		t.Fatal(err)
	}
	path, err := ca.WriteCertFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("ca.pem is not exactly one PEM certificate: %q", data)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !cert.IsCA {
		t.Error("written certificate is not a CA")
	}
	if string(data) != string(ca.CertPEM()) {
		t.Error("file content differs from CertPEM()")
	}
}

func TestServerConfigNeedsHosts(t *testing.T) {
	t.Parallel()
	ca, err := tlsca.New()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.ServerConfig(); err == nil {
		t.Error("ServerConfig() with no hosts succeeded, want an error")
	}
}

// handshake runs one TLS handshake over an in-memory pipe.
func handshake(t *testing.T, server, client *tls.Config) error {
	t.Helper()
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	done := make(chan error, 1)
	go func() {
		// Close the pipe, not the tls.Conn: a close_notify on an unread
		// pipe would block until its write deadline.
		err := tls.Server(s, server).Handshake()
		_ = s.Close()
		done <- err
	}()
	err := tls.Client(c, client).Handshake()
	_ = c.Close()
	<-done
	return err
}
