package invariants

import (
	"testing"
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

// TestSettingsCoverContract pins RequiredSettings to CONTRACT.md §5 and the
// deployment's identity settings, so that weakening the list is visible in review.
func TestSettingsCoverContract(t *testing.T) {
	t.Parallel()
	want := []string{
		"PUTSECRETS_ALLOWED_VAULTS", "AZURE_CLOUD", "PUTSECRETS_GRAPH_API_VERSION", "AZURE_CLIENT_ID",
		"PUTSECRETS_ALLOW_LITERAL_CREDENTIALS", "PUTSECRETS_QUEUE", "PUTSECRETS_RESULTS_QUEUE",
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
