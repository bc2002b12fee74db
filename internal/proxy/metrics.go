package proxy

import (
	"iter"
	"maps"
	"math"
	"math/bits"
	"net/http"
	"slices"
	"sync/atomic"
	"time"
)

// Per target group metrics, named after ALB's CloudWatch metrics of the
// TargetGroup dimension. The forward path counts them with atomic adds on
// counters of the group (no lock, no allocation); GroupMetrics reads a
// snapshot, and the difference of two snapshots (Sub) is what a window
// holds: a 5xx rate, a count, a latency percentile over the last minutes.
//
// What counts where:
//
//   - A request counts in the group its forward action picked (with
//     weighted groups, the one that got it), once it is picked: RequestCount
//     whatever comes of it. Fixed responses, redirects, failed
//     authentications and transforms are not routed to a group and count
//     nowhere; nor do health checks, which never go through the forward path.
//   - Target2XX…Target5XX count the status codes targets answered (a 101
//     of a WebSocket counts in none of them), and TargetResponseTime
//     observes the time from sending the request to the target (connecting
//     included, when a new connection is needed) to the target's response
//     headers, in real time, not the balancer's clock.
//   - ELB5XX counts the 502 (the target refused, reset or answered garbage),
//     503 (no target registered) and 504 (no answer within the listener's
//     idle timeout) the balancer answered itself. A request whose client went
//     away before the target answered counts in RequestCount only, as does a
//     464 (the group's protocol version cannot carry the request).
//
// Unlike ALB, whose RequestCount leaves out requests rejected before a
// target was chosen and whose HTTPCode_ELB_5XX_Count has no TargetGroup
// dimension, the 503 of a group without targets counts in both here, so
// that (Target5XX+ELB5XX)/RequestCount is a group's 5xx rate.

// GroupMetrics are a target group's counters since the balancer started
// (they survive config changes while the group stays configured; a group
// removed and configured again starts from zero).
//
// A snapshot reads the answers before the requests, so it never holds
// more answers than requests; requests in flight count in RequestCount
// only.
type GroupMetrics struct {
	// RequestCount is the requests routed to the group (ALB RequestCount),
	// answered or not.
	RequestCount uint64
	// Target2XX, Target3XX, Target4XX and Target5XX are
	// HTTPCode_Target_2XX_Count…HTTPCode_Target_5XX_Count: the status
	// codes targets answered.
	Target2XX, Target3XX, Target4XX, Target5XX uint64
	// ELB5XX is the 502, 503 and 504 the balancer answered for requests
	// routed to this group (HTTPCode_ELB_5XX_Count).
	ELB5XX uint64
	// TargetResponseTime is ALB's TargetResponseTime: from sending the
	// request to the target to its response headers, for every request a
	// target answered.
	TargetResponseTime Histogram

	// epoch tells the counters of one configured life of a group from
	// those of the next, for Sub; 0 in the zero value.
	epoch uint64
}

// Sub returns the counters between two snapshots of the same group: m
// minus earlier. The zero GroupMetrics (what GroupMetrics returns for a
// group not configured) subtracts nothing. When earlier is of another life
// of the group (it was removed and configured again in between, so its
// counters started again from zero), Sub returns m whole, as Prometheus
// reads a counter that was reset. A counter lower than in earlier counts 0.
func (m GroupMetrics) Sub(earlier GroupMetrics) GroupMetrics {
	if earlier.epoch != m.epoch {
		return m
	}
	return GroupMetrics{
		RequestCount:       sub0(m.RequestCount, earlier.RequestCount),
		Target2XX:          sub0(m.Target2XX, earlier.Target2XX),
		Target3XX:          sub0(m.Target3XX, earlier.Target3XX),
		Target4XX:          sub0(m.Target4XX, earlier.Target4XX),
		Target5XX:          sub0(m.Target5XX, earlier.Target5XX),
		ELB5XX:             sub0(m.ELB5XX, earlier.ELB5XX),
		TargetResponseTime: m.TargetResponseTime.Sub(earlier.TargetResponseTime),
		epoch:              m.epoch,
	}
}

