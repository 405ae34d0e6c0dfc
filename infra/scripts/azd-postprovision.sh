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
fi

# azurerm injects a key-less storage connection string into Flex apps
# (infra/functionapp.tf overrides it with ""); refuse to go on if a provider
# change let it through, because the host would not start.
webjobs_storage="$(az functionapp config appsettings list --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
	--query "[?name=='AzureWebJobsStorage'].value | [0]" --output tsv)"
if [[ -n "$webjobs_storage" ]]; then
	echo "azd-postprovision: AzureWebJobsStorage on $AZURE_FUNCTION_APP_NAME holds a connection string; it must be empty (identity-based host storage). See infra/README.md, Known provider issue." >&2
	exit 1
fi

make package
az functionapp deployment source config-zip \
	--resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" --src dist/putsecrets.zip
echo "azd-postprovision: PutSecrets: ${PUTSECRETS_URL:-}"
