package invariants

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// The names infra/ gives the things the invariants are about.
const (
	identityRef    = "azurerm_user_assigned_identity.app"
	functionAppRef = "azurerm_function_app_flex_consumption.main"
)

// RoleAssignment is a data-plane role the app's identity must hold, on the
// scope written as Terraform source.
type RoleAssignment struct {
	Role  string
	Scope string
}

// RequiredRoles are the identity's roles (AZURE-FACTS.md §4), each on its
// narrowest scope.
var RequiredRoles = []RoleAssignment{
	{"Storage Blob Data Owner", "azurerm_storage_account.host.id"},
	{"Azure Service Bus Data Receiver", "azurerm_servicebus_queue.requests.id"},
	{"Azure Service Bus Data Sender", "azurerm_servicebus_queue.results.id"},
	{"Key Vault Secrets User", "local.key_vault_id"},
	{"Monitoring Metrics Publisher", "azurerm_application_insights.main.id"},
}

// broadRoles must never go to the app's identity.
var broadRoles = map[string]bool{
	"Owner": true, "Contributor": true, "User Access Administrator": true,
	"Role Based Access Control Administrator": true,
	"Storage Account Contributor":             true, // can list keys
	"Azure Service Bus Data Owner":            true,
	"Key Vault Administrator":                 true, "Key Vault Secrets Officer": true,
}

// Setting is an app setting the function app must carry.
type Setting struct {
	Name string
	// Optional settings may sit in a conditional branch (set only when the
	// matching variable is); the others must always be set.
	Optional bool
	// Want, when set, checks the value's source text.
	Want func(text string) error
}

func equals(want string) func(string) error {
	return func(got string) error {
		if got != want {
			return fmt.Errorf("is %s, want %s", got, want)
		}
		return nil
	}
}

func contains(want string) func(string) error {
	return func(got string) error {
		if !strings.Contains(got, want) {
			return fmt.Errorf("is %s, want it to contain %s", got, want)
		}
		return nil
	}
}

// RequiredSettings are CONTRACT.md §5's settings plus the identity-based
// connections of the host, Service Bus and Application Insights.
var RequiredSettings = []Setting{
	{Name: "PUTSECRETS_ALLOWED_VAULTS"},
	{Name: "AZURE_CLOUD", Want: equals("var.azure_cloud")},
	{Name: "PUTSECRETS_GRAPH_API_VERSION"},
	{Name: "AZURE_CLIENT_ID", Want: equals(identityRef + ".client_id")},
	{Name: "PUTSECRETS_ALLOW_LITERAL_CREDENTIALS", Want: equals(`"false"`)},
	{Name: "PUTSECRETS_QUEUE", Want: equals("azurerm_servicebus_queue.requests.name")},
	{Name: "PUTSECRETS_RESULTS_QUEUE", Want: equals("azurerm_servicebus_queue.results.name")},
	{Name: "ServiceBusConnection__fullyQualifiedNamespace", Want: contains("azurerm_servicebus_namespace.main.name")},
	{Name: "ServiceBusConnection__credential", Want: equals(`"managedidentity"`)},
	{Name: "ServiceBusConnection__clientId", Want: equals(identityRef + ".client_id")},
	{Name: "AzureWebJobsStorage__accountName", Want: equals("azurerm_storage_account.host.name")},
	{Name: "AzureWebJobsStorage__credential", Want: equals(`"managedidentity"`)},
	{Name: "AzureWebJobsStorage__clientId", Want: equals(identityRef + ".client_id")},
	{Name: "APPLICATIONINSIGHTS_AUTHENTICATION_STRING", Want: equals(`"Authorization=AAD;ClientId=${` + identityRef + `.client_id}"`)},
	{Name: "PUTSECRETS_REQUIRED_ROLE", Optional: true},
	{Name: "PUTSECRETS_ALLOWED_SERVICE_PRINCIPALS", Optional: true},
}

// forbiddenSettings must not be set on the app.
var forbiddenSettings = map[string]string{
	"FUNCTIONS_WORKER_RUNTIME":                 "Flex Consumption takes the runtime from functionAppConfig; the setting is rejected there",
	"ServiceBusConnection":                     "a Service Bus connection string; use ServiceBusConnection__fullyQualifiedNamespace",
	"APPINSIGHTS_INSTRUMENTATIONKEY":           "an instrumentation key; local authentication is off",
	"DEPLOYMENT_STORAGE_CONNECTION_STRING":     "a storage connection string; the deployment container uses the identity",
	"WEBSITE_CONTENTAZUREFILECONNECTIONSTRING": "a storage connection string; Flex Consumption needs no content share",
	"AzureWebJobsDashboard":                    "a storage connection string",
}

// CheckMain checks infra/, the azurerm root module.
func CheckMain(m *Module) []string {
	var p []string
	p = append(p, m.CheckReferences()...)
	p = append(p, m.CheckNoSecrets()...)
	p = append(p, checkAuthSwitches(m)...)
	p = append(p, checkFunctionApp(m)...)
	p = append(p, checkSettings(m)...)
	p = append(p, checkRoles(m)...)
	p = append(p, checkQueues(m)...)
	return p
}