// sub0 is a-b, or 0 when b is larger.
func sub0(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

// GroupMetrics returns a snapshot of a target group's counters; ok is
// false for a group not configured (m is then the zero value).
func (b *Balancer) GroupMetrics(group string) (m GroupMetrics, ok bool) {
	g := b.table.Load().groups[group]
	if g == nil {
		return GroupMetrics{}, false
	}
	return g.metrics.snapshot(), true
}

// TargetMetrics returns the counters of each target registered in group,
// by address: the same as GroupMetrics, for the requests that target got
// (RequestCount is TargetHealth.Requests). A target's counters start from
// zero when it is registered; its ELB5XX are the 502 and 504 the balancer
// answered after trying it. nil for a group not configured.
func (b *Balancer) TargetMetrics(group string) map[string]GroupMetrics {
	g := b.table.Load().groups[group]
	if g == nil {
		return nil
	}
	g.mu.Lock()
	targets := slices.Collect(maps.Values(g.targets))
	g.mu.Unlock()
	out := make(map[string]GroupMetrics, len(targets))
	for _, t := range targets {
		out[t.addr] = t.metrics.snapshot()
	}
	return out
}

// monoStart is when the package was loaded; monoTime the time since, on
// the monotonic clock: a point in time in 8 bytes instead of time.Time's 24.
var monoStart = time.Now()

func monoTime() time.Duration { return time.Since(monoStart) }

// groupCounters are the live counters of a target group, the forward
// path's side of GroupMetrics. The zero value counts (with epoch 0); a
// group's get an epoch of their own from init.
type groupCounters struct {
	epoch    uint64
	requests atomic.Uint64
	target   [4]atomic.Uint64 // 2xx, 3xx, 4xx, 5xx
	elb5xx   atomic.Uint64
	latency  histogramRecorder
}

// groupEpochs numbers the groups' counters, from 1.
var groupEpochs atomic.Uint64

// init readies a new group's counters: they get an epoch of their own.
func (c *groupCounters) init() { c.epoch = groupEpochs.Add(1) }

// request counts a request routed to the group.
func (c *groupCounters) request() { c.requests.Add(1) }

// targetAnswered counts a target's answer with status code, after took.
func (c *groupCounters) targetAnswered(code int, took time.Duration) {
	if code >= 200 && code < 600 {
		c.target[code/100-2].Add(1)
	}
	c.latency.observe(took)
}

// balancerAnswered counts an error the balancer answered itself: 502, 503
// and 504 are ELB5XX, other codes count nowhere.
func (c *groupCounters) balancerAnswered(code int) {
	switch code {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		c.elb5xx.Add(1)
	}
}

// snapshot reads the counters: the answers first, then the requests (see
// GroupMetrics).
func (c *groupCounters) snapshot() GroupMetrics {
	m := GroupMetrics{epoch: c.epoch}
	m.TargetResponseTime = c.latency.snapshot()
	m.Target2XX = c.target[0].Load()
	m.Target3XX = c.target[1].Load()
	m.Target4XX = c.target[2].Load()
	m.Target5XX = c.target[3].Load()
	m.ELB5XX = c.elb5xx.Load()
	m.RequestCount = c.requests.Load()
	return m
}

// Histogram bucket layout: log-linear, as HdrHistogram's. Each power of
// two from 2^10 ns (1.024 µs) to 2^42 ns (about 73.3 minutes, past ALB's
// longest idle timeout of 4000 s) is split into 16 buckets of equal width,
// so a bucket is at most 1/16 of its lower bound wide: reporting a
// bucket's upper bound overstates the value by less than 6.25%, from
// 1.024 µs up. Below them is one bucket for [0, 1.024 µs), above them one
// for 2^42 ns and more: 514 buckets in all, 4 KiB of counters per group.
const (
	histSubBits = 4
	histSub     = 1 << histSubBits // buckets per power of two
	histMinExp  = 10               // 2^10 ns: the first bucket's upper bound
	histMaxExp  = 42               // 2^42 ns: the last bucket's lower bound
	histBuckets = 1 + (histMaxExp-histMinExp)*histSub + 1
)

// Histogram counts durations in fixed, exponentially growing buckets (see
// the layout above: 16 per power of two, from 1.024 µs to 2^42 ns ≈ 73 min,
// relative error under 6.25%). The zero value is empty. It is a value: a
// snapshot, which the balancer's live counters are read into.
type Histogram struct {
	counts [histBuckets]uint64
	sum    uint64 // nanoseconds
}

// Count is the number of observations.
func (h Histogram) Count() uint64 {
	var n uint64
	for _, c := range h.counts {
		n += c
	}
	return n
}

// Sum is the total of the observed durations (negative ones count as 0):
// Sum/Count is the average (CloudWatch's Average statistic of
// TargetResponseTime). A snapshot taken while a request is recorded may
// hold its count without its duration, or the other way round.
func (h Histogram) Sum() time.Duration { return time.Duration(min(h.sum, math.MaxInt64)) }

// Sub returns the observations between two snapshots: h minus earlier,
// bucket by bucket (a bucket lower than in earlier counts 0).
func (h Histogram) Sub(earlier Histogram) Histogram {
	var out Histogram
	for i := range h.counts {
		out.counts[i] = sub0(h.counts[i], earlier.counts[i])
	}
	out.sum = sub0(h.sum, earlier.sum)
	return out
}

// Quantile returns the q-quantile of the observations (q in [0, 1], values
// outside clamped; 0.99 is p99): the upper bound of the bucket holding the
// observation of rank ceil(q·Count) (at least 1) in increasing order, so it
// is above that observation by less than 6.25% of it (from 1.024 µs up).
// q=0 is the smallest observation's bucket, q=1 the largest's. A value
// below the first bound reports 1.024 µs; a value of 2^42 ns (about 73.3
// min) or more reports 2^42 ns, the last bound, which it is at least.
// Quantile returns 0 when the histogram is empty.
func (h Histogram) Quantile(q float64) time.Duration {
	n := h.Count()
	if n == 0 {
		return 0
	}
	if !(q > 0) { // NaN too
		q = 0
	}
	rank := min(max(uint64(math.Ceil(min(q, 1)*float64(n))), 1), n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(histUpper(i), 1<<histMaxExp)
		}
	}
	return 1 << histMaxExp // not reached
}

