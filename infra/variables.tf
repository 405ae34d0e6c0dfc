variable "environment_name" {
  description = "Short name of this deployment (azd sets it from AZURE_ENV_NAME). Used in resource names and tags."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$", var.environment_name))
    error_message = "environment_name must be 2-32 characters: lowercase letters, digits and hyphens, not starting or ending with a hyphen."
  }
}

variable "location" {
  description = "Azure region. It must offer the Flex Consumption plan (az functionapp list-flexconsumption-locations)."
  type        = string
}

variable "subscription_id" {
  description = "Subscription to deploy into. Null: ARM_SUBSCRIPTION_ID, or the Azure CLI's current subscription."
  type        = string
  default     = null
}

variable "resource_group_name" {
  description = "Resource group to create. Empty: rg-<environment_name>."
  type        = string
  default     = ""
}

variable "azure_cloud" {
  description = "AZURE_CLOUD of the app: AzurePublic, AzureUSGovernment, AzureUSGovernmentDoD or AzureChina."
  type        = string
  default     = "AzurePublic"

  validation {
    condition     = contains(["AzurePublic", "AzureUSGovernment", "AzureUSGovernmentDoD", "AzureChina"], var.azure_cloud)
    error_message = "azure_cloud must be AzurePublic, AzureUSGovernment, AzureUSGovernmentDoD or AzureChina."
  }
}

variable "graph_api_version" {
  description = "PUTSECRETS_GRAPH_API_VERSION: the Graph version used when a request names none."
  type        = string
  default     = "v1.0"

  validation {
    condition     = contains(["v1.0", "beta"], var.graph_api_version)
    error_message = "graph_api_version must be v1.0 or beta."
  }
}

variable "key_vault_id" {
  description = "Resource ID of an existing Key Vault (RBAC mode) holding the secrets. Null: this module creates one."
  type        = string
  default     = null

  validation {
    condition     = var.key_vault_id == null || can(regex("(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\\.KeyVault/vaults/[a-zA-Z0-9-]{3,24}$", var.key_vault_id))
    error_message = "key_vault_id must be a Key Vault resource ID: /subscriptions/…/resourceGroups/…/providers/Microsoft.KeyVault/vaults/<name>."
  }
}

variable "grant_deployer_key_vault_secrets_officer" {
  description = "When this module creates the vault, let the deploying principal write secrets into it (Key Vault Secrets Officer), so the README's first request works."
  type        = bool
  default     = true
}

variable "purge_key_vault_on_destroy" {
  description = "Purge the created Key Vault on destroy instead of leaving it soft-deleted."
  type        = bool
  default     = false
}

variable "request_queue_name" {
  description = "PUTSECRETS_QUEUE: the request queue."
  type        = string
  default     = "putsecrets-requests"
}

variable "results_queue_name" {
  description = "PUTSECRETS_RESULTS_QUEUE: the default outcome queue."
  type        = string
  default     = "putsecrets-results"
}

variable "events_queue_name" {
  description = "PUTSECRETS_EVENTS_QUEUE: the queue the vault's Event Grid system topic delivers Key Vault events to (never session-enabled)."
  type        = string
  default     = "putsecrets-kv-events"
}

variable "state_container_name" {
  description = "Blob container in the host storage account for kept desired states (PUTSECRETS_STATE_URL)."
  type        = string
  default     = "putsecrets-state"

  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}$", var.state_container_name))
    error_message = "state_container_name must be a container name: 3-63 lower-case letters, digits and single hyphens."
  }
}

variable "reconcile_schedule" {
  description = "PUTSECRETS_RECONCILE_SCHEDULE: six-field NCRONTAB schedule of Reconcile ({second} {minute} {hour} {day} {month} {day-of-week}, UTC)."
  type        = string
  default     = "0 0 3 * * *"

  validation {
    condition     = length(split(" ", trimspace(replace(var.reconcile_schedule, "/ +/", " ")))) == 6
    error_message = "reconcile_schedule must have six fields, e.g. \"0 0 3 * * *\" (daily at 03:00 UTC)."
  }
}

variable "request_queue_requires_session" {
  description = "Create the request queue session-enabled (set isSessionsEnabled in PutSecretsFromQueue/function.json to match). Changing it recreates the queue."
  type        = bool
  default     = false
}

variable "results_queue_requires_session" {
  description = "Create the results queue session-enabled, for callers that reply with ReplyToSessionId."
  type        = bool
  default     = false
}

variable "max_delivery_count" {
  description = "Deliveries of a request before Service Bus dead-letters it (transient failures are retried this often)."
  type        = number
  default     = 10

  validation {
    condition     = var.max_delivery_count >= 1 && var.max_delivery_count <= 2000
    error_message = "max_delivery_count must be between 1 and 2000."
  }
}

variable "request_message_ttl" {
  description = "ISO 8601 time to live of a request message; expired requests are dead-lettered."
  type        = string
  default     = "P1D"
}

variable "request_sender_principal_ids" {
  description = "Object IDs of principals (pipelines, Logic Apps) that may send to the request queue (Azure Service Bus Data Sender on that queue only)."
  type        = list(string)
  default     = []
}

variable "results_receiver_principal_ids" {
  description = "Object IDs of principals that may read outcomes from the results queue (Azure Service Bus Data Receiver on that queue only)."
  type        = list(string)
  default     = []
}

variable "reply_to_queue_names" {
  description = "Extra existing queues in the namespace that requests may name in ReplyTo; the app gets Data Sender on each, nothing namespace-wide."
  type        = list(string)
  default     = []
}

variable "required_role" {
  description = "PUTSECRETS_REQUIRED_ROLE: app role HTTP callers must carry (needs App Service Authentication: auth_client_id). Empty: not required."
  type        = string
  default     = ""
}

variable "allowed_service_principals" {
  description = "PUTSECRETS_ALLOWED_SERVICE_PRINCIPALS: object IDs of the service principals the app may write to. Empty: any the identity can write."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.allowed_service_principals : can(regex("^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$", id))])
    error_message = "allowed_service_principals must hold service principal object IDs (GUIDs)."
  }
}

variable "auth_client_id" {
  description = "Client ID of an Entra app registration for App Service Authentication in front of PutSecrets. Empty: function keys only."
  type        = string
  default     = ""
}

variable "maximum_instance_count" {
  description = "Flex Consumption scale-out limit."
  type        = number
  default     = 40
}

variable "instance_memory_in_mb" {
  description = "Flex Consumption instance memory (512, 2048 or 4096)."
  type        = number
  default     = 512
}

variable "log_retention_in_days" {
  description = "Log Analytics retention."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
