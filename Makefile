# `make test` is the test command README.md and .ci/run use.
GO ?= go

# Every Go module in the repository: shoal itself, each example app, and the
# load balancer benchmark's backends and bare proxy (bench/peer).
MODULES := . examples/catalog examples/routing examples/auth bench/peer

# Pinned versions of the static checkers `make check` runs.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
DEADCODE := golang.org/x/tools/cmd/deadcode@v0.52.0

# Platforms shoal must keep building for (Linux amd64 is the host).
CROSS := darwin/amd64 darwin/arm64 linux/arm64

.PHONY: test check build run bench bench-lb first-run test-engines

test:
	@set -e; for m in $(MODULES); do echo "== go test -race ./... in $$m"; (cd $$m && $(GO) test -race -count=1 -timeout 20m ./...); done

# Formatting and static checks, as CI runs them.
check:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) vet ./...); done
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) run $(STATICCHECK) ./...); done
	@out=$$($(GO) run $(DEADCODE) ./...) || exit 1; \
	out=$$(echo "$$out" | grep -v -e '^internal/testkit/' -e '^internal/clock/clocktest/' || true); \
	test -z "$$out" || { echo "$$out"; echo "deadcode: the functions above are never called by shoal (test-only helpers belong in testkit or clocktest)"; exit 1; }
	@set -e; for p in $(CROSS); do echo "== GOOS=$${p%/*} GOARCH=$${p#*/} go build ./..."; GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build ./...; done

# The heavy end-to-end tests against real engines, each built once from its
# pinned module by a .ci/engines-*.sh script and cached in SHOAL_ENGINES_DIR
# (default /var/cache/shoal-engines); not part of `make test`.
test-engines:
	# Kubernetes: etcd, kube-apiserver, controller-manager, scheduler, kwok (docs/export-kubernetes.md).
	.ci/engines-kubernetes.sh
	SHOAL_TEST_ENGINES=1 $(GO) test -count=1 -v -timeout 15m -run 'TestExport_ControlPlane' ./internal/export/kubernetes/
	# Nomad v1.6.3, the last MPL-2.0 release (docs/export-nomad.md); its tests
	# take ~2.5 min: the catalog example, and a broken release reverted.
	nomad=$$(.ci/engines-nomad.sh) && SHOAL_NOMAD=$$nomad SHOAL_TEST_ENGINES=1 $(GO) test -count=1 -v -run '^TestAgent_' -timeout 10m ./internal/export/nomad/

# README's first command on empty Go caches, as on a fresh machine: checks
# that it prints at least every 5 s and reports the time to the first 200
# (minutes; downloads modules).
first-run:
	SHOAL_TEST_COLD=1 $(GO) test -count=1 -v -run TestFirstRun_ColdCaches -timeout 20m ./cmd/shoal

# Throughput of the load balancer against peers in the same run (figures
# printed by the benchmark; see internal/proxy/bench_test.go), what one
# scheduling round costs for a 1000-task service mid-rollout, and the CPU
# per proxied request with no dashboard, a dashboard but no page open, and
# one page open (internal/dashboard/bench_test.go).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 20000x -count 3 ./internal/proxy/
	$(GO) test -run '^$$' -bench . -benchtime 200x -count 3 ./internal/sched/
	$(GO) test -run '^$$' -bench . -benchtime 20000x -count 3 ./internal/dashboard/

# shoal's load balancer against nginx, HAProxy, Caddy and a bare
# httputil.ReverseProxy over the same two backends, each alone on core 0,
# under wrk on core 1: CPU time per request, req/s and p99, and their ratios
# to nginx (docs/performance.md). Needs wrk, nginx, haproxy and caddy;
# DURATION (default 10s) per run, ROUNDS (default 3); JSON=FILE also writes
# the figures as JSON; PROFILE=1 also takes a CPU profile of shoal (up --pprof).
bench-lb:
	bench/lb.sh

# bin/shoal, its `shoal version` the commit it was built from (git describe).
build:
	$(GO) build -ldflags "-X github.com/shoalhq/shoal/internal/cli.Version=$$(git describe --always --dirty 2>/dev/null || echo dev)" -o bin/shoal ./cmd/shoal

run:
	$(GO) run -v ./cmd/shoal up -f examples/catalog/shoal.yaml
