package proxy

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httputil"
	"sync/atomic"
	"time"
)

// target is one address:port registered in a target group.
//
// Each target has its own transports: their idle connections can be
// closed exactly when it becomes unused without touching its neighbours',
// and the per-host connection limits are per target by construction.
type target struct {
	addr      string
	transport *targetTransport
	proxy     *httputil.ReverseProxy

	// inflight counts the requests the target is serving. draining is set
	// once the target is deregistered; idle then gets a signal each time
	// inflight drops to zero. gone is set once the target is unused.
	inflight atomic.Int64
	// metrics are the target's own counters, as its group's: the
	// requests sent to it since it was registered, answered or not
	// (TargetHealth.Requests), its answers' codes and times, and the
	// errors the balancer answered for it (Balancer.TargetMetrics).
	metrics  groupCounters
	draining atomic.Bool
	gone     atomic.Bool
	idle     chan struct{}
	// healthFault is set while an injected fault fails its health checks
	// (Balancer.SetHealthFault).
	healthFault atomic.Bool

	// unused is closed once the target is unused and removed.
	unused chan struct{}

	// Guarded by the group's mutex.
	health health
	// refusing is set when a request found the target refusing
	// connections, until its next passing check: it takes no traffic.
	refusing  bool
	stopCheck context.CancelFunc
	// finished is set when the target was removed.
	finished bool

	// weight is the target's weight for weighted random; 0 counts as 1.
	// Nothing sets it yet: ALB's weights come from anomaly mitigation,
	// which shoal does not implement.
	weight uint32
	// rampFrom is when the target last entered slow start; zero when it
	// has not, or left it by becoming unhealthy.
	rampFrom time.Time
	// rampOnHealthy is set when the target was registered while the group
	// had a healthy target not in slow start: only then does its first
	// passage to healthy start a slow start.
	rampOnHealthy bool
}

// Limits of the connections from the load balancer to one target.
const (
	targetDialTimeout     = 10 * time.Second // ALB's connect timeout
	targetMaxIdleConns    = 100
	targetIdleConnTimeout = 60 * time.Second
)

func newTarget(addr string, h health, dial DialFunc, maxConns int) *target {
	t := &target{
		addr: addr,
		transport: &targetTransport{dial: dial, wire: [2]*wirePool{
			{addr: addr, dial: dial, max: maxConns},
			{addr: addr, dial: dial, max: maxConns, secure: true},
		}},
		idle:   make(chan struct{}, 1),
		unused: make(chan struct{}),
		health: h,
	}
	t.metrics.init()
	return t
}

// targetTransport sends the requests of one target, each the way its
// group's upstream says (HTTP/1.1 or HTTP/2, cleartext or TLS), on an
// http.Transport per way, made on first use: a group keeps one way, but
// one whose protocol changes on Apply moves its next requests at once.
type targetTransport struct {
	dial DialFunc
	ways [4]atomic.Pointer[http.Transport] // by wayOf
	// wire are the pools of shoal's own HTTP/1.1 client (wire.go),
	// cleartext and TLS.
	wire [2]*wirePool
}

// wirePool is the HTTP/1.1 pool of the wire client, TLS or not.
func (tt *targetTransport) wirePool(secure bool) *wirePool {
	if secure {
		return tt.wire[1]
	}
	return tt.wire[0]
}

var _ http.RoundTripper = (*targetTransport)(nil)

// wayOf indexes targetTransport.ways.
func wayOf(u upstream) int {
	i := 0
	if u.tls {
		i |= 1
	}
	if u.http2() {
		i |= 2
	}
	return i
}

// RoundTrip sends req the way its forwarding data says; HTTP/1.1 in
// cleartext without any.
func (tt *targetTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var u upstream
	if f, ok := req.Context().Value(forwardKey{}).(*forwarding); ok {
		u = f.upstream
	}
	return tt.transport(u).RoundTrip(req)
}

// transport is the http.Transport of u, made on first use.
func (tt *targetTransport) transport(u upstream) *http.Transport {
	p := &tt.ways[wayOf(u)]
	if t := p.Load(); t != nil {
		return t
	}
	p.CompareAndSwap(nil, newTargetTransport(tt.dial, u)) // a loser has no connection yet
	return p.Load()
}

// closeAll closes the idle connections of every way, and those of the
// wire client given back later: the target is unused.
func (tt *targetTransport) closeAll() {
	for _, p := range tt.wire {
		p.closeIdle(true)
	}
	tt.CloseIdleConnections()
}

// CloseIdleConnections closes the idle connections of every way.
func (tt *targetTransport) CloseIdleConnections() {
	for _, p := range tt.wire {
		p.closeIdle(false)
	}
	for i := range tt.ways {
		if t := tt.ways[i].Load(); t != nil {
			t.CloseIdleConnections()
		}
	}
}

// newTargetTransport is the transport of requests to one target the way u
// says.
func newTargetTransport(dial DialFunc, u upstream) *http.Transport {
	var protocols http.Protocols
	switch {
	case !u.http2():
		protocols.SetHTTP1(true)
	case u.tls:
		protocols.SetHTTP2(true) // ALPN offers h2 only
	default:
		protocols.SetUnencryptedHTTP2(true) // h2c with prior knowledge
	}
	t := &http.Transport{
		Proxy: nil, // never through HTTP_PROXY
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, targetDialTimeout)
			defer cancel()
			return dial(ctx, network, addr)
		},
		Protocols:             &protocols,
		MaxIdleConns:          targetMaxIdleConns,
		MaxIdleConnsPerHost:   targetMaxIdleConns,
		IdleConnTimeout:       targetIdleConnTimeout,
		ExpectContinueTimeout: time.Second,
		// The client's Accept-Encoding goes through untouched and the
		// answer comes back as the target sent it.
		DisableCompression: true,
	}
	if u.tls {
		// ALB does not verify the targets' certificates: self-signed
		// and expired ones work. The handshake has the dial timeout.
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		t.TLSHandshakeTimeout = targetDialTimeout
	}
	return t
}

// acquire counts a new request on the target. It fails, counting nothing,
// when the target has started draining.
//
// The increment comes before the draining check, and startDrain sets
// draining before it reads inflight: so either the drain sees this request
// or this request sees the drain, never neither.
func (t *target) acquire() bool {
	t.inflight.Add(1)
	if t.draining.Load() {
		t.release()
		return false
	}
	return true
}

// release ends a request counted by acquire.
func (t *target) release() {
	if t.inflight.Add(-1) != 0 || !t.draining.Load() {
		return
	}
	select {
	case t.idle <- struct{}{}:
	default:
	}
	if t.gone.Load() {
		// Served past the drain deadline: drop the connection it returned.
		t.transport.CloseIdleConnections()
	}
}

// waitIdle waits until nothing is in flight, the deadline fires or ctx is
// done.
func (t *target) waitIdle(ctx context.Context, deadline <-chan time.Time) {
	for t.inflight.Load() > 0 {
		select {
		case <-t.idle:
		case <-deadline:
			return
		case <-ctx.Done():
			return
		}
	}
}

// snapshotLocked reports the target's health; the group's mutex must be
// held.
func (t *target) snapshotLocked(group string) TargetHealth {
	return TargetHealth{
		Group:       group,
		Target:      t.addr,
		State:       t.health.state,
		Reason:      t.health.reason,
		Description: t.health.description,
		Since:       t.health.since,
		InFlight:    int(t.inflight.Load()),
		Requests:    t.metrics.requests.Load(),
	}
}
