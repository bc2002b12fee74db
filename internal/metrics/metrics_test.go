package metrics

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/shoalhq/shoal/internal/proxy"
)

// fakeSource is a Source with fixed answers.
type fakeSource struct {
	groups  []string
	metrics map[string]proxy.GroupMetrics
	targets []proxy.TargetHealth
	conns   map[string]proxy.ConnectionCounts
}

func (f *fakeSource) TargetGroups() []string { return f.groups }

func (f *fakeSource) GroupMetrics(group string) (proxy.GroupMetrics, bool) {
	m, ok := f.metrics[group]
	return m, ok
}

func (f *fakeSource) Targets() []proxy.TargetHealth { return f.targets }

func (f *fakeSource) ConnectionCounts() map[string]proxy.ConnectionCounts { return f.conns }

// histogramOf returns a proxy.Histogram holding the observations ds.
// Nothing outside proxy can record into one, so it fills the snapshot's
// counters by reflection, each duration in the bucket Buckets says holds
// it, then checks the result through proxy's API: a change of the
// histogram's layout fails here, not in the tests that use it.
func histogramOf(t testing.TB, ds ...time.Duration) proxy.Histogram {
	t.Helper()
	var h proxy.Histogram
	v := reflect.ValueOf(&h).Elem()
	counts, sum := v.FieldByName("counts"), v.FieldByName("sum")
	if counts.Kind() != reflect.Array || counts.Type().Elem().Kind() != reflect.Uint64 || sum.Kind() != reflect.Uint64 {
		t.Fatal("proxy.Histogram is no longer {counts [N]uint64; sum uint64}: update histogramOf")
	}
	counts = reflect.NewAt(counts.Type(), unsafe.Pointer(counts.UnsafeAddr())).Elem()
	sum = reflect.NewAt(sum.Type(), unsafe.Pointer(sum.UnsafeAddr())).Elem()
	var uppers []time.Duration
	for upper := range h.Buckets() {
		uppers = append(uppers, upper)
	}
	var total time.Duration
	for _, d := range ds {
		i, _ := slices.BinarySearch(uppers, d+1) // the first bucket whose exclusive upper end is above d
		counts.Index(i).SetUint(counts.Index(i).Uint() + 1)
		total += d
	}
	sum.SetUint(uint64(total))
	if h.Count() != uint64(len(ds)) || h.Sum() != total {
		t.Fatalf("histogramOf: got %d observations summing to %v, want %d summing to %v", h.Count(), h.Sum(), len(ds), total)
	}
	return h
}

// gather registers c alone in a pedantic registry (which checks the
// metrics against their descriptions) and flattens what it gathers into
// "name{label=value,…}" → value, histograms as Prometheus's
// _bucket/_sum/_count series; types are "name" → type.
func gather(t *testing.T, c prometheus.Collector) (values map[string]float64, types map[string]string) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return flatten(mfs)
}

func flatten(mfs []*dto.MetricFamily) (map[string]float64, map[string]string) {
	values, types := map[string]float64{}, map[string]string{}
	for _, mf := range mfs {
		name := mf.GetName()
		types[name] = strings.ToLower(mf.GetType().String())
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			series := func(suffix string, extra ...string) string {
				return name + suffix + "{" + strings.Join(append(slices.Clone(labels), extra...), ",") + "}"
			}
			switch {
			case m.Counter != nil:
				values[series("")] = m.Counter.GetValue()
			case m.Gauge != nil:
				values[series("")] = m.Gauge.GetValue()
			case m.Histogram != nil:
				h := m.Histogram
				for _, b := range h.GetBucket() {
					values[series("_bucket", fmt.Sprintf("le=%g", b.GetUpperBound()))] = float64(b.GetCumulativeCount())
				}
				values[series("_bucket", "le=+Inf")] = float64(h.GetSampleCount())
				values[series("_sum")] = h.GetSampleSum()
				values[series("_count")] = float64(h.GetSampleCount())
			default:
				values[series("")] = m.GetUntyped().GetValue()
			}
		}
	}
	return values, types
}

