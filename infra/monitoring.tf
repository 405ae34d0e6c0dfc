resource "azurerm_log_analytics_workspace" "main" {
  name                         = local.names.log_analytics
  resource_group_name          = azurerm_resource_group.main.name
  location                     = azurerm_resource_group.main.location
  sku                          = "PerGB2018"
  retention_in_days            = var.log_retention_in_days
  local_authentication_enabled = false
  tags                         = local.tags
}

# Local (instrumentation key) authentication is off: the app sends telemetry
# with its managed identity (APPLICATIONINSIGHTS_AUTHENTICATION_STRING) and needs
# Monitoring Metrics Publisher (roles.tf).
resource "azurerm_application_insights" "main" {
  name                         = local.names.application_insights
  resource_group_name          = azurerm_resource_group.main.name
  location                     = azurerm_resource_group.main.location
  workspace_id                 = azurerm_log_analytics_workspace.main.id
  application_type             = "other"
  local_authentication_enabled = false
  tags                         = local.tags
}
