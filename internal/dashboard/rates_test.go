package dashboard

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/testkit"
)

// TestRates_FromARealBalancer sends requests through a real balancer to
// two real targets, one slow and fine, one fast and failing, and checks
// the Stats of the group and of each target against what the targets saw.
func TestRates_FromARealBalancer(t *testing.T) {
	var slowHits, failHits atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			slowHits.Add(1)
			time.Sleep(30 * time.Millisecond)
		}
	}))
	defer slow.Close()
	fail := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			failHits.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer fail.Close()

	b := proxy.New(proxy.Options{})
	defer b.Close(context.Background())
	group := proxy.TargetGroupConfig{
		HealthCheck: proxy.HealthCheckConfig{Path: "/health", Interval: 50 * time.Millisecond, Timeout: time.Second,
			HealthyThreshold: 2, UnhealthyThreshold: 2, Success: proxy.Matcher{{Lo: 200, Hi: 200}}},
		Targets: []string{slow.Listener.Addr().String(), fail.Listener.Addr().String()},
	}
	err := b.Apply(context.Background(), proxy.Config{
		Listeners:    []proxy.ListenerConfig{{Name: "web/0", Address: "127.0.0.1:0", TargetGroup: "api", IdleTimeout: time.Minute}},
		TargetGroups: map[string]proxy.TargetGroupConfig{"api": group},
	})
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "both targets healthy", func() bool {
		n := 0
		for _, th := range b.Targets() {
			if th.State == proxy.StateHealthy {
				n++
			}
		}
		return n == 2
	})

	var r rates
	t0 := time.Now()
	r.update(b, t0)
	if len(r.stats) != 0 {
		t.Errorf("stats after the first read: %v, want none (no window yet)", r.stats)
	}
	url := "http://" + b.ListenerAddrs()[0] + "/"
	for range 20 {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	r.update(b, t0.Add(500*time.Millisecond)) // within the window: no change
	if len(r.stats) != 0 {
		t.Fatalf("stats within the first window: %v", r.stats)
	}
	r.update(b, t0.Add(2*time.Second))

	slowAddr, failAddr := "api|"+slow.Listener.Addr().String(), "api|"+fail.Listener.Addr().String()
	ok, bad := float64(slowHits.Load()), float64(failHits.Load())
	if ok+bad != 20 || ok == 0 || bad == 0 {
		t.Fatalf("the targets saw %v and %v requests, want 20 in all, some each", ok, bad)
	}
	g, s, f := r.stats["api"], r.stats[slowAddr], r.stats[failAddr]
	if g.RequestsPerSecond != 10 || g.Errors5xxPerSecond != bad/2 || g.Errors4xxPerSecond != 0 {
		t.Errorf("group: %+v, want 10 req/s and %v 5xx/s over the 2 s window", g, bad/2)
	}
	if s.RequestsPerSecond != ok/2 || s.Errors5xxPerSecond != 0 || f.RequestsPerSecond != bad/2 || f.Errors5xxPerSecond != bad/2 {
		t.Errorf("targets: slow %+v, failing %+v; want %v req/s, 0 5xx/s and %v req/s all 5xx", s, f, ok/2, bad/2)
	}
	if s.P50Ms < 30 || s.P99Ms < s.P50Ms || f.P50Ms >= s.P50Ms || g.P99Ms < s.P50Ms {
		t.Errorf("latency: slow p50 %v p99 %v, failing p50 %v, group p99 %v; want the slow target's p50 ≥ 30 ms and above the failing one's",
			s.P50Ms, s.P99Ms, f.P50Ms, g.P99Ms)
	}
	if n := r.requests("api"); n != 20 {
		t.Errorf("requests since configured: %d, want 20", n)
	}

	// A quiet window: no requests, and no response times to rank.
	r.update(b, t0.Add(3*time.Second))
	if g := r.stats["api"]; g.RequestsPerSecond != 0 || g.P50Ms == 0 {
		t.Errorf("quiet window: %+v, want 0 req/s, percentiles still over the last %d windows", g, latencyWindows)
	}
	for i := 4; i <= 3+latencyWindows; i++ {
		r.update(b, t0.Add(time.Duration(i)*time.Second))
	}
	if g := r.stats["api"]; g.P50Ms != 0 {
		t.Errorf("after %d quiet windows: %+v, want no percentiles", latencyWindows, g)
	}
}
