# `tofu test` (make infra-validate) evaluates infra/ with a mocked azurerm
# provider: no Azure, no credentials. It checks what the HCL invariant test
# cannot, the computed values of the app settings and queues for real inputs.

# The provider still validates IDs and GUIDs it is given, so the mocks that
# feed other resources' arguments return well-formed values.
mock_provider "azurerm" {
  mock_data "azurerm_client_config" {
    defaults = {
      client_id       = "00000000-0000-0000-0000-00000000c11e"
      object_id       = "00000000-0000-0000-0000-0000000000de"
      subscription_id = "00000000-0000-0000-0000-000000000000"
      tenant_id       = "00000000-0000-0000-0000-0000000000aa"
    }
  }
  mock_resource "azurerm_user_assigned_identity" {
    defaults = {
      id           = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-putsecrets-test/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-putsecrets"
      client_id    = "00000000-0000-0000-0000-0000000000c1"
      principal_id = "00000000-0000-0000-0000-0000000000a1"
    }
  }
  mock_resource "azurerm_storage_account" {
    defaults = {
      id                    = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-putsecrets-test/providers/Microsoft.Storage/storageAccounts/stpstest"
      primary_blob_endpoint = "https://stpstest.blob.core.windows.net/"
    }
  }
  mock_resource "azurerm_log_analytics_workspace" {
    defaults = {
      id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-putsecrets-test/providers/Microsoft.OperationalInsights/workspaces/log-putsecrets"
    }
  }
  mock_resource "azurerm_application_insights" {
    defaults = {
      id                = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-putsecrets-test/providers/Microsoft.Insights/components/appi-putsecrets"
      connection_string = "InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/"
    }
  }
  mock_resource "azurerm_servicebus_namespace" {
    defaults = {
      id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-putsecrets-test/providers/Microsoft.ServiceBus/namespaces/sb-putsecrets"
    }
  }
  mock_resource "azurerm_servicebus_queue" {
    defaults = {
      id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-putsecrets-test/providers/Microsoft.ServiceBus/namespaces/sb-putsecrets/queues/q"
    }
  }
  mock_resource "azurerm_key_vault" {
    defaults = {
      id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-putsecrets-test/providers/Microsoft.KeyVault/vaults/kv-ps"
    }
  }
  mock_resource "azurerm_eventgrid_system_topic" {
    defaults = {
      id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-putsecrets-test/providers/Microsoft.EventGrid/systemTopics/evgt-putsecrets"
      identity = {
        principal_id = "00000000-0000-0000-0000-0000000000e1"
        tenant_id    = "00000000-0000-0000-0000-0000000000aa"
      }
    }
  }
  mock_data "azurerm_key_vault" {
    defaults = {
      id       = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-secrets/providers/Microsoft.KeyVault/vaults/contoso-kv"
      location = "chinanorth3"
    }
  }
  mock_resource "azurerm_service_plan" {
    defaults = {
      id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-putsecrets-test/providers/Microsoft.Web/serverFarms/plan-putsecrets"
    }
  }
}

variables {
  environment_name = "putsecrets-test"
  location         = "westeurope"
}

