package proxy

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

// testSlowStart is the slow start of the tests: 100 s, within ALB's 30-900.
const testSlowStart = 100 * time.Second

func slowStartGroup() TargetGroupConfig {
	tg := testGroup()
	tg.SlowStart = testSlowStart
	return tg
}

// rampFrom returns when the target addr entered slow start; zero if not.
func (h *harness) rampFrom(addr string) time.Time {
	g := h.group()
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.targets[addr].rampFrom
}

// share sends n requests and returns the share of them bk answered.
func (h *harness) share(bk *backend, n int) float64 {
	h.t.Helper()
	return float64(h.countBodies(n)[bk.name]) / float64(n)
}

func TestSlowStart_ShareGrowsLinearly(t *testing.T) {
	h := newHarness(t, slowStartGroup(), 0)
	old, young := newBackend(t, "old"), newBackend(t, "young")
	h.register(old.addr)
	h.waitState(old.addr, StateHealthy)
	h.register(young.addr)
	h.waitState(young.addr, StateHealthy)
	if got, want := h.rampFrom(young.addr), h.clock.Now(); !got.Equal(want) {
		t.Fatalf("young entered slow start at %v, want %v, when it became healthy", got, want)
	}
	if got := h.rampFrom(old.addr); !got.IsZero() {
		t.Errorf("old entered slow start at %v; the first healthy target must not", got)
	}
	// young's share of two targets grows from 1% of its full share (a
	// half) to all of it; the requests are spread evenly at every length,
	// so 400 of them show the share to within 1%.
	const n = 400
	for _, step := range []struct {
		elapsed time.Duration
		want    float64
	}{
		{0, minRamp / 2},
		{25 * time.Second, 0.125},
		{50 * time.Second, 0.25},
		{75 * time.Second, 0.375},
		{100 * time.Second, 0.5},
		{150 * time.Second, 0.5},
	} {
		h.clock.Advance(step.elapsed - h.clock.Now().Sub(h.rampFrom(young.addr)))
		if got := h.share(young, n); math.Abs(got-step.want) > 0.01 {
			t.Errorf("after %v of slow start: young got share %.4f, want %.4f ± 0.01", step.elapsed, got, step.want)
		}
		e := h.group().explainPick(httptestRequest())
		for _, c := range e.Candidates {
			wantRamp := 0.0 // unset: not in slow start
			if c.Target == young.addr && step.elapsed < testSlowStart {
				wantRamp = max(step.elapsed.Seconds()/testSlowStart.Seconds(), minRamp)
			}
			if math.Abs(c.SlowStartRamp-wantRamp) > 1e-9 {
				t.Errorf("after %v: explainPick says %s ramps at %v, want %v", step.elapsed, c.Target, c.SlowStartRamp, wantRamp)
			}
		}
	}
	if h.group().set.Load().healthy.ramping.Load() {
		t.Errorf("slow start over: the pool still takes the weighted path")
	}
}

func TestSlowStart_TargetsOfAnEmptyGroupDoNotEnter(t *testing.T) {
	h := newHarness(t, slowStartGroup(), 0)
	a, b := newBackend(t, "a"), newBackend(t, "b")
	// Failing their first checks, both are registered before either is
	// healthy.
	a.health.Store(http.StatusInternalServerError)
	b.health.Store(http.StatusInternalServerError)
	h.registerOnly(a.addr, b.addr)
	h.settle(2)
	a.health.Store(http.StatusOK)
	b.health.Store(http.StatusOK)
	h.tick(2)
	h.waitState(a.addr, StateHealthy)
	h.waitState(b.addr, StateHealthy)
	for _, addr := range []string{a.addr, b.addr} {
		if got := h.rampFrom(addr); !got.IsZero() {
			t.Errorf("%s entered slow start at %v: registered into a group with no healthy target, it should not", addr, got)
		}
	}
	if got := h.countBodies(10); got["a"] != 5 || got["b"] != 5 {
		t.Errorf("got %v, want plain round robin: 5 each", got)
	}
}

func TestSlowStart_UnhealthyExitsAndHealthyEntersAgain(t *testing.T) {
	h := newHarness(t, slowStartGroup(), 0)
	a, b := newBackend(t, "a"), newBackend(t, "b")
	h.register(a.addr)
	h.waitState(a.addr, StateHealthy)
	h.register(b.addr)
	h.waitState(b.addr, StateHealthy)
	h.settle(2)
	if h.rampFrom(b.addr).IsZero() {
		t.Fatal("b did not enter slow start")
	}
	b.health.Store(http.StatusInternalServerError)
	h.tick(2)
	h.tick(2)
	h.waitState(b.addr, StateUnhealthy)
	if got := h.rampFrom(b.addr); !got.IsZero() {
		t.Errorf("unhealthy b is still in slow start since %v", got)
	}
	b.health.Store(http.StatusOK)
	for range 3 {
		h.tick(2)
	}
	h.waitState(b.addr, StateHealthy)
	if got, want := h.rampFrom(b.addr), h.clock.Now(); !got.Equal(want) {
		t.Errorf("b healthy again: in slow start since %v, want %v", got, want)
	}
}

func TestSlowStart_TurnedOnLeavesHealthyTargetsAlone(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	a, b := newBackend(t, "a"), newBackend(t, "b")
	h.register(a.addr)
	h.waitState(a.addr, StateHealthy)
	h.register(b.addr)
	h.waitState(b.addr, StateHealthy)
	if err := h.b.Apply(t.Context(), singleListener("api", slowStartGroup(), 0)); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{a.addr, b.addr} {
		if got := h.rampFrom(addr); !got.IsZero() {
			t.Errorf("%s entered slow start when it was turned on", addr)
		}
	}
}

// TestSlowStart_OnlyWithRoundRobin: ALB refuses slow start with the other
// algorithms, and so does Apply, changing nothing.
func TestSlowStart_OnlyWithRoundRobin(t *testing.T) {
	for _, alg := range []string{LeastOutstandingRequests, WeightedRandom} {
		t.Run(alg, func(t *testing.T) {
			b := New(Options{})
			defer b.Close(t.Context())
			tg := slowStartGroup()
			tg.Algorithm = alg
			err := b.Apply(t.Context(), singleListener("api", tg, 0))
			if err == nil || !strings.Contains(err.Error(), "slow start with "+alg) {
				t.Errorf("Apply with slow start and %s: %v, want it refused", alg, err)
			}
			if len(b.ListenerAddrs()) != 0 {
				t.Errorf("a refused config bound listeners: %v", b.ListenerAddrs())
			}
		})
	}
}

func TestSlowStart_EveryCandidateRamping(t *testing.T) {
	// Were the steady target to leave, the ramping ones share everything
	// by ramp.
	p := &pool{targets: make([]*target, 2), rampFrom: []time.Time{testStart, testStart.Add(-50 * time.Second)}}
	now := testStart.Add(25 * time.Second)
	ramping, sum := p.rampSum(now, testSlowStart)
	if ramping != 2 || math.Abs(sum-1) > 1e-9 {
		t.Fatalf("rampSum: got %d targets ramping, sum %v; want 2 and 1", ramping, sum)
	}
	for i, want := range []float64{0.25, 0.75} {
		if got := p.share(i, now, testSlowStart, ramping, sum); math.Abs(got-want) > 1e-9 {
			t.Errorf("share of %d: got %v, want %v", i, got, want)
		}
	}
}
