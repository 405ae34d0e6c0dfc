provider "azurerm" {
  subscription_id = var.subscription_id
  environment     = local.cloud.azurerm_environment

  # The host storage account has shared keys turned off, so the provider must
  # talk to the blob data plane with Entra tokens as well.
  storage_use_azuread = true

  # Register exactly what this module deploys, nothing more.
  resource_provider_registrations = "none"
  resource_providers_to_register = [
    "Microsoft.Insights",
    "Microsoft.KeyVault",
    "Microsoft.ManagedIdentity",
    "Microsoft.OperationalInsights",
    "Microsoft.ServiceBus",
    "Microsoft.Storage",
    "Microsoft.Web",
  ]

  features {
    key_vault {
      # A vault is soft-deleted on destroy; purge only when the user asks.
      purge_soft_delete_on_destroy = var.purge_key_vault_on_destroy
    }
    resource_group {
      prevent_deletion_if_contains_resources = true
    }
  }
}