func TestCollector_ExactValues(t *testing.T) {
	src := &fakeSource{
		groups: []string{"api", "gone", "web"}, // gone was removed between the calls
		metrics: map[string]proxy.GroupMetrics{
			"api": {RequestCount: 57, Target2XX: 40, Target3XX: 3, Target4XX: 5, Target5XX: 2, ELB5XX: 6,
				TargetResponseTime: histogramOf(t,
					50*time.Microsecond,                    // le 0.0001
					900*time.Microsecond,                   // le 0.001
					990*time.Microsecond,                   // under 1 ms, but its bucket ends at 1.015808 ms: le 0.0025
					3*time.Millisecond, 3*time.Millisecond, // le 0.005
					2*time.Minute, // above every bound: +Inf only
				)},
			"web": {},
		},
		targets: []proxy.TargetHealth{
			{Group: "api", Target: "127.0.0.2:4001", State: proxy.StateHealthy, Requests: 20},
			{Group: "api", Target: "127.0.0.2:4002", State: proxy.StateHealthy, Requests: 19},
			{Group: "api", Target: "127.0.0.3:4001", State: proxy.StateUnhealthy, Requests: 12},
			{Group: "api", Target: "127.0.0.3:4002", State: proxy.StateInitial},
			{Group: "api", Target: "127.0.0.3:4003", State: proxy.StateDraining, Requests: 6},
			{Group: "old", Target: "127.0.0.4:4001", State: proxy.StateDraining, Requests: 3}, // a retiring group
			{Group: "web", Target: "127.0.0.5:4001", State: proxy.StateUnused},
			// web removed and configured again while its old self drains:
			{Group: "web", Target: "127.0.0.5:4002", State: proxy.StateDraining, Requests: 4},
			{Group: "web", Target: "127.0.0.5:4002", State: proxy.StateHealthy, Requests: 1},
		},
		conns: map[string]proxy.ConnectionCounts{
			"public":   {Active: 3, New: 120, Rejected: 7, Denied: 5, NonCompliant: [4]uint64{0, 4, 2, 1}},
			"internal": {},
		},
	}
	got, types := gather(t, NewCollector(src))

	const p = Prefix
	want := map[string]float64{
		p + "RequestCount{target_group=api}":              57,
		p + "RequestCount{target_group=web}":              0,
		p + "HTTPCode_Target_2XX_Count{target_group=api}": 40,
		p + "HTTPCode_Target_3XX_Count{target_group=api}": 3,
		p + "HTTPCode_Target_4XX_Count{target_group=api}": 5,
		p + "HTTPCode_Target_5XX_Count{target_group=api}": 2,
		p + "HTTPCode_ELB_5XX_Count{target_group=api}":    6,
		p + "HTTPCode_Target_2XX_Count{target_group=web}": 0,
		p + "HTTPCode_Target_3XX_Count{target_group=web}": 0,
		p + "HTTPCode_Target_4XX_Count{target_group=web}": 0,
		p + "HTTPCode_Target_5XX_Count{target_group=web}": 0,
		p + "HTTPCode_ELB_5XX_Count{target_group=web}":    0,

		p + "RequestCountPerTarget{target=127.0.0.2:4001,target_group=api}": 20,
		p + "RequestCountPerTarget{target=127.0.0.2:4002,target_group=api}": 19,
		p + "RequestCountPerTarget{target=127.0.0.3:4001,target_group=api}": 12,
		p + "RequestCountPerTarget{target=127.0.0.3:4002,target_group=api}": 0,
		p + "RequestCountPerTarget{target=127.0.0.3:4003,target_group=api}": 6,
		p + "RequestCountPerTarget{target=127.0.0.4:4001,target_group=old}": 3,
		p + "RequestCountPerTarget{target=127.0.0.5:4001,target_group=web}": 0,
		p + "RequestCountPerTarget{target=127.0.0.5:4002,target_group=web}": 5,

		p + "HealthyHostCount{target_group=api}":   2,
		p + "UnHealthyHostCount{target_group=api}": 1,
		p + "HealthyHostCount{target_group=web}":   1,
		p + "UnHealthyHostCount{target_group=web}": 0,

		p + "ActiveConnectionCount{load_balancer=public}":                3,
		p + "NewConnectionCount{load_balancer=public}":                   120,
		p + "RejectedConnectionCount{load_balancer=public}":              7,
		p + "SecurityGroupDeniedConnectionCount{load_balancer=public}":   5,
		p + "SecurityGroupDeniedConnectionCount{load_balancer=internal}": 0,
		p + "ActiveConnectionCount{load_balancer=internal}":              0,
		p + "NewConnectionCount{load_balancer=internal}":                 0,
		p + "RejectedConnectionCount{load_balancer=internal}":            0,

		p + "DesyncMitigationMode_NonCompliant_Request_Count{classification=Acceptable,load_balancer=public}":   4,
		p + "DesyncMitigationMode_NonCompliant_Request_Count{classification=Ambiguous,load_balancer=public}":    2,
		p + "DesyncMitigationMode_NonCompliant_Request_Count{classification=Severe,load_balancer=public}":       1,
		p + "DesyncMitigationMode_NonCompliant_Request_Count{classification=Acceptable,load_balancer=internal}": 0,
		p + "DesyncMitigationMode_NonCompliant_Request_Count{classification=Ambiguous,load_balancer=internal}":  0,
		p + "DesyncMitigationMode_NonCompliant_Request_Count{classification=Severe,load_balancer=internal}":     0,
	}
	apiBuckets := map[string]float64{
		"0.0001": 1, "0.00025": 1, "0.0005": 1, "0.001": 2, "0.0025": 3, "0.005": 5,
		"0.01": 5, "0.025": 5, "0.05": 5, "0.1": 5, "0.25": 5, "0.5": 5,
		"1": 5, "2.5": 5, "5": 5, "10": 5, "30": 5, "60": 5, "+Inf": 6,
	}
	for le, n := range apiBuckets {
		want[p+"TargetResponseTime_bucket{target_group=api,le="+le+"}"] = n
		want[p+"TargetResponseTime_bucket{target_group=web,le="+le+"}"] = 0
	}
	want[p+"TargetResponseTime_sum{target_group=api}"] = (50e-6 + 900e-6 + 990e-6 + 3e-3 + 3e-3 + 120)
	want[p+"TargetResponseTime_count{target_group=api}"] = 6
	want[p+"TargetResponseTime_sum{target_group=web}"] = 0
	want[p+"TargetResponseTime_count{target_group=web}"] = 0
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}

	wantTypes := map[string]string{
		"RequestCount": "counter", "RequestCountPerTarget": "counter", "TargetResponseTime": "histogram",
		"HTTPCode_Target_2XX_Count": "counter", "HTTPCode_Target_3XX_Count": "counter",
		"HTTPCode_Target_4XX_Count": "counter", "HTTPCode_Target_5XX_Count": "counter",
		"HTTPCode_ELB_5XX_Count": "counter", "HealthyHostCount": "gauge", "UnHealthyHostCount": "gauge",
		"ActiveConnectionCount": "gauge", "NewConnectionCount": "counter", "RejectedConnectionCount": "counter", "SecurityGroupDeniedConnectionCount": "counter",
		"DesyncMitigationMode_NonCompliant_Request_Count": "counter",
	}
	for name, typ := range maps.Clone(wantTypes) {
		delete(wantTypes, name)
		wantTypes[p+name] = typ
	}
	if diff := cmp.Diff(wantTypes, types); diff != "" {
		t.Errorf("metric types (-want +got):\n%s", diff)
	}
}