run "defaults" {
  command = apply

  assert {
    condition     = azurerm_function_app_flex_consumption.main.app_settings["PUTSECRETS_ALLOWED_VAULTS"] == azurerm_key_vault.main[0].name
    error_message = "PUTSECRETS_ALLOWED_VAULTS must name the vault this module creates"
  }
  assert {
    condition     = azurerm_function_app_flex_consumption.main.app_settings["AZURE_CLIENT_ID"] == azurerm_user_assigned_identity.app.client_id
    error_message = "AZURE_CLIENT_ID must be the identity's client ID"
  }
  assert {
    condition     = azurerm_function_app_flex_consumption.main.app_settings["ServiceBusConnection__fullyQualifiedNamespace"] == "${azurerm_servicebus_namespace.main.name}.servicebus.windows.net"
    error_message = "the public cloud's Service Bus namespace FQDN is wrong"
  }
  assert {
    condition = alltrue([
      azurerm_function_app_flex_consumption.main.app_settings["AZURE_CLOUD"] == "AzurePublic",
      azurerm_function_app_flex_consumption.main.app_settings["PUTSECRETS_GRAPH_API_VERSION"] == "v1.0",
      azurerm_function_app_flex_consumption.main.app_settings["PUTSECRETS_ALLOW_LITERAL_CREDENTIALS"] == "false",
      azurerm_function_app_flex_consumption.main.app_settings["PUTSECRETS_QUEUE"] == "putsecrets-requests",
      azurerm_function_app_flex_consumption.main.app_settings["PUTSECRETS_RESULTS_QUEUE"] == "putsecrets-results",
      azurerm_function_app_flex_consumption.main.app_settings["AzureWebJobsStorage"] == "",
      azurerm_function_app_flex_consumption.main.app_settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "Authorization=AAD;ClientId=${azurerm_user_assigned_identity.app.client_id}",
    ])
    error_message = "a default app setting has the wrong value"
  }
  assert {
    condition = alltrue([
      azurerm_function_app_flex_consumption.main.app_settings["PUTSECRETS_EVENTS_QUEUE"] == "putsecrets-kv-events",
      azurerm_function_app_flex_consumption.main.app_settings["PUTSECRETS_STATE_URL"] == "https://stpstest.blob.core.windows.net/putsecrets-state",
      azurerm_function_app_flex_consumption.main.app_settings["PUTSECRETS_RECONCILE_SCHEDULE"] == "0 0 3 * * *",
    ])
    error_message = "the settings for following Key Vault (docs/contract.md §8) have the wrong values"
  }
  assert {
    condition = alltrue([
      azurerm_servicebus_queue.events.requires_session == false,
      azurerm_servicebus_queue.events.requires_duplicate_detection == true,
      azurerm_eventgrid_system_topic.key_vault.source_resource_id == azurerm_key_vault.main[0].id,
      azurerm_eventgrid_system_topic.key_vault.location == azurerm_resource_group.main.location,
      azurerm_eventgrid_system_topic_event_subscription.key_vault_secrets.service_bus_queue_id == azurerm_servicebus_queue.events.id,
      azurerm_role_assignment.event_grid_events_sender.principal_id == "00000000-0000-0000-0000-0000000000e1",
      azurerm_role_assignment.event_grid_events_sender.scope == azurerm_servicebus_queue.events.id,
    ])
    error_message = "Key Vault events must reach the events queue through the vault's system topic and its identity"
  }
  assert {
    condition = length(setintersection(keys(azurerm_function_app_flex_consumption.main.app_settings), [
      "PUTSECRETS_REQUIRED_ROLE", "PUTSECRETS_ALLOWED_SERVICE_PRINCIPALS", "AzureWebJobsStorage__blobServiceUri", "FUNCTIONS_WORKER_RUNTIME",
    ])) == 0
    error_message = "optional settings must be absent when their variables are unset"
  }
  assert {
    condition     = azurerm_servicebus_queue.requests.requires_session == false && azurerm_servicebus_queue.requests.max_delivery_count == 10
    error_message = "the request queue must default to no sessions and 10 deliveries"
  }
  assert {
    condition     = length(azurerm_role_assignment.deployer_key_vault_secrets_officer) == 1
    error_message = "the deployer should be able to store secrets in the created vault"
  }
  assert {
    condition     = length(azurerm_function_app_flex_consumption.main.auth_settings_v2) == 0
    error_message = "App Service Authentication must be off without auth_client_id"
  }
}

