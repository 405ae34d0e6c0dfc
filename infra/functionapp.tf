resource "azurerm_service_plan" "main" {
  name                = local.names.plan
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  os_type             = "Linux"
  sku_name            = "FC1"
  tags                = local.tags
}

locals {
  # Every setting of docs/contract.md §5 plus the identity-based connections. No
  # value here is a key, a SAS or a connection string carrying a secret.
  app_settings = merge(
    {
      PUTSECRETS_ALLOWED_VAULTS            = local.key_vault_name
      AZURE_CLOUD                          = var.azure_cloud
      PUTSECRETS_GRAPH_API_VERSION         = var.graph_api_version
      AZURE_CLIENT_ID                      = azurerm_user_assigned_identity.app.client_id
      PUTSECRETS_ALLOW_LITERAL_CREDENTIALS = "false"
      PUTSECRETS_QUEUE                     = azurerm_servicebus_queue.requests.name
      PUTSECRETS_RESULTS_QUEUE             = azurerm_servicebus_queue.results.name
      PUTSECRETS_EVENTS_QUEUE              = azurerm_servicebus_queue.events.name
      PUTSECRETS_RECONCILE_SCHEDULE        = var.reconcile_schedule

      # Explicit rather than the app's default from AzureWebJobsStorage__*:
      # the container this module creates, in every cloud.
      PUTSECRETS_STATE_URL = "${azurerm_storage_account.host.primary_blob_endpoint}${azurerm_storage_container.state.name}"

      ServiceBusConnection__fullyQualifiedNamespace = "${azurerm_servicebus_namespace.main.name}.${local.cloud.service_bus_suffix}"
      ServiceBusConnection__credential              = "managedidentity"
      ServiceBusConnection__clientId                = azurerm_user_assigned_identity.app.client_id

      AzureWebJobsStorage__accountName = azurerm_storage_account.host.name
      AzureWebJobsStorage__credential  = "managedidentity"
      AzureWebJobsStorage__clientId    = azurerm_user_assigned_identity.app.client_id
      # azurerm (up to at least 5.2) writes "AzureWebJobsStorage =
      # DefaultEndpointsProtocol=…;AccountKey=;…" even when the host storage
      # uses an identity (terraform-provider-azurerm#29149, #29693); a user
      # setting wins over it, and an empty value means "not set" to the host,
      # which then uses the AzureWebJobsStorage__* settings above. The
      # provider never reads this key back, so every plan shows it as added.
      AzureWebJobsStorage = ""

      APPLICATIONINSIGHTS_AUTHENTICATION_STRING = "Authorization=AAD;ClientId=${azurerm_user_assigned_identity.app.client_id}"
    },
    # Outside the public cloud the host cannot derive the blob endpoint from
    # the account name alone.
    var.azure_cloud == "AzurePublic" ? {} : {
      AzureWebJobsStorage__blobServiceUri = azurerm_storage_account.host.primary_blob_endpoint
    },
    var.required_role == "" ? {} : {
      PUTSECRETS_REQUIRED_ROLE = var.required_role
    },
    length(var.allowed_service_principals) == 0 ? {} : {
      PUTSECRETS_ALLOWED_SERVICE_PRINCIPALS = join(",", var.allowed_service_principals)
    },
  )
}

resource "azurerm_function_app_flex_consumption" "main" {
  name                = local.names.function_app
  resource_group_name = azurerm_resource_group.main.name
  location            = azurerm_resource_group.main.location
  service_plan_id     = azurerm_service_plan.main.id

  # Flex Consumption runs the Go binary as a custom handler; there is no
  # FUNCTIONS_WORKER_RUNTIME setting on Flex.
  runtime_name           = "custom"
  runtime_version        = "1.0"
  maximum_instance_count = var.maximum_instance_count
  instance_memory_in_mb  = var.instance_memory_in_mb

  # The deployment package lives in a blob container the identity reads.
  storage_container_type            = "blobContainer"
  storage_container_endpoint        = "${azurerm_storage_account.host.primary_blob_endpoint}${azurerm_storage_container.deployment.name}"
  storage_authentication_type       = "UserAssignedIdentity"
  storage_user_assigned_identity_id = azurerm_user_assigned_identity.app.id

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.app.id]
  }

  https_only                                     = true
  webdeploy_publish_basic_authentication_enabled = false

  app_settings = local.app_settings

  site_config {
    # Application Insights connection strings hold no secret; with local
    # authentication off, ingestion needs the identity anyway.
    application_insights_connection_string = azurerm_application_insights.main.connection_string
    minimum_tls_version                    = "1.2"
    scm_minimum_tls_version                = "1.2"
    http2_enabled                          = true
  }

  # App Service Authentication in front of PutSecrets, so that
  # PUTSECRETS_REQUIRED_ROLE has a principal to check.
  dynamic "auth_settings_v2" {
    for_each = var.auth_client_id == "" ? [] : [var.auth_client_id]
    content {
      auth_enabled           = true
      require_authentication = true
      unauthenticated_action = "Return401"

      active_directory_v2 {
        client_id            = auth_settings_v2.value
        tenant_auth_endpoint = "https://${local.cloud.login_host}/${data.azurerm_client_config.current.tenant_id}/v2.0"
        allowed_audiences    = ["api://${auth_settings_v2.value}", auth_settings_v2.value]
      }

      login {}
    }
  }

  tags = merge(local.tags, { "azd-service-name" = "putsecrets" })

  depends_on = [
    # The host reads storage and the deployment container at start.
    azurerm_role_assignment.storage_blob_data_owner,
  ]
}
