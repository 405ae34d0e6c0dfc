# The Microsoft Graph permission of the app's identity. A root module of its
# own because it needs a tenant-privileged deployer (README: "What the deployer
# needs"), unlike ../ which needs only Azure roles.

locals {
  # Microsoft Graph's appId, the same in every tenant and cloud.
  microsoft_graph_app_id = "00000003-0000-0000-c000-000000000000"

  graph_app_role = var.grant_synchronization_readwrite_all ? "Synchronization.ReadWrite.All" : "Application.ReadWrite.OwnedBy"

  # Ownership is what Application.ReadWrite.OwnedBy is scoped by; with
  # Synchronization.ReadWrite.All it would only widen the identity's reach.
  owned_service_principals = var.grant_synchronization_readwrite_all ? toset([]) : toset(var.target_service_principal_ids)
}

data "azuread_service_principal" "microsoft_graph" {
  client_id = local.microsoft_graph_app_id
}

# Admin consent for the application permission, looked up by its value so no
# role GUID is hard-coded.
resource "azuread_app_role_assignment" "graph" {
  app_role_id         = data.azuread_service_principal.microsoft_graph.app_role_ids[local.graph_app_role]
  principal_object_id = var.identity_principal_id
  resource_object_id  = data.azuread_service_principal.microsoft_graph.object_id
}

# The azuread provider has no resource that adds one owner to a service
# principal it does not manage (azuread_service_principal's owners list would
# take over the whole enterprise application and drop its other owners), so
# the owner reference is added and removed through Graph with the deployer's
# Azure CLI login. Idempotent both ways.
resource "terraform_data" "service_principal_owner" {
  for_each = local.owned_service_principals

  input = {
    service_principal_id = each.value
    owner_id             = var.identity_principal_id
    graph_endpoint       = var.graph_endpoint
  }

  provisioner "local-exec" {
    command = "${path.module}/scripts/service-principal-owner.sh add"
    environment = {
      SERVICE_PRINCIPAL_ID = self.input.service_principal_id
      OWNER_ID             = self.input.owner_id
      GRAPH_ENDPOINT       = self.input.graph_endpoint
    }
  }

  provisioner "local-exec" {
    when    = destroy
    command = "${path.module}/scripts/service-principal-owner.sh remove"
    environment = {
      SERVICE_PRINCIPAL_ID = self.input.service_principal_id
      OWNER_ID             = self.input.owner_id
      GRAPH_ENDPOINT       = self.input.graph_endpoint
    }
  }
}
