// Package metrics serves the load balancer's metrics to Prometheus, named
// after ALB's CloudWatch metrics (shoal_alb_RequestCount,
// shoal_alb_TargetResponseTime …), beside the Go runtime's and the
// process's. Nothing is sampled in the background: every value is read
// from the Source when Prometheus scrapes.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shoalhq/shoal/internal/httpwire"
	"github.com/shoalhq/shoal/internal/proxy"
)

// Source is what the metrics are read from: the load balancer, as the
// running stack has it (*proxy.Balancer is one).
type Source interface {
	// TargetGroups names the configured target groups.
	TargetGroups() []string
	// GroupMetrics are a target group's counters; ok is false for a group
	// no longer configured.
	GroupMetrics(group string) (m proxy.GroupMetrics, ok bool)
	// Targets are every registered or draining target, with its health
	// and the requests it was sent.
	Targets() []proxy.TargetHealth
	// ConnectionCounts are the client connections of each configured load
	// balancer, by name.
	ConnectionCounts() map[string]proxy.ConnectionCounts
}

// Prefix starts the name of every metric of the load balancer.
const Prefix = "shoal_alb_"

// Label names.
const (
	labelLoadBalancer = "load_balancer"
	labelTargetGroup  = "target_group"
	labelTarget       = "target"
)

// ResponseTimeBounds are the upper bounds of TargetResponseTime's buckets
// (+Inf follows). The load balancer records response times in finer
// buckets (16 per power of two); each of those counts in the first bound
// at or above its upper end, so the counts are exact sums of whole
// buckets, and an observation less than 6.25% below a bound may count in
// the next one.
var ResponseTimeBounds = []time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second,
	10 * time.Second, 30 * time.Second, 60 * time.Second,
}

// Collector is a prometheus.Collector of the load balancer's metrics.
type Collector struct {
	src Source

	requests, requestsPerTarget                            *prometheus.Desc
	responseTime                                           *prometheus.Desc
	target2xx, target3xx, target4xx, target5xx, elb5xx     *prometheus.Desc
	healthy, unhealthy                                     *prometheus.Desc
	activeConnections, newConnections, rejectedConnections *prometheus.Desc
	deniedConnections                                      *prometheus.Desc
	nonCompliant                                           *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a collector that reads src at every scrape.
func NewCollector(src Source) *Collector {
	group := []string{labelTargetGroup}
	lb := []string{labelLoadBalancer}
	desc := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(Prefix+name, help, labels, nil)
	}
	return &Collector{
		src: src,
		requests: desc("RequestCount",
			"Requests routed to the target group, answered or not (ALB RequestCount).", group),
		requestsPerTarget: desc("RequestCountPerTarget",
			"Requests sent to the target since it was registered in the target group (their average over a group's targets is ALB RequestCountPerTarget).",
			[]string{labelTargetGroup, labelTarget}),
		responseTime: desc("TargetResponseTime",
			"Seconds from sending a request to the target to its response headers (ALB TargetResponseTime).", group),
		target2xx: desc("HTTPCode_Target_2XX_Count", "2XX answers of the target group's targets (ALB HTTPCode_Target_2XX_Count).", group),
		target3xx: desc("HTTPCode_Target_3XX_Count", "3XX answers of the target group's targets (ALB HTTPCode_Target_3XX_Count).", group),
		target4xx: desc("HTTPCode_Target_4XX_Count", "4XX answers of the target group's targets (ALB HTTPCode_Target_4XX_Count).", group),
		target5xx: desc("HTTPCode_Target_5XX_Count", "5XX answers of the target group's targets (ALB HTTPCode_Target_5XX_Count).", group),
		elb5xx: desc("HTTPCode_ELB_5XX_Count",
			"502, 503 and 504 the load balancer answered itself for requests routed to the target group (ALB HTTPCode_ELB_5XX_Count).", group),
		healthy: desc("HealthyHostCount",
			"Targets of the target group in state healthy (ALB HealthyHostCount).", group),
		unhealthy: desc("UnHealthyHostCount",
			"Targets of the target group in state unhealthy; initial, draining and unused ones count in neither (ALB UnHealthyHostCount).", group),
		activeConnections: desc("ActiveConnectionCount",
			"Client connections open now on the load balancer's listeners (ALB ActiveConnectionCount).", lb),
		newConnections: desc("NewConnectionCount",
			"Client connections accepted by the load balancer's listeners (ALB NewConnectionCount).", lb),
		rejectedConnections: desc("RejectedConnectionCount",
			"Client connections refused, or shed while they had not sent a request yet, because the load balancer had its maximum of connections (ALB RejectedConnectionCount).", lb),
		deniedConnections: desc("SecurityGroupDeniedConnectionCount",
			"Client connections the load balancer's security groups closed before a byte was read (shoal's own: on AWS they never reach the load balancer).", lb),
		nonCompliant: prometheus.NewDesc(Prefix+"DesyncMitigationMode_NonCompliant_Request_Count",
			"Requests that were not compliant with RFC 7230, by desync classification: Acceptable, Ambiguous or Severe (ALB DesyncMitigationMode_NonCompliant_Request_Count, split by class).",
			[]string{labelLoadBalancer, "classification"}, nil),
	}
}

