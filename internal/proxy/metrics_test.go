package proxy

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoalhq/shoal/internal/clock/clocktest"
	"github.com/shoalhq/shoal/internal/routing"
)

// tally is what a test checks exactly of GroupMetrics: every counter, and
// how many response times were observed.
type tally struct {
	Requests, T2XX, T3XX, T4XX, T5XX, ELB5XX, Timed uint64
}

func tallyOf(m GroupMetrics) tally {
	return tally{m.RequestCount, m.Target2XX, m.Target3XX, m.Target4XX, m.Target5XX, m.ELB5XX, m.TargetResponseTime.Count()}
}

// metricsTarget is a target server: /health answers 200; /status/N answers
// N (a 3xx with a Location); /sleep?ms=N answers 200 after N ms; /hang
// answers once the request is cancelled; anything else answers name.
func metricsTarget(t *testing.T, name string) string {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/health":
		case strings.HasPrefix(r.URL.Path, "/status/"):
			code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
			if code/100 == 3 {
				w.Header().Set("Location", "/elsewhere")
			}
			w.WriteHeader(code)
		case r.URL.Path == "/sleep":
			ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
			time.Sleep(time.Duration(ms) * time.Millisecond)
		case r.URL.Path == "/hang":
			select {
			case <-r.Context().Done():
			case <-release:
			}
		default:
			io.WriteString(w, name)
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // before Close: cleanups run last first
	return srv.Listener.Addr().String()
}

// metricsGet sends GET path and returns the status, the body and how long
// the answer's headers took to come.
func metricsGet(t *testing.T, client *http.Client, url string) (int, string, time.Duration) {
	t.Helper()
	start := time.Now()
	resp, err := client.Get(url)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), took
}

func pathRule(priority int, path string, a routing.Action) routing.Rule {
	return rule(priority, a, routing.Condition{Field: routing.PathPattern, Values: []string{path}})
}

