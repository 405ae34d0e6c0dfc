package invariants

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// The names infra/ gives the things the invariants are about.
const (
	identityRef     = "azurerm_user_assigned_identity.app"
	functionAppRef  = "azurerm_function_app_flex_consumption.main"
	topicRef        = "azurerm_eventgrid_system_topic.key_vault"
	subscriptionRef = "azurerm_eventgrid_system_topic_event_subscription.key_vault_secrets"

	// identityPrincipal and topicPrincipal are the two principals infra/
	// grants roles to: the app's identity and the vault's Event Grid
	// system topic's identity.
	identityPrincipal = identityRef + ".principal_id"
	topicPrincipal    = topicRef + ".identity[0].principal_id"
)

// RoleAssignment is a data-plane role a principal must hold, on the scope
// written as Terraform source.
type RoleAssignment struct {
	Role      string
	Scope     string
	Principal string
}

// RequiredRoles are the identity's roles (docs/platform.md §4) and the Event
// Grid system topic's one role, each on its narrowest scope.
var RequiredRoles = []RoleAssignment{
	{"Storage Blob Data Owner", "azurerm_storage_account.host.id", identityPrincipal},
	{"Azure Service Bus Data Receiver", "azurerm_servicebus_queue.requests.id", identityPrincipal},
	{"Azure Service Bus Data Sender", "azurerm_servicebus_queue.results.id", identityPrincipal},
	{"Azure Service Bus Data Sender", "azurerm_servicebus_queue.requests.id", identityPrincipal},
	{"Azure Service Bus Data Receiver", "azurerm_servicebus_queue.events.id", identityPrincipal},
	{"Key Vault Secrets User", "local.key_vault_id", identityPrincipal},
	{"Monitoring Metrics Publisher", "azurerm_application_insights.main.id", identityPrincipal},
	{"Azure Service Bus Data Sender", "azurerm_servicebus_queue.events.id", topicPrincipal},
}

