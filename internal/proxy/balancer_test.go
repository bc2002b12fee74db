package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBalancer_RoundRobinSpreadsEvenly(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	a, b, c := newBackend(t, "a"), newBackend(t, "b"), newBackend(t, "c")
	h.register(a.addr, b.addr, c.addr)
	for _, addr := range []string{a.addr, b.addr, c.addr} {
		h.waitState(addr, StateHealthy)
	}
	got := h.countBodies(30)
	if diff := cmp.Diff(map[string]int{"a": 10, "b": 10, "c": 10}, got); diff != "" {
		t.Errorf("requests per backend (-want +got):\n%s", diff)
	}
}

func TestBalancer_OnlyHealthyTargetsGetTraffic(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	a, b, sick := newBackend(t, "a"), newBackend(t, "b"), newBackend(t, "sick")
	sick.health.Store(http.StatusServiceUnavailable)
	h.register(a.addr, b.addr)
	h.registerOnly(sick.addr)
	h.settle(3)
	if got := h.countBodies(20); !cmp.Equal(got, map[string]int{"a": 10, "b": 10}) {
		t.Errorf("with sick still initial: got %v, want a and b 10 each", got)
	}
	h.tick(3)
	h.waitState(sick.addr, StateUnhealthy)
	if got := h.countBodies(20); !cmp.Equal(got, map[string]int{"a": 10, "b": 10}) {
		t.Errorf("with sick unhealthy: got %v, want a and b 10 each", got)
	}
}

func TestBalancer_FailsOpenWhenNoTargetIsHealthy(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	a, b := newBackend(t, "a"), newBackend(t, "b")
	a.health.Store(http.StatusInternalServerError)
	b.health.Store(http.StatusInternalServerError)
	h.registerOnly(a.addr, b.addr)
	h.settle(2)
	h.tick(2)
	h.waitState(a.addr, StateUnhealthy)
	h.waitState(b.addr, StateUnhealthy)
	if got := h.countBodies(10); !cmp.Equal(got, map[string]int{"a": 5, "b": 5}) {
		t.Errorf("failing open: got %v, want a and b 5 each", got)
	}
}

func TestBalancer_Register(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	bk := newBackend(t, "a")
	if err := h.b.Register("nope", bk.addr); !errors.Is(err, ErrUnknownTargetGroup) {
		t.Errorf("unknown group: got %v, want ErrUnknownTargetGroup", err)
	}
	for _, bad := range []string{"127.0.0.1", "127.0.0.1:0", ":80", "127.0.0.1:http"} {
		if err := h.b.Register("api", bad); err == nil {
			t.Errorf("Register(%q): got nil error, want one", bad)
		}
	}
	h.register(bk.addr)
	h.register(bk.addr) // no-op
	h.waitState(bk.addr, StateHealthy)
	if n := len(h.b.Targets()); n != 1 {
		t.Errorf("targets: got %d, want 1", n)
	}
	if err := h.b.Deregister(context.Background(), "api", "127.0.0.1:1"); err != nil {
		t.Errorf("Deregister of an unregistered target: %v", err)
	}
	if err := h.b.Deregister(context.Background(), "nope", bk.addr); err != nil {
		t.Errorf("Deregister in an unknown group: %v", err)
	}
}

func TestBalancer_ApplyIsAllOrNothing(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	bk := newBackend(t, "a")
	h.register(bk.addr)
	h.waitState(bk.addr, StateHealthy)
	before := h.b.ListenerAddrs()

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := singleListener("api", testGroup(), 0)
	cfg.TargetGroups["other"] = testGroup()
	cfg.Listeners = append(cfg.Listeners,
		ListenerConfig{Name: "web/1", Address: "127.0.0.1:0", TargetGroup: "other", IdleTimeout: defaultIdle},
		ListenerConfig{Name: "web/2", Address: taken.Addr().String(), TargetGroup: "other", IdleTimeout: defaultIdle})
	err = h.b.Apply(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Fatalf("Apply with a taken port: got %v, want an error naming %s", err, taken.Addr())
	}

	if diff := cmp.Diff(before, h.b.ListenerAddrs()); diff != "" {
		t.Errorf("listeners changed (-before +after):\n%s", diff)
	}
	if code, body := h.mustGet("/"); code != http.StatusOK || body != "a" {
		t.Errorf("GET after the failed Apply: got %d %q, want 200 \"a\"", code, body)
	}
	if got := h.b.Targets(); len(got) != 1 || got[0].Group != "api" {
		t.Errorf("targets after the failed Apply: got %+v, want only a in api", got)
	}
}