// TestCollector_Empty: a stack with no load balancer and no target group
// has no series, and gathering it is no error.
func TestCollector_Empty(t *testing.T) {
	got, _ := gather(t, NewCollector(&fakeSource{}))
	if len(got) != 0 {
		t.Errorf("got %v, want no series", got)
	}
}

// TestHistogram_CumulativeBoundaries: a bucket of the load balancer's
// counts in a bound exactly when its upper end is at most the bound; the
// bounds' counts never decrease and end at the count.
func TestHistogram_CumulativeBoundaries(t *testing.T) {
	var ds []time.Duration
	for d := time.Microsecond; d < 90*time.Second; d = d*21/20 + 1 {
		ds = append(ds, d)
	}
	h := histogramOf(t, ds...)
	count, sum, buckets := histogram(h)
	if count != uint64(len(ds)) {
		t.Errorf("count: got %d, want %d", count, len(ds))
	}
	var total time.Duration
	for _, d := range ds {
		total += d
	}
	if want := total.Seconds(); sum != want {
		t.Errorf("sum: got %v, want %v", sum, want)
	}
	if len(buckets) != len(ResponseTimeBounds) {
		t.Fatalf("got %d buckets, want %d", len(buckets), len(ResponseTimeBounds))
	}
	var prev uint64
	for _, bound := range ResponseTimeBounds {
		// What the bound must hold: every observation at most the bound,
		// less those of a bucket that straddles it.
		var want uint64
		for upper, n := range h.Buckets() {
			if upper <= bound {
				want += n
			}
		}
		var atMost uint64
		for _, d := range ds {
			if d <= bound {
				atMost++
			}
		}
		got := buckets[bound.Seconds()]
		if got != want {
			t.Errorf("le=%v: got %d, want %d", bound.Seconds(), got, want)
		}
		if got > atMost || float64(got) < float64(atMost)*0.9 {
			t.Errorf("le=%v: got %d, but %d observations are at most %v", bound.Seconds(), got, atMost, bound)
		}
		if got < prev {
			t.Errorf("le=%v: got %d, below the previous bound's %d", bound.Seconds(), got, prev)
		}
		prev = got
	}
}

