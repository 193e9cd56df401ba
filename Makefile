# svcauth — one Go module: the proxy-wasm filter, the issuer (+ CLI) and the dev proxy.
# `make run` starts a local setup; `make test` runs every test (native and on the real .wasm).

GO        ?= go
BUILD     := build
WASM      := $(BUILD)/svcauth.wasm
ISSUER    := $(BUILD)/svcauth
DEVPROXY  := $(BUILD)/svcauth-devproxy
LOCALRUN  := $(BUILD)/svcauth-local
GOFILES   := $(shell find . -name '*.go' -not -path './build/*' 2>/dev/null)

.PHONY: all build test vet fmt-check bench run clean

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

fmt-check:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet ./filter/...

# Every test: unit, wasm (the filter tests run natively and on $(WASM)), fuzz
# seed corpora, and the end-to-end tests (real issuer process + dev proxy).
test: build fmt-check vet
	SVCAUTH_WASM=$(CURDIR)/$(WASM) SVCAUTH_BIN_DIR=$(CURDIR)/$(BUILD) $(GO) test -count=1 -timeout 8m ./...

# Benchmarks of the filter's request path, natively and on the real .wasm.
bench: build
	SVCAUTH_WASM=$(CURDIR)/$(WASM) $(GO) test -run '^$$' -bench . -benchmem -count 1 ./filter/...

# A working local setup on the embedded SQLite default: issuer on :8081,
# dev proxy (the real .wasm) on :8080, state under .run/.
run: build
	$(LOCALRUN) --bin-dir $(BUILD) --state-dir .run

clean:
	rm -rf $(BUILD)/svcauth $(BUILD)/svcauth.wasm $(BUILD)/svcauth-devproxy $(BUILD)/svcauth-local
