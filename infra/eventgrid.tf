# Following Key Vault (docs/contract.md §8): the vault's secret events reach the
# events queue through an Event Grid system topic on the vault, delivered
# with the topic's own managed identity (no SAS, no webhook endpoint).
#
# A resource has at most one system topic: with key_vault_id naming a vault
# that already has one, import it (terraform import
# azurerm_eventgrid_system_topic.key_vault <its ID>) instead of creating a
# second. The topic lives where the vault does.

data "azurerm_key_vault" "existing" {
  count = var.key_vault_id == null ? 0 : 1

  name                = local.key_vault_name
  resource_group_name = split("/", var.key_vault_id)[4]
}

locals {
  key_vault_location = var.key_vault_id == null ? azurerm_resource_group.main.location : data.azurerm_key_vault.existing[0].location
}

resource "azurerm_eventgrid_system_topic" "key_vault" {
  name                = local.names.event_grid_topic
  resource_group_name = azurerm_resource_group.main.name
  location            = local.key_vault_location
  source_resource_id  = local.key_vault_id
  topic_type          = "Microsoft.KeyVault.vaults"

  # Sends to the events queue: Azure Service Bus Data Sender on that queue
  # only (roles.tf).
  identity {
    type = "SystemAssigned"
  }

  tags = local.tags
}

resource "azurerm_eventgrid_system_topic_event_subscription" "key_vault_secrets" {
  name                = "putsecrets-secret-events"
  system_topic        = azurerm_eventgrid_system_topic.key_vault.name
  resource_group_name = azurerm_resource_group.main.name

  event_delivery_schema = "EventGridSchema"
  included_event_types = [
    "Microsoft.KeyVault.SecretNewVersionCreated",
    "Microsoft.KeyVault.SecretNearExpiry",
    "Microsoft.KeyVault.SecretExpired",
  ]

  # One event per message; MessageId is the event ID (duplicate detection on
  # the queue).
  service_bus_queue_id = azurerm_servicebus_queue.events.id
  delivery_identity {
    type = "SystemAssigned"
  }

  retry_policy {
    max_delivery_attempts = 30
    event_time_to_live    = 1440
  }

  # Event Grid checks the delivery identity's access when the subscription
  # is created.
  depends_on = [azurerm_role_assignment.event_grid_events_sender]
}