// keyVaultEventTypes are the events the system topic's subscription must
// deliver, and no others (docs/contract.md §8).
var keyVaultEventTypes = []string{
	"Microsoft.KeyVault.SecretNewVersionCreated",
	"Microsoft.KeyVault.SecretNearExpiry",
	"Microsoft.KeyVault.SecretExpired",
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

// RequiredSettings are docs/contract.md §5's settings plus the identity-based
// connections of the host, Service Bus and Application Insights.
var RequiredSettings = []Setting{
	{Name: "PUTSECRETS_ALLOWED_VAULTS"},
	{Name: "AZURE_CLOUD", Want: equals("var.azure_cloud")},
	{Name: "PUTSECRETS_GRAPH_API_VERSION"},
	{Name: "AZURE_CLIENT_ID", Want: equals(identityRef + ".client_id")},
	{Name: "PUTSECRETS_ALLOW_LITERAL_CREDENTIALS", Want: equals(`"false"`)},
	{Name: "PUTSECRETS_QUEUE", Want: equals("azurerm_servicebus_queue.requests.name")},
	{Name: "PUTSECRETS_RESULTS_QUEUE", Want: equals("azurerm_servicebus_queue.results.name")},
	{Name: "PUTSECRETS_EVENTS_QUEUE", Want: equals("azurerm_servicebus_queue.events.name")},
	{Name: "PUTSECRETS_STATE_URL", Want: equals(`"${azurerm_storage_account.host.primary_blob_endpoint}${azurerm_storage_container.state.name}"`)},
	{Name: "PUTSECRETS_RECONCILE_SCHEDULE", Want: equals("var.reconcile_schedule")},
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

// checkEveryModule runs the checks every root module must pass: its
// references resolve and it holds no secret.
func (m *Module) checkEveryModule() []string {
	return append(m.CheckReferences(), m.CheckNoSecrets()...)
}

// CheckMain checks infra/, the azurerm root module.
func CheckMain(m *Module) []string {
	p := m.checkEveryModule()
	p = append(p, checkAuthSwitches(m)...)
	p = append(p, checkFunctionApp(m)...)
	p = append(p, checkSettings(m)...)
	p = append(p, checkRoles(m)...)
	p = append(p, checkQueues(m)...)
	p = append(p, checkEventGrid(m)...)
	p = append(p, checkStateContainer(m)...)
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
	for _, want := range RequiredRoles {
		found := false
		for _, b := range m.ResourcesOfType("azurerm_role_assignment") {
			role, _ := LiteralString(attrExpr(b, "role_definition_name"))
			if role != want.Role || m.attrText(b, "principal_id") != want.Principal {
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
			p = append(p, fmt.Sprintf("role %q on %s for %s is missing", want.Role, want.Scope, want.Principal))
		}
	}
	for _, b := range m.ResourcesOfType("azurerm_role_assignment") {
		role, ok := LiteralString(attrExpr(b, "role_definition_name"))
		if !ok {
			p = append(p, fmt.Sprintf("role assignment %s: role_definition_name must be a literal role name", b.Labels[1]))
			continue
		}
		principal := m.attrText(b, "principal_id")
		scope := m.attrText(b, "scope")
		switch principal {
		case identityPrincipal:
			namespaceWide := strings.Contains(scope, "azurerm_servicebus_namespace.") && !strings.Contains(scope, "/queues/")
			if broadRoles[role] || namespaceWide || strings.Contains(scope, "azurerm_resource_group") || strings.Contains(scope, "subscription") {
				p = append(p, fmt.Sprintf("role assignment %s gives the app identity %q on %s: broader than it needs", b.Labels[1], role, scope))
			}
		case topicPrincipal:
			// The system topic only ever sends to the events queue.
			if role != "Azure Service Bus Data Sender" || scope != "azurerm_servicebus_queue.events.id" {
				p = append(p, fmt.Sprintf("role assignment %s gives the Event Grid system topic %q on %s: it may only have "+
					"Azure Service Bus Data Sender on azurerm_servicebus_queue.events.id", b.Labels[1], role, scope))
			}
		default:
			if strings.Contains(principal, topicRef) {
				p = append(p, fmt.Sprintf("role assignment %s: principal %s is not %s", b.Labels[1], principal, topicPrincipal))
			}
		}
	}
	return p
}

func checkQueues(m *Module) []string {
	var p []string
	req := m.Resource("azurerm_servicebus_queue", "requests")
	res := m.Resource("azurerm_servicebus_queue", "results")
	ev := m.Resource("azurerm_servicebus_queue", "events")
	if req == nil || res == nil || ev == nil {
		return []string{"azurerm_servicebus_queue.requests, .results and .events must all be declared"}
	}
	p = append(p, m.want("azurerm_servicebus_queue.requests", req, "requires_session", "var.request_queue_requires_session")...)
	p = append(p, m.want("azurerm_servicebus_queue.requests", req, "dead_lettering_on_message_expiration", "true")...)
	p = append(p, m.want("azurerm_servicebus_queue.requests", req, "max_delivery_count", "var.max_delivery_count")...)
	p = append(p, m.want("azurerm_servicebus_queue.requests", req, "name", "var.request_queue_name")...)
	p = append(p, m.want("azurerm_servicebus_queue.results", res, "name", "var.results_queue_name")...)
	// Event Grid cannot deliver to a session-enabled queue, and redelivers:
	// duplicate detection drops the second copy (MessageId = event ID).
	p = append(p, m.want("azurerm_servicebus_queue.events", ev, "name", "var.events_queue_name")...)
	p = append(p, m.want("azurerm_servicebus_queue.events", ev, "requires_session", "false")...)
	p = append(p, m.want("azurerm_servicebus_queue.events", ev, "requires_duplicate_detection", "true")...)
	p = append(p, m.want("azurerm_servicebus_queue.events", ev, "dead_lettering_on_message_expiration", "true")...)
	if v := m.Variables["request_queue_requires_session"]; v == nil {
		p = append(p, "variable request_queue_requires_session is not declared")
	} else if d := Attr(v.Body, "default"); d == nil || m.Text(d.Expr.Range()) != "false" {
		p = append(p, "variable request_queue_requires_session must default to false")
	}
	return p
}

// checkEventGrid checks the route of Key Vault events: a system topic on the
// vault with a managed identity, and one subscription that delivers exactly
// the three secret events to the events queue with that identity.
func checkEventGrid(m *Module) []string {
	topic := m.Resources[topicRef]
	sub := m.Resources[subscriptionRef]
	if topic == nil || sub == nil {
		return []string{"no " + topicRef + " or " + subscriptionRef + " is declared: Key Vault events would reach nobody"}
	}
	var p []string
	p = append(p, m.want(topicRef, topic, "source_resource_id", "local.key_vault_id")...)
	p = append(p, m.want(topicRef, topic, "topic_type", `"Microsoft.KeyVault.vaults"`)...)
	if ids := Blocks(topic.Body, "identity"); len(ids) != 1 {
		p = append(p, topicRef+": needs exactly one identity block (delivery with managed identity)")
	} else {
		p = append(p, m.want(topicRef+".identity", ids[0], "type", `"SystemAssigned"`)...)
	}
	p = append(p, m.want(subscriptionRef, sub, "system_topic", topicRef+".name")...)
	p = append(p, m.want(subscriptionRef, sub, "service_bus_queue_id", "azurerm_servicebus_queue.events.id")...)
	for _, other := range []string{"webhook_endpoint", "azure_function_endpoint", "eventhub_id", "hybrid_connection_id", "service_bus_topic_id", "storage_queue_endpoint"} {
		if Attr(sub.Body, other) != nil || len(Blocks(sub.Body, other)) > 0 {
			p = append(p, fmt.Sprintf("%s: %s is set; events go to the events queue only", subscriptionRef, other))
		}
	}
	if ids := Blocks(sub.Body, "delivery_identity"); len(ids) != 1 {
		p = append(p, subscriptionRef+": needs a delivery_identity block: the topic's identity sends, no key does")
	} else {
		p = append(p, m.want(subscriptionRef+".delivery_identity", ids[0], "type", `"SystemAssigned"`)...)
	}
	types, ok := literalStrings(attrExpr(sub, "included_event_types"))
	if !ok {
		p = append(p, subscriptionRef+": included_event_types must be a literal list (unset means every Key Vault event)")
	} else {
		have := map[string]bool{}
		for _, t := range types {
			have[t] = true
			if !slices.Contains(keyVaultEventTypes, t) {
				p = append(p, fmt.Sprintf("%s: included_event_types has %s, which the app does not handle", subscriptionRef, t))
			}
		}
		for _, t := range keyVaultEventTypes {
			if !have[t] {
				p = append(p, fmt.Sprintf("%s: included_event_types lacks %s", subscriptionRef, t))
			}
		}
	}
	if d := Attr(sub.Body, "depends_on"); d == nil || !strings.Contains(m.Text(d.Expr.Range()), "azurerm_role_assignment.event_grid_events_sender") {
		p = append(p, subscriptionRef+": must depend on azurerm_role_assignment.event_grid_events_sender (Event Grid checks the delivery identity's access at creation)")
	}
	return p
}

// checkStateContainer checks the container of kept desired states: private,
// in the host account (where the identity's Storage Blob Data Owner is).
func checkStateContainer(m *Module) []string {
	c := m.Resource("azurerm_storage_container", "state")
	if c == nil {
		return []string{"no azurerm_storage_container.state is declared: PUTSECRETS_STATE_URL would name no container"}
	}
	var p []string
	p = append(p, m.want("azurerm_storage_container.state", c, "storage_account_id", "azurerm_storage_account.host.id")...)
	p = append(p, m.want("azurerm_storage_container.state", c, "container_access_type", `"private"`)...)
	return p
}

// literalStrings is the value of a literal list of strings.
func literalStrings(e hclsyntax.Expression) ([]string, bool) {
	t, ok := e.(*hclsyntax.TupleConsExpr)
	if !ok {
		return nil, false
	}
	var out []string
	for _, item := range t.Exprs {
		s, ok := LiteralString(item)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
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
