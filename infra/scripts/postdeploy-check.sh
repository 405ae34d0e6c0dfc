#!/usr/bin/env bash
# postdeploy-check.sh: the checks make deploy (deploy.sh) and the azd hook
# (azd-postprovision.sh) run after applying infra/, so that a first deploy
# either works or says what to do. One definition for both.
#
#   postdeploy-check.sh storage-setting RG APP
#       AzureWebJobsStorage must be empty (identity-based host storage).
#   postdeploy-check.sh function-keys RG APP
#       Prove the Functions host works: its function keys live in host
#       storage, so listing them succeeds only when the host can reach it.
#       Retries (the host starts after the code deploy).
#   postdeploy-check.sh graph-targets TF PRINCIPAL_ID
#       Warn when graph-permissions/ granted Application.ReadWrite.OwnedBy but
#       the identity owns no target service principal: it can then write to
#       none.
#
# PUTSECRETS_CHECK_ATTEMPTS (default 12) and PUTSECRETS_CHECK_DELAY (seconds,
# default 10) pace the function-keys retries.
set -euo pipefail

me=postdeploy-check

storage_setting() {
	local rg="$1" app="$2" value
	value="$(az functionapp config appsettings list --resource-group "$rg" --name "$app" \
		--query "[?name=='AzureWebJobsStorage'].value | [0]" --output tsv)"
	if [[ -n "$value" ]]; then
		# The value is not printed: it may carry an account key.
		echo "$me: AzureWebJobsStorage on $app holds a connection string; it must be empty (identity-based host storage)." >&2
		echo "$me: see infra/README.md, Known provider issue." >&2
		return 1
	fi
}

function_keys() {
	local rg="$1" app="$2" attempts="${PUTSECRETS_CHECK_ATTEMPTS:-12}" delay="${PUTSECRETS_CHECK_DELAY:-10}"
	local i count err
	err="$(mktemp)"
	for ((i = 1; i <= attempts; i++)); do
		# Only the number of keys is asked for: a key is never printed.
		if count="$(az functionapp function keys list --resource-group "$rg" --name "$app" \
			--function-name PutSecrets --query "length(keys(@))" --output tsv 2>"$err")" && [[ "$count" -ge 1 ]]; then
			rm -f "$err"
			echo "$me: the Functions host of $app works (PutSecrets has $count function key(s), kept in host storage)"
			return 0
		fi
		if ((i < attempts)); then
			echo "$me: PutSecrets' function keys are not listable yet (attempt $i of $attempts); retrying in ${delay}s"
			sleep "$delay"
		fi
	done
	cat >&2 <<MSG
$me: the Functions host of $app did not list PutSecrets' function keys after $attempts attempts.
Function keys live in the host's storage, so the host cannot reach it (or did not start).
Last answer: $(tail -n 1 "$err"; rm -f "$err")
Check, in this order (infra/README.md, "When the host does not work"):
  1. The host storage settings: AzureWebJobsStorage must be empty or absent, and
     AzureWebJobsStorage__accountName, __credential=managedidentity and __clientId set:
       az functionapp config appsettings list -g $rg -n $app --query "[?starts_with(name, 'AzureWebJobsStorage')].name" -o tsv
  2. The identity's Storage Blob Data Owner on the host storage account:
       az role assignment list --assignee "\$(az identity list -g $rg --query '[0].principalId' -o tsv)" --all --query "[?roleDefinitionName=='Storage Blob Data Owner'].scope" -o tsv
  3. The host build: builds before Azure Functions host PR #11794 treat AzureWebJobsStorage = "" as set
     (host issues #11787, #11796, #11636). Delete the empty setting and restart:
       az functionapp config appsettings delete -g $rg -n $app --setting-names AzureWebJobsStorage
       az functionapp restart -g $rg -n $app
MSG
	return 1
}

graph_targets() {
	local tf="$1" principal="$2" role owned
	role="$("$tf" -chdir=infra/graph-permissions output -raw graph_app_role)"
	owned="$("$tf" -chdir=infra/graph-permissions output -json owned_service_principal_ids | tr -d ' \n\t')"
	if [[ "$role" == Application.ReadWrite.OwnedBy && "$owned" == "[]" ]]; then
		cat >&2 <<MSG
$me: WARNING: the identity has Application.ReadWrite.OwnedBy but owns no target service principal,
so every PutSecrets request will be refused by Graph (403). Add each target enterprise application's
service principal (its object ID: az ad sp list --display-name "<app name>" --query "[].id" -o tsv):
  $tf -chdir=infra/graph-permissions apply -var "identity_principal_id=$principal" -var 'target_service_principal_ids=["<service principal object ID>"]'
or list them in infra/graph-permissions/terraform.tfvars (target_service_principal_ids = [...]) and deploy again.
MSG
	fi
}

case "${1:-}" in
storage-setting) storage_setting "$2" "$3" ;;
function-keys) function_keys "$2" "$3" ;;
graph-targets) graph_targets "$2" "$3" ;;
*)
	echo "usage: $0 storage-setting RG APP | function-keys RG APP | graph-targets TF PRINCIPAL_ID" >&2
	exit 2
	;;
esac