// want reports a problem unless block's attribute name is exactly the source text want.
func (m *Module) want(where string, b *hclsyntax.Block, name, want string) []string {
	a := Attr(b.Body, name)
	if a == nil {
		return []string{fmt.Sprintf("%s: %s is not set, want %s", where, name, want)}
	}
	if got := m.Text(a.Expr.Range()); got != want {
		return []string{fmt.Sprintf("%s: %s = %s, want %s", where, name, got, want)}
	}
	return nil
}

// checkAuthSwitches keeps every shared-key and local-auth path closed.
func checkAuthSwitches(m *Module) []string {
	var p []string
	for _, b := range m.ResourcesOfType("azurerm_storage_account") {
		where := "azurerm_storage_account." + b.Labels[1]
		p = append(p, m.want(where, b, "shared_access_key_enabled", "false")...)
		p = append(p, m.want(where, b, "default_to_oauth_authentication", "true")...)
		p = append(p, m.want(where, b, "allow_nested_items_to_be_public", "false")...)
		p = append(p, m.want(where, b, "min_tls_version", `"TLS1_2"`)...)
	}
	for _, b := range m.ResourcesOfType("azurerm_servicebus_namespace") {
		p = append(p, m.want("azurerm_servicebus_namespace."+b.Labels[1], b, "local_auth_enabled", "false")...)
	}
	for _, typ := range []string{"azurerm_application_insights", "azurerm_log_analytics_workspace"} {
		for _, b := range m.ResourcesOfType(typ) {
			p = append(p, m.want(typ+"."+b.Labels[1], b, "local_authentication_enabled", "false")...)
		}
	}
	for _, b := range m.ResourcesOfType("azurerm_key_vault") {
		where := "azurerm_key_vault." + b.Labels[1]
		p = append(p, m.want(where, b, "rbac_authorization_enabled", "true")...)
		if len(Blocks(b.Body, "access_policy")) > 0 || Attr(b.Body, "access_policy") != nil {
			p = append(p, where+": has access policies; the vault must use RBAC only")
		}
	}
	for _, typ := range []string{"azurerm_storage_account", "azurerm_servicebus_namespace", "azurerm_application_insights", "azurerm_log_analytics_workspace", "azurerm_user_assigned_identity", "azurerm_function_app_flex_consumption", "azurerm_service_plan"} {
		if len(m.ResourcesOfType(typ)) == 0 {
			p = append(p, fmt.Sprintf("no %s is declared", typ))
		}
	}
	var azurerm *hclsyntax.Block
	for _, b := range m.Providers {
		if b.Labels[0] == "azurerm" {
			azurerm = b
		}
	}
	if azurerm == nil {
		p = append(p, "no provider \"azurerm\" block")
	} else {
		p = append(p, m.want("provider azurerm", azurerm, "storage_use_azuread", "true")...)
	}
	return p
}

func checkFunctionApp(m *Module) []string {
	app := m.Resources[functionAppRef]
	if app == nil {
		return []string{"no " + functionAppRef + " is declared"}
	}
	var p []string
	w := functionAppRef
	p = append(p, m.want(w, app, "runtime_name", `"custom"`)...)
	p = append(p, m.want(w, app, "runtime_version", `"1.0"`)...)
	p = append(p, m.want(w, app, "storage_authentication_type", `"UserAssignedIdentity"`)...)
	p = append(p, m.want(w, app, "storage_user_assigned_identity_id", identityRef+".id")...)
	p = append(p, m.want(w, app, "https_only", "true")...)
	p = append(p, m.want(w, app, "webdeploy_publish_basic_authentication_enabled", "false")...)
	p = append(p, m.want(w, app, "service_plan_id", "azurerm_service_plan.main.id")...)
	if plan := m.Resource("azurerm_service_plan", "main"); plan != nil {
		p = append(p, m.want("azurerm_service_plan.main", plan, "sku_name", `"FC1"`)...)
	}
	ids := Blocks(app.Body, "identity")
	if len(ids) != 1 {
		p = append(p, w+": needs exactly one identity block")
	} else {
		p = append(p, m.want(w+".identity", ids[0], "type", `"UserAssigned"`)...)
		p = append(p, m.want(w+".identity", ids[0], "identity_ids", "["+identityRef+".id]")...)
	}
	sc := Blocks(app.Body, "site_config")
	if len(sc) != 1 {
		return append(p, w+": needs exactly one site_config block")
	}
	p = append(p, m.want(w+".site_config", sc[0], "minimum_tls_version", `"1.2"`)...)
	p = append(p, m.want(w+".site_config", sc[0], "application_insights_connection_string", "azurerm_application_insights.main.connection_string")...)
	return p
}

