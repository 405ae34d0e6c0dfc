terraform {
  # OpenTofu >= 1.8 works as well: `make infra-validate` checks this module with it.
  required_version = ">= 1.9.0"

  required_providers {
    azurerm = {
      source = "hashicorp/azurerm"
      # 5.x: local_authentication_enabled on Application Insights and
      # rbac_authorization_enabled on Key Vault are 5.x argument names.
      version = ">= 5.2.0, < 6.0.0"
    }
  }
}
