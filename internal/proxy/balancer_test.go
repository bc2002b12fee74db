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
	"github.com/shoalhq/shoal/internal/spec"
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
	h.register(a.addr, b.addr, sick.addr)
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
	h.register(a.addr, b.addr)
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
		ListenerConfig{Name: "web/1", Address: "127.0.0.1:0", TargetGroup: "other"},
		ListenerConfig{Name: "web/2", Address: taken.Addr().String(), TargetGroup: "other"})
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
	if ev := h.eventsOf(v1.addr); len(ev) == 0 || ev[len(ev)-1].To != StateUnused {
		t.Errorf("v1 of the dropped group: got changes %+v, want it to end unused", ev)
	}

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
	cfg.Listeners = append(cfg.Listeners, ListenerConfig{Name: "web/1", Address: "127.0.0.1:0", TargetGroup: "api"})
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
	dup.Listeners = append(dup.Listeners, ListenerConfig{Name: "web/1", Address: "127.0.0.1:8080", TargetGroup: "api"},
		ListenerConfig{Name: "web/2", Address: "127.0.0.1:8080", TargetGroup: "api"})
	badTarget := singleListener("api", testGroup(), 0)
	badTarget.TargetGroups["api"].Targets = []string{"nowhere"}
	tests := map[string]Config{
		"unknown group":     singleListener("api", testGroup(), 0),
		"duplicate address": dup,
		"bad static target": badTarget,
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
	tg.HealthCheck.Interval = spec.Duration(20 * time.Millisecond)
	tg.HealthCheck.Timeout = spec.Duration(10 * time.Millisecond)
	if err := b.Apply(context.Background(), singleListener("api", tg, 0)); err != nil {
		t.Fatal(err)
	}
	url := "http://" + b.ListenerAddrs()[0]
	for _, addr := range []string{a.addr, slow.addr} {
		if err := b.Register("api", addr); err != nil {
			t.Fatal(err)
		}
	}
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

func TestConfigFromStack(t *testing.T) {
	fwd := func(tg string) spec.Action { return spec.Action{Forward: &spec.ForwardAction{TargetGroup: tg}} }
	s := &spec.Stack{
		LoadBalancers: map[string]*spec.LoadBalancer{
			"web": {IdleTimeout: spec.Duration(30 * time.Second), Listeners: []*spec.Listener{
				{Port: 8080, DefaultAction: fwd("api")},
				{Port: 0, Address: "0.0.0.0", DefaultAction: fwd("static")},
			}},
			"admin": {Listeners: []*spec.Listener{{Port: 9000, Address: "::1", DefaultAction: fwd("api")}}},
		},
		TargetGroups: map[string]*spec.TargetGroup{"api": testGroup(), "static": testGroup()},
	}
	got := ConfigFromStack(s)
	want := []ListenerConfig{
		{Name: "admin/0", Address: "[::1]:9000", TargetGroup: "api"},
		{Name: "web/0", Address: "127.0.0.1:8080", TargetGroup: "api", IdleTimeout: 30 * time.Second},
		{Name: "web/1", Address: "0.0.0.0:0", TargetGroup: "static", IdleTimeout: 30 * time.Second},
	}
	if diff := cmp.Diff(want, got.Listeners); diff != "" {
		t.Errorf("listeners (-want +got):\n%s", diff)
	}
	if len(got.TargetGroups) != 2 {
		t.Errorf("target groups: got %d, want 2", len(got.TargetGroups))
	}
}
