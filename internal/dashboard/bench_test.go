package dashboard

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/proxy"
)

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDashboardCost measures what the dashboard costs the requests
// the load balancer forwards: the CPU time per request (the balancer's,
// the client's and the target's, all in this process) with no dashboard,
// with a dashboard served but no page open, and with one page open (its
// event stream reading the counters every 250 ms), b.N requests each, in
// turns. It reports each as cpu-ns/req, and the last two as ratios to
// the first: the dashboard never touches the forward path, so with no
// page open the ratio is 1 within the noise.
func BenchmarkDashboardCost(b *testing.B) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer target.Close()
	lb := proxy.New(proxy.Options{})
	defer lb.Close(context.Background())
	err := lb.Apply(context.Background(), proxy.Config{
		Listeners: []proxy.ListenerConfig{{Name: "web/0", Address: "127.0.0.1:0", TargetGroup: "api", IdleTimeout: time.Minute}},
		TargetGroups: map[string]proxy.TargetGroupConfig{"api": {
			HealthCheck: proxy.HealthCheckConfig{Path: "/", Interval: 50 * time.Millisecond, Timeout: time.Second,
				HealthyThreshold: 2, UnhealthyThreshold: 2, Success: proxy.Matcher{{Lo: 200, Hi: 200}}},
			Targets: []string{target.Listener.Addr().String()},
		}},
	})
	if err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for lb.Targets()[0].State != proxy.StateHealthy {
		if time.Now().After(deadline) {
			b.Fatal("the target did not turn healthy within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	url := "http://" + lb.ListenerAddrs()[0] + "/"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	get := func(n int) time.Duration { // the CPU time of n requests
		start := cpuTime(b)
		for range n {
			resp, err := client.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return cpuTime(b) - start
	}
	get(1000) // warm up the connections and pools

	// The three cases take turns, in rounds, so that the machine's drift
	// (other processes, frequency) falls on each alike.
	const rounds = 10
	var none, idle, open time.Duration
	f := newFake()
	b.ResetTimer()
	for i := range rounds {
		n := b.N / rounds
		if i == rounds-1 {
			n = b.N - n*(rounds-1)
		}
		none += get(n)

		d := New(balancerBackend{f, lb}, Options{Token: token})
		srv := httptest.NewServer(d)
		idle += get(n)

		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/events?token="+token, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		read := make(chan struct{})
		go func() { io.Copy(io.Discard, resp.Body); close(read) }()
		open += get(n)
		cancel()
		<-read
		resp.Body.Close()
		d.Close()
		srv.Close()
	}
	b.StopTimer()
	none, idle, open = none/time.Duration(b.N), idle/time.Duration(b.N), open/time.Duration(b.N)

	b.ReportMetric(float64(none.Nanoseconds()), "none-cpu-ns/req")
	b.ReportMetric(float64(idle.Nanoseconds()), "idle-cpu-ns/req")
	b.ReportMetric(float64(open.Nanoseconds()), "open-cpu-ns/req")
	b.ReportMetric(float64(idle)/float64(none), "idle/none")
	b.ReportMetric(float64(open)/float64(none), "open/none")
}

// balancerBackend is the fake stack with the real balancer's counters.
type balancerBackend struct {
	*fakeBackend
	lb *proxy.Balancer
}

func (b balancerBackend) TargetGroups() []string { return b.lb.TargetGroups() }
func (b balancerBackend) GroupMetrics(g string) (proxy.GroupMetrics, bool) {
	return b.lb.GroupMetrics(g)
}
func (b balancerBackend) TargetMetrics(g string) map[string]proxy.GroupMetrics {
	return b.lb.TargetMetrics(g)
}
