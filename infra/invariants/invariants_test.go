package invariants

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2/hclwrite"
)

const (
	mainDir  = ".."
	graphDir = "../graph-permissions"
)

func TestMainModuleInvariants(t *testing.T) {
	t.Parallel()
	m, err := Load(mainDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range CheckMain(m) {
		t.Error(p)
	}
}

func TestGraphPermissionsInvariants(t *testing.T) {
	t.Parallel()
	m, err := Load(graphDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range CheckGraphPermissions(m) {
		t.Error(p)
	}
}

// TestSettingsCoverContract pins RequiredSettings to docs/contract.md §5 and the
// deployment's identity settings, so that weakening the list is visible in review.
func TestSettingsCoverContract(t *testing.T) {
	t.Parallel()
	want := []string{
		"PUTSECRETS_ALLOWED_VAULTS", "AZURE_CLOUD", "PUTSECRETS_GRAPH_API_VERSION", "AZURE_CLIENT_ID",
		"PUTSECRETS_ALLOW_LITERAL_CREDENTIALS", "PUTSECRETS_QUEUE", "PUTSECRETS_RESULTS_QUEUE",
		"PUTSECRETS_EVENTS_QUEUE", "PUTSECRETS_STATE_URL", "PUTSECRETS_RECONCILE_SCHEDULE",
		"ServiceBusConnection__fullyQualifiedNamespace", "ServiceBusConnection__credential", "ServiceBusConnection__clientId",
		"PUTSECRETS_REQUIRED_ROLE", "PUTSECRETS_ALLOWED_SERVICE_PRINCIPALS",
		"AzureWebJobsStorage__accountName", "AzureWebJobsStorage__credential", "AzureWebJobsStorage__clientId",
		"APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
	}
	have := map[string]bool{}
	for _, s := range RequiredSettings {
		have[s.Name] = true
	}
	for _, name := range want {
		if !have[name] {
			t.Errorf("RequiredSettings lacks %s", name)
		}
	}
}

// TestFormatted: every .tf and .tftest.hcl file is as `tofu fmt` writes it
// (hclwrite.Format, which tofu fmt applies), so make infra-validate's
// fmt -check cannot be the first to notice.
func TestFormatted(t *testing.T) {
	t.Parallel()
	for _, pattern := range []string{mainDir + "/*.tf", graphDir + "/*.tf", mainDir + "/tests/*.tftest.hcl"} {
		files, err := filepath.Glob(pattern)
		if err != nil || len(files) == 0 {
			t.Fatalf("no files match %s (%v)", pattern, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if out := hclwrite.Format(b); !bytes.Equal(out, b) {
				t.Errorf("%s is not formatted: run tofu fmt (or terraform fmt) on it", f)
			}
		}
	}
}
