package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// slowRequest sends GET /slow and reports its outcome on the channel.
func (h *harness) slowRequest() <-chan string {
	out := make(chan string, 1)
	go func() {
		code, body, err := h.get("/slow")
		out <- fmt.Sprint(code, " ", body, " ", err)
	}()
	return out
}

// deregister calls Deregister on a goroutine and reports its error.
func (h *harness) deregister(ctx context.Context, addr string) <-chan error {
	out := make(chan error, 1)
	go func() { out <- h.b.Deregister(ctx, "api", addr) }()
	return out
}

// within waits for a value on c, failing the test after a deadline.
func within[T any](t *testing.T, what string, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func TestTargetGroup_DrainWaitsForInflight(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	old, next := newBackend(t, "old"), newBackend(t, "next")
	h.register(old.addr)
	h.waitState(old.addr, StateHealthy)
	slow := h.slowRequest()
	<-old.entered
	h.register(next.addr)
	h.waitState(next.addr, StateHealthy)

	done := h.deregister(context.Background(), old.addr)
	h.waitState(old.addr, StateDraining)
	if got := h.countBodies(6); !cmp.Equal(got, map[string]int{"next": 6}) {
		t.Errorf("requests during the drain: got %v, want all 6 on next", got)
	}
	th, _ := h.target(old.addr)
	if th.InFlight != 1 || th.Reason != ReasonDeregistrationInProgress {
		t.Errorf("draining target: got in flight %d reason %s, want 1 and %s", th.InFlight, th.Reason, ReasonDeregistrationInProgress)
	}
	select {
	case err := <-done:
		t.Fatalf("Deregister returned (%v) with a request in flight", err)
	default:
	}

	old.unblock()
	if got := within(t, "the slow request", slow); got != "200 old <nil>" {
		t.Errorf("slow request: got %q, want 200 old", got)
	}
	if err := within(t, "Deregister", done); err != nil {
		t.Errorf("Deregister: %v", err)
	}
	if _, ok := h.target(old.addr); ok {
		t.Errorf("old is still listed after Deregister returned")
	}
	waitFor(t, "4 changes of old", func() bool { return len(h.eventsOf(old.addr)) == 4 })
	var got []string
	for _, c := range h.eventsOf(old.addr) {
		got = append(got, string(c.From)+"→"+string(c.To)+" "+string(c.Reason))
	}
	want := []string{
		"unused→initial Elb.RegistrationInProgress",
		"initial→healthy ",
		"healthy→draining Target.DeregistrationInProgress",
		"draining→unused Target.NotRegistered",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes of old (-want +got):\n%s", diff)
	}
}

func TestTargetGroup_DrainEndsAfterDeregistrationDelay(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	stuck := newBackend(t, "stuck")
	defer stuck.unblock()
	h.register(stuck.addr)
	h.waitState(stuck.addr, StateHealthy)
	slow := h.slowRequest()
	<-stuck.entered

	first := h.deregister(context.Background(), stuck.addr)
	second := h.deregister(context.Background(), stuck.addr)
	h.waitState(stuck.addr, StateDraining)
	h.clock.Advance(299 * time.Second)
	select {
	case err := <-first:
		t.Fatalf("Deregister returned (%v) before the deregistration delay", err)
	default:
	}
	h.clock.Advance(time.Second)
	if err := within(t, "Deregister", first); err != nil {
		t.Errorf("Deregister: %v", err)
	}
	if err := within(t, "the concurrent Deregister", second); err != nil {
		t.Errorf("concurrent Deregister: %v", err)
	}
	if _, ok := h.target(stuck.addr); ok {
		t.Errorf("stuck is still listed after the drain")
	}
	stuck.unblock()
	if got := within(t, "the slow request", slow); got != "200 stuck <nil>" {
		t.Errorf("request in flight past the drain: got %q, want 200 stuck", got)
	}
}

func TestTargetGroup_DrainWithNothingInFlightEndsAtOnce(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	bk := newBackend(t, "a")
	h.register(bk.addr)
	h.waitState(bk.addr, StateHealthy)
	if err := h.b.Deregister(context.Background(), "api", bk.addr); err != nil {
		t.Fatal(err)
	}
	if got := h.b.Targets(); len(got) != 0 {
		t.Errorf("targets: got %+v, want none", got)
	}
	if code, _ := h.mustGet("/"); code != http.StatusServiceUnavailable {
		t.Errorf("GET: got %d, want 503", code)
	}
	// The address can be registered again.
	h.register(bk.addr)
	h.waitState(bk.addr, StateHealthy)
}

func TestTargetGroup_RegisterWhileDrainingFails(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	bk := newBackend(t, "a")
	defer bk.unblock()
	h.register(bk.addr)
	slow := h.slowRequest()
	<-bk.entered
	h.deregister(context.Background(), bk.addr)
	h.waitState(bk.addr, StateDraining)
	if err := h.b.Register("api", bk.addr); !errors.Is(err, ErrTargetDraining) {
		t.Errorf("Register of a draining target: got %v, want ErrTargetDraining", err)
	}
	bk.unblock()
	within(t, "the slow request", slow)
}
