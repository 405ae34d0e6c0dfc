# Upper-case names: azd copies outputs into its environment (.azure/<env>/.env).

output "AZURE_LOCATION" {
  value = azurerm_resource_group.main.location
}

output "AZURE_TENANT_ID" {
  value = data.azurerm_client_config.current.tenant_id
}

output "AZURE_RESOURCE_GROUP" {
  value = azurerm_resource_group.main.name
}

output "AZURE_FUNCTION_APP_NAME" {
  value = azurerm_function_app_flex_consumption.main.name
}

output "PUTSECRETS_URL" {
  description = "POST here with ?code=<function key> (or header x-functions-key)."
  value       = "https://${azurerm_function_app_flex_consumption.main.default_hostname}/api/PutSecrets"
}

output "IDENTITY_CLIENT_ID" {
  value = azurerm_user_assigned_identity.app.client_id
}

output "IDENTITY_PRINCIPAL_ID" {
  description = "Object ID of the app's identity: the input of graph-permissions/."
  value       = azurerm_user_assigned_identity.app.principal_id
}

output "KEY_VAULT_NAME" {
  value = local.key_vault_name
}

output "SERVICE_BUS_NAMESPACE" {
  value = "${azurerm_servicebus_namespace.main.name}.${local.cloud.service_bus_suffix}"
}

output "PUTSECRETS_QUEUE" {
  value = azurerm_servicebus_queue.requests.name
}

output "PUTSECRETS_RESULTS_QUEUE" {
  value = azurerm_servicebus_queue.results.name
}

output "PUTSECRETS_EVENTS_QUEUE" {
  value = azurerm_servicebus_queue.events.name
}

output "PUTSECRETS_STATE_URL" {
  description = "Blob container of kept desired states: the input of handler state --state-url."
  value       = "${azurerm_storage_account.host.primary_blob_endpoint}${azurerm_storage_container.state.name}"
}