// TestHandler_ServesEveryCollector: GET /metrics answers the text format
// with the load balancer's, the Go runtime's and the process's metrics.
func TestHandler_ServesEveryCollector(t *testing.T) {
	src := &fakeSource{
		groups:  []string{"api"},
		metrics: map[string]proxy.GroupMetrics{"api": {RequestCount: 7, Target2XX: 7}},
		conns:   map[string]proxy.ConnectionCounts{"web": {Active: 1, New: 2}},
	}
	srv := httptest.NewServer(Handler(src))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	values, _ := flatten(slices.Collect(maps.Values(mfs)))
	for series, want := range map[string]float64{
		Prefix + "RequestCount{target_group=api}":           7,
		Prefix + "NewConnectionCount{load_balancer=web}":    2,
		Prefix + "ActiveConnectionCount{load_balancer=web}": 1,
	} {
		if got, ok := values[series]; !ok || got != want {
			t.Errorf("%s: got %v (present %v), want %v", series, got, ok, want)
		}
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_open_fds"} {
		if _, ok := mfs[name]; !ok {
			t.Errorf("no %s among the metrics", name)
		}
	}

	for _, c := range []struct {
		method, path string
		code         int
	}{{"GET", "/", 404}, {"GET", "/metricsx", 404}, {"POST", "/metrics", 405}} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("%s %s: got %d, want %d", c.method, c.path, resp.StatusCode, c.code)
		}
	}
}

// BenchmarkScrape is one scrape of a stack with 50 targets (10 target
// groups of 5, every histogram full) and 2 load balancers: the load
// balancer's metrics gathered, and the whole GET /metrics answer (with the
// Go runtime's and the process's metrics) in the text format.
func BenchmarkScrape(b *testing.B) {
	src := &fakeSource{metrics: map[string]proxy.GroupMetrics{}, conns: map[string]proxy.ConnectionCounts{
		"public": {Active: 12, New: 3400}, "internal": {Active: 2, New: 80},
	}}
	var ds []time.Duration
	for d := 50 * time.Microsecond; d < 2*time.Minute; d = d * 11 / 10 {
		ds = append(ds, d)
	}
	for g := range 10 {
		name := fmt.Sprintf("group-%d", g)
		src.groups = append(src.groups, name)
		src.metrics[name] = proxy.GroupMetrics{RequestCount: 1000, Target2XX: 990, Target5XX: 10, TargetResponseTime: histogramOf(b, ds...)}
		for i := range 5 {
			src.targets = append(src.targets, proxy.TargetHealth{Group: name, Target: fmt.Sprintf("127.0.0.%d:%d", 2+i, 40000+g), State: proxy.StateHealthy, Requests: 200})
		}
	}
	b.Run("collector", func(b *testing.B) {
		reg := prometheus.NewRegistry()
		reg.MustRegister(NewCollector(src))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := reg.Gather(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("http", func(b *testing.B) {
		h := Handler(src)
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
}
