package invariants

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// mutation breaks a copy of a module in one way the invariants must catch.
type mutation struct {
	name   string
	module string // mainDir or graphDir
	mutate func(t *testing.T, dir string)
	want   string // a substring of one reported problem
}

// TestMutationsAreCaught proves the invariant checks fail on each kind of
// breakage: every case edits a fresh copy of a module and expects a problem.
func TestMutationsAreCaught(t *testing.T) {
	t.Parallel()
	cases := []mutation{
		// Broken references.
		{"attribute a resource does not have", mainDir,
			replace("functionapp.tf", "storage_user_assigned_identity_id = azurerm_user_assigned_identity.app.id", "storage_user_assigned_identity_id = azurerm_user_assigned_identity.app.idd"),
			`azurerm_user_assigned_identity has no attribute "idd"`},
		{"undeclared resource", mainDir,
			replace("storage.tf", "name                  = local.names.deployment_container\n  storage_account_id    = azurerm_storage_account.host.id", "name                  = local.names.deployment_container\n  storage_account_id    = azurerm_storage_account.hots.id"),
			"no resource azurerm_storage_account.hots is declared"},
		{"undeclared variable", mainDir,
			replace("servicebus.tf", "var.request_queue_requires_session", "var.request_queue_require_session"),
			`no variable "request_queue_require_session" is declared`},
		{"undeclared local", mainDir,
			replace("roles.tf", "scope                = local.key_vault_id", "scope                = local.keyvault_id"),
			`no local "keyvault_id" is declared`},
		{"counted resource used without an index", mainDir,
			replace("keyvault.tf", "azurerm_key_vault.main[0].id", "azurerm_key_vault.main.id"),
			"azurerm_key_vault.main has count or for_each and needs an index"},
		{"undeclared data source", mainDir,
			replace("keyvault.tf", "tenant_id                  = data.azurerm_client_config.current.tenant_id", "tenant_id                  = data.azurerm_client_config.currnet.tenant_id"),
			"no data source azurerm_client_config.currnet is declared"},

		// Dropped or widened role assignments.
		{"Storage Blob Data Owner dropped", mainDir,
			removeBlock("roles.tf", "resource", "azurerm_role_assignment", "storage_blob_data_owner"),
			`role "Storage Blob Data Owner" on azurerm_storage_account.host.id for azurerm_user_assigned_identity.app.principal_id is missing`},
		{"Service Bus Data Receiver dropped", mainDir,
			removeBlock("roles.tf", "resource", "azurerm_role_assignment", "service_bus_data_receiver"),
			`role "Azure Service Bus Data Receiver" on azurerm_servicebus_queue.requests.id`},
		{"Service Bus Data Sender dropped", mainDir,
			removeBlock("roles.tf", "resource", "azurerm_role_assignment", "service_bus_data_sender"),
			`role "Azure Service Bus Data Sender" on azurerm_servicebus_queue.results.id`},
		{"Key Vault Secrets User dropped", mainDir,
			removeBlock("roles.tf", "resource", "azurerm_role_assignment", "key_vault_secrets_user"),
			`role "Key Vault Secrets User" on local.key_vault_id`},
		{"Monitoring Metrics Publisher dropped", mainDir,
			removeBlock("roles.tf", "resource", "azurerm_role_assignment", "monitoring_metrics_publisher"),
			`role "Monitoring Metrics Publisher" on azurerm_application_insights.main.id`},
		{"receiver widened to the namespace", mainDir,
			replace("roles.tf", "scope                = azurerm_servicebus_queue.requests.id\n  role_definition_name = \"Azure Service Bus Data Receiver\"\n  principal_id         = azurerm_user_assigned_identity.app.principal_id",
				"scope                = azurerm_servicebus_namespace.main.id\n  role_definition_name = \"Azure Service Bus Data Receiver\"\n  principal_id         = azurerm_user_assigned_identity.app.principal_id"),
			"broader than it needs"},
		{"identity made Contributor", mainDir,
			replace("roles.tf", `role_definition_name = "Monitoring Metrics Publisher"`, `role_definition_name = "Contributor"`),
			`"Contributor" on azurerm_application_insights.main.id: broader than it needs`},

		// Following Key Vault (docs/contract.md §8): every new resource, role and
		// scope, dropped or widened.
		{"state container dropped", mainDir,
			removeBlock("storage.tf", "resource", "azurerm_storage_container", "state"),
			"no resource azurerm_storage_container.state is declared"},
		{"state container public", mainDir,
			replace("storage.tf", "name                  = var.state_container_name\n  storage_account_id    = azurerm_storage_account.host.id\n  container_access_type = \"private\"",
				"name                  = var.state_container_name\n  storage_account_id    = azurerm_storage_account.host.id\n  container_access_type = \"blob\""),
			`azurerm_storage_container.state: container_access_type = "blob", want "private"`},
		{"state URL names the deployment container", mainDir,
			replace("functionapp.tf", "${azurerm_storage_container.state.name}\"\n", "${azurerm_storage_container.deployment.name}\"\n"),
			"app_settings: PUTSECRETS_STATE_URL is"},
		{"state URL with a SAS", mainDir,
			replace("functionapp.tf", "${azurerm_storage_container.state.name}\"\n", "${azurerm_storage_container.state.name}?sv=2022-11-02&sig=bm90LWEtc2ln\"\n"),
			"literal carries a credential"},
		{"events queue dropped", mainDir,
			removeBlock("servicebus.tf", "resource", "azurerm_servicebus_queue", "events"),
			"no resource azurerm_servicebus_queue.events is declared"},
		{"events queue session-enabled", mainDir,
			replace("servicebus.tf", "requires_session                        = false", "requires_session                        = true"),
			"azurerm_servicebus_queue.events: requires_session = true, want false"},
		{"events queue without duplicate detection", mainDir,
			replace("servicebus.tf", "requires_duplicate_detection            = true", "requires_duplicate_detection            = false"),
			"azurerm_servicebus_queue.events: requires_duplicate_detection = false, want true"},
		{"system topic dropped", mainDir,
			removeBlock("eventgrid.tf", "resource", "azurerm_eventgrid_system_topic", "key_vault"),
			"no resource azurerm_eventgrid_system_topic.key_vault is declared"},
		{"system topic on another resource", mainDir,
			replace("eventgrid.tf", "source_resource_id  = local.key_vault_id", "source_resource_id  = azurerm_storage_account.host.id"),
			"source_resource_id = azurerm_storage_account.host.id, want local.key_vault_id"},
		{"system topic of another type", mainDir,
			replace("eventgrid.tf", `topic_type          = "Microsoft.KeyVault.vaults"`, `topic_type          = "Microsoft.Storage.StorageAccounts"`),
			`topic_type = "Microsoft.Storage.StorageAccounts", want "Microsoft.KeyVault.vaults"`},
		{"system topic without an identity", mainDir,
			removeNested("eventgrid.tf", "azurerm_eventgrid_system_topic", "key_vault", "identity"),
			"needs exactly one identity block"},
		{"event subscription dropped", mainDir,
			removeBlock("eventgrid.tf", "resource", "azurerm_eventgrid_system_topic_event_subscription", "key_vault_secrets"),
			"Key Vault events would reach nobody"},
		{"event subscription to the request queue", mainDir,
			replace("eventgrid.tf", "service_bus_queue_id = azurerm_servicebus_queue.events.id", "service_bus_queue_id = azurerm_servicebus_queue.requests.id"),
			"service_bus_queue_id = azurerm_servicebus_queue.requests.id, want azurerm_servicebus_queue.events.id"},
		{"event subscription to a webhook", mainDir,
			replace("eventgrid.tf", "service_bus_queue_id = azurerm_servicebus_queue.events.id", "webhook_endpoint {\n    url = \"https://example.com/hook\"\n  }"),
			"webhook_endpoint is set"},
		{"event subscription without delivery identity", mainDir,
			removeNested("eventgrid.tf", "azurerm_eventgrid_system_topic_event_subscription", "key_vault_secrets", "delivery_identity"),
			"needs a delivery_identity block"},
		{"event subscription misses SecretNewVersionCreated", mainDir,
			removeLine("eventgrid.tf", `^\s+"Microsoft\.KeyVault\.SecretNewVersionCreated",`),
			"included_event_types lacks Microsoft.KeyVault.SecretNewVersionCreated"},
		{"event subscription misses SecretNearExpiry", mainDir,
			removeLine("eventgrid.tf", `^\s+"Microsoft\.KeyVault\.SecretNearExpiry",`),
			"included_event_types lacks Microsoft.KeyVault.SecretNearExpiry"},
		{"event subscription misses SecretExpired", mainDir,
			removeLine("eventgrid.tf", `^\s+"Microsoft\.KeyVault\.SecretExpired",`),
			"included_event_types lacks Microsoft.KeyVault.SecretExpired"},
		{"event subscription takes every event", mainDir,
			replace("eventgrid.tf", "    \"Microsoft.KeyVault.SecretExpired\",\n", "    \"Microsoft.KeyVault.SecretExpired\",\n    \"Microsoft.KeyVault.KeyNewVersionCreated\",\n"),
			"included_event_types has Microsoft.KeyVault.KeyNewVersionCreated"},
		{"event subscription created before its role", mainDir,
			replace("eventgrid.tf", "depends_on = [azurerm_role_assignment.event_grid_events_sender]", "depends_on = []"),
			"must depend on azurerm_role_assignment.event_grid_events_sender"},
		{"app's request sender dropped", mainDir,
			removeBlock("roles.tf", "resource", "azurerm_role_assignment", "service_bus_request_sender"),
			`role "Azure Service Bus Data Sender" on azurerm_servicebus_queue.requests.id for azurerm_user_assigned_identity.app.principal_id is missing`},
		{"app's events receiver dropped", mainDir,
			removeBlock("roles.tf", "resource", "azurerm_role_assignment", "service_bus_events_receiver"),
			`role "Azure Service Bus Data Receiver" on azurerm_servicebus_queue.events.id for azurerm_user_assigned_identity.app.principal_id is missing`},
		{"system topic's sender dropped", mainDir,
			removeBlock("roles.tf", "resource", "azurerm_role_assignment", "event_grid_events_sender"),
			`role "Azure Service Bus Data Sender" on azurerm_servicebus_queue.events.id for azurerm_eventgrid_system_topic.key_vault.identity[0].principal_id is missing`},
		{"app's request sender widened to the namespace", mainDir,
			replace("roles.tf", "resource \"azurerm_role_assignment\" \"service_bus_request_sender\" {\n  scope                = azurerm_servicebus_queue.requests.id",
				"resource \"azurerm_role_assignment\" \"service_bus_request_sender\" {\n  scope                = azurerm_servicebus_namespace.main.id"),
			"role assignment service_bus_request_sender gives the app identity \"Azure Service Bus Data Sender\" on azurerm_servicebus_namespace.main.id: broader than it needs"},
		{"app's events receiver widened to the namespace", mainDir,
			replace("roles.tf", "resource \"azurerm_role_assignment\" \"service_bus_events_receiver\" {\n  scope                = azurerm_servicebus_queue.events.id",
				"resource \"azurerm_role_assignment\" \"service_bus_events_receiver\" {\n  scope                = azurerm_servicebus_namespace.main.id"),
			"role assignment service_bus_events_receiver gives the app identity \"Azure Service Bus Data Receiver\" on azurerm_servicebus_namespace.main.id: broader than it needs"},
		{"system topic's sender widened to the namespace", mainDir,
			replace("roles.tf", "resource \"azurerm_role_assignment\" \"event_grid_events_sender\" {\n  scope                = azurerm_servicebus_queue.events.id",
				"resource \"azurerm_role_assignment\" \"event_grid_events_sender\" {\n  scope                = azurerm_servicebus_namespace.main.id"),
			"gives the Event Grid system topic \"Azure Service Bus Data Sender\" on azurerm_servicebus_namespace.main.id"},
		{"system topic's sender moved to the request queue", mainDir,
			replace("roles.tf", "resource \"azurerm_role_assignment\" \"event_grid_events_sender\" {\n  scope                = azurerm_servicebus_queue.events.id",
				"resource \"azurerm_role_assignment\" \"event_grid_events_sender\" {\n  scope                = azurerm_servicebus_queue.requests.id"),
			"gives the Event Grid system topic \"Azure Service Bus Data Sender\" on azurerm_servicebus_queue.requests.id"},
		{"system topic made Data Owner", mainDir,
			replace("roles.tf", "resource \"azurerm_role_assignment\" \"event_grid_events_sender\" {\n  scope                = azurerm_servicebus_queue.events.id\n  role_definition_name = \"Azure Service Bus Data Sender\"",
				"resource \"azurerm_role_assignment\" \"event_grid_events_sender\" {\n  scope                = azurerm_servicebus_queue.events.id\n  role_definition_name = \"Azure Service Bus Data Owner\""),
			"gives the Event Grid system topic \"Azure Service Bus Data Owner\""},
		{"system topic given a second role", mainDir,
			appendText("roles.tf", "\nresource \"azurerm_role_assignment\" \"event_grid_reader\" {\n  scope                = local.key_vault_id\n  role_definition_name = \"Key Vault Secrets User\"\n  principal_id         = azurerm_eventgrid_system_topic.key_vault.identity[0].principal_id\n}\n"),
			"gives the Event Grid system topic \"Key Vault Secrets User\" on local.key_vault_id"},

		// Settings.
		{"literal credentials allowed", mainDir,
			replace("functionapp.tf", `PUTSECRETS_ALLOW_LITERAL_CREDENTIALS = "false"`, `PUTSECRETS_ALLOW_LITERAL_CREDENTIALS = "true"`),
			`PUTSECRETS_ALLOW_LITERAL_CREDENTIALS is "true", want "false"`},
		{"Service Bus without managed identity", mainDir,
			replace("functionapp.tf", `ServiceBusConnection__credential              = "managedidentity"`, `ServiceBusConnection__credential              = ""`),
			`ServiceBusConnection__credential is "", want "managedidentity"`},
		{"FUNCTIONS_WORKER_RUNTIME on Flex", mainDir,
			replace("functionapp.tf", "AZURE_CLOUD                          = var.azure_cloud", "AZURE_CLOUD                          = var.azure_cloud\n      FUNCTIONS_WORKER_RUNTIME = \"custom\""),
			"FUNCTIONS_WORKER_RUNTIME must not be set"},
		{"always-needed setting made conditional", mainDir,
			replace("functionapp.tf", "PUTSECRETS_REQUIRED_ROLE = var.required_role", "PUTSECRETS_REQUIRED_ROLE = var.required_role\n      PUTSECRETS_QUEUE = azurerm_servicebus_queue.requests.name"),
			"PUTSECRETS_QUEUE is set only conditionally"},

		// Keys, SAS and connection strings.
		{"Service Bus connection string in a setting", mainDir,
			replace("functionapp.tf", "AZURE_CLOUD                          = var.azure_cloud", "AZURE_CLOUD                          = var.azure_cloud\n      ServiceBusConnection = azurerm_servicebus_namespace.main.default_primary_connection_string"),
			"default_primary_connection_string reads a key or secret-bearing connection string"},
		{"storage connection string literal in a setting", mainDir,
			replace("functionapp.tf", `AzureWebJobsStorage = ""`, `AzureWebJobsStorage = "DefaultEndpointsProtocol=https;AccountName=st;AccountKey=bm90LWEta2V5;EndpointSuffix=core.windows.net"`),
			"literal carries a credential"},
		{"storage access key on the function app", mainDir,
			replace("functionapp.tf", `storage_authentication_type       = "UserAssignedIdentity"`, "storage_authentication_type       = \"StorageAccountConnectionString\"\n  storage_access_key = azurerm_storage_account.host.primary_access_key"),
			"sets storage_access_key"},
		{"SAS URL as a variable default", mainDir,
			appendText("variables.tf", "\nvariable \"package_url\" {\n  type    = string\n  default = \"https://st.blob.core.windows.net/c/app.zip?sv=2022-11-02&sr=b&sig=bm90LWEtc2ln\"\n}\n"),
			"literal carries a credential"},
		{"Service Bus SAS connection string as a variable default", mainDir,
			appendText("variables.tf", "\nvariable \"service_bus_connection\" {\n  type    = string\n  default = \"Endpoint=sb://sb.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=bm90LWEta2V5\"\n}\n"),
			"literal carries a credential"},
		{"SAS rule minted on a queue", mainDir,
			appendText("servicebus.tf", "\nresource \"azurerm_servicebus_queue_authorization_rule\" \"send\" {\n  name     = \"send\"\n  queue_id = azurerm_servicebus_queue.requests.id\n  send     = true\n}\n"),
			"resource azurerm_servicebus_queue_authorization_rule.send mints or holds a key/SAS"},
		{"instrumentation key instead of Entra telemetry", mainDir,
			replace("functionapp.tf", "application_insights_connection_string = azurerm_application_insights.main.connection_string", "application_insights_key = azurerm_application_insights.main.instrumentation_key"),
			"instrumentation_key reads a key or secret-bearing connection string"},

		// Shared-key and local authentication.
		{"storage shared keys on", mainDir,
			replace("storage.tf", "shared_access_key_enabled        = false", "shared_access_key_enabled        = true"),
			"shared_access_key_enabled = true, want false"},
		{"Service Bus SAS auth on", mainDir,
			replace("servicebus.tf", "local_auth_enabled  = false", "local_auth_enabled  = true"),
			"azurerm_servicebus_namespace.main: local_auth_enabled = true, want false"},
		{"Application Insights local auth on", mainDir,
			replace("monitoring.tf", "application_type             = \"other\"\n  local_authentication_enabled = false", "application_type             = \"other\"\n  local_authentication_enabled = true"),
			"azurerm_application_insights.main: local_authentication_enabled = true, want false"},
		{"Log Analytics local auth left at its default", mainDir,
			replace("monitoring.tf", "retention_in_days            = var.log_retention_in_days\n  local_authentication_enabled = false", "retention_in_days            = var.log_retention_in_days"),
			"azurerm_log_analytics_workspace.main: local_authentication_enabled is not set, want false"},
		{"Key Vault access policies instead of RBAC", mainDir,
			replace("keyvault.tf", "rbac_authorization_enabled = true", "rbac_authorization_enabled = false"),
			"rbac_authorization_enabled = false, want true"},
		{"provider falls back to storage keys", mainDir,
			replace("providers.tf", "storage_use_azuread = true", "storage_use_azuread = false"),
			"storage_use_azuread = false, want true"},
		{"basic-auth publishing credentials on", mainDir,
			replace("functionapp.tf", "webdeploy_publish_basic_authentication_enabled = false", "webdeploy_publish_basic_authentication_enabled = true"),
			"webdeploy_publish_basic_authentication_enabled = true, want false"},
		{"not Flex Consumption", mainDir,
			replace("functionapp.tf", `sku_name            = "FC1"`, `sku_name            = "Y1"`),
			`sku_name = "Y1", want "FC1"`},

		// Graph permissions.
		{"hard-coded Graph app role ID", graphDir,
			replace("main.tf", "app_role_id         = data.azuread_service_principal.microsoft_graph.app_role_ids[local.graph_app_role]", `app_role_id         = "18a4783c-866b-4cc7-a460-3d5e5662c884"`),
			"hard-coded app role ID of Application.ReadWrite.OwnedBy"},
		{"Synchronization.ReadWrite.All by default", graphDir,
			replace("variables.tf", "type        = bool\n  default     = false", "type        = bool\n  default     = true"),
			"grant_synchronization_readwrite_all must default to false"},
		{"target ownership dropped", graphDir,
			removeBlock("main.tf", "resource", "terraform_data", "service_principal_owner"),
			"no terraform_data.service_principal_owner"},
		{"Graph module reference broken", graphDir,
			replace("main.tf", "principal_object_id = var.identity_principal_id", "principal_object_id = var.identity_principal"),
			`no variable "identity_principal" is declared`},
	}

	// A required setting dropped: one case per setting.
	for _, s := range RequiredSettings {
		cases = append(cases, mutation{"setting " + s.Name + " dropped", mainDir,
			removeLine("functionapp.tf", `^\s+`+regexp.QuoteMeta(s.Name)+`\s+=`),
			"app_settings: " + s.Name + " is missing"})
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := copyModule(t, tc.module)
			if p := check(t, tc.module, dir); len(p) != 0 {
				t.Fatalf("unmutated copy already fails: %v", p)
			}
			tc.mutate(t, dir)
			problems := check(t, tc.module, dir)
			var caught []string
			for _, p := range problems {
				if strings.Contains(p, tc.want) {
					caught = append(caught, p)
				}
			}
			if len(caught) == 0 {
				t.Fatalf("mutation not caught: want a problem containing %q, got %d problems:\n%s", tc.want, len(problems), strings.Join(problems, "\n"))
			}
			for _, p := range caught {
				t.Logf("caught: %s", p)
			}
		})
	}
}

