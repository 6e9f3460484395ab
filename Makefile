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

.PHONY: help setup doctor build test test-deps test-go test-runtime lint fmt demo bench images buildkit frontend-image cas-image test-python test-suites fuzz fresh-check clean clean-podman

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

setup: ## install the Debian packages the build, tests, demo and benchmarks need (idempotent)
	@./scripts/setup.sh

doctor: ## list every tool the suite calls, its package and whether it is present
	@./scripts/setup.sh --check

build: runtime $(BIN)/scone-build $(BIN)/scone-cas ## build the runtime, the scone-build CLI and the scone-cas server into bin/

$(BIN)/scone-build: runtime FORCE
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $@ ./cmd/scone-build

$(BIN)/scone-cas: FORCE
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $@ ./cmd/scone-cas

# The C objects compile on every core (a fresh clone: ~70 s of the suite
# one at a time, ~40 s on two); the C tests then run one after another.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

test: test-deps ## the whole suite as CI runs it: set-up, preflight, images, BuildKit, C then Go tests
	@$(MAKE) --no-print-directory -j$(JOBS) test-runtime runtime
	@$(MAKE) --no-print-directory test-go

# The images added after build.sh's ALL list (build.sh is hashed into every
# image, so adding names there rebuilds them all; docs/images.md).
MORE_IMAGES := perl shell lua git openssl curl postgres node mariadb openjdk

# What the end-to-end tests need, in order; each step is cached.
test-deps:
	@./scripts/setup.sh
	@./scripts/setup.sh --check >/dev/null || { ./scripts/setup.sh --check; exit 1; }
	$(GO) mod download
	./images/build.sh
	./images/build.sh $(MORE_IMAGES)
	./scripts/buildkit.sh build >/dev/null

# The longest packages first: go test starts packages in the order given,
# TEST_P at a time, and the suite ends when the last one does. The
# end-to-end packages wait on podman, servers and the network: at two at a
# time on two cores the CPUs were busy 75% of the time, and a third package
# fills some of the rest (2026-12-06, this host: the Go phase 13 min 13 s
# at -p 2, 12 min 31 s at -p 3; whole .ci/run 14:37-14:52 at -p 2 and
# 14:14-14:51 at -p 3: within this host's noise, test/e2e then alone at
# the end).
TEST_P ?= 3
SLOW_TESTS := ./test/e2e ./test/gostd ./runtime/e2e ./internal/testimages

test-go: runtime
	CGO_ENABLED=0 $(GO) test -p $(TEST_P) -count=1 -timeout 40m $(SLOW_TESTS) ./...

# The runtime's C files (clang-format checks them against .clang-format).
RT_FMT_FILES = $(shell git ls-files -co --exclude-standard 'runtime/*.c' 'runtime/*.h')
# Recipes are sourced by images/build.sh: their variables are read there.
SH_RECIPES   = $(shell git ls-files -co --exclude-standard 'images/recipes/*.sh')
SH_SCRIPTS   = $(filter-out $(SH_RECIPES),$(shell git ls-files -co --exclude-standard '*.sh') .ci/run)

lint: ## gofmt, go vet, go mod tidy -diff, the C -Werror build, shellcheck, clang-format
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff
	@$(MAKE) --no-print-directory runtime
	shellcheck -x -P SCRIPTDIR $(SH_SCRIPTS)
	shellcheck -s bash -e SC2034,SC2154 $(SH_RECIPES)
	clang-format --dry-run --Werror $(RT_FMT_FILES)

fmt: ## apply gofmt and clang-format
	gofmt -w $$(git ls-files -co --exclude-standard '*.go')
	clang-format -i $(RT_FMT_FILES)

demo: setup build ## end to end on a bundled example: build an input image, convert it, run it with podman
	./scripts/demo.sh

bench: runtime ## run the benchmarks (ratios against a baseline measured in the same run)
	./bench/run.sh

buildkit: ## build buildkitd and buildctl v0.33.1 into the cache (reused when present)
	./scripts/buildkit.sh build

images: ## build the real input images (OCI layouts) into $(SCONE_IMAGE_CACHE)
	./images/build.sh $(IMAGES)

frontend-image: build ## build the BuildKit frontend image into bin/frontend-image (PUSH=REF [INSECURE=1] also pushes)
	VERSION=$(VERSION) ./scripts/frontend-image.sh --scone-build $(BIN)/scone-build $(if $(PUSH),--push $(PUSH)) $(if $(INSECURE),--insecure)

cas-image: build ## the CAS as a confidential image into bin/cas-image (KEY=signer.pem FS_KEY=fs.key [RECOVERY_KEYS="a.pub b.pub"]; docs/cas.md)
	./scripts/cas-image.sh --scone-build $(BIN)/scone-build --key $(KEY) --fs-key $(FS_KEY) $(foreach k,$(RECOVERY_KEYS),--recovery-key $(k))

test-gostd: runtime ## the Go standard library's tests converted vs native, without -test.short (make test runs them with it)
	CGO_ENABLED=0 $(GO) test -count=1 -timeout 60m ./test/gostd -long -table bin/gostd-table.md

test-python: runtime ## CPython's own regression tests (signals, threads, polls; files, paths, archives) natively vs under scone-run (runtime/e2e; make test runs the file tests only)
	SCONE_E2E_PYTHON=all CGO_ENABLED=0 $(GO) test -count=1 -timeout 30m -run 'TestPython' -v ./runtime/e2e

test-suites: runtime ## redis's, SQLite's and PostgreSQL's own test suites against the native and the converted image (test/e2e; ~21 min; SUITES=redis, sqlite or postgres for one)
	SCONE_E2E_SUITES=$(or $(SUITES),all) CGO_ENABLED=0 $(GO) test -count=1 -timeout 90m -run 'Test(Redis|SQLite|Postgres)Suite' -v ./test/e2e

fuzz: ## run each fuzz target for a short while (FUZZTIME, default 20s)
	./scripts/fuzz.sh

fresh-check: ## prove scripts/setup.sh complete in a fresh Debian 12 chroot (docs/fresh-machine.md)
	./scripts/fresh-check.sh

clean: runtime-clean ## remove build outputs
	rm -rf $(BIN)

clean-podman: ## remove the tests' images from podman's private storage (the kept test images, ~2.5 GB, and any a killed test left)
	@. ./scripts/podman-env.sh; refs=$$(podman images --format '{{.Repository}}:{{.Tag}}' | grep '^localhost/podmantest' || true); \
	if [ -n "$$refs" ]; then podman rmi $$refs >/dev/null || true; fi; podman image prune -f >/dev/null; \
	echo "podman storage: $$(du -sh "$$SCONE_PODMAN_DIR/storage" | cut -f1)"

FORCE:
