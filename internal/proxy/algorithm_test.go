package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoalhq/shoal/internal/clock"
)

// idleGroup is a target group of n healthy targets that nothing checks or
// serves, on the real clock: for benchmarks and properties of the pick
// alone.
func idleGroup(tb testing.TB, tg TargetGroupConfig, n int) *targetGroup {
	tb.Helper()
	log := slog.New(slog.DiscardHandler)
	d := &deps{clock: clock.Real{}, log: log, events: newNotifier(nil, log), wg: &sync.WaitGroup{},
		buffers: newBufferPool(), dial: (&net.Dialer{}).DialContext}
	g := newTargetGroup(context.Background(), "api", settingsFrom(tg), d)
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := range n {
		t := newTarget(fmt.Sprintf("127.0.0.1:%d", 20000+i), health{state: StateHealthy}, d.dial, defaultMaxConnsPerTarget)
		g.targets[t.addr] = t
	}
	g.publishLocked()
	return g
}

// group returns the harness's target group api.
func (h *harness) group() *targetGroup { return h.b.table.Load().groups["api"] }

// setWeights gives the targets of g weights, by address, as anomaly
// mitigation would.
func setWeights(g *targetGroup, weights map[string]uint32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for addr, w := range weights {
		g.targets[addr].weight = w
	}
	g.publishLocked()
}

// countPicks picks n times (releasing each pick at once) and counts the
// picks by target address.
func countPicks(t *testing.T, g *targetGroup, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		tg := g.pickBy(g.settings.Load())
		if tg == nil {
			t.Fatal("pick: got no target")
		}
		got[tg.addr]++
		tg.release()
	}
	return got
}

// weightedTolerance is how far the share of a target may stray from its
// weight's share over weightedPicks picks. The count of a target of share
// p is binomial, with a standard deviation of sqrt(p(1-p)/n) of the picks:
// at most 0.005 for 10,000 picks. 0.025 is five of those: a correct pick
// fails the test about once in two million runs.
const (
	weightedPicks     = 10000
	weightedTolerance = 0.025
)

func TestWeightedRandom_HonoursWeights(t *testing.T) {
	tg := testGroup()
	tg.Algorithm = WeightedRandom
	h := newHarness(t, tg, 0)
	a, b, c := newBackend(t, "a"), newBackend(t, "b"), newBackend(t, "c")
	h.register(a.addr, b.addr, c.addr)
	for _, addr := range []string{a.addr, b.addr, c.addr} {
		h.waitState(addr, StateHealthy)
	}
	for _, tc := range []struct {
		name    string
		weights map[string]uint32
	}{
		{"equal weights, as ALB without anomaly mitigation", map[string]uint32{a.addr: 1, b.addr: 1, c.addr: 1}},
		{"weights 1, 3 and 6", map[string]uint32{a.addr: 1, b.addr: 3, c.addr: 6}},
		{"a weight of 0 counts as 1", map[string]uint32{a.addr: 0, b.addr: 1, c.addr: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setWeights(h.group(), tc.weights)
			sum := 0.0
			for _, w := range tc.weights {
				sum += float64(max(w, 1))
			}
			got := countPicks(t, h.group(), weightedPicks)
			for addr, w := range tc.weights {
				want := float64(max(w, 1)) / sum
				if share := float64(got[addr]) / weightedPicks; math.Abs(share-want) > weightedTolerance {
					t.Errorf("%s of weight %d: got share %.3f, want %.3f ± %.3f", addr, w, share, want, weightedTolerance)
				}
			}
		})
	}
	// Through the listener too.
	setWeights(h.group(), map[string]uint32{a.addr: 1, b.addr: 1, c.addr: 1})
	if got := h.countBodies(300); len(got) != 3 {
		t.Errorf("300 requests through the listener: got %v, want all three backends", got)
	}
}

func TestLeastOutstanding_NeverPicksABusierTarget(t *testing.T) {
	tg := testGroup()
	tg.Algorithm = LeastOutstandingRequests
	var groups []*targetGroup
	for n := 1; n <= 6; n++ {
		groups = append(groups, idleGroup(t, tg, n))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 5000 {
		g := groups[rng.IntN(len(groups))]
		p := g.set.Load().candidates()
		least := int64(math.MaxInt64)
		for _, tt := range p.targets {
			f := rng.Int64N(4)
			tt.inflight.Store(f)
			least = min(least, f)
		}
		got := g.pickBy(g.settings.Load())
		if f := got.inflight.Load() - 1; f != least {
			t.Fatalf("case %d: picked a target with %d in flight, want the least, %d (in flight: %v)", n, f, least, inflights(p))
		}
		got.release()
	}
}

func inflights(p *pool) []int64 {
	out := make([]int64, len(p.targets))
	for i, t := range p.targets {
		out[i] = t.inflight.Load()
	}
	return out
}

func TestLeastOutstanding_TiesGoRoundRobin(t *testing.T) {
	tg := testGroup()
	tg.Algorithm = LeastOutstandingRequests
	g := idleGroup(t, tg, 3)
	got := countPicks(t, g, 30)
	want := map[string]int{"127.0.0.1:20000": 10, "127.0.0.1:20001": 10, "127.0.0.1:20002": 10}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("picks with nothing in flight (-want +got):\n%s", diff)
	}
}

func TestLeastOutstanding_HeldRequests(t *testing.T) {
	tg := testGroup()
	tg.Algorithm = LeastOutstandingRequests
	h := newHarness(t, tg, 0)
	bks := []*backend{newBackend(t, "a"), newBackend(t, "b"), newBackend(t, "c")}
	for _, bk := range bks {
		h.register(bk.addr)
		h.waitState(bk.addr, StateHealthy)
	}
	inflight := func() map[string]int {
		out := map[string]int{}
		for _, th := range h.b.Targets() {
			out[th.Target] = th.InFlight
		}
		return out
	}
	// Each request held open goes to a least busy target, so the counts
	// never differ by more than one.
	for k := 1; k <= 6; k++ {
		h.slowRequest()
		waitFor(t, fmt.Sprint(k, " requests in flight"), func() bool {
			sum := 0
			for _, n := range inflight() {
				sum += n
			}
			return sum == k
		})
		lo, hi := math.MaxInt, 0
		for _, n := range inflight() {
			lo, hi = min(lo, n), max(hi, n)
		}
		if hi-lo > 1 {
			t.Fatalf("after %d held requests: in flight %v, want counts within one of each other", k, inflight())
		}
	}
	// a's requests end: every request goes to a, the least busy.
	bks[0].unblock()
	waitFor(t, "a idle", func() bool { return inflight()[bks[0].addr] == 0 })
	if got := h.countBodies(9); !cmp.Equal(got, map[string]int{"a": 9}) {
		t.Errorf("with a idle and b and c holding 2 each: got %v, want all 9 on a", got)
	}
}

// BenchmarkPick measures one pick and release on a group of three healthy
// targets, without stickiness.
func BenchmarkPick(b *testing.B) {
	for _, alg := range []string{RoundRobin, LeastOutstandingRequests, WeightedRandom} {
		b.Run(alg, func(b *testing.B) {
			tg := testGroup()
			tg.Algorithm = alg
			g := idleGroup(b, tg, 3)
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					g.pickFor(w, r).release()
				}
			})
		})
	}
}

// BenchmarkPickSticky measures a pick by a valid AWSALB cookie, which
// opens it and seals a renewed one.
func BenchmarkPickSticky(b *testing.B) {
	g := idleGroup(b, lbCookieGroup(time.Hour), 3)
	p := g.set.Load().candidates()
	c := &http.Cookie{Name: lbCookie, Value: sealCookie(g.d.cookieKey,
		stickyPayload(lbPayload, "api", p.targets[1].addr), time.Now().Add(time.Hour))}
	r := httptestRequest(c)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		t := g.pickFor(w, r)
		if t != p.targets[1] {
			b.Fatalf("picked %s, want %s", t.addr, p.targets[1].addr)
		}
		t.release()
	}
}
