# putsecrets: the commands of README.md.
#   make demo     run the main job end to end on the bundled local stand-ins
#   make test     everything CI runs (gofmt, go vet, go test, infra checks)
#   make build    the handler for Azure (linux/amd64, CGO off)
#   make package  dist/putsecrets.zip for Flex Consumption
#                 (SESSIONS=true: the queue trigger with isSessionsEnabled, for a session-enabled queue)
#   make bench    measure the handler against its floor; writes BENCHMARKS.md
#   make fuzz     every fuzz target, FUZZTIME each (default 30s)
#   make load     the load test: LOAD_INVOCATIONS at LOAD_CONCURRENCY against the stand-ins

GO          ?= go
GOFLAGS     ?=
export GOFLAGS
TEST_FLAGS  ?= -timeout 9m
BIN         := handler
ZIP         := dist/putsecrets.zip
FUNCTIONS   := PutSecrets PutSecretsFromQueue PutSecretsFromKeyVault Reconcile
SESSIONS    ?= false

.PHONY: all build package demo test test-go lint clean bench fuzz load

all: build

build:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags='-s -w' -o $(BIN) .

package: build
	$(GO) run ./internal/tools/zipdir -o $(ZIP) $(if $(filter true,$(SESSIONS)),-sessions) $(BIN) host.json $(FUNCTIONS)
	@echo "wrote $(ZIP)"

# The demo runs a native build (bin/handler) so it works on any machine Go runs on.
demo: azurite-deps sbbroker-deps
	$(GO) build -o bin/handler .
	$(GO) run ./standin/cmd/demo -handler bin/handler -app .

# The benchmark measures native builds made with build's flags (bin/bench/), beside
# a bare net/http server, and reports the size of build's own output. BENCH_FLAGS=-quick
# tries the harness in a minute; the figures it writes are not worth reporting.
BENCH_FLAGS ?=
# The peers (bench/peers/) are the same job written plainly: a Go program with the
# same SDK, built like the handler, and a Node.js one, installed with npm ci.
NODE_PEER_DIR   := bench/peers/node
NODE_PEER_STAMP := $(NODE_PEER_DIR)/node_modules/.package-lock.json

$(NODE_PEER_STAMP): $(NODE_PEER_DIR)/package.json $(NODE_PEER_DIR)/package-lock.json
	npm ci --prefix $(NODE_PEER_DIR) --no-audit --no-fund
	@touch $@

bench: build $(NODE_PEER_STAMP)
	@mkdir -p bin/bench
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o bin/bench/handler .
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o bin/bench/bare ./bench/bare
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o bin/bench/gopeer ./bench/peers/gopeer
	CGO_ENABLED=0 $(GO) test -c -trimpath -o bin/bench/handler.test .
	$(GO) test -run '^$$' -bench . -benchmem . ./internal/... | grep -E '^(Benchmark|goos|goarch|cpu|pkg)' > bin/bench/go-test-bench.txt
	$(GO) run ./bench -handler bin/bench/handler -bare bin/bench/bare -app . -size $(BIN) \
		-gotest bin/bench/go-test-bench.txt -profile bin/bench/handler.test \
		-gopeer bin/bench/gopeer -nodepeer $(NODE_PEER_DIR) -out BENCHMARKS.md $(BENCH_FLAGS)

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt -l lists:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run ./internal/tools/nobinaries

test-go: sbbroker-deps azurite-deps
	$(GO) test $(TEST_FLAGS) ./...

test: lint test-go infra-test

clean:
	rm -rf $(BIN) dist

# --- hardening: fuzzing and load --------------------------------------------
# fuzz runs every fuzz target of the product (internal/) for FUZZTIME each, one after the
# other; a crasher stops it and is written to the package's testdata/fuzz/.
FUZZTIME         ?= 30s
FUZZ_DIRS         = $(sort $(dir $(shell grep -rl --include='*_test.go' '^func Fuzz' internal 2>/dev/null)))
LOAD_INVOCATIONS ?= 5000
LOAD_CONCURRENCY ?= 64

fuzz:
	@set -e; for d in $(FUZZ_DIRS); do \
		for f in $$(grep -h '^func Fuzz' $$d*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
			echo "== ./$$d $$f ($(FUZZTIME))"; \
			$(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) ./$$d; \
		done; \
	done

load:
	$(GO) test -count=1 -run='^TestLoad$$' -v ./e2e -args -load.invocations=$(LOAD_INVOCATIONS) -load.concurrency=$(LOAD_CONCURRENCY)
# --- end hardening -----------------------------------------------------------

# Fragments define their own targets; included last so that `all` stays the default goal.
include standin/sbbroker/sbbroker.mk
include standin/azurite/azurite.mk
include infra/infra.mk
