# Makefile fragment for Azurite, the local blob store (standin/azurite).
# Include it from the top-level Makefile:
#
#	include standin/azurite/azurite.mk
#	test-go: azurite-deps
#
# `make azurite-deps` runs `npm ci` only when node_modules is missing or older than
# package.json / package-lock.json (npm ci writes node_modules/.package-lock.json).

AZURITE_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
AZURITE_STAMP := $(AZURITE_DIR)/node_modules/.package-lock.json

.PHONY: azurite-deps azurite-clean

azurite-deps: $(AZURITE_STAMP)

$(AZURITE_STAMP): $(AZURITE_DIR)/package.json $(AZURITE_DIR)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "azurite-deps: npm not found: install Node.js 20 or later with npm (Debian: apt-get install -y nodejs npm)" >&2; exit 1; }
	npm ci --prefix $(AZURITE_DIR) --no-audit --no-fund --ignore-scripts
	@touch $@

azurite-clean:
	rm -rf $(AZURITE_DIR)/node_modules
