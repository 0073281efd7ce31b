# keeper's build, test and benchmark entry points.
GO      ?= go
BIN     ?= bin/keeper
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: all build run test test-short lint bench bench-detach bench-supervise bench-sessions fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/keeper
	@# keeper invoked as dtach is dtach: the example config puts this first in PATH.
	@mkdir -p bin/path && ln -sf ../keeper bin/path/dtach

# run builds keeper and supervises the example config in the foreground.
run: build
	$(BIN) daemon -n -c examples/keeper.conf

test:
	$(GO) test -race -timeout 15m ./...

test-short:
	$(GO) test -short ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench: bench-detach bench-supervise bench-sessions

bench-detach: build
	scripts/bench-detach.sh

bench-supervise: build
	scripts/bench-supervise.sh

bench-sessions: build
	scripts/bench-sessions.sh

clean:
	rm -rf bin
