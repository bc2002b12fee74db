package proxy

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// requestsOf returns the Requests of every target of the group, by address.
func (h *harness) requestsOf() map[string]uint64 {
	out := map[string]uint64{}
	for _, th := range h.b.Targets() {
		out[th.Target] = th.Requests
	}
	return out
}

func TestTargetHealth_RequestsCountsWhatEachTargetWasSent(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	a, b := newBackend(t, "a"), newBackend(t, "b")
	h.register(a.addr, b.addr)
	h.waitState(a.addr, StateHealthy)
	h.waitState(b.addr, StateHealthy)
	if diff := cmp.Diff(map[string]uint64{a.addr: 0, b.addr: 0}, h.requestsOf()); diff != "" {
		t.Errorf("before any request (-want +got):\n%s", diff)
	}

	h.countBodies(10)
	h.tick(2) // health checks are not requests
	if diff := cmp.Diff(map[string]uint64{a.addr: 5, b.addr: 5}, h.requestsOf()); diff != "" {
		t.Errorf("after 10 requests (-want +got):\n%s", diff)
	}
	if n := a.hits.Load() + b.hits.Load(); n != 10 {
		t.Errorf("backends served %d requests, want 10", n)
	}
}

func TestTargetHealth_RequestsCountsFailedRequests(t *testing.T) {
	tests := []struct {
		name   string
		target func(t *testing.T) string
		path   string
		code   int
	}{
		{"refused", refusedAddr, "/", http.StatusBadGateway},
		{"broken response", garbageBackend, "/", http.StatusBadGateway},
		{"no answer in time", func(t *testing.T) string { return newBackend(t, "slow").addr }, "/slow", http.StatusGatewayTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, failFastGroup(), 100*time.Millisecond)
			addr := tt.target(t)
			h.registerAs(addr, tt.code) // a failing target: the group fails open to it
			for range 3 {
				if code, body := h.mustGet(tt.path); code != tt.code {
					t.Fatalf("GET %s: got %d %q, want %d", tt.path, code, body, tt.code)
				}
			}
			if got := h.requestsOf()[addr]; got != 3 {
				t.Errorf("Requests: got %d, want 3", got)
			}
		})
	}
}

func TestTargetHealth_RequestsStartsAgainWhenRegisteredAgain(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	a := newBackend(t, "a")
	h.register(a.addr)
	h.waitState(a.addr, StateHealthy)
	h.countBodies(4)

	// Deregistering waits for the drain: nothing is in flight, so at once.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.b.Deregister(ctx, "api", a.addr); err != nil {
		t.Fatalf("Deregister: %v", err)
	}
	if _, ok := h.target(a.addr); ok {
		t.Fatalf("target %s still reported after its drain", a.addr)
	}
	h.register(a.addr)
	if got := h.requestsOf()[a.addr]; got != 0 {
		t.Errorf("Requests right after registering again: got %d, want 0", got)
	}
	h.waitState(a.addr, StateHealthy)
	h.countBodies(2)
	if got := h.requestsOf()[a.addr]; got != 2 {
		t.Errorf("Requests after 2 more requests: got %d, want 2", got)
	}
}