func TestBalancer_ApplySwapsRoutesAndKeepsListeners(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	v1, v2 := newBackend(t, "v1"), newBackend(t, "v2")
	h.register(v1.addr)
	h.waitState(v1.addr, StateHealthy)
	before := h.b.ListenerAddrs()

	// Same listener (port 0 kept), now forwarding to a new group with v2
	// as a static target; the old group is dropped.
	tg := testGroup()
	tg.Targets = []string{v2.addr}
	if err := h.b.Apply(context.Background(), singleListener("v2", tg, 0)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, h.b.ListenerAddrs()); diff != "" {
		t.Errorf("listener rebound (-before +after):\n%s", diff)
	}
	waitFor(t, "v2 healthy", func() bool {
		got := h.b.Targets()
		return len(got) == 1 && got[0].Group == "v2" && got[0].State == StateHealthy
	})
	if code, body := h.mustGet("/"); code != http.StatusOK || body != "v2" {
		t.Errorf("GET after Apply: got %d %q, want 200 \"v2\"", code, body)
	}
	waitFor(t, "v1 of the dropped group to end unused", func() bool {
		ev := h.eventsOf(v1.addr)
		return len(ev) > 0 && ev[len(ev)-1].To == StateUnused
	})

	tg.Targets = nil // static target removed: drained (nothing in flight) and dropped
	if err := h.b.Apply(context.Background(), singleListener("v2", tg, 0)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "v2 gone", func() bool { return len(h.b.Targets()) == 0 })
	if code, _ := h.mustGet("/"); code != http.StatusServiceUnavailable {
		t.Errorf("GET with no target: got %d, want 503", code)
	}
}

func TestBalancer_ApplyClosesRemovedListeners(t *testing.T) {
	b := New(Options{})
	t.Cleanup(func() { b.Close(context.Background()) })
	cfg := singleListener("api", testGroup(), 0)
	cfg.Listeners = append(cfg.Listeners, ListenerConfig{Name: "web/1", Address: "127.0.0.1:0", TargetGroup: "api", IdleTimeout: defaultIdle})
	if err := b.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	addrs := b.ListenerAddrs()
	if err := b.Apply(context.Background(), singleListener("api", testGroup(), 0)); err != nil {
		t.Fatal(err)
	}
	if got := b.ListenerAddrs(); !cmp.Equal(got, addrs[:1]) {
		t.Errorf("listeners: got %v, want %v", got, addrs[:1])
	}
	// The port is free at once: it can be bound again.
	l, err := net.Listen("tcp", addrs[1])
	if err != nil {
		t.Fatalf("removed listener's port: %v", err)
	}
	l.Close()
}

func TestBalancer_ApplyRejectsBadConfig(t *testing.T) {
	b := New(Options{})
	t.Cleanup(func() { b.Close(context.Background()) })
	dup := singleListener("api", testGroup(), 0)
	dup.Listeners = append(dup.Listeners, ListenerConfig{Name: "web/1", Address: "127.0.0.1:8080", TargetGroup: "api", IdleTimeout: defaultIdle},
		ListenerConfig{Name: "web/2", Address: "127.0.0.1:8080", TargetGroup: "api", IdleTimeout: defaultIdle})
	bad := testGroup()
	bad.Targets = []string{"nowhere"}
	noCodes := testGroup()
	noCodes.HealthCheck.Success = nil
	noIdle := singleListener("api", testGroup(), 0)
	noIdle.Listeners[0].IdleTimeout = 0
	tests := map[string]Config{
		"unknown group":     singleListener("api", testGroup(), 0),
		"duplicate address": dup,
		"bad static target": singleListener("api", bad, 0),
		"no success codes":  singleListener("api", noCodes, 0),
		"no idle timeout":   noIdle,
	}
	tests["unknown group"].Listeners[0].TargetGroup = "nope"
	for name, cfg := range tests {
		if err := b.Apply(context.Background(), cfg); err == nil {
			t.Errorf("%s: got nil error, want one", name)
		}
	}
	if got := b.ListenerAddrs(); len(got) != 0 {
		t.Errorf("listeners after rejected configs: got %v, want none", got)
	}
}

