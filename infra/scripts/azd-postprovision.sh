#!/usr/bin/env bash
# azd postprovision hook (azure.yaml): after `azd provision` / `azd up` has
# applied infra/, grant the Graph permission and push the code, the same way
# make deploy does. azd exports infra/'s outputs (AZURE_RESOURCE_GROUP,
# AZURE_FUNCTION_APP_NAME, IDENTITY_PRINCIPAL_ID, …) into the environment.
#   PUTSECRETS_GRAPH_PERMISSIONS=skip  leave the Graph step to a tenant administrator
#   TF=tofu                            use OpenTofu for the Graph module
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${AZURE_RESOURCE_GROUP:?azd did not export infra outputs}" "${AZURE_FUNCTION_APP_NAME:?}" "${IDENTITY_PRINCIPAL_ID:?}"
TF="${TF:-terraform}"

if [[ "${PUTSECRETS_GRAPH_PERMISSIONS:-apply}" != skip ]]; then
	"$TF" -chdir=infra/graph-permissions init -input=false
	"$TF" -chdir=infra/graph-permissions apply -input=false -var "identity_principal_id=$IDENTITY_PRINCIPAL_ID"
	# azd passes no target service principals: warn, with the command to
	# add one, when Application.ReadWrite.OwnedBy owns nothing.
	infra/scripts/postdeploy-check.sh graph-targets "$TF" "$IDENTITY_PRINCIPAL_ID"
fi

# azurerm injects a key-less storage connection string into Flex apps
# (infra/functionapp.tf overrides it with ""); refuse to go on if a provider
# change let it through, because the host would not start.
infra/scripts/postdeploy-check.sh storage-setting "$AZURE_RESOURCE_GROUP" "$AZURE_FUNCTION_APP_NAME"

make package
az functionapp deployment source config-zip \
	--resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" --src dist/putsecrets.zip

# The host works when it can list function keys (they live in host storage).
infra/scripts/postdeploy-check.sh function-keys "$AZURE_RESOURCE_GROUP" "$AZURE_FUNCTION_APP_NAME"
echo "azd-postprovision: PutSecrets: ${PUTSECRETS_URL:-}"
