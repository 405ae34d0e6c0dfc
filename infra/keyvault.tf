# The vault holding the secrets callers reference. Either this module creates
# one (RBAC mode, no access policies) or key_vault_id names an existing one,
# which must be in RBAC mode too: the app gets Key Vault Secrets User on it.
#
# With public_network_access_enabled = false or network_acls default_action =
# Deny the app needs VNet integration and a private endpoint: "trusted Azure
# services" does not cover a function app's reads.
resource "azurerm_key_vault" "main" {
  count = var.key_vault_id == null ? 1 : 0

  name                       = local.names.key_vault
  resource_group_name        = azurerm_resource_group.main.name
  location                   = azurerm_resource_group.main.location
  tenant_id                  = data.azurerm_client_config.current.tenant_id
  sku_name                   = "standard"
  rbac_authorization_enabled = true
  purge_protection_enabled   = false
  soft_delete_retention_days = 7
  tags                       = local.tags
}

locals {
  key_vault_id   = var.key_vault_id != null ? var.key_vault_id : azurerm_key_vault.main[0].id
  key_vault_name = var.key_vault_id != null ? basename(var.key_vault_id) : azurerm_key_vault.main[0].name
}
