# infra/infra.mk: infrastructure targets, included from the top-level Makefile
# (`include infra/infra.mk`, placed after the Makefile's default target, or
# make's default goal becomes infra-test). Paths are relative to the
# repository root; deploy needs the Makefile's package target.
#
#   make infra-test      HCL invariant test + actionlint (part of make test; seconds)
#   make infra-validate  tofu fmt -check + tofu validate of infra/ with OpenTofu and
#                        azurerm built from the Go module proxy (first run: 12-40 min)
#   make deploy          terraform apply infra/ and infra/graph-permissions/, then
#                        push dist/putsecrets.zip to the function app
#   make infra-destroy   tear the deployment down again

INFRA_CACHE ?= $(CURDIR)/.cache/infra

# Pinned tool versions. actionlint and OpenTofu are release tags. azurerm's
# v5 tags are not reachable through the module proxy (its go.mod path has no
# /v5), so a main-branch commit right after the 5.2.0 release (2026-08-20) is
# built and offered to tofu as 5.2.0 through the filesystem mirror.
ACTIONLINT_VERSION     ?= v1.7.12
TOFU_VERSION           ?= v1.12.6
AZURERM_MODULE_VERSION ?= v1.44.1-0.20260824201233-fae580791926
AZURERM_MIRROR_VERSION ?= 5.2.0

# terraform or tofu, for deploy and infra-destroy.
TF ?= terraform

ACTIONLINT := $(INFRA_CACHE)/bin/actionlint-$(ACTIONLINT_VERSION)

.PHONY: infra-test infra-validate deploy infra-destroy

infra-test: $(ACTIONLINT)
	cd infra/invariants && go vet ./... && go test -count=1 ./...
	$(ACTIONLINT) .github/workflows/*.yml

$(ACTIONLINT):
	mkdir -p $(INFRA_CACHE)/bin
	GOBIN=$(INFRA_CACHE)/bin go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
	mv $(INFRA_CACHE)/bin/actionlint $@

infra-validate:
	INFRA_CACHE=$(INFRA_CACHE) TOFU_VERSION=$(TOFU_VERSION) \
	AZURERM_MODULE_VERSION=$(AZURERM_MODULE_VERSION) AZURERM_MIRROR_VERSION=$(AZURERM_MIRROR_VERSION) \
	infra/scripts/infra-validate.sh

deploy: package
	TF=$(TF) infra/scripts/deploy.sh

infra-destroy:
	TF=$(TF) infra/scripts/destroy.sh
