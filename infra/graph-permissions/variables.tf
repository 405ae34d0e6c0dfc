variable "identity_principal_id" {
  description = "Object ID of the app's user-assigned identity: `terraform -chdir=infra output -raw IDENTITY_PRINCIPAL_ID`."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$", var.identity_principal_id))
    error_message = "identity_principal_id must be an object ID (GUID)."
  }
}

variable "target_service_principal_ids" {
  description = "Object IDs of the enterprise applications' service principals whose provisioning secrets the app may write. The identity becomes an owner of each (needed by Application.ReadWrite.OwnedBy)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.target_service_principal_ids : can(regex("^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$", id))])
    error_message = "target_service_principal_ids must hold service principal object IDs (GUIDs)."
  }
}

variable "grant_synchronization_readwrite_all" {
  description = "Grant Synchronization.ReadWrite.All (every service principal in the tenant) instead of the least-privileged Application.ReadWrite.OwnedBy plus ownership of each target."
  type        = bool
  default     = false
}

variable "azuread_environment" {
  description = "Cloud of the tenant for the azuread provider: global, usgovernmentl4, usgovernmentl5 or china."
  type        = string
  default     = "global"
}

variable "graph_endpoint" {
  description = "Microsoft Graph endpoint of that cloud (docs/contract.md §5), used to add and remove owners."
  type        = string
  default     = "https://graph.microsoft.com"

  validation {
    condition     = contains(["https://graph.microsoft.com", "https://graph.microsoft.us", "https://dod-graph.microsoft.us", "https://microsoftgraph.chinacloudapi.cn"], var.graph_endpoint)
    error_message = "graph_endpoint must be one of the four Microsoft Graph endpoints."
  }
}
