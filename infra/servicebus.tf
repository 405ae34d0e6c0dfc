# Local (SAS) authentication is off: no SharedAccessKey exists to leak. The app
# and its callers use Entra identities with queue-scoped data roles (roles.tf).
resource "azurerm_servicebus_namespace" "main" {
  name                = local.names.service_bus
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  sku                 = "Standard"
  local_auth_enabled  = false
  minimum_tls_version = "1.2"
  tags                = local.tags
}

resource "azurerm_servicebus_queue" "requests" {
  name         = var.request_queue_name
  namespace_id = azurerm_servicebus_namespace.main.id

  requires_session                     = var.request_queue_requires_session
  max_delivery_count                   = var.max_delivery_count
  dead_lettering_on_message_expiration = true
  default_message_ttl                  = var.request_message_ttl
  # The host renews the lock up to maxAutoLockRenewalDuration (host.json).
  lock_duration = "PT1M"
}

resource "azurerm_servicebus_queue" "results" {
  name         = var.results_queue_name
  namespace_id = azurerm_servicebus_namespace.main.id

  requires_session                     = var.results_queue_requires_session
  max_delivery_count                   = var.max_delivery_count
  dead_lettering_on_message_expiration = true
  default_message_ttl                  = "P14D"
  lock_duration                        = "PT1M"
}
