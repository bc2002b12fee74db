package proxy

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBalancer_HealthFaultTurnsTargetUnhealthyThenHealthy(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	a, b := newBackend(t, "a"), newBackend(t, "b")
	h.register(a.addr, b.addr)
	h.settle(2)
	if err := h.b.SetHealthFault("api", a.addr, true); err != nil {
		t.Fatal(err)
	}
	h.tick(2)
	if th, _ := h.target(a.addr); th.State != StateHealthy {
		t.Fatalf("after 1 failed check: got %s, want healthy (unhealthy threshold 2)", th.State)
	}
	h.tick(2)
	h.waitState(a.addr, StateUnhealthy)
	th, _ := h.target(a.addr)
	if th.Fault != "health checks fail" {
		t.Errorf("fault note: got %q, want %q", th.Fault, "health checks fail")
	}
	if th.Reason != ReasonFailedHealthChecks || !strings.Contains(th.Description, "fault injection") {
		t.Errorf("got reason %s (%q), want %s naming the fault", th.Reason, th.Description, ReasonFailedHealthChecks)
	}
	if got := h.countBodies(10); !cmp.Equal(got, map[string]int{"b": 10}) {
		t.Errorf("with a unhealthy: got %v, want b 10", got)
	}
	if err := h.b.SetHealthFault("api", a.addr, false); err != nil {
		t.Fatal(err)
	}
	for range 3 { // healthy threshold
		h.tick(2)
	}
	h.waitState(a.addr, StateHealthy)
}

func TestBalancer_FaultOnUnknownGroupOrTargetFails(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	if err := h.b.SetHealthFault("nope", "127.0.0.1:1", true); !errors.Is(err, ErrUnknownTargetGroup) {
		t.Errorf("unknown group: got %v, want ErrUnknownTargetGroup", err)
	}
	if err := h.b.SetHealthFault("api", "127.0.0.1:1", true); !errors.Is(err, ErrUnknownTarget) {
		t.Errorf("unknown target: got %v, want ErrUnknownTarget", err)
	}
	if err := h.b.SetResponseFault("nope", &ResponseFault{Fraction: 1, Status: 503}); !errors.Is(err, ErrUnknownTargetGroup) {
		t.Errorf("unknown group: got %v, want ErrUnknownTargetGroup", err)
	}
}

func TestBalancer_ErrorFaultAnswersAsTarget(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	a := newBackend(t, "a")
	h.register(a.addr)
	if err := h.b.SetResponseFault("api", &ResponseFault{Fraction: 1, Status: 502}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if code, body := h.mustGet("/"); code != http.StatusBadGateway {
			t.Fatalf("got %d (%s), want 502", code, body)
		}
	}
	if a.hits.Load() != 0 {
		t.Errorf("target got %d requests, want 0", a.hits.Load())
	}
	m, _ := h.b.GroupMetrics("api")
	if m.Target5XX != 5 || m.ELB5XX != 0 {
		t.Errorf("got target 5xx %d, ELB 5xx %d; want 5 and 0", m.Target5XX, m.ELB5XX)
	}
	if th, _ := h.target(a.addr); th.Fault != "502 on 100% of the group's requests" {
		t.Errorf("fault note: got %q", th.Fault)
	}
	if err := h.b.SetResponseFault("api", nil); err != nil {
		t.Fatal(err)
	}
	if th, _ := h.target(a.addr); th.Fault != "" {
		t.Errorf("fault note after the fault: got %q, want none", th.Fault)
	}
	if code, body := h.mustGet("/"); code != http.StatusOK || body != "a" {
		t.Errorf("after the fault: got %d %q, want 200 a", code, body)
	}
}

func TestBalancer_LatencyFaultDelays(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	a := newBackend(t, "a")
	h.register(a.addr)
	const delay = 200 * time.Millisecond
	if err := h.b.SetResponseFault("api", &ResponseFault{Fraction: 1, Delay: delay}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if code, body := h.mustGet("/"); code != http.StatusOK || body != "a" {
		t.Errorf("got %d %q, want 200 a", code, body)
	}
	if took := time.Since(start); took < delay {
		t.Errorf("took %v, want at least %v", took, delay)
	}
}

// With no fault set, the forward path pays one atomic load: nothing else
// changes, and no allocation is added.
func TestBalancer_NoFaultLeavesForwardingAlone(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	a := newBackend(t, "a")
	h.register(a.addr)
	g := h.b.table.Load().groups["api"]
	if f := g.fault.Load(); f != nil {
		t.Fatalf("a new group has fault %+v", f)
	}
	if got := h.countBodies(5); !cmp.Equal(got, map[string]int{"a": 5}) {
		t.Errorf("got %v, want a 5", got)
	}
	if m, _ := h.b.GroupMetrics("api"); m.Target2XX != 5 {
		t.Errorf("got target 2xx %d, want 5", m.Target2XX)
	}
}

func TestBalancer_ErrorFaultTouchesItsFraction(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	a := newBackend(t, "a")
	h.register(a.addr)
	if err := h.b.SetResponseFault("api", &ResponseFault{Fraction: 0.5, Status: 503}); err != nil {
		t.Fatal(err)
	}
	const n = 200
	failed := 0
	for range n {
		if code, _ := h.mustGet("/"); code == http.StatusServiceUnavailable {
			failed++
		}
	}
	// 50% of 200: outside 60-140 with a probability below 1e-8.
	if failed < 60 || failed > 140 || int(a.hits.Load()) != n-failed {
		t.Errorf("got %d of %d answered 503 and %d at the target; want about half, the rest at the target", failed, n, a.hits.Load())
	}
}
