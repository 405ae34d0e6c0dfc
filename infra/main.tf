data "azurerm_client_config" "current" {}

locals {
  # Per-cloud endpoints the app settings need. Keys match AZURE_CLOUD.
  clouds = {
    AzurePublic = {
      login_host          = "login.microsoftonline.com"
      azurerm_environment = "public"
      service_bus_suffix  = "servicebus.windows.net"
    }
    AzureUSGovernment = {
      login_host          = "login.microsoftonline.us"
      azurerm_environment = "usgovernment"
      service_bus_suffix  = "servicebus.usgovcloudapi.net"
    }
    AzureUSGovernmentDoD = {
      login_host          = "login.microsoftonline.us"
      azurerm_environment = "usgovernment"
      service_bus_suffix  = "servicebus.usgovcloudapi.net"
    }
    AzureChina = {
      login_host          = "login.chinacloudapi.cn"
      azurerm_environment = "china"
      service_bus_suffix  = "servicebus.chinacloudapi.cn"
    }
  }
  cloud = local.clouds[var.azure_cloud]

  # Deterministic suffix for globally unique names: same inputs, same names.
  token = substr(sha256("${data.azurerm_client_config.current.subscription_id}/${var.environment_name}/${var.location}"), 0, 13)

  resource_group_name = var.resource_group_name != "" ? var.resource_group_name : "rg-${var.environment_name}"

  names = {
    log_analytics        = "log-putsecrets-${local.token}"
    application_insights = "appi-putsecrets-${local.token}"
    identity             = "id-putsecrets-${local.token}"
    storage_account      = "stps${local.token}"
    deployment_container = "app-package-${local.token}"
    service_bus          = "sb-putsecrets-${local.token}"
    key_vault            = "kv-ps-${local.token}"
    plan                 = "plan-putsecrets-${local.token}"
    function_app         = "func-putsecrets-${local.token}"
    event_grid_topic     = "evgt-putsecrets-${local.token}"
  }

  tags = merge(var.tags, { "azd-env-name" = var.environment_name })
}

resource "azurerm_resource_group" "main" {
  name     = local.resource_group_name
  location = var.location
  tags     = local.tags
}
