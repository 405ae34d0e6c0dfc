#!/usr/bin/env bash
# make infra-validate: `tofu fmt -check` on every module under infra/, and
# `tofu validate` plus `tofu test` (mocked provider) on the azurerm root
# module, with OpenTofu and the azurerm provider built from the Go module
# proxy and offered to tofu through a filesystem mirror, so that no provider
# registry is needed.
#
# infra/graph-permissions/ uses the azuread provider, which the Go module
# proxy does not serve: it is formatted here and checked by infra/invariants only.
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${INFRA_CACHE:?}"
start=$SECONDS

infra/scripts/build-tofu-tools.sh

tofu="$INFRA_CACHE/bin/tofu"
mirror="$INFRA_CACHE/mirror"
work="$INFRA_CACHE/validate"

# A CLI configuration that installs azurerm from the mirror and nothing from
# anywhere else.
export TF_CLI_CONFIG_FILE="$INFRA_CACHE/tofurc"
cat >"$TF_CLI_CONFIG_FILE" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.opentofu.org/hashicorp/azurerm"]
  }
}
RC
export TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
unset TF_PLUGIN_CACHE_DIR TF_DATA_DIR

echo "infra-validate: $("$tofu" version | head -n1), azurerm $AZURERM_MIRROR_VERSION (module $AZURERM_MODULE_VERSION)"

echo "infra-validate: tofu fmt -check -diff -recursive infra"
"$tofu" fmt -check -diff -recursive infra

# Validate a copy, so the lock file and .terraform/ of a mirror-built
# provider never land in the work tree.
rm -rf "$work"
mkdir -p "$work"
cp infra/*.tf "$work/"
cp -R infra/tests "$work/tests"
echo "infra-validate: tofu init -backend=false (infra/)"
"$tofu" -chdir="$work" init -backend=false -input=false -no-color >"$work/init.log" 2>&1 || {
	cat "$work/init.log" >&2
	exit 1
}
echo "infra-validate: tofu validate (infra/)"
"$tofu" -chdir="$work" validate -no-color

# infra/tests/*.tftest.hcl: plan and apply against a mocked azurerm, to
# check computed settings for real inputs. No Azure, no credentials.
echo "infra-validate: tofu test (infra/tests, mocked azurerm)"
"$tofu" -chdir="$work" test -no-color

echo "infra-validate: infra/graph-permissions/ not validated by tofu: the azuread provider is not on the Go module proxy (checked by infra/invariants instead)"
echo "infra-validate: done in $((SECONDS - start)) s"
