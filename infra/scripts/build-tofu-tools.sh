#!/usr/bin/env bash
# Builds OpenTofu and the azurerm provider from the Go module proxy into a
# project-local cache, and lays the provider out as a filesystem mirror that
# `tofu init` can use without reaching any provider registry.
#
# Idempotent: a tool already built at the pinned version is not rebuilt.
#
# Environment (defaults come from infra/infra.mk):
#   INFRA_CACHE             cache root (bin/, mirror/)
#   TOFU_VERSION            github.com/opentofu/opentofu module version
#   AZURERM_MODULE_VERSION  github.com/hashicorp/terraform-provider-azurerm module version
#   AZURERM_MIRROR_VERSION  provider version the mirror advertises to tofu
set -euo pipefail

: "${INFRA_CACHE:?}" "${TOFU_VERSION:?}" "${AZURERM_MODULE_VERSION:?}" "${AZURERM_MIRROR_VERSION:?}"

bin="$INFRA_CACHE/bin"
mirror="$INFRA_CACHE/mirror"
mkdir -p "$bin" "$mirror"

export CGO_ENABLED=0 GOFLAGS=-mod=readonly

# module_dir prints the module cache directory of module@version, downloading
# it from the module proxy first if needed.
module_dir() {
	go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

stamp() { cat "$1" 2>/dev/null || true; }

# OpenTofu's go.mod carries a replace directive, so `go install mod@version`
# refuses it: build inside the downloaded module instead.
if [[ ! -x "$bin/tofu" || "$(stamp "$bin/tofu.version")" != "$TOFU_VERSION" ]]; then
	echo "infra-validate: building OpenTofu $TOFU_VERSION (first time: several minutes)" >&2
	dir="$(module_dir "github.com/opentofu/opentofu@$TOFU_VERSION")"
	[[ -n "$dir" ]] || { echo "infra-validate: cannot download OpenTofu $TOFU_VERSION" >&2; exit 1; }
	(cd "$dir" && go build -trimpath \
		-ldflags "-s -w -X github.com/opentofu/opentofu/version.dev=no" \
		-o "$bin/tofu" ./cmd/tofu)
	echo "$TOFU_VERSION" >"$bin/tofu.version"
fi

provider_dir="$mirror/registry.opentofu.org/hashicorp/azurerm/$AZURERM_MIRROR_VERSION/linux_amd64"
provider="$provider_dir/terraform-provider-azurerm_v$AZURERM_MIRROR_VERSION"
# The stamp stays outside the mirror: tofu hashes every file of an unpacked
# provider directory into the lock file.
provider_stamp="$INFRA_CACHE/azurerm.module.version"
if [[ ! -x "$provider" || "$(stamp "$provider_stamp")" != "$AZURERM_MODULE_VERSION" ]]; then
	echo "infra-validate: building terraform-provider-azurerm $AZURERM_MODULE_VERSION as $AZURERM_MIRROR_VERSION (first time: tens of minutes)" >&2
	rm -rf "$mirror/registry.opentofu.org/hashicorp/azurerm"
	mkdir -p "$provider_dir"
	GOBIN="$provider_dir" go install -trimpath -ldflags "-s -w" \
		"github.com/hashicorp/terraform-provider-azurerm@$AZURERM_MODULE_VERSION"
	mv "$provider_dir/terraform-provider-azurerm" "$provider"
	echo "$AZURERM_MODULE_VERSION" >"$provider_stamp"
fi
