package azure_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/google/go-cmp/cmp"

	"github.com/putsecrets/putsecrets/standin/azure"
	"github.com/putsecrets/putsecrets/standin/graph"
)

const (
	childEnv = "STANDIN_AZURE_CHILD"
	sp       = "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "storage" {
		if err := storageChild(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv(childEnv) == "1" {
		if err := child(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child behaves like the handler: default transports (ProxyFromEnvironment,
// system roots), the real credential, azsecrets and an azcore pipeline. It
// reads a secret and PUTs it to Graph.
func child() error {
	ctx := context.Background()
	cred, err := azidentity.NewManagedIdentityCredential(nil)
	if err != nil {
		return err
	}
	kv, err := azsecrets.NewClient(os.Getenv("VAULT_URL"), cred, nil)
	if err != nil {
		return err
	}
	s, err := kv.GetSecret(ctx, "scim-token", "", nil)
	if err != nil {
		return fmt.Errorf("get secret: %w", err)
	}
	g, err := azcore.NewClient("child", "v0.0.0", runtime.PipelineOptions{
		PerRetry: []policy.Policy{runtime.NewBearerTokenPolicy(cred, []string{os.Getenv("GRAPH") + "/.default"}, nil)},
	}, nil)
	if err != nil {
		return err
	}
	req, err := runtime.NewRequest(ctx, http.MethodPut, os.Getenv("GRAPH")+"/v1.0/servicePrincipals/"+sp+"/synchronization/secrets")
	if err != nil {
		return err
	}
	body := map[string]any{"value": []graph.KeyValue{{Key: "SecretToken", Value: *s.Value}}}
	if err := runtime.MarshalAsJSON(req, body); err != nil {
		return err
	}
	resp, err := g.Pipeline().Do(req)
	if err != nil {
		return err
	}
	if !runtime.HasStatusCode(resp, http.StatusNoContent) {
		return runtime.NewResponseError(resp)
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]string{"requestId": resp.Header.Get("request-id")})
}

// storageChild behaves like the handler with kept state: default transports, the real
// credential, and azblob on PUTSECRETS_STATE_URL. It creates the container and a blob.
func storageChild() error {
	ctx := context.Background()
	cred, err := azidentity.NewManagedIdentityCredential(nil)
	if err != nil {
		return err
	}
	c, err := container.NewClient(os.Getenv("PUTSECRETS_STATE_URL"), cred, nil)
	if err != nil {
		return err
	}
	if _, err := c.Create(ctx, nil); err != nil {
		return fmt.Errorf("create container: %w", err)
	}
	_, err = c.NewBlockBlobClient("from-child").UploadBuffer(ctx, []byte("ok"), nil)
	return err
}

// TestHandlerEnv runs a child process that knows the fake Azure only through
// HandlerEnv, as the handler will, in each cloud.
func TestHandlerEnv(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, vault, graphURL string }{
		{"AzurePublic", "contoso-kv.vault.azure.net", "https://graph.microsoft.com"},
		{"AzureUSGovernment", "contoso-kv.vault.usgovcloudapi.net", "https://graph.microsoft.us"},
		{"AzureUSGovernmentDoD", "contoso-kv.vault.usgovcloudapi.net", "https://dod-graph.microsoft.us"},
		{"AzureChina", "contoso-kv.vault.azure.cn", "https://microsoftgraph.chinacloudapi.cn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := azure.Start(t)
			env.KeyVault.SetSecret(tt.vault, "scim-token", "tok-"+tt.name)
			env.Graph.AddServicePrincipal(sp)

			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append([]string{
				childEnv + "=1",
				"VAULT_URL=https://" + tt.vault,
				"GRAPH=" + tt.graphURL,
				"PATH=" + os.Getenv("PATH"),
				"HOME=" + os.Getenv("HOME"),
				"NO_PROXY=*", // overridden by HandlerEnv's later entry
			}, env.HandlerEnv()...)
			out, err := cmd.Output()
			if err != nil {
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					t.Fatalf("child: %v\n%s", err, ee.Stderr)
				}
				t.Fatal(err)
			}
			var res struct{ RequestID string }
			if err := json.Unmarshal(out, &res); err != nil || res.RequestID == "" {
				t.Fatalf("child output %q: %v", out, err)
			}

			if got := env.Graph.Saved(sp); !cmp.Equal(got, []graph.KeyValue{{Key: "SecretToken", Value: "tok-" + tt.name}}) {
				t.Errorf("Graph saved %v", got)
			}
			if got := env.KeyVault.Reads(tt.vault, "scim-token"); got != 1 {
				t.Errorf("Key Vault reads: got %d, want 1", got)
			}
			graphHost := strings.TrimPrefix(tt.graphURL, "https://")
			if diff := cmp.Diff([]string{tt.vault + ":443", graphHost + ":443"}, env.Proxy.Connects()); diff != "" {
				t.Errorf("CONNECTs (-want +got):\n%s", diff)
			}
			var resources []string
			for _, r := range env.Identity.Requests() {
				resources = append(resources, r.Resource)
			}
			vaultResource := "https://" + strings.SplitN(tt.vault, ".", 2)[1]
			if diff := cmp.Diff([]string{vaultResource, tt.graphURL}, resources); diff != "" {
				t.Errorf("token requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewAndClose(t *testing.T) {
	t.Parallel()
	e, err := azure.New("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.CAFile); err != nil {
		t.Fatalf("CA file: %v", err)
	}
	env := map[string]string{}
	for _, kv := range e.HandlerEnv() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for _, k := range []string{"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "HTTPS_PROXY", "SSL_CERT_FILE"} {
		if env[k] == "" {
			t.Errorf("HandlerEnv lacks %s", k)
		}
	}
	if v, ok := env["NO_PROXY"]; !ok || v != "" {
		t.Errorf("NO_PROXY: got %q, %v; want present and empty", v, ok)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.CAFile); !os.IsNotExist(err) {
		t.Errorf("CA file still there after Close: %v", err)
	}
}

// TestTransport uses the in-process wiring with the real azsecrets client.
func TestTransport(t *testing.T) {
	t.Parallel()
	e := azure.Start(t)
	e.KeyVault.SetSecret("contoso-kv.vault.azure.net", "x", "v")
	// The in-process credential is enough here: the test is about the transport.
	cred := e.Identity.Credential()
	c, err := azsecrets.NewClient("https://contoso-kv.vault.azure.net", cred, &azsecrets.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: e.HTTPClient()},
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.GetSecret(context.Background(), "x", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if *s.Value != "v" {
		t.Errorf("value: got %q", *s.Value)
	}
}

// TestStorage shows WithStorage wiring: the state container URL in HandlerEnv, a container of
// each Env's own, and an in-process azblob client that reaches Azurite through Transport with
// the identity stand-in's token, both with Start's shared Azurite and with New's own.
func TestStorage(t *testing.T) {
	shared1 := azure.Start(t, azure.WithStorage())
	shared2 := azure.Start(t, azure.WithStorage())
	own, err := azure.New(t.TempDir(), azure.WithStorage())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := own.Close(); err != nil {
			t.Error(err)
		}
	})
	if shared1.Storage != shared2.Storage || shared1.StateURL == shared2.StateURL {
		t.Errorf("two Start(WithStorage) Envs: want one Azurite and two containers, got %p %p, %q %q", shared1.Storage, shared2.Storage, shared1.StateURL, shared2.StateURL)
	}
	if own.Storage == shared1.Storage {
		t.Error("New(WithStorage) reused the shared Azurite, want its own")
	}
	if plain := azure.Start(t); plain.Storage != nil || plain.StateURL != "" || slices.ContainsFunc(plain.HandlerEnv(), func(s string) bool { return strings.HasPrefix(s, "PUTSECRETS_STATE_URL=") }) {
		t.Error("Start without WithStorage set up storage")
	}
	for name, env := range map[string]*azure.Env{"Start": shared1, "New": own} {
		// A process that knows storage only through HandlerEnv, as the handler will: its
		// default transport must not send loopback to HTTPS_PROXY, and SSL_CERT_FILE must
		// hold Azurite's CA.
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append([]string{childEnv + "=storage", "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env.HandlerEnv()...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: child on HandlerEnv: %v\n%s", name, err, out)
		}
		if !slices.Contains(env.HandlerEnv(), "PUTSECRETS_STATE_URL="+env.StateURL) {
			t.Errorf("%s: HandlerEnv has no PUTSECRETS_STATE_URL=%s", name, env.StateURL)
		}
		pem, err := os.ReadFile(env.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Count(string(pem), "BEGIN CERTIFICATE"); name == "Start" && got != 2 || name == "New" && got != 1 {
			t.Errorf("%s: CAFile holds %d certificates", name, got)
		}
		t.Setenv("IDENTITY_ENDPOINT", env.Identity.Endpoint())
		t.Setenv("IDENTITY_HEADER", env.Identity.Header())
		cred, err := azidentity.NewManagedIdentityCredential(nil)
		if err != nil {
			t.Fatal(err)
		}
		c, err := container.NewClient(env.StateURL, cred, &container.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: env.HTTPClient()}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.NewBlobClient("from-child").GetProperties(context.Background(), nil); err != nil {
			t.Errorf("%s: the child's blob, read in process through Transport: %v", name, err)
		}
	}
}
