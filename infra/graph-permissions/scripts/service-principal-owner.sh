#!/bin/sh
# Adds or removes the app's identity as an owner of one service principal,
# through Microsoft Graph with the caller's Azure CLI login. Run by
# terraform_data.service_principal_owner; idempotent both ways.
#
#   SERVICE_PRINCIPAL_ID=<sp object id> OWNER_ID=<identity object id> \
#   GRAPH_ENDPOINT=https://graph.microsoft.com service-principal-owner.sh add|remove
set -eu

: "${SERVICE_PRINCIPAL_ID:?}" "${OWNER_ID:?}" "${GRAPH_ENDPOINT:?}"
owners="$GRAPH_ENDPOINT/v1.0/servicePrincipals/$SERVICE_PRINCIPAL_ID/owners"

is_owner() {
	az rest --method get --resource "$GRAPH_ENDPOINT" \
		--url "$owners?\$select=id&\$top=999" --query "value[?id=='$OWNER_ID'].id" --output tsv |
		grep -qi "$OWNER_ID"
}

case "${1:-}" in
add)
	if is_owner; then
		echo "service principal $SERVICE_PRINCIPAL_ID: $OWNER_ID is already an owner"
		exit 0
	fi
	az rest --method post --resource "$GRAPH_ENDPOINT" \
		--url "$owners/\$ref" \
		--headers "Content-Type=application/json" \
		--body "{\"@odata.id\":\"$GRAPH_ENDPOINT/v1.0/directoryObjects/$OWNER_ID\"}"
	echo "service principal $SERVICE_PRINCIPAL_ID: added owner $OWNER_ID"
	;;
remove)
	if ! is_owner; then
		echo "service principal $SERVICE_PRINCIPAL_ID: $OWNER_ID is not an owner"
		exit 0
	fi
	az rest --method delete --resource "$GRAPH_ENDPOINT" --url "$owners/$OWNER_ID/\$ref"
	echo "service principal $SERVICE_PRINCIPAL_ID: removed owner $OWNER_ID"
	;;
*)
	echo "usage: $0 add|remove" >&2
	exit 2
	;;
esac
