# The one identity the app uses for everything: host storage, deployment
# container, Service Bus, Key Vault, Application Insights and Microsoft Graph
# (graph-permissions/ grants the Graph app role to it).
resource "azurerm_user_assigned_identity" "app" {
  name                = local.names.identity
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  tags                = local.tags
}
