# svcauth — one Go module: the proxy-wasm filter, the issuer (+ CLI) and the dev proxy.
# `make run` starts a local setup; `make test` runs every test (native and on the real .wasm).

GO        ?= go
BUILD     := build
WASM      := $(BUILD)/svcauth.wasm
ISSUER    := $(BUILD)/svcauth
DEVPROXY  := $(BUILD)/svcauth-devproxy
LOCALRUN  := $(BUILD)/svcauth-local
COMPOSE   := $(BUILD)/svcauth-compose
GOFILES   := $(shell find . -name '*.go' -not -path './build/*' 2>/dev/null)

# Images of `make images` (build/Dockerfile.issuer, build/Dockerfile.wasm).
IMAGE_REPO ?= ghcr.io/svcauth
IMAGE_TAG  ?= dev

# True when a Docker engine answers (not merely a docker CLI) and compose exists.
HAVE_DOCKER = docker info >/dev/null 2>&1 && { docker compose version >/dev/null 2>&1 || docker-compose version >/dev/null 2>&1; }

.PHONY: all build test vet fmt-check bench bench-unsafe bench-issuer bench-abuse run clean images compose-up compose-down e2e-envoy browser-deps postgres-deps

all: build

build: $(WASM) $(ISSUER) $(DEVPROXY) $(LOCALRUN)

# The filter: standard Go, built as a WASI reactor (c-shared), which is what
# proxy-wasm hosts (Envoy >= 1.33; 1.39+ recommended) load.
$(WASM): $(GOFILES) go.mod go.sum
	@mkdir -p $(BUILD)
	GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath -o $@ ./filter

$(ISSUER): $(GOFILES) go.mod go.sum
	@mkdir -p $(BUILD)
	CGO_ENABLED=0 $(GO) build -trimpath -o $@ ./issuer/cmd/svcauth

$(DEVPROXY): $(GOFILES) go.mod go.sum
	@mkdir -p $(BUILD)
	CGO_ENABLED=0 $(GO) build -trimpath -o $@ ./e2e/cmd/svcauth-devproxy

$(LOCALRUN): $(GOFILES) go.mod go.sum
	@mkdir -p $(BUILD)
	CGO_ENABLED=0 $(GO) build -trimpath -o $@ ./e2e/cmd/svcauth-local

$(COMPOSE): $(GOFILES) go.mod go.sum
	@mkdir -p $(BUILD)
	CGO_ENABLED=0 $(GO) build -trimpath -o $@ ./e2e/cmd/svcauth-compose

fmt-check:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet ./filter/...

# Every test: unit, wasm (the filter tests run natively and on $(WASM)), fuzz
# seed corpora, and the end-to-end tests (real issuer process + dev proxy).
# The filter's tests that need no host emulator run a second time compiled for
# wasip1 (on wazero, through wasirun), so that the results of the wasm-only
# word loads (filter/internal/rawmem/loads_wasm.go) meet the fuzz seeds too.
# (Reads past the end are caught natively: the fuzz tests put their inputs
# before an unreadable page, filter/internal/guardpage.) The ordinary-Go forms
# that make bench-unsafe compares are tested too.
test: build fmt-check vet $(BUILD)/wasirun
	SVCAUTH_WASM=$(CURDIR)/$(WASM) SVCAUTH_BIN_DIR=$(CURDIR)/$(BUILD) $(GO) test -count=1 -timeout 8m ./...
	GOOS=wasip1 GOARCH=wasm $(GO) test -count=1 -timeout 5m -exec $(CURDIR)/$(BUILD)/wasirun ./filter/...
	$(GO) test -count=1 -tags '$(PLAIN_TAGS)' ./filter/internal/rawmem ./filter/headers ./filter/cache

# Benchmarks of the filter's request path, natively and on the real .wasm
# (under the SDK's emulator and under the direct host), the module's size, its
# memory over 1,000,000 requests (BenchmarkMemory), and the auth logic alone
# inside wasm (the Logic benchmarks as a wasip1 test binary on wazero), and
# the HS256 and RS256 checks alone inside wasm (filter/session Verify).
bench: build $(BUILD)/wasirun
	@echo "$(WASM): $$(wc -c < $(WASM)) bytes"
	SVCAUTH_WASM=$(CURDIR)/$(WASM) SVCAUTH_BENCH_MEMORY=1 $(GO) test -run '^$$' -bench . -benchmem -count 1 -timeout 20m ./filter/...
	GOOS=wasip1 GOARCH=wasm $(GO) test -exec $(CURDIR)/$(BUILD)/wasirun -run '^$$' -bench Logic -count 1 ./filter/plugin
	GOOS=wasip1 GOARCH=wasm $(GO) test -exec $(CURDIR)/$(BUILD)/wasirun -run '^$$' -bench Verify -count 1 ./filter/session

# The ordinary-Go forms of the filter's uses of unsafe (filter/internal/rawmem).
PLAIN_USES := sametext indexbyte scan hostmap
PLAIN_TAGS := $(foreach u,$(PLAIN_USES),svcauth_plain_$(u))