// TestGroupMetrics_CountsEveryAnswer sends known mixes of requests through
// a real balancer to real targets, and checks every counter of every group
// exactly, and the response times' quantiles within the bucket error.
func TestGroupMetrics_CountsEveryAnswer(t *testing.T) {
	b := New(Options{Clock: clocktest.NewFake(testStart)})
	t.Cleanup(func() { b.Close(context.Background()) })
	groups := []string{"api", "slow", "down", "empty", "blue", "green", "hang", "idle"}
	cfg := Config{
		Listeners: []ListenerConfig{{
			Name: "web/0", Address: "127.0.0.1:0", IdleTimeout: defaultIdle,
			Routes: routing.Listener{
				Rules: []routing.Rule{
					pathRule(1, "/status/*", forwardAction("api")),
					pathRule(2, "/sleep", forwardAction("slow")),
					pathRule(3, "/down", forwardAction("down")),
					pathRule(4, "/empty", forwardAction("empty")),
					pathRule(5, "/split", routing.Action{Type: routing.Forward, Forward: &routing.ForwardAction{
						Groups: []routing.WeightedGroup{{Name: "blue", Weight: 1}, {Name: "green", Weight: 1}}}}),
					pathRule(6, "/redirect", routing.Action{Type: routing.Redirect, Redirect: &routing.RedirectAction{
						Protocol: "HTTPS", Host: "#{host}", Port: "443", Path: "/#{path}", Query: "#{query}", StatusCode: 301}}),
				},
				Default: routing.Action{Type: routing.FixedResponse, Fixed: &routing.FixedResponseAction{StatusCode: 503, Body: "fixed"}},
			},
		}, {
			// Its own listener, for a short idle timeout: 504.
			Name: "web/1", Address: "127.0.0.1:0", TargetGroup: "hang", IdleTimeout: 200 * time.Millisecond,
		}},
		TargetGroups: map[string]TargetGroupConfig{},
	}
	for _, g := range groups {
		cfg.TargetGroups[g] = testGroup()
	}
	cfg.TargetGroups["down"] = failFastGroup()
	if err := b.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	healthy := map[string]string{}
	for _, g := range []string{"api", "slow", "blue", "green", "hang"} {
		healthy[g] = metricsTarget(t, g)
	}
	healthy["idle"] = metricsTarget(t, "idle")
	for g, addr := range healthy {
		if err := b.Register(g, addr); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Register("down", refusedAddr(t)); err != nil { // unhealthy, failed open to: 502
		t.Fatal(err)
	}
	settleTargets(t, b)
	waitFor(t, "targets healthy", func() bool {
		n := 0
		for _, th := range b.Targets() {
			if th.State == StateHealthy {
				n++
			}
		}
		return n == len(healthy)
	})
	// Every target was health checked: none of it counts.
	for _, g := range groups {
		if m, ok := b.GroupMetrics(g); !ok || tallyOf(m) != (tally{}) {
			t.Fatalf("GroupMetrics(%s) after health checks only: %+v, %v; want zeros, true", g, tallyOf(m), ok)
		}
	}

	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	addrs := b.ListenerAddrs()
	web, short := "http://"+addrs[0], "http://"+addrs[1]
	expect := func(path string, want int) (string, time.Duration) {
		t.Helper()
		code, body, took := metricsGet(t, client, web+path)
		if code != want {
			t.Fatalf("GET %s: status %d (%q), want %d", path, code, body, want)
		}
		return body, took
	}

	// api: 5×200, 1×302, 3×404, 2×500 answered by its target.
	var apiTook []time.Duration
	for code, n := range map[int]int{200: 5, 302: 1, 404: 3, 500: 2} {
		for range n {
			_, took := expect(fmt.Sprintf("/status/%d", code), code)
			apiTook = append(apiTook, took)
		}
	}
	// slow: 8 answers after 10 ms, 20 ms … 80 ms.
	var slept, slowTook []time.Duration
	for i := 1; i <= 8; i++ {
		_, took := expect(fmt.Sprintf("/sleep?ms=%d", 10*i), 200)
		slept = append(slept, time.Duration(10*i)*time.Millisecond)
		slowTook = append(slowTook, took)
	}
	for range 4 {
		expect("/down", 502)
	}
	for range 2 {
		expect("/empty", 503)
	}
	if code, body, _ := metricsGet(t, client, short+"/hang"); code != 504 {
		t.Fatalf("GET /hang: status %d (%q), want 504", code, body)
	}
	split := map[string]uint64{}
	for range 40 {
		body, _ := expect("/split", 200)
		split[body]++
	}
	for range 3 { // neither counts anywhere
		expect("/redirect", 301)
		expect("/nowhere", 503)
	}

	want := map[string]tally{
		"api":   {Requests: 11, T2XX: 5, T3XX: 1, T4XX: 3, T5XX: 2, Timed: 11},
		"slow":  {Requests: 8, T2XX: 8, Timed: 8},
		"down":  {Requests: 4, ELB5XX: 4},
		"empty": {Requests: 2, ELB5XX: 2},
		"hang":  {Requests: 1, ELB5XX: 1},
		"blue":  {Requests: split["blue"], T2XX: split["blue"], Timed: split["blue"]},
		"green": {Requests: split["green"], T2XX: split["green"], Timed: split["green"]},
		"idle":  {},
	}
	if split["blue"]+split["green"] != 40 || split["blue"] == 0 || split["green"] == 0 {
		t.Errorf("the 40 weighted requests went %v", split)
	}
	got := map[string]tally{}
	metrics := map[string]GroupMetrics{}
	for _, g := range groups {
		m, ok := b.GroupMetrics(g)
		if !ok {
			t.Fatalf("GroupMetrics(%s): not ok", g)
		}
		got[g], metrics[g] = tallyOf(m), m
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
	if m, ok := b.GroupMetrics("nope"); ok || tallyOf(m) != (tally{}) {
		t.Errorf("GroupMetrics of a group not configured: %+v, %v; want zeros, false", tallyOf(m), ok)
	}

	// Each group has one target (empty none): the target's own counters
	// are its group's, but for the 503s of a group without targets.
	for _, g := range groups {
		tm := b.TargetMetrics(g)
		wantTargets := map[string]tally{}
		switch addr := healthy[g]; {
		case g == "down": // a refused address of the test's
			if len(tm) != 1 {
				t.Fatalf("TargetMetrics(down) has %d targets, want 1", len(tm))
			}
			for a := range tm {
				wantTargets[a] = want[g]
			}
		case addr != "":
			wantTargets[addr] = want[g]
		}
		gotTargets := map[string]tally{}
		for a, m := range tm {
			gotTargets[a] = tallyOf(m)
		}
		if diff := cmp.Diff(wantTargets, gotTargets); diff != "" {
			t.Errorf("TargetMetrics(%s) (-want +got):\n%s", g, diff)
		}
	}
	if tm := b.TargetMetrics("nope"); tm != nil {
		t.Errorf("TargetMetrics of a group not configured: %v, want nil", tm)
	}

	// Each request's response time lies between what its target slept (0
	// for api) and what the client waited, so the k-th smallest does too;
	// the quantile is the upper bound of its bucket: above it, by less
	// than 1/16.
	checkQuantiles := func(group string, h Histogram, low, high []time.Duration) {
		t.Helper()
		low, high = slices.Sorted(slices.Values(low)), slices.Sorted(slices.Values(high))
		for _, q := range []float64{0, 0.1, 0.25, 0.5, 0.9, 0.99, 1} {
			k := max(int(math.Ceil(q*float64(len(low)))), 1) - 1
			got := h.Quantile(q)
			if got <= low[k] || float64(got) > float64(high[k])*17/16 {
				t.Errorf("%s: Quantile(%v) = %v, want above %v and at most %v·17/16", group, q, got, low[k], high[k])
			}
		}
		if mean := h.Sum() / time.Duration(h.Count()); mean < slices.Min(low) || mean > slices.Max(high) {
			t.Errorf("%s: mean %v, want within [%v, %v]", group, mean, slices.Min(low), slices.Max(high))
		}
	}
	checkQuantiles("slow", metrics["slow"].TargetResponseTime, slept, slowTook)
	checkQuantiles("api", metrics["api"].TargetResponseTime, make([]time.Duration, len(apiTook)), apiTook)
	if got := metrics["slow"].TargetResponseTime.Quantile(0.5); got <= 40*time.Millisecond || got > 80*time.Millisecond {
		t.Errorf("slow: median %v, want just over 40 ms (the 4th of 10 ms … 80 ms)", got)
	}
}

// TestGroupMetrics_KeptAcrossApply: a group kept by Apply keeps its
// counters; one removed and configured again starts from zero, and Sub
// across that reads the new counters whole.
func TestGroupMetrics_KeptAcrossApply(t *testing.T) {
	b := New(Options{Clock: clocktest.NewFake(testStart)})
	t.Cleanup(func() { b.Close(context.Background()) })
	config := func(group string, tg TargetGroupConfig) Config {
		return Config{
			Listeners:    []ListenerConfig{{Name: "web/0", Address: "127.0.0.1:0", TargetGroup: group, IdleTimeout: defaultIdle}},
			TargetGroups: map[string]TargetGroupConfig{group: tg, "other": testGroup()},
		}
	}
	apply := func(cfg Config) {
		t.Helper()
		if err := b.Apply(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
	}
	target := metricsTarget(t, "api")
	register := func() {
		t.Helper()
		if err := b.Register("api", target); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "api healthy", func() bool {
			ts := b.Targets()
			return slices.ContainsFunc(ts, func(th TargetHealth) bool { return th.Group == "api" && th.State == StateHealthy })
		})
	}
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	send := func(n int) {
		t.Helper()
		for range n {
			if code, body, _ := metricsGet(t, client, "http://"+b.ListenerAddrs()[0]+"/"); code != 200 {
				t.Fatalf("status %d (%q)", code, body)
			}
		}
	}
	requests := func() (GroupMetrics, uint64) {
		t.Helper()
		m, ok := b.GroupMetrics("api")
		if !ok {
			t.Fatal("GroupMetrics(api): not ok")
		}
		return m, m.RequestCount
	}

	apply(config("api", testGroup()))
	register()
	send(3)
	first, _ := requests()
	changed := testGroup()
	changed.DeregistrationDelay = time.Second
	changed.HealthCheck.Path = "/"
	apply(config("api", changed))
	if _, n := requests(); n != 3 {
		t.Errorf("after an Apply that keeps the group: RequestCount %d, want 3", n)
	}
	send(2)
	kept, n := requests()
	if n != 5 || kept.Target2XX != 5 || kept.TargetResponseTime.Count() != 5 {
		t.Errorf("2 more requests: %+v, want 5 requests, 5 2XX, 5 timed", tallyOf(kept))
	}
	if d := kept.Sub(first); tallyOf(d) != (tally{Requests: 2, T2XX: 2, Timed: 2}) {
		t.Errorf("Sub over the Apply: %+v, want the 2 requests", tallyOf(d))
	}

	apply(config("other", testGroup()))
	if m, ok := b.GroupMetrics("api"); ok {
		t.Errorf("GroupMetrics of a removed group: %+v, ok; want not ok", tallyOf(m))
	}
	apply(config("api", testGroup()))
	if _, n := requests(); n != 0 {
		t.Errorf("a group removed then configured again: RequestCount %d, want 0", n)
	}
	register()
	send(1)
	again, _ := requests()
	if d := again.Sub(kept); tallyOf(d) != (tally{Requests: 1, T2XX: 1, Timed: 1}) {
		t.Errorf("Sub across the removal: %+v, want the new counters whole", tallyOf(d))
	}
	if d := again.Sub(GroupMetrics{}); tallyOf(d) != tallyOf(again) {
		t.Errorf("Sub of the zero GroupMetrics: %+v, want %+v", tallyOf(d), tallyOf(again))
	}
}

func TestHistogram_Empty(t *testing.T) {
	var h Histogram
	if h.Count() != 0 || h.Sum() != 0 {
		t.Errorf("zero Histogram: Count %d, Sum %v", h.Count(), h.Sum())
	}
	for _, q := range []float64{0, 0.5, 1} {
		if got := h.Quantile(q); got != 0 {
			t.Errorf("empty: Quantile(%v) = %v, want 0", q, got)
		}
	}
	n := 0
	for _, c := range h.Buckets() {
		n++
		if c != 0 {
			t.Errorf("empty: a bucket counts %d", c)
		}
	}
	if n != histBuckets {
		t.Errorf("Buckets yielded %d, want %d", n, histBuckets)
	}
}

// observed is a Histogram of ds, recorded as the forward path does.
func observed(ds ...time.Duration) Histogram {
	var r histogramRecorder
	for _, d := range ds {
		r.observe(d)
	}
	return r.snapshot()
}

func TestHistogram_OneObservation(t *testing.T) {
	// 100 ms is in [2^26, 2^27) ns, whose 16 buckets are 2^22 ns wide:
	// the 8th, [23·2^22, 24·2^22).
	h := observed(100 * time.Millisecond)
	want := time.Duration(24 << 22) // 100.663296 ms
	for _, q := range []float64{0, 0.01, 0.5, 1} {
		if got := h.Quantile(q); got != want {
			t.Errorf("Quantile(%v) = %v, want %v", q, got, want)
		}
	}
	if h.Count() != 1 || h.Sum() != 100*time.Millisecond {
		t.Errorf("Count %d, Sum %v; want 1, 100ms", h.Count(), h.Sum())
	}
}

func TestHistogram_QuantileEdges(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	h := observed(ds...)
	within := func(q float64, v time.Duration) {
		t.Helper()
		if got := h.Quantile(q); got <= v || float64(got) > float64(v)*17/16 {
			t.Errorf("Quantile(%v) = %v, want in (%v, %v·17/16]", q, got, v, v)
		}
	}
	within(0, time.Millisecond)        // the smallest
	within(0.001, time.Millisecond)    // rank 1
	within(0.5, 50*time.Millisecond)   // rank 50
	within(0.501, 51*time.Millisecond) // rank 51
	within(0.99, 99*time.Millisecond)
	within(1, 100*time.Millisecond) // the largest
	for q, same := range map[float64]float64{-1: 0, math.NaN(): 0, 1.5: 1, math.Inf(1): 1} {
		if got, want := h.Quantile(q), h.Quantile(same); got != want {
			t.Errorf("Quantile(%v) = %v, want Quantile(%v) = %v", q, got, same, want)
		}
	}

	// Below the first bound (negative ones too) and past the last.
	low := observed(0, -time.Second, 500*time.Nanosecond, 1023*time.Nanosecond)
	if got := low.Quantile(1); got != 1024*time.Nanosecond {
		t.Errorf("values under 1.024µs: Quantile(1) = %v, want 1.024µs", got)
	}
	if low.Sum() != 1523*time.Nanosecond {
		t.Errorf("Sum of 0, -1s, 500ns, 1023ns: %v, want 1.523µs (negatives count 0)", low.Sum())
	}
	high := observed(time.Millisecond, 2*time.Hour, 1<<histMaxExp)
	if got := high.Quantile(1); got != 1<<histMaxExp {
		t.Errorf("2h: Quantile(1) = %v, want the last bound %v", got, time.Duration(1<<histMaxExp))
	}
	if got := high.Quantile(0.5); got != 1<<histMaxExp {
		t.Errorf("2^42ns: Quantile(0.5) = %v, want the last bound", got)
	}
	var last time.Duration
	var lastCount uint64
	for upper, c := range high.Buckets() {
		last, lastCount = upper, c
	}
	if last != math.MaxInt64 || lastCount != 2 {
		t.Errorf("last bucket: up to %v with %d, want up to MaxInt64 with 2", last, lastCount)
	}
}

func TestHistogram_Sub(t *testing.T) {
	var r histogramRecorder
	for range 10 {
		r.observe(time.Millisecond)
	}
	earlier := r.snapshot()
	r.observe(time.Second)
	r.observe(2 * time.Second)
	later := r.snapshot()
	d := later.Sub(earlier)
	if d.Count() != 2 || d.Sum() != 3*time.Second {
		t.Errorf("Sub: Count %d, Sum %v; want 2, 3s", d.Count(), d.Sum())
	}
	if got := d.Quantile(0); got <= time.Second || got > time.Second*17/16 {
		t.Errorf("Sub: Quantile(0) = %v, want the 1s bucket (the 1ms ones are before the window)", got)
	}
	if d := earlier.Sub(later); d.Count() != 0 || d.Sum() != 0 || d.Quantile(0.5) != 0 {
		t.Errorf("Sub the wrong way round: Count %d, Sum %v, want empty", d.Count(), d.Sum())
	}
	if d := later.Sub(Histogram{}); d != later {
		t.Error("Sub of the empty Histogram changed it")
	}
}

// TestHistogram_Layout checks every bucket's bounds: each bucket holds
// exactly the durations from the previous bound to under its own, and is
// less than 1/16 of its lower bound wide.
func TestHistogram_Layout(t *testing.T) {
	var bounds []time.Duration
	for upper := range (Histogram{}).Buckets() {
		bounds = append(bounds, upper)
	}
	if len(bounds) != histBuckets || bounds[0] != 1024 || bounds[histBuckets-2] != 1<<histMaxExp || bounds[histBuckets-1] != math.MaxInt64 {
		t.Fatalf("bounds: %d, first %v, last finite %v, last %v", len(bounds), bounds[0], bounds[histBuckets-2], bounds[histBuckets-1])
	}
	for i := 1; i < histBuckets; i++ {
		lower, upper := bounds[i-1], bounds[i]
		if histIndex(lower) != i || histIndex(upper-1) != i {
			t.Fatalf("bucket %d [%v, %v): holds %v in %d and %v in %d", i, lower, upper, lower, histIndex(lower), upper-1, histIndex(upper-1))
		}
		if i < histBuckets-1 && (upper-lower)*16 > lower {
			t.Fatalf("bucket %d [%v, %v) is wider than 1/16 of its lower bound", i, lower, upper)
		}
	}
	if histIndex(0) != 0 || histIndex(1023) != 0 || histIndex(-1) != 0 || histIndex(math.MaxInt64) != histBuckets-1 {
		t.Error("the first or last bucket holds the wrong durations")
	}
	// From 100µs to 60s, ALB's range, the quantile of one duration is
	// within 6.25% above it.
	for d := 100 * time.Microsecond; d <= time.Minute; d = d * 1001 / 1000 {
		if q := observed(d).Quantile(1); q <= d || float64(q-d) > float64(d)/16 {
			t.Fatalf("%v: Quantile %v, relative error %.2f%%", d, q, 100*float64(q-d)/float64(d))
		}
	}
}

func TestGroupMetrics_Sub(t *testing.T) {
	var c groupCounters
	c.init()
	c.request()
	c.targetAnswered(200, time.Millisecond)
	earlier := c.snapshot()
	c.request()
	c.request()
	c.request()
	c.targetAnswered(503, 2*time.Millisecond)
	c.targetAnswered(302, 2*time.Millisecond)
	c.balancerAnswered(502)
	c.balancerAnswered(464) // counts nowhere
	later := c.snapshot()
	if got, want := tallyOf(later.Sub(earlier)), (tally{Requests: 3, T3XX: 1, T5XX: 1, ELB5XX: 1, Timed: 2}); got != want {
		t.Errorf("Sub: %+v, want %+v", got, want)
	}
	if got := tallyOf(earlier.Sub(later)); got != (tally{}) {
		t.Errorf("Sub the wrong way round: %+v, want zeros", got)
	}
	var other groupCounters
	other.init()
	other.request()
	if got := tallyOf(other.snapshot().Sub(later)); got != (tally{Requests: 1}) {
		t.Errorf("Sub across lives of a group: %+v, want the later whole", got)
	}
}

// BenchmarkGroupMetricsRecord measures what the forward path adds per
// request answered by a target: RequestCount, the status class and the
// response time, on counters shared by every goroutine (parallel) or not.
//
//	go test -run '^$' -bench GroupMetrics ./internal/proxy/
func BenchmarkGroupMetricsRecord(b *testing.B) {
	var c groupCounters
	c.init()
	record := func(i int) {
		c.request()
		c.targetAnswered(200+100*(i&3), time.Duration(i&0xffff)*time.Microsecond)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			record(i)
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				record(i)
				i++
			}
		})
	})
	b.Run("snapshot", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if m := c.snapshot(); m.RequestCount == 0 {
				b.Fatal("nothing counted")
			}
		}
	})
}
