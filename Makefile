# Vigil's build, test and benchmark entry points. `make test` is what CI runs.
GO        ?= go
PKGS      ?= ./...
STATICCHECK_VERSION ?= v0.8.2
GOBIN     ?= $(shell $(GO) env GOPATH)/bin
STATICCHECK = $(GOBIN)/staticcheck
GOTESTSUM_VERSION ?= v1.13.0
GOTESTSUM = $(GOBIN)/gotestsum
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION  ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS   := -s -w -X github.com/vigil-monitoring/vigil/internal/export.Version=$(VERSION) -X github.com/vigil-monitoring/vigil/internal/export.Revision=$(REVISION)

.PHONY: all build test lint vet staticcheck unit fuzz-brief fuzz bench demo clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/vigil ./cmd/vigil

## test: vet, staticcheck, every test with the race detector, then every fuzz
## target for a few seconds.
test: lint unit fuzz-brief

lint: vet staticcheck

vet:
	$(GO) vet $(PKGS)

$(STATICCHECK):
	GOBIN=$(GOBIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

staticcheck: $(STATICCHECK)
	$(STATICCHECK) $(PKGS)

$(GOTESTSUM):
	GOBIN=$(GOBIN) $(GO) install gotest.tools/gotestsum@$(GOTESTSUM_VERSION)

## unit: go test through gotestsum, which ends with every skipped test and the
## reason it gave (a missing outside component skips loudly; with CI=true it fails).
unit: $(GOTESTSUM)
	$(GOTESTSUM) --format pkgname-and-test-fails --format-hide-empty-pkg -- -race -count=1 -timeout 20m $(PKGS)

## fuzz-brief: each fuzz target for FUZZTIME (3s); fuzz: for 5 minutes each.
fuzz-brief:
	FUZZTIME=$${FUZZTIME:-3s} scripts/fuzz.sh

fuzz:
	FUZZTIME=$${FUZZTIME:-5m} scripts/fuzz.sh

## bench: Go benchmarks of the hot paths, then the peer comparison harness.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./probes/... ./sla/... ./internal/...
	@if [ -x bench/run.sh ]; then bench/run.sh; fi

demo:
	$(GO) run ./cmd/vigil demo

clean:
	rm -rf bin