func checkSettings(m *Module) []string {
	app := m.Resources[functionAppRef]
	if app == nil {
		return nil // reported by checkFunctionApp
	}
	a := Attr(app.Body, "app_settings")
	if a == nil {
		return []string{functionAppRef + ": app_settings is not set"}
	}
	entries, p := m.ObjectEntries(a.Expr)
	for i := range p {
		p[i] = "app_settings: " + p[i]
	}
	for _, s := range RequiredSettings {
		e, ok := entries[s.Name]
		switch {
		case !ok:
			p = append(p, fmt.Sprintf("app_settings: %s is missing", s.Name))
			continue
		case e.Conditional && !s.Optional:
			p = append(p, fmt.Sprintf("app_settings: %s is set only conditionally; it must always be set", s.Name))
		}
		if s.Want != nil {
			if err := s.Want(m.Text(e.Value.Range())); err != nil {
				p = append(p, fmt.Sprintf("app_settings: %s %v", s.Name, err))
			}
		}
	}
	for _, name := range sortedKeys(entries) {
		if why, bad := forbiddenSettings[name]; bad {
			p = append(p, fmt.Sprintf("app_settings: %s must not be set: %s", name, why))
		}
	}
	// azurerm injects a key-less connection string as AzureWebJobsStorage;
	// the only acceptable override is the empty string.
	if e, ok := entries["AzureWebJobsStorage"]; ok {
		if v, lit := LiteralString(e.Value); !lit || v != "" {
			p = append(p, fmt.Sprintf("app_settings: AzureWebJobsStorage = %s; it may only be \"\" (identity-based host storage)", m.Text(e.Value.Range())))
		}
	}
	return p
}

func checkRoles(m *Module) []string {
	var p []string
	principal := identityRef + ".principal_id"
	for _, want := range RequiredRoles {
		found := false
		for _, b := range m.ResourcesOfType("azurerm_role_assignment") {
			role, _ := LiteralString(attrExpr(b, "role_definition_name"))
			if role != want.Role || m.attrText(b, "principal_id") != principal {
				continue
			}
			if m.attrText(b, "scope") != want.Scope {
				continue
			}
			if Attr(b.Body, "count") != nil || Attr(b.Body, "for_each") != nil {
				p = append(p, fmt.Sprintf("role assignment %s (%s) is conditional; it must always exist", b.Labels[1], want.Role))
			}
			found = true
		}
		if !found {
			p = append(p, fmt.Sprintf("role %q on %s for %s is missing", want.Role, want.Scope, principal))
		}
	}
	for _, b := range m.ResourcesOfType("azurerm_role_assignment") {
		role, ok := LiteralString(attrExpr(b, "role_definition_name"))
		if !ok {
			p = append(p, fmt.Sprintf("role assignment %s: role_definition_name must be a literal role name", b.Labels[1]))
			continue
		}
		if m.attrText(b, "principal_id") != principal {
			continue
		}
		scope := m.attrText(b, "scope")
		namespaceWide := strings.Contains(scope, "azurerm_servicebus_namespace.") && !strings.Contains(scope, "/queues/")
		if broadRoles[role] || namespaceWide || strings.Contains(scope, "azurerm_resource_group") || strings.Contains(scope, "subscription") {
			p = append(p, fmt.Sprintf("role assignment %s gives the app identity %q on %s: broader than it needs", b.Labels[1], role, scope))
		}
	}
	return p
}

func checkQueues(m *Module) []string {
	var p []string
	req := m.Resource("azurerm_servicebus_queue", "requests")
	res := m.Resource("azurerm_servicebus_queue", "results")
	if req == nil || res == nil {
		return []string{"azurerm_servicebus_queue.requests and .results must both be declared"}
	}
	p = append(p, m.want("azurerm_servicebus_queue.requests", req, "requires_session", "var.request_queue_requires_session")...)
	p = append(p, m.want("azurerm_servicebus_queue.requests", req, "dead_lettering_on_message_expiration", "true")...)
	p = append(p, m.want("azurerm_servicebus_queue.requests", req, "max_delivery_count", "var.max_delivery_count")...)
	p = append(p, m.want("azurerm_servicebus_queue.requests", req, "name", "var.request_queue_name")...)
	p = append(p, m.want("azurerm_servicebus_queue.results", res, "name", "var.results_queue_name")...)
	if v := m.Variables["request_queue_requires_session"]; v == nil {
		p = append(p, "variable request_queue_requires_session is not declared")
	} else if d := Attr(v.Body, "default"); d == nil || m.Text(d.Expr.Range()) != "false" {
		p = append(p, "variable request_queue_requires_session must default to false")
	}
	return p
}

func attrExpr(b *hclsyntax.Block, name string) hclsyntax.Expression {
	if a := Attr(b.Body, name); a != nil {
		return a.Expr
	}
	return &hclsyntax.LiteralValueExpr{Val: cty.NullVal(cty.String)}
}

func (m *Module) attrText(b *hclsyntax.Block, name string) string {
	if a := Attr(b.Body, name); a != nil {
		return m.Text(a.Expr.Range())
	}
	return ""
}
