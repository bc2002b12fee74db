package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/routing"
	"github.com/shoalhq/shoal/internal/testkit"
)

// BenchmarkForward measures a GET through shoal's balancer against two peers
// in the same run: the backend asked directly, and the standard library's
// bare httputil.ReverseProxy (no routing table, health, in-flight counting
// or forwarded headers). The ratios are shoal's cost.
//
//	go test -run '^$' -bench Forward -benchtime 20000x ./internal/proxy/
func BenchmarkForward(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `[{"id":1,"name":"espresso"},{"id":2,"name":"flat white"}]`)
	}))
	defer backend.Close()

	u, _ := url.Parse(backend.URL)
	bare := httptest.NewServer(httputil.NewSingleHostReverseProxy(u))
	defer bare.Close()

	shoal := benchBalancer(b, backend.Listener.Addr().String(), nil)
	// The same with its access log on, written to the null device.
	logged := benchBalancer(b, backend.Listener.Addr().String(), &AccessLogConfig{Path: os.DevNull, Format: FormatALB, LoadBalancer: "web", ID: "0123456789abcdef"})
	for _, c := range []struct {
		name string
		url  string
		lb   *Balancer
	}{
		{"direct", backend.URL, nil},
		{"stdlib-reverseproxy", bare.URL, nil},
		{"shoal", "http://" + shoal.ListenerAddrs()[0], shoal},
		{"shoal-accesslog", "http://" + logged.ListenerAddrs()[0], logged},
	} {
		b.Run(c.name, func(b *testing.B) {
			var before GroupMetrics
			if c.lb != nil {
				before, _ = c.lb.GroupMetrics("api")
			}
			benchGet(b, c.url+"/")
			if c.lb != nil {
				checkBenchMetrics(b, c.lb, before)
			}
		})
	}
}

// checkBenchMetrics checks that the group's metrics counted every request
// of the run (b.N of them, each a 200), and reports the target's median
// response time as the balancer measured it: what of shoal's time per
// request the target took.
func checkBenchMetrics(b *testing.B, lb *Balancer, before GroupMetrics) {
	after, _ := lb.GroupMetrics("api")
	m := after.Sub(before)
	n := uint64(b.N)
	if m.RequestCount != n || m.Target2XX != n || m.TargetResponseTime.Count() != n {
		b.Errorf("metrics of %d requests: RequestCount %d, Target2XX %d, response times %d",
			n, m.RequestCount, m.Target2XX, m.TargetResponseTime.Count())
	}
	b.ReportMetric(float64(m.TargetResponseTime.Quantile(0.5).Nanoseconds()), "target-p50-ns")
}

// benchBalancer is a real balancer with one listener and one healthy
// target; log, when not nil, is the listener's access log.
func benchBalancer(b *testing.B, target string, log *AccessLogConfig) *Balancer {
	b.Helper()
	lb := New(Options{})
	b.Cleanup(func() { lb.Close(context.Background()) })
	cfg := singleListener("api", testGroup(), time.Minute)
	cfg.Listeners[0].AccessLog = log
	if err := lb.Apply(context.Background(), cfg); err != nil {
		b.Fatal(err)
	}
	if err := lb.Register("api", target); err != nil {
		b.Fatal(err)
	}
	testkit.WaitFor(b, 10*time.Second, "target healthy", func() bool {
		ts := lb.Targets()
		return len(ts) == 1 && ts[0].State == StateHealthy
	})
	return lb
}

func benchGet(b *testing.B, url string) {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkRouteDecision measures what the routing table adds to a request:
// reading the request's routing facts, matching the listener's rules and
// finding the forward's target groups, for a listener with only a default
// forward and for one with 10 rules that the request passes through. Set
// against BenchmarkForward/shoal's time per request, it is the share of a
// request's cost the rules take.
func BenchmarkRouteDecision(b *testing.B) {
	r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/items?sort=name", nil)
	r.Header.Set("User-Agent", "bench")
	groups := map[string]*targetGroup{"api": {name: "api"}, "other": {name: "other"}}
	for _, n := range []int{0, 10} {
		lc := ListenerConfig{Name: "web/0", Address: "127.0.0.1:0", TargetGroup: "api", IdleTimeout: time.Minute}
		for i := range n {
			lc.Routes.Rules = append(lc.Routes.Rules, routing.Rule{Priority: i + 1,
				Conditions: []routing.Condition{{Field: routing.PathPattern, Values: []string{fmt.Sprintf("/admin%d/*", i)}}},
				Action:     routing.Action{Type: routing.Forward, Forward: &routing.ForwardAction{Groups: []routing.WeightedGroup{{Name: "other", Weight: 1}}}}})
		}
		rt := newRoute(lc, &listener{port: "8080"}, groups)
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := routingRequest(r, rt.scheme, rt.port)
				_, p := rt.table.Match(&req)
				if rt.forwards[p] == nil {
					b.Fatal("no forward")
				}
			}
		})
	}
}