// Buckets yields every bucket, empty ones included, in increasing order:
// its upper bound (exclusive: the bucket holds the durations under it and
// at least the previous bound) and its count. The last bucket, open-ended,
// has the upper bound math.MaxInt64 (Prometheus's +Inf).
func (h Histogram) Buckets() iter.Seq2[time.Duration, uint64] {
	return func(yield func(time.Duration, uint64) bool) {
		for i, c := range h.counts {
			if !yield(histUpper(i), c) {
				return
			}
		}
	}
}

// histIndex is the bucket of d.
func histIndex(d time.Duration) int {
	if d < 1<<histMinExp {
		return 0
	}
	v := uint64(d)
	e := bits.Len64(v) - 1 // 2^e <= v < 2^(e+1)
	if e >= histMaxExp {
		return histBuckets - 1
	}
	return 1 + (e-histMinExp)<<histSubBits + int(v>>(e-histSubBits))&(histSub-1)
}

// histUpper is the exclusive upper bound of bucket i; math.MaxInt64 for
// the last.
func histUpper(i int) time.Duration {
	switch {
	case i <= 0:
		return 1 << histMinExp
	case i >= histBuckets-1:
		return math.MaxInt64
	}
	i--
	e := histMinExp + i>>histSubBits
	return time.Duration(histSub+i&(histSub-1)+1) << (e - histSubBits)
}

// histogramRecorder is the live side of a Histogram: lock-free atomic
// counters.
type histogramRecorder struct {
	counts [histBuckets]atomic.Uint64
	sum    atomic.Uint64
}

// observe records d.
func (r *histogramRecorder) observe(d time.Duration) {
	r.counts[histIndex(d)].Add(1)
	if d > 0 {
		r.sum.Add(uint64(d))
	}
}

// snapshot reads the counters.
func (r *histogramRecorder) snapshot() Histogram {
	var h Histogram
	for i := range r.counts {
		h.counts[i] = r.counts[i].Load()
	}
	h.sum = r.sum.Load()
	return h
}