func TestBalancer_CloseLeavesNoGoroutines(t *testing.T) {
	a, slow := newBackend(t, "a"), newBackend(t, "slow")
	tr := &http.Transport{}
	client := &http.Client{Transport: tr}
	base := runtime.NumGoroutine()

	b := New(Options{OnHealthChange: func(HealthChange) {}})
	tg := testGroup()
	tg.HealthCheck.Interval = 20 * time.Millisecond
	tg.HealthCheck.Timeout = 10 * time.Millisecond
	if err := b.Apply(context.Background(), singleListener("api", tg, 0)); err != nil {
		t.Fatal(err)
	}
	url := "http://" + b.ListenerAddrs()[0]
	for _, addr := range []string{a.addr, slow.addr} {
		if err := b.Register("api", addr); err != nil {
			t.Fatal(err)
		}
	}
	settleTargets(t, b)
	for range 4 {
		if resp, err := client.Get(url + "/"); err == nil {
			resp.Body.Close()
		}
	}
	// A request that never ends, on a target being drained.
	go func() {
		if resp, err := client.Get(url + "/slow"); err == nil {
			resp.Body.Close()
		}
	}()
	stuck := a.addr // round robin picks either backend
	select {
	case <-a.entered:
	case <-slow.entered:
		stuck = slow.addr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := b.Deregister(ctx, "api", stuck); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Deregister with a request in flight: got %v, want deadline exceeded", err)
	}
	if err := b.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close with a request in flight: got %v, want deadline exceeded", err)
	}
	tr.CloseIdleConnections()
	checkNoLeak(t, base)
	if err := b.Register("api", a.addr); !errors.Is(err, ErrClosed) {
		t.Errorf("Register after Close: got %v, want ErrClosed", err)
	}
}

func TestBalancer_AbortedChangeChangesNothing(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	bk := newBackend(t, "a")
	h.register(bk.addr)
	h.waitState(bk.addr, StateHealthy)
	before := h.b.ListenerAddrs()

	cfg := singleListener("other", testGroup(), 0)
	cfg.Listeners[0].Address = "127.0.0.1:0"
	cfg.Listeners[0].Name = "web/9" // a new listener: bound by Prepare
	c, err := h.b.Prepare(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	bound := c.bound[0].ln.Addr().String()
	c.Abort()
	if diff := cmp.Diff(before, h.b.ListenerAddrs()); diff != "" {
		t.Errorf("listeners changed by an aborted change (-before +after):\n%s", diff)
	}
	if code, body := h.mustGet("/"); code != http.StatusOK || body != "a" {
		t.Errorf("GET after Abort: got %d %q, want 200 \"a\"", code, body)
	}
	l, err := net.Listen("tcp", bound)
	if err != nil {
		t.Fatalf("the aborted change's listener still holds %s: %v", bound, err)
	}
	l.Close()
	if err := c.Commit(); err == nil {
		t.Errorf("Commit after Abort: got nil, want an error")
	}
}

func TestBalancer_CommitAfterAnotherCommitConflicts(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	first, err := h.b.Prepare(context.Background(), singleListener("one", testGroup(), 0))
	if err != nil {
		t.Fatal(err)
	}
	second, err := h.b.Prepare(context.Background(), singleListener("two", testGroup(), 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := second.Commit(); !errors.Is(err, ErrConflict) {
		t.Fatalf("second Commit: got %v, want ErrConflict", err)
	}
	if err := h.b.Register("one", "127.0.0.1:1"); err != nil {
		t.Errorf("the first change is not the one serving: %v", err)
	}
}

func TestBalancer_RemovedGroupDrainsItsTargets(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	old, next := newBackend(t, "old"), newBackend(t, "next")
	h.register(old.addr)
	h.waitState(old.addr, StateHealthy)
	slow := h.slowRequest()
	<-old.entered

	// The listener now forwards to another group; api is gone from the
	// config, with a request in flight on old.
	tg := testGroup()
	tg.Targets = []string{next.addr}
	if err := h.b.Apply(context.Background(), singleListener("v2", tg, 0)); err != nil {
		t.Fatal(err)
	}
	h.waitState(old.addr, StateDraining)
	if err := h.b.Register("api", old.addr); !errors.Is(err, ErrUnknownTargetGroup) {
		t.Errorf("Register in the removed group: got %v, want ErrUnknownTargetGroup", err)
	}
	done := h.deregister(context.Background(), old.addr) // what a task's teardown does
	select {
	case err := <-done:
		t.Fatalf("Deregister from the removed group returned (%v) with a request in flight", err)
	default:
	}
	old.unblock()
	if got := within(t, "the slow request", slow); got != "200 old <nil>" {
		t.Errorf("request in flight on the removed group: got %q, want 200 old", got)
	}
	if err := within(t, "Deregister", done); err != nil {
		t.Errorf("Deregister: %v", err)
	}
	if _, ok := h.target(old.addr); ok {
		t.Errorf("old is still listed once drained")
	}
	h.b.mu.Lock()
	retiring := len(h.b.retiring)
	h.b.mu.Unlock()
	if err := h.b.Apply(context.Background(), singleListener("v2", tg, 0)); err != nil {
		t.Fatal(err)
	}
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	if retiring != 1 || len(h.b.retiring) != 0 {
		t.Errorf("retiring groups: got %d while draining and %d after the next Apply, want 1 then 0", retiring, len(h.b.retiring))
	}
}