run "existing_vault_china_sessions_and_role" {
  command = apply

  variables {
    key_vault_id                   = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-secrets/providers/Microsoft.KeyVault/vaults/contoso-kv"
    azure_cloud                    = "AzureChina"
    request_queue_requires_session = true
    required_role                  = "PutSecrets.Write"
    auth_client_id                 = "11111111-2222-3333-4444-555555555555"
    allowed_service_principals     = ["6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c", "7b0c3d2f-6e5a-4f4b-8c9d-8e7f6a5b4c3d"]
  }

  assert {
    condition     = azurerm_function_app_flex_consumption.main.app_settings["PUTSECRETS_ALLOWED_VAULTS"] == "contoso-kv" && length(azurerm_key_vault.main) == 0
    error_message = "an existing vault must be used by name, and no vault created"
  }
  assert {
    condition     = azurerm_role_assignment.key_vault_secrets_user.scope == var.key_vault_id
    error_message = "Key Vault Secrets User must be scoped to the existing vault"
  }
  assert {
    condition     = endswith(azurerm_function_app_flex_consumption.main.app_settings["ServiceBusConnection__fullyQualifiedNamespace"], ".servicebus.chinacloudapi.cn")
    error_message = "AzureChina needs the China Service Bus suffix"
  }
  assert {
    condition     = azurerm_function_app_flex_consumption.main.app_settings["AzureWebJobsStorage__blobServiceUri"] == azurerm_storage_account.host.primary_blob_endpoint
    error_message = "outside the public cloud the host needs the blob endpoint"
  }
  assert {
    condition = alltrue([
      azurerm_function_app_flex_consumption.main.app_settings["AZURE_CLOUD"] == "AzureChina",
      azurerm_function_app_flex_consumption.main.app_settings["PUTSECRETS_REQUIRED_ROLE"] == "PutSecrets.Write",
      azurerm_function_app_flex_consumption.main.app_settings["PUTSECRETS_ALLOWED_SERVICE_PRINCIPALS"] == "6a9b2c1e-5f4d-4e3a-9b8c-7d6e5f4a3b2c,7b0c3d2f-6e5a-4f4b-8c9d-8e7f6a5b4c3d",
    ])
    error_message = "optional settings must carry their variables"
  }
  assert {
    condition     = azurerm_servicebus_queue.requests.requires_session
    error_message = "request_queue_requires_session must reach the queue"
  }
  assert {
    condition     = azurerm_eventgrid_system_topic.key_vault.source_resource_id == var.key_vault_id && azurerm_eventgrid_system_topic.key_vault.location == "chinanorth3"
    error_message = "the system topic must sit on the existing vault, in its location"
  }
  assert {
    condition     = startswith(azurerm_function_app_flex_consumption.main.app_settings["PUTSECRETS_STATE_URL"], azurerm_storage_account.host.primary_blob_endpoint)
    error_message = "PUTSECRETS_STATE_URL must be in the host storage account's blob endpoint of the cloud"
  }
  assert {
    condition     = length(azurerm_role_assignment.deployer_key_vault_secrets_officer) == 0
    error_message = "the deployer gets no role on a vault this module does not own"
  }
  assert {
    condition     = azurerm_function_app_flex_consumption.main.auth_settings_v2[0].active_directory_v2[0].tenant_auth_endpoint == "https://login.chinacloudapi.cn/${data.azurerm_client_config.current.tenant_id}/v2.0"
    error_message = "App Service Authentication must use the cloud's login host"
  }
}

run "invalid_cloud_is_refused" {
  command = plan

  variables {
    azure_cloud = "AzureGermany"
  }

  expect_failures = [var.azure_cloud]
}

run "results_queue_equal_to_request_queue_is_refused" {
  command = plan

  variables {
    results_queue_name = "PutSecrets-Requests"
  }

  expect_failures = [azurerm_servicebus_queue.results]
}

run "five_field_schedule_is_refused" {
  command = plan

  variables {
    reconcile_schedule = "0 3 * * *"
  }

  expect_failures = [var.reconcile_schedule]
}
