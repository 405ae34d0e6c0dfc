#!/usr/bin/env bash
# make infra-destroy: remove the Graph permission and target ownerships first
# (they reference the identity), then every Azure resource of infra/.
#   TF=tofu  AUTO_APPROVE=1  as for deploy.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

TF="${TF:-terraform}"
approve=()
if [[ "${AUTO_APPROVE:-}" == 1 ]]; then approve=(-auto-approve); fi

if [[ -f infra/graph-permissions/terraform.tfstate ]]; then
	principal_id="$("$TF" -chdir=infra output -raw IDENTITY_PRINCIPAL_ID)"
	"$TF" -chdir=infra/graph-permissions destroy -input=false "${approve[@]}" -var "identity_principal_id=$principal_id"
fi
"$TF" -chdir=infra destroy -input=false "${approve[@]}"