func check(t *testing.T, module, dir string) []string {
	t.Helper()
	m, err := Load(dir)
	if err != nil {
		// A copy that no longer parses counts as caught only if the case
		// expects it; none does, so this is a broken case.
		t.Fatalf("load mutated module: %v", err)
	}
	if module == graphDir {
		return CheckGraphPermissions(m)
	}
	return CheckMain(m)
}

// copyModule copies a module's .tf files and its scripts/ to a temp dir.
func copyModule(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			if rel == "." || rel == "scripts" {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			return filepath.SkipDir
		}
		if filepath.Ext(path) != ".tf" && filepath.Dir(rel) != "scripts" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func edit(t *testing.T, path string, fn func(string) (string, error)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out, err := fn(string(b))
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replace swaps text that occurs exactly once, so a case can't silently
// stop mutating when the module changes.
func replace(file, old, new string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		edit(t, filepath.Join(dir, file), func(s string) (string, error) {
			if n := strings.Count(s, old); n != 1 {
				return "", fmt.Errorf("%q occurs %d times, want 1", old, n)
			}
			return strings.Replace(s, old, new, 1), nil
		})
	}
}

// removeLine deletes the one line matching pattern.
func removeLine(file, pattern string) func(*testing.T, string) {
	re := regexp.MustCompile(pattern)
	return func(t *testing.T, dir string) {
		edit(t, filepath.Join(dir, file), func(s string) (string, error) {
			lines := strings.SplitAfter(s, "\n")
			var out []string
			n := 0
			for _, l := range lines {
				if re.MatchString(l) {
					n++
					continue
				}
				out = append(out, l)
			}
			if n != 1 {
				return "", fmt.Errorf("%s matches %d lines, want 1", pattern, n)
			}
			return strings.Join(out, ""), nil
		})
	}
}

func appendText(file, text string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		edit(t, filepath.Join(dir, file), func(s string) (string, error) { return s + text, nil })
	}
}

