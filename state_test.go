package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/putsecrets/putsecrets/internal/state"
	"github.com/putsecrets/putsecrets/standin/azurite"
	"github.com/putsecrets/putsecrets/standin/identity"
)

// storage is the test binary's blob store: Azurite, reached over HTTPS with
// a token from the managed identity stand-in. azidentity reads
// IDENTITY_ENDPOINT from the process environment and Go reads SSL_CERT_FILE
// once, at the first TLS handshake, so both are set for the whole process
// here, before any test of this package speaks TLS (none other does).
var storage struct {
	once     sync.Once
	err      error
	azurite  *azurite.Server
	identity *identity.Server
}

// startStorage returns Azurite and the identity stand-in, started once.
func startStorage(t *testing.T) (*azurite.Server, *identity.Server) {
	t.Helper()
	az := azurite.Shared(t)
	storage.once.Do(func() {
		storage.azurite = az
		f, err := os.CreateTemp("", "putsecrets-azurite-ca-*.pem")
		if err != nil {
			storage.err = err
			return
		}
		_, err = f.Write(az.CA().CertPEM())
		storage.err = errors.Join(err, f.Close())
		mi := identity.New()
		if err := mi.Start(); err != nil {
			storage.err = err
			return
		}
		storage.identity = mi
		os.Setenv("SSL_CERT_FILE", f.Name())
		os.Setenv("IDENTITY_ENDPOINT", mi.Endpoint())
		os.Setenv("IDENTITY_HEADER", mi.Header())
	})
	if storage.err != nil {
		t.Fatal(storage.err)
	}
	return storage.azurite, storage.identity
}

// stateEnv is the settings of a state or reconcile command run: a vault,
// the managed identity stand-in, and the container (when not "").
func stateEnv(mi *identity.Server, containerURL string) func(string) string {
	env := map[string]string{
		"PUTSECRETS_ALLOWED_VAULTS": "contoso-kv",
		"IDENTITY_ENDPOINT":         mi.Endpoint(),
		"IDENTITY_HEADER":           mi.Header(),
		"PUTSECRETS_STATE_URL":      containerURL,
	}
	return func(k string) string { return env[k] }
}

