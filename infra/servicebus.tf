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

  lifecycle {
    precondition {
      condition     = lower(var.results_queue_name) != lower(var.request_queue_name)
      error_message = "results_queue_name must differ from request_queue_name (Service Bus names ignore case): every outcome would come back as a request, and the app refuses to start."
    }
  }
}

# Key Vault events that Event Grid delivers (PUTSECRETS_EVENTS_QUEUE, the
# PutSecretsFromKeyVault trigger). Event Grid cannot deliver to a
# session-enabled queue, and it sets MessageId to the event ID, so duplicate
# detection drops an event it delivers twice (it retries for up to a day).
resource "azurerm_servicebus_queue" "events" {
  name         = var.events_queue_name
  namespace_id = azurerm_servicebus_namespace.main.id

  requires_session                        = false
  requires_duplicate_detection            = true
  duplicate_detection_history_time_window = "P1D"
  max_delivery_count                      = var.max_delivery_count
  dead_lettering_on_message_expiration    = true
  default_message_ttl                     = "P7D"
  lock_duration                           = "PT1M"

  lifecycle {
    precondition {
      condition     = lower(var.events_queue_name) != lower(var.request_queue_name) && lower(var.events_queue_name) != lower(var.results_queue_name)
      error_message = "events_queue_name must differ from request_queue_name and results_queue_name (Service Bus names ignore case): the app refuses to start otherwise."
    }
  }
}