// removeBlock deletes one top-level block, found by type and labels.
func removeBlock(file, typ string, labels ...string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		edit(t, filepath.Join(dir, file), func(s string) (string, error) {
			f, diags := hclwrite.ParseConfig([]byte(s), file, hcl.InitialPos)
			if diags.HasErrors() {
				return "", diags
			}
			b := f.Body().FirstMatchingBlock(typ, labels)
			if b == nil {
				return "", fmt.Errorf("no %s %v", typ, labels)
			}
			f.Body().RemoveBlock(b)
			return string(f.Bytes()), nil
		})
	}
}

// removeNested deletes every nested block named nested from one resource.
func removeNested(file, typ, name, nested string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		edit(t, filepath.Join(dir, file), func(s string) (string, error) {
			f, diags := hclwrite.ParseConfig([]byte(s), file, hcl.InitialPos)
			if diags.HasErrors() {
				return "", diags
			}
			b := f.Body().FirstMatchingBlock("resource", []string{typ, name})
			if b == nil {
				return "", fmt.Errorf("no resource %s.%s", typ, name)
			}
			n := 0
			for _, nb := range b.Body().Blocks() {
				if nb.Type() == nested {
					b.Body().RemoveBlock(nb)
					n++
				}
			}
			if n == 0 {
				return "", fmt.Errorf("%s.%s has no %s block", typ, name, nested)
			}
			return string(f.Bytes()), nil
		})
	}
}