// seed keeps a followed state for each id in the container.
func seed(t *testing.T, containerURL string, ids ...string) {
	t.Helper()
	cred, err := azidentity.NewManagedIdentityCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.New(containerURL, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		err := st.Put(t.Context(), &state.Kept{
			ServicePrincipalID: id,
			Document: []byte(`{"servicePrincipalId":"` + id + `","secrets":[{"key":"SecretToken",` +
				`"secretUri":"https://contoso-kv.vault.azure.net/secrets/scim-token"}],"follow":true}`),
			References: []state.Reference{{Field: "secrets[0]", Key: "SecretToken", Vault: "contoso-kv.vault.azure.net",
				Name: "scim-token", Resolved: "0123456789abcdef0123456789abcdef"}},
			SavedAt: time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC), GraphRequestID: "req-" + id[:8],
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

const (
	spA = "aaaaaaaa-0000-4000-8000-000000000001"
	spB = "bbbbbbbb-0000-4000-8000-000000000002"
)

func runCommand(t *testing.T, getenv func(string) string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), append([]string{"handler"}, args...), getenv, &stdout, &stderr)
	return stdout.String() + stderr.String(), err
}

func TestStateCommand(t *testing.T) {
	t.Parallel()
	az, mi := startStorage(t)
	url := az.NewContainerURL()
	env := stateEnv(mi, url)

	if out, err := runCommand(t, env, "state", "list"); err != nil || out != "" {
		t.Fatalf("list of an empty store = %q, %v; want nothing", out, err)
	}
	seed(t, url, spB, spA)
	if out, err := runCommand(t, env, "state", "list"); err != nil || out != spA+"\n"+spB+"\n" {
		t.Errorf("list = %q, %v; want both, sorted", out, err)
	}

	out, err := runCommand(t, env, "state", "show", strings.ToUpper(spA))
	if err != nil {
		t.Fatalf("show: %v", err)
	}
	var shown struct {
		ServicePrincipalID string              `json:"servicePrincipalId"`
		SavedAt            time.Time           `json:"savedAt"`
		GraphRequestID     string              `json:"graphRequestId"`
		References         []map[string]string `json:"references"`
		Document           json.RawMessage     `json:"document"`
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil {
		t.Fatalf("show printed %q: %v", out, err)
	}
	if shown.ServicePrincipalID != spA || shown.GraphRequestID != "req-aaaaaaaa" || len(shown.References) != 1 ||
		shown.References[0]["resolved"] != "0123456789abcdef0123456789abcdef" || !strings.Contains(compactJSON(t, shown.Document), `,"follow":true}`) {
		t.Errorf("show = %s", out)
	}

	if _, err := runCommand(t, env, "state", "show", "cccccccc-0000-4000-8000-000000000003"); err == nil ||
		!strings.Contains(err.Error(), "no kept state") || errors.As(err, new(usageError)) {
		t.Errorf("show of an unknown ID: %v; want a failure (exit 1) saying there is none", err)
	}

	if out, err := runCommand(t, env, "state", "forget", spA); err != nil || !strings.Contains(out, "forgot the kept state of service principal "+spA) {
		t.Errorf("forget = %q, %v", out, err)
	}
	if out, err := runCommand(t, env, "state", "list"); err != nil || out != spB+"\n" {
		t.Errorf("list after forget = %q, %v", out, err)
	}
	if out, err := runCommand(t, env, "state", "forget", spA); err != nil || !strings.Contains(out, "nothing to forget") {
		t.Errorf("forget again = %q, %v", out, err)
	}

	// --state-url overrides the setting, before or after the subcommand.
	other := az.NewContainerURL()
	seed(t, other, spA)
	for _, args := range [][]string{{"state", "--state-url", other, "list"}, {"state", "list", "--state-url=" + other}} {
		if out, err := runCommand(t, env, args...); err != nil || out != spA+"\n" {
			t.Errorf("%q = %q, %v; want the other container's state", args, out, err)
		}
	}
	if out, err := runCommand(t, stateEnv(mi, ""), "state", "show", spA, "--state-url", other); err != nil || !strings.Contains(out, spA) {
		t.Errorf("show with --state-url and no setting = %q, %v", out, err)
	}
}

func TestStateCommandUsage(t *testing.T) {
	t.Parallel()
	mi := identity.New() // never reached: every case fails before a request
	if err := mi.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mi.Close)
	env := stateEnv(mi, "https://127.0.0.1:10000/devstoreaccount1/putsecrets-state")
	tests := []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"no subcommand", []string{"state"}, true, "state needs a subcommand"},
		{"unknown subcommand", []string{"state", "rm", spA}, true, `unknown state subcommand "rm"`},
		{"show without an ID", []string{"state", "show"}, true, "takes one service principal ID"},
		{"forget with two IDs", []string{"state", "forget", spA, spB}, true, "takes one service principal ID"},
		{"list with an argument", []string{"state", "list", spA}, true, "takes no arguments"},
		{"not a GUID", []string{"state", "show", "../states/x"}, true, "is not a service principal object ID"},
		{"GUID in braces", []string{"state", "forget", "{" + spA + "}"}, true, "is not a service principal object ID"},
		{"unknown flag", []string{"state", "list", "--container", "x"}, true, "flag provided but not defined"},
		{"flag without a value", []string{"state", "list", "--state-url"}, true, "flag needs an argument"},
		{"a SAS in --state-url", []string{"state", "list", "--state-url", "https://acct.blob.core.windows.net/c?sig=secret"}, false, "PUTSECRETS_STATE_URL"},
		{"http --state-url", []string{"state", "list", "--state-url", "http://acct.blob.core.windows.net/putsecrets-state"}, false, "is not https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := runCommand(t, env, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) || errors.As(err, new(usageError)) != tt.usage {
				t.Errorf("error = %v (usage %v), want one containing %q (usage %v); output %q", err, errors.As(err, new(usageError)), tt.want, tt.usage, out)
			}
			if strings.Contains(err.Error()+out, "sig=secret") {
				t.Error("the SAS signature is repeated")
			}
		})
	}
	t.Run("no state container", func(t *testing.T) {
		t.Parallel()
		_, err := runCommand(t, stateEnv(mi, ""), "state", "list")
		if err == nil || !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "--state-url") {
			t.Errorf("error = %v, want a usage error naming --state-url", err)
		}
	})
}

func compactJSON(t *testing.T, b []byte) string {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.String()
}
