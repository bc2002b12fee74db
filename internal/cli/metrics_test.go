package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/shoalhq/shoal/internal/testkit"
)

// TestUp_ServesMetrics runs a stack with metrics on a free port, sends a
// known number of requests through its listener, and reads them back from
// GET /metrics as Prometheus would.
func TestUp_ServesMetrics(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	v1 := fmt.Sprintf(testStack, exe) + "metrics:\n  address: 127.0.0.1:0\n"
	stack := writeStack(t, v1)
	state := filepath.Join(t.TempDir(), "state")
	ctx, cancel := context.WithCancel(context.Background())
	var upOut, upErr testkit.Buffer
	upDone := make(chan int, 1)
	go func() { upDone <- Main(ctx, []string{"up", "-q", "-f", stack, "--state-dir", state}, &upOut, &upErr) }()
	defer func() {
		cancel()
		<-upDone
	}()
	st := waitSteady(t, state, upDone, &upErr)
	if !strings.HasPrefix(st.Metrics, "http://127.0.0.1:") || !strings.HasSuffix(st.Metrics, "/metrics") || strings.HasSuffix(st.Metrics, ":0/metrics") {
		t.Fatalf("status --json: metrics %q, want http://127.0.0.1:PORT/metrics", st.Metrics)
	}
	if want := "shoal: metrics at " + st.Metrics + "\n"; !strings.Contains(upOut.String(), want) {
		t.Errorf("up output lacks %q:\n%s", want, upOut.String())
	}
	mfs := scrape(t, st.Metrics)
	if got := value(t, mfs, "shoal_alb_RequestCount", "target_group", "app"); got != 0 {
		t.Errorf("RequestCount before any request: got %v, want 0 (health checks do not count)", got)
	}

	// 50 requests from 5 clients at once, each keeping its connections
	// alive; every connection dialled is counted.
	const requests = 50
	var dials atomic.Int64
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 5 {
		wg.Go(func() {
			for range requests / 5 {
				resp, err := client.Get("http://" + st.Listeners[0] + "/")
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d requests failed", n, requests)
	}

	mfs = scrape(t, st.Metrics)
	for _, c := range []struct {
		name string
		want float64
	}{
		{"shoal_alb_RequestCount", requests},
		{"shoal_alb_HTTPCode_Target_2XX_Count", requests},
		{"shoal_alb_HTTPCode_Target_5XX_Count", 0},
		{"shoal_alb_HTTPCode_ELB_5XX_Count", 0},
		{"shoal_alb_HealthyHostCount", 2}, // the service's 2 running tasks
		{"shoal_alb_UnHealthyHostCount", 0},
	} {
		if got := value(t, mfs, c.name, "target_group", "app"); got != c.want {
			t.Errorf("%s{target_group=app}: got %v, want %v", c.name, got, c.want)
		}
	}
	if h := series(t, mfs, "shoal_alb_TargetResponseTime", "target_group", "app").GetHistogram(); h.GetSampleCount() != requests ||
		len(h.GetBucket()) == 0 || h.GetBucket()[len(h.GetBucket())-1].GetCumulativeCount() > requests || h.GetSampleSum() <= 0 {
		t.Errorf("TargetResponseTime{target_group=app}: got %v, want %d observations with a positive sum", h, requests)
	}
	perTarget := 0.0
	for _, m := range mfs["shoal_alb_RequestCountPerTarget"].GetMetric() {
		perTarget += m.GetCounter().GetValue()
	}
	if perTarget != requests || len(mfs["shoal_alb_RequestCountPerTarget"].GetMetric()) != 2 {
		t.Errorf("RequestCountPerTarget: got %v over %d targets, want %d over 2", perTarget, len(mfs["shoal_alb_RequestCountPerTarget"].GetMetric()), requests)
	}
	if got, opened := value(t, mfs, "shoal_alb_NewConnectionCount", "load_balancer", "web"), dials.Load(); got < float64(opened) || opened == 0 {
		t.Errorf("NewConnectionCount{load_balancer=web}: got %v, want at least the %d connections opened", got, opened)
	}
	if got := value(t, mfs, "shoal_alb_RejectedConnectionCount", "load_balancer", "web"); got != 0 {
		t.Errorf("RejectedConnectionCount{load_balancer=web}: got %v, want 0", got)
	}
	if got := value(t, mfs, "shoal_alb_ActiveConnectionCount", "load_balancer", "web"); got < 1 {
		t.Errorf("ActiveConnectionCount{load_balancer=web} while the client keeps connections: got %v, want at least 1", got)
	}
	tr.CloseIdleConnections()
	testkit.WaitFor(t, 10*time.Second, "no active connection once the client closed them", func() bool {
		return value(t, scrape(t, st.Metrics), "shoal_alb_ActiveConnectionCount", "load_balancer", "web") == 0
	})
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if mfs[name] == nil {
			t.Errorf("no %s among the metrics", name)
		}
	}

	// A running shoal keeps its metrics address.
	moved := writeStack(t, strings.Replace(v1, "address: 127.0.0.1:0", "address: 127.0.0.1:9", 1))
	if code, _, errOut := run(t, ctx, "deploy", "-f", moved, "--state-dir", state); code != 1 || !strings.Contains(errOut, "metrics changed") {
		t.Errorf("deploy with another metrics address: exit %d, stderr:\n%s", code, errOut)
	}
}

// scrape GETs url and parses Prometheus's text format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return mfs
}

// series is the one series of the family name with the label.
func series(t *testing.T, mfs map[string]*dto.MetricFamily, name, label, val string) *dto.Metric {
	t.Helper()
	for _, m := range mfs[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label && l.GetValue() == val {
				return m
			}
		}
	}
	t.Fatalf("no %s{%s=%q} among the metrics", name, label, val)
	return nil
}

// value is the counter's or gauge's value of one series.
func value(t *testing.T, mfs map[string]*dto.MetricFamily, name, label, val string) float64 {
	t.Helper()
	m := series(t, mfs, name, label, val)
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.GetGauge().GetValue()
}
