# Makefile fragment for the local Service Bus test broker (standin/sbbroker).
# Include it from the top-level Makefile:
#
#	include standin/sbbroker/sbbroker.mk
#	test: sbbroker-deps
#
# `make sbbroker-deps` runs `npm ci` only when node_modules is missing or older than
# package.json / package-lock.json (npm ci writes node_modules/.package-lock.json).

SBBROKER_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
SBBROKER_STAMP := $(SBBROKER_DIR)/node_modules/.package-lock.json

.PHONY: sbbroker-deps sbbroker-clean

sbbroker-deps: $(SBBROKER_STAMP)

$(SBBROKER_STAMP): $(SBBROKER_DIR)/package.json $(SBBROKER_DIR)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "sbbroker-deps: npm not found: install Node.js 18 or later with npm (Debian: apt-get install -y nodejs npm)" >&2; exit 1; }
	npm ci --prefix $(SBBROKER_DIR) --no-audit --no-fund
	@touch $@

sbbroker-clean:
	rm -rf $(SBBROKER_DIR)/node_modules