// Describe sends the descriptions of every metric of the collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.requests, c.requestsPerTarget, c.responseTime,
		c.target2xx, c.target3xx, c.target4xx, c.target5xx, c.elb5xx,
		c.healthy, c.unhealthy,
		c.activeConnections, c.newConnections, c.rejectedConnections, c.deniedConnections, c.nonCompliant,
	} {
		ch <- d
	}
}

// Collect reads the source and sends every metric.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	healthy, unhealthy := map[string]int64{}, map[string]int64{}
	for _, g := range c.src.TargetGroups() {
		m, ok := c.src.GroupMetrics(g)
		if !ok { // removed since TargetGroups
			continue
		}
		healthy[g], unhealthy[g] = 0, 0
		counter(c.requests, m.RequestCount, g)
		counter(c.target2xx, m.Target2XX, g)
		counter(c.target3xx, m.Target3XX, g)
		counter(c.target4xx, m.Target4XX, g)
		counter(c.target5xx, m.Target5XX, g)
		counter(c.elb5xx, m.ELB5XX, g)
		count, sum, buckets := histogram(m.TargetResponseTime)
		ch <- prometheus.MustNewConstHistogram(c.responseTime, count, sum, buckets, g)
	}

	// A group removed and configured again while its old self still
	// drains lists a target twice: one series, with the requests of both.
	type key struct{ group, target string }
	var order []key
	requests := map[key]uint64{}
	for _, t := range c.src.Targets() {
		k := key{t.Group, t.Target}
		if _, seen := requests[k]; !seen {
			order = append(order, k)
		}
		requests[k] += t.Requests
		if _, configured := healthy[t.Group]; !configured {
			continue
		}
		switch t.State {
		case proxy.StateHealthy:
			healthy[t.Group]++
		case proxy.StateUnhealthy:
			unhealthy[t.Group]++
		}
	}
	for _, k := range order {
		counter(c.requestsPerTarget, requests[k], k.group, k.target)
	}
	for g, n := range healthy {
		gauge(c.healthy, n, g)
		gauge(c.unhealthy, unhealthy[g], g)
	}

	for lb, n := range c.src.ConnectionCounts() {
		gauge(c.activeConnections, n.Active, lb)
		counter(c.newConnections, n.New, lb)
		counter(c.rejectedConnections, n.Rejected, lb)
		counter(c.deniedConnections, n.Denied, lb)
		for _, k := range []httpwire.Class{httpwire.Acceptable, httpwire.Ambiguous, httpwire.Severe} {
			counter(c.nonCompliant, n.NonCompliant[k], lb, k.String())
		}
	}
}

// histogram converts the load balancer's response times to Prometheus's
// form: the count, the sum in seconds, and the cumulative count of each
// bound of ResponseTimeBounds, in seconds. A bucket of h counts in a bound
// when its upper end (exclusive) is at most the bound, so that every
// observation it counts is at most the bound.
func histogram(h proxy.Histogram) (count uint64, sum float64, buckets map[float64]uint64) {
	buckets = make(map[float64]uint64, len(ResponseTimeBounds))
	next := 0 // the first bound not yet given its count
	for upper, n := range h.Buckets() {
		for next < len(ResponseTimeBounds) && upper > ResponseTimeBounds[next] {
			buckets[ResponseTimeBounds[next].Seconds()] = count
			next++
		}
		count += n
	}
	for ; next < len(ResponseTimeBounds); next++ { // not reached: the last bucket is open-ended
		buckets[ResponseTimeBounds[next].Seconds()] = count
	}
	return count, h.Sum().Seconds(), buckets
}

// NewRegistry returns a registry of its own (not Prometheus's global
// one) with the load balancer's metrics read from src, and the Go
// runtime's and the process's.
func NewRegistry(src Source) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		NewCollector(src),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Handler serves GET /metrics, in the text (or protobuf) format
// Prometheus asks for, from the metrics of NewRegistry(src); any other
// path is 404, any other method 405.
func Handler(src Source) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(NewRegistry(src), promhttp.HandlerOpts{}))
	return mux
}
