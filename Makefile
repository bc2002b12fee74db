# `make test` is the test command README.md and .ci/run use.
GO ?= go

.PHONY: test check build run bench bench-lb

test:
	$(GO) test -race -count=1 ./...

# Formatting and static checks, as CI runs them.
check:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

# Throughput of the load balancer against peers in the same run (figures
# printed by the benchmark; see internal/proxy/bench_test.go).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 20000x -count 3 ./internal/proxy/

# shoal's listener against HAProxy in front of the same tasks, under wrk
# (needs wrk and haproxy; bounded by DURATION, default 10s per run).
bench-lb:
	bench/lb.sh

build:
	$(GO) build -o bin/shoal ./cmd/shoal

run:
	$(GO) run ./cmd/shoal up -f examples/catalog/shoal.yaml