# Each use of unsafe against its ordinary-Go form, inside a cached request:
# the module is built once per svcauth_plain_* tag and BenchmarkVariants runs
# svcauth, the variants and the same-io no-op in turns, in one process, six
# times (docs/performance.md, "unsafe, use by use").
bench-unsafe: build
	@mkdir -p $(BUILD)/variants
	@for u in $(PLAIN_USES); do \
	  GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath -tags svcauth_plain_$$u -o $(BUILD)/variants/plain-$$u.wasm ./filter || exit 1; \
	done
	SVCAUTH_WASM=$(CURDIR)/$(WASM) SVCAUTH_VARIANTS=$$(for u in $(PLAIN_USES); do printf 'plain-%s=%s,' $$u $(CURDIR)/$(BUILD)/variants/plain-$$u.wasm; done | sed 's/,$$//') \
	  $(GO) test -run '^$$' -bench Variants -benchtime 600000x -count 6 ./filter/plugin

$(BUILD)/wasirun: $(GOFILES) go.mod go.sum
	@mkdir -p $(BUILD)
	CGO_ENABLED=0 $(GO) build -trimpath -o $@ ./filter/internal/wasirun

# Debian's chromium, which the dashboard's browser tests (e2e/dashboard_test.go)
# drive headless; without it they skip. Needs root (apt-get).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	@chromium --version 2>/dev/null

# Debian's PostgreSQL server binaries, which the PostgreSQL storage tests
# (issuer/storage/postgres/pgtest) start a throwaway cluster with; no service is
# started or configured.
postgres-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }
	@ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null || command -v initdb

# Load test of the issuer's exchange endpoint: starts build/svcauth on
# loopback and reports throughput and p50/p99 at 1, 16 and 64 clients.
# The same run on SQLite, then on PostgreSQL (a throwaway server on loopback;
# make postgres-deps installs it).
bench-issuer: $(ISSUER)
	$(GO) run ./issuer/cmd/svcauth-loadgen --issuer-bin $(ISSUER) --db sqlite
	$(GO) run ./issuer/cmd/svcauth-loadgen --issuer-bin $(ISSUER) --db postgres

# A flood of failed exchanges against a fresh issuer on loopback while a
# legitimate client exchanges at a steady rate (docs/abuse-resistance.md).
bench-abuse: $(ISSUER)
	$(GO) run ./issuer/cmd/svcauth-loadgen abuse --issuer-bin $(ISSUER)

# A working local setup: with a Docker engine, real Envoy + issuer + demo
# upstream under docker compose (as `make compose-up`, in the foreground);
# without one (or with SVCAUTH_RUN=devproxy), the issuer on the embedded SQLite
# default on :8081 and the dev proxy (the real .wasm on wazero) on :8080,
# state under .run/.
run: build $(COMPOSE)
	@if [ "$(SVCAUTH_RUN)" != devproxy ] && $(HAVE_DOCKER); then \
	  echo "make run: Docker engine found: running Envoy, the issuer and a demo upstream with docker compose (SVCAUTH_RUN=devproxy for the dev proxy)"; \
	  $(COMPOSE) up --foreground --bin-dir $(BUILD); \
	else \
	  if [ "$(SVCAUTH_RUN)" != devproxy ]; then echo "make run: no Docker engine with compose here (docker info or docker compose version failed): falling back to the dev proxy, which runs the real .wasm on wazero, not Envoy"; fi; \
	  $(LOCALRUN) --bin-dir $(BUILD) --state-dir .run; \
	fi

# Envoy + issuer + demo upstream in Docker (envoy/docker-compose.yaml), in the
# background; state in the issuer-data volume and .run/compose/.
compose-up: build $(COMPOSE)
	$(COMPOSE) up --bin-dir $(BUILD)

compose-down: $(COMPOSE)
	$(COMPOSE) down

# The issuer image and the filter's OCI image for Istio.
images: build
	@if docker info >/dev/null 2>&1; then \
	  set -e; \
	  DOCKER_BUILDKIT=1 docker build -f build/Dockerfile.issuer -t $(IMAGE_REPO)/svcauth-issuer:$(IMAGE_TAG) . ; \
	  DOCKER_BUILDKIT=1 docker build -f build/Dockerfile.wasm -t $(IMAGE_REPO)/svcauth-wasm:$(IMAGE_TAG) $(BUILD) ; \
	  echo "built $(IMAGE_REPO)/svcauth-issuer:$(IMAGE_TAG) and $(IMAGE_REPO)/svcauth-wasm:$(IMAGE_TAG)"; \
	else \
	  echo "make images: no Docker engine here (docker info failed), so no image was built."; \
	  echo "  With Docker it builds $(IMAGE_REPO)/svcauth-issuer:$(IMAGE_TAG) from build/Dockerfile.issuer (context .)"; \
	  echo "  and $(IMAGE_REPO)/svcauth-wasm:$(IMAGE_TAG) from build/Dockerfile.wasm (context $(BUILD)/, holding $(WASM));"; \
	  echo "  set IMAGE_REPO and IMAGE_TAG to push them to your registry."; \
	fi

# The end-to-end suite against real Envoy (a local envoy binary, or Docker);
# skips with a message where neither exists.
e2e-envoy: build
	E2E_TARGET=envoy SVCAUTH_WASM=$(CURDIR)/$(WASM) SVCAUTH_BIN_DIR=$(CURDIR)/$(BUILD) $(GO) test -count=1 -v -timeout 20m ./e2e/

clean:
	rm -rf $(BUILD)/svcauth $(BUILD)/svcauth.wasm $(BUILD)/svcauth-devproxy $(BUILD)/svcauth-local $(BUILD)/svcauth-compose $(BUILD)/wasirun
