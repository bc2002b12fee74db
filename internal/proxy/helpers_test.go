package proxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/testkit"

	"github.com/shoalhq/shoal/internal/clock/clocktest"
)

// testInterval is the health check interval of the test groups; with the
// fake clock it passes only when a test advances it.
const testInterval = 10 * time.Second

// testStart is the fake clock's start.
var testStart = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// testGroup is a target group with fast thresholds: healthy 3, unhealthy 2.
func testGroup() TargetGroupConfig {
	return TargetGroupConfig{
		HealthCheck: HealthCheckConfig{
			Path:               "/health",
			Interval:           testInterval,
			Timeout:            2 * time.Second,
			HealthyThreshold:   3,
			UnhealthyThreshold: 2,
			Success:            Matcher{{200, 200}},
		},
		DeregistrationDelay: 300 * time.Second,
	}
}

// defaultIdle is the listeners' idle timeout when a test gives 0.
const defaultIdle = 60 * time.Second

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, 10*time.Second, what, cond)
}

// backend is a real HTTP server standing for a task.
type backend struct {
	name    string
	addr    string
	hits    atomic.Int64 // requests other than health checks
	health  atomic.Int64 // status /health answers, 200 at first
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

// newBackend starts a backend. GET /health answers the health status; /slow
// blocks until unblock (or the request is cancelled); anything else
// answers the backend's name.
func newBackend(t *testing.T, name string) *backend {
	t.Helper()
	bk := &backend{name: name, entered: make(chan struct{}, 64), release: make(chan struct{})}
	bk.health.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(bk.serve))
	bk.addr = srv.Listener.Addr().String()
	t.Cleanup(func() {
		bk.unblock()
		srv.Close()
	})
	return bk
}

func (bk *backend) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/health":
		w.WriteHeader(int(bk.health.Load()))
		return
	case "/slow":
		bk.entered <- struct{}{}
		select {
		case <-bk.release:
		case <-r.Context().Done():
		}
	}
	bk.hits.Add(1)
	io.WriteString(w, bk.name)
}

func (bk *backend) unblock() { bk.once.Do(func() { close(bk.release) }) }

// refusedAddr is an address nothing listens on.
func refusedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// harness is a balancer on a fake clock with one listener, web/0, that
// forwards to the target group api.
type harness struct {
	t      *testing.T
	clock  *clocktest.Fake
	b      *Balancer
	base   string
	client *http.Client

	mu     sync.Mutex
	events []HealthChange
}

func newHarness(t *testing.T, tg TargetGroupConfig, idle time.Duration) *harness {
	t.Helper()
	h := &harness{t: t, clock: clocktest.NewFake(testStart)}
	h.b = New(Options{Clock: h.clock, OnHealthChange: h.record})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.b.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := h.b.Apply(context.Background(), singleListener("api", tg, idle)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	h.base = "http://" + h.b.ListenerAddrs()[0]
	tr := &http.Transport{}
	h.client = &http.Client{Transport: tr}
	t.Cleanup(tr.CloseIdleConnections)
	return h
}

// singleListener is a config with listener web/0 on a free port,
// forwarding to the one group; idle 0 means defaultIdle.
func singleListener(group string, tg TargetGroupConfig, idle time.Duration) Config {
	if idle == 0 {
		idle = defaultIdle
	}
	return Config{
		Listeners: []ListenerConfig{{
			Name: "web/0", Address: "127.0.0.1:0", TargetGroup: group, IdleTimeout: idle,
		}},
		TargetGroups: map[string]TargetGroupConfig{group: tg},
	}
}

func (h *harness) record(c HealthChange) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, c)
}

// eventsOf returns the changes reported for one target so far.
func (h *harness) eventsOf(addr string) []HealthChange {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []HealthChange
	for _, c := range h.events {
		if c.Target == addr {
			out = append(out, c)
		}
	}
	return out
}

// register registers the targets and waits for each to pass its first
// health check: targets still initial get no traffic.
func (h *harness) register(addrs ...string) {
	h.t.Helper()
	h.registerOnly(addrs...)
	for _, a := range addrs {
		h.waitState(a, StateHealthy)
	}
}

// registerAs registers a target that a test expects to answer code: one
// expected to fail (502) must fail its health checks too, and is waited
// for until unhealthy, when the group fails open to it (the group should
// be a failFastGroup); any other until healthy.
func (h *harness) registerAs(addr string, code int) {
	h.t.Helper()
	if code != http.StatusBadGateway {
		h.register(addr)
		return
	}
	h.registerOnly(addr)
	h.waitState(addr, StateUnhealthy)
}

// failFastGroup is a testGroup whose targets turn unhealthy at their first
// failed check.
func failFastGroup() TargetGroupConfig {
	g := testGroup()
	g.HealthCheck.UnhealthyThreshold = 1
	return g
}

// settleTargets waits until no target of b is initial: targets still
// initial get no traffic. A target meant to fail must be in a
// failFastGroup.
func settleTargets(t *testing.T, b *Balancer) {
	t.Helper()
	waitFor(t, "no target initial", func() bool {
		for _, th := range b.Targets() {
			if th.State == StateInitial {
				return false
			}
		}
		return true
	})
}

// registerOnly registers the targets, without waiting for their checks.
func (h *harness) registerOnly(addrs ...string) {
	h.t.Helper()
	for _, a := range addrs {
		if err := h.b.Register("api", a); err != nil {
			h.t.Fatalf("Register(%s): %v", a, err)
		}
	}
}

// target returns the health of addr, if it is in the group.
func (h *harness) target(addr string) (TargetHealth, bool) {
	for _, th := range h.b.Targets() {
		if th.Target == addr {
			return th, true
		}
	}
	return TargetHealth{}, false
}

func (h *harness) waitState(addr string, s State) {
	h.t.Helper()
	waitFor(h.t, addr+" "+string(s), func() bool {
		th, ok := h.target(addr)
		return ok && th.State == s
	})
}

// settle waits until n timers are armed: every checker has done its check
// and is waiting for the next interval.
func (h *harness) settle(n int) {
	h.t.Helper()
	waitFor(h.t, "armed timers", func() bool { return h.clock.Timers() == n })
}

// tick runs one round of health checks on n checkers.
func (h *harness) tick(n int) {
	h.t.Helper()
	h.clock.Advance(testInterval)
	h.settle(n)
}

// get requests path from the listener.
func (h *harness) get(path string) (int, string, error) {
	resp, err := h.client.Get(h.base + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func (h *harness) mustGet(path string) (int, string) {
	h.t.Helper()
	code, body, err := h.get(path)
	if err != nil {
		h.t.Fatalf("GET %s: %v", path, err)
	}
	return code, body
}

// countBodies sends n requests and counts the answers by body.
func (h *harness) countBodies(n int) map[string]int {
	h.t.Helper()
	got := map[string]int{}
	for range n {
		code, body := h.mustGet("/")
		if code != http.StatusOK {
			h.t.Fatalf("GET /: got status %d, want 200 (%s)", code, body)
		}
		got[body]++
	}
	return got
}

// checkNoLeak fails the test if the goroutines do not come back down to
// base.
func checkNoLeak(t *testing.T, base int) {
	t.Helper()
	testkit.Poll(t, 10*time.Second, fmt.Sprintf("goroutines to come back down to %d", base), func() (bool, error) {
		return runtime.NumGoroutine() <= base, nil
	}, func() string {
		buf := make([]byte, 1<<20)
		return string(buf[:runtime.Stack(buf, true)])
	})
}
