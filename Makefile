# tinit: run `make help` for the targets.

VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO       ?= go
LDFLAGS  := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 30s
IMAGE    ?= tinit:$(VERSION)
# BUILDAH_FLAGS are buildah's global flags for `make image` (--root,
# --runroot, --storage-driver: the tests build into podman's storage).
BUILDAH_FLAGS ?=

# Debian packages the tests and benchmarks use: the peers tinit is compared
# with, runc and podman for container tests, buildah for `make image`,
# bubblewrap to compare `tinit sandbox` with, gcc for the race detector.
DEB_PACKAGES := tini dumb-init catatonit runc podman buildah bubblewrap gcc util-linux

# Tests skipped for a missing capability append a line here (see
# internal/testenv); `make test` prints the list at the end.
export TINIT_TEST_SKIPLOG := $(CURDIR)/bin/skipped.txt

.PHONY: all build install test soak skipped race integration lint fuzz bench bench-quick bench-smoke demo image deps clean help

all: build

build: ## build the static binary bin/tinit
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/tinit ./cmd/tinit

PREFIX  ?= /usr/local
# The names tinit answers to as a drop-in for its peers (see the README,
# "Personalities"): each a symlink to tinit.
PERSONAS := tini tini-static docker-init dumb-init catatonit

install: build ## install bin/tinit as PREFIX/bin/tinit, and the peers' names as symlinks to it (PREFIX=/usr/local)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 bin/tinit $(DESTDIR)$(PREFIX)/bin/tinit
	@for name in $(PERSONAS); do ln -sfn tinit $(DESTDIR)$(PREFIX)/bin/$$name && echo "$(DESTDIR)$(PREFIX)/bin/$$name -> tinit"; done

test: ## everything: lint, unit tests with -race, tests of the built binary, a benchmark smoke run; no skips allowed
	@mkdir -p bin && rm -f $(TINIT_TEST_SKIPLOG)
	$(MAKE) --no-print-directory deps lint build
	TINIT_TEST_STRICT=1 $(MAKE) --no-print-directory race integration soak bench-smoke
	@$(MAKE) --no-print-directory skipped

skipped: ## list the tests the last run skipped for a missing capability, and why
	@if [ -s $(TINIT_TEST_SKIPLOG) ]; then echo "skipped for a missing capability:"; sort -u $(TINIT_TEST_SKIPLOG); \
	else echo "skipped for a missing capability: none"; fi

race: ## unit tests of every package with the race detector
	CGO_ENABLED=1 $(GO) test -race -count=1 $$($(GO) list ./... | grep -v /tests$$)

integration: build ## tests of bin/tinit as PID 1, as a subreaper and in containers
	TINIT_BIN=$(CURDIR)/bin/tinit $(GO) test -count=1 -timeout 15m ./tests

soak: build ## long runs: 100 fork-and-exit chains ended per mode without a cgroup (under two minutes)
	TINIT_BIN=$(CURDIR)/bin/tinit TINIT_SOAK=1 $(GO) test -count=1 -timeout 10m -run '^TestForkChainSoak$$' ./tests

lint: ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

fuzz: ## run every fuzz target for FUZZTIME (default 30s) each
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./cmd/tinit
	$(GO) test -run='^$$' -fuzz='^FuzzParseFlat$$' -fuzztime=$(FUZZTIME) ./cmd/tinit
	$(GO) test -run='^$$' -fuzz='^FuzzPersona$$' -fuzztime=$(FUZZTIME) ./cmd/tinit
	$(GO) test -run='^$$' -fuzz='^FuzzExitCode$$' -fuzztime=$(FUZZTIME) ./signals
	$(GO) test -run='^$$' -fuzz='^FuzzParseStat$$' -fuzztime=$(FUZZTIME) ./internal/procfs
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./internal/oci

bench: deps build ## tinit against tini, tini-static, dumb-init, catatonit (10-15 min)
	$(GO) run ./bench -tinit bin/tinit

bench-quick: deps build ## a reduced benchmark run, under a minute
	$(GO) run ./bench -tinit bin/tinit -quick

bench-smoke: build ## one quick benchmark round, results thrown away (no timing is checked)
	@out=$$(mktemp -d); $(GO) run ./bench -tinit bin/tinit -quick -rounds 1 -strict -out $$out >/dev/null; code=$$?; rm -rf $$out; \
	if [ $$code = 0 ]; then echo "bench smoke run: ok"; else echo "bench smoke run: FAILED"; exit 1; fi

demo: build ## run a bundled test suite that leaks processes, bare and under tinit
	./examples/demo.sh

image: build ## build the container image FROM scratch from bin/tinit (offline; see Dockerfile)
	@command -v buildah >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends buildah
	buildah $(BUILDAH_FLAGS) bud --target local -t $(IMAGE) .

deps: ## install the Debian packages the tests and benchmarks need, if missing
	@missing=$$(for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y --no-install-recommends $$missing || \
		{ apt-get update && apt-get install -y --no-install-recommends $$missing; }; \
	fi

clean: ## remove build outputs
	rm -rf bin

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'
