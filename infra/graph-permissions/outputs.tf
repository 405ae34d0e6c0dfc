output "graph_app_role" {
  description = "The Microsoft Graph application permission granted to the identity."
  value       = local.graph_app_role
}

output "owned_service_principal_ids" {
  description = "Service principals the identity now owns."
  value       = sort(tolist(local.owned_service_principals))
}
