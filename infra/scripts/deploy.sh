#!/usr/bin/env bash
# make deploy: provision infra/, grant the Graph permission
# (infra/graph-permissions/), then push dist/putsecrets.zip to the function app.
#
# Inputs: infra/terraform.tfvars (or TF_VAR_environment_name and
# TF_VAR_location), infra/graph-permissions/terraform.tfvars for the target
# service principals; an `az login` session.
#   TF=tofu              use OpenTofu instead of terraform
#   AUTO_APPROVE=1       apply without asking
#   GRAPH_PERMISSIONS=skip  leave the Graph step to a tenant administrator
set -euo pipefail
cd "$(dirname "$0")/../.."

TF="${TF:-terraform}"
approve=()
if [[ "${AUTO_APPROVE:-}" == 1 ]]; then approve=(-auto-approve); fi

need() { command -v "$1" >/dev/null || { echo "deploy: $1 is not installed ($2)" >&2; exit 1; }; }
need "$TF" "set TF=tofu to use OpenTofu"
need az "Azure CLI; then az login"
az account show --output none 2>/dev/null || { echo "deploy: not logged in: run az login" >&2; exit 1; }

if [[ ! -f infra/terraform.tfvars && -z "${TF_VAR_environment_name:-}" ]]; then
	cat >&2 <<'MSG'
deploy: no inputs. Create infra/terraform.tfvars, for example:
  environment_name = "putsecrets-dev"
  location         = "westeurope"
(or export TF_VAR_environment_name and TF_VAR_location). See infra/README.md.
MSG
	exit 1
fi
[[ -f dist/putsecrets.zip ]] || { echo "deploy: dist/putsecrets.zip is missing: run make package" >&2; exit 1; }

"$TF" -chdir=infra init -input=false
"$TF" -chdir=infra apply -input=false "${approve[@]}"

output() { "$TF" -chdir=infra output -raw "$1"; }
resource_group="$(output AZURE_RESOURCE_GROUP)"
function_app="$(output AZURE_FUNCTION_APP_NAME)"
principal_id="$(output IDENTITY_PRINCIPAL_ID)"

if [[ "${GRAPH_PERMISSIONS:-apply}" != skip ]]; then
	"$TF" -chdir=infra/graph-permissions init -input=false
	"$TF" -chdir=infra/graph-permissions apply -input=false "${approve[@]}" -var "identity_principal_id=$principal_id"
	infra/scripts/postdeploy-check.sh graph-targets "$TF" "$principal_id"
else
	echo "deploy: GRAPH_PERMISSIONS=skip: a tenant administrator must apply infra/graph-permissions with identity_principal_id=$principal_id"
fi

# azurerm injects a key-less storage connection string into Flex apps
# (infra/functionapp.tf overrides it with ""); refuse to go on if a provider
# change let it through, because the host would not start.
infra/scripts/postdeploy-check.sh storage-setting "$resource_group" "$function_app"

echo "deploy: pushing dist/putsecrets.zip to $function_app"
az functionapp deployment source config-zip \
	--resource-group "$resource_group" --name "$function_app" --src dist/putsecrets.zip

# The setting alone proves nothing (host issues #11787, #11796, #11636): the
# host works when it can list function keys, which live in host storage.
infra/scripts/postdeploy-check.sh function-keys "$resource_group" "$function_app"

echo "deploy: done. PutSecrets: $(output PUTSECRETS_URL)"
echo "deploy: function key: az functionapp function keys list -g $resource_group -n $function_app --function-name PutSecrets --query default -o tsv"
