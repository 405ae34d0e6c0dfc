# Data-plane roles of the app's identity, each on the narrowest scope that
# works. principal_type skips the directory lookup that fails while a new
# identity is still replicating.

# Host storage (leases, keys, logs) and the deployment container.
resource "azurerm_role_assignment" "storage_blob_data_owner" {
  scope                = azurerm_storage_account.host.id
  role_definition_name = "Storage Blob Data Owner"
  principal_id         = azurerm_user_assigned_identity.app.principal_id
  principal_type       = "ServicePrincipal"
}

# PutSecretsFromQueue's trigger: receive and settle requests.
resource "azurerm_role_assignment" "service_bus_data_receiver" {
  scope                = azurerm_servicebus_queue.requests.id
  role_definition_name = "Azure Service Bus Data Receiver"
  principal_id         = azurerm_user_assigned_identity.app.principal_id
  principal_type       = "ServicePrincipal"
}

# Outcome messages to PUTSECRETS_RESULTS_QUEUE.
resource "azurerm_role_assignment" "service_bus_data_sender" {
  scope                = azurerm_servicebus_queue.results.id
  role_definition_name = "Azure Service Bus Data Sender"
  principal_id         = azurerm_user_assigned_identity.app.principal_id
  principal_type       = "ServicePrincipal"
}

# Requests the app sends itself (docs/contract.md §8): PutSecretsFromKeyVault and
# Reconcile send kept documents to the request queue.
resource "azurerm_role_assignment" "service_bus_request_sender" {
  scope                = azurerm_servicebus_queue.requests.id
  role_definition_name = "Azure Service Bus Data Sender"
  principal_id         = azurerm_user_assigned_identity.app.principal_id
  principal_type       = "ServicePrincipal"
}

# PutSecretsFromKeyVault's trigger: receive and settle Key Vault events.
resource "azurerm_role_assignment" "service_bus_events_receiver" {
  scope                = azurerm_servicebus_queue.events.id
  role_definition_name = "Azure Service Bus Data Receiver"
  principal_id         = azurerm_user_assigned_identity.app.principal_id
  principal_type       = "ServicePrincipal"
}

# The vault's Event Grid system topic delivers to the events queue, and
# nowhere else.
resource "azurerm_role_assignment" "event_grid_events_sender" {
  scope                = azurerm_servicebus_queue.events.id
  role_definition_name = "Azure Service Bus Data Sender"
  principal_id         = azurerm_eventgrid_system_topic.key_vault.identity[0].principal_id
  principal_type       = "ServicePrincipal"
}

# Outcome messages to queues that requests name in ReplyTo.
resource "azurerm_role_assignment" "service_bus_reply_to_sender" {
  for_each = toset(var.reply_to_queue_names)

  scope                = "${azurerm_servicebus_namespace.main.id}/queues/${each.value}"
  role_definition_name = "Azure Service Bus Data Sender"
  principal_id         = azurerm_user_assigned_identity.app.principal_id
  principal_type       = "ServicePrincipal"
}

# Resolving secret references.
resource "azurerm_role_assignment" "key_vault_secrets_user" {
  scope                = local.key_vault_id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_user_assigned_identity.app.principal_id
  principal_type       = "ServicePrincipal"
}

# Telemetry with local authentication off.
resource "azurerm_role_assignment" "monitoring_metrics_publisher" {
  scope                = azurerm_application_insights.main.id
  role_definition_name = "Monitoring Metrics Publisher"
  principal_id         = azurerm_user_assigned_identity.app.principal_id
  principal_type       = "ServicePrincipal"
}

# Callers: send requests, read outcomes. Queue-scoped, opt-in.
resource "azurerm_role_assignment" "request_senders" {
  for_each = toset(var.request_sender_principal_ids)

  scope                = azurerm_servicebus_queue.requests.id
  role_definition_name = "Azure Service Bus Data Sender"
  principal_id         = each.value
}

resource "azurerm_role_assignment" "results_receivers" {
  for_each = toset(var.results_receiver_principal_ids)

  scope                = azurerm_servicebus_queue.results.id
  role_definition_name = "Azure Service Bus Data Receiver"
  principal_id         = each.value
}

# The deployer may store secrets in the vault this module created.
resource "azurerm_role_assignment" "deployer_key_vault_secrets_officer" {
  count = var.key_vault_id == null && var.grant_deployer_key_vault_secrets_officer ? 1 : 0

  scope                = azurerm_key_vault.main[0].id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = data.azurerm_client_config.current.object_id
}
