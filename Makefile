# scone-build: top-level build. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := build

GO        ?= go
BIN       := bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.1.0-dev)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
export SOURCE_DATE_EPOCH
GOFLAGS_BUILD := -trimpath -ldflags "-s -w -buildid= -X github.com/scone-build/scone-build/pkg/version.Version=$(VERSION)"
# Where `make images` caches the real input images (OCI layouts).
SCONE_IMAGE_CACHE ?= $(HOME)/.cache/scone-build/images
export SCONE_IMAGE_CACHE

include runtime/runtime.mk

.PHONY: help setup build test test-go test-runtime lint demo bench images frontend-image fuzz clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

setup: ## install the Debian packages the build, tests and demo need (idempotent)
	@./scripts/setup.sh

build: runtime $(BIN)/scone-build ## build the runtime and the scone-build CLI into bin/

$(BIN)/scone-build: runtime FORCE
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $@ ./cmd/scone-build

test: setup runtime test-runtime test-go ## run every test (C runtime tests, then Go tests)

test-go: runtime
	CGO_ENABLED=0 $(GO) test -count=1 -timeout 20m ./...

lint: ## gofmt, go vet and the C warnings-as-errors build
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

demo: setup build ## end to end on a bundled example: build an input image, convert it, run it with podman
	./scripts/demo.sh

bench: runtime ## run the benchmarks (ratios against a baseline measured in the same run)
	./bench/run.sh

images: ## build the real input images (OCI layouts) into $(SCONE_IMAGE_CACHE)
	./images/build.sh $(IMAGES)

frontend-image: build ## build the BuildKit frontend image into bin/frontend-image (PUSH=REF [INSECURE=1] also pushes)
	VERSION=$(VERSION) ./scripts/frontend-image.sh --scone-build $(BIN)/scone-build $(if $(PUSH),--push $(PUSH)) $(if $(INSECURE),--insecure)

fuzz: ## run each fuzz target for a short while (FUZZTIME, default 20s)
	./scripts/fuzz.sh

clean: runtime-clean ## remove build outputs
	rm -rf $(BIN)

FORCE:
