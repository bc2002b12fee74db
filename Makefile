# `make test` is the test command README.md and .ci/run use.
GO ?= go

.PHONY: test check build run bench

test:
	$(GO) test -race -count=1 ./...

# Formatting and static checks, as CI runs them.
check:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

build:
	$(GO) build -o bin/shoal ./cmd/shoal

run:
	$(GO) run ./cmd/shoal up -f examples/catalog/shoal.yaml
