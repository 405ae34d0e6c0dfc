# Host storage (AzureWebJobsStorage) and the Flex Consumption deployment
# container. Shared keys are off: only Entra identities get in.
resource "azurerm_storage_account" "host" {
  name                             = local.names.storage_account
  resource_group_name              = azurerm_resource_group.main.name
  location                         = azurerm_resource_group.main.location
  account_kind                     = "StorageV2"
  account_tier                     = "Standard"
  account_replication_type         = "LRS"
  min_tls_version                  = "TLS1_2"
  https_traffic_only_enabled       = true
  shared_access_key_enabled        = false
  default_to_oauth_authentication  = true
  allow_nested_items_to_be_public  = false
  cross_tenant_replication_enabled = false
  tags                             = local.tags
}

resource "azurerm_storage_container" "deployment" {
  name                  = local.names.deployment_container
  storage_account_id    = azurerm_storage_account.host.id
  container_access_type = "private"
}

# Kept desired states of followed service principals (docs/contract.md §8,
# PUTSECRETS_STATE_URL). The identity's Storage Blob Data Owner on the host
# account already covers it: no role of its own.
resource "azurerm_storage_container" "state" {
  name                  = var.state_container_name
  storage_account_id    = azurerm_storage_account.host.id
  container_access_type = "private"
}
