package proxy

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"sync/atomic"
	"time"
)

// target is one address:port registered in a target group.
//
// Each target has its own Transport: its idle connections can be closed
// exactly when it becomes unused without touching its neighbours', and the
// per-host connection limits are per target by construction.
type target struct {
	addr      string
	transport *http.Transport
	proxy     *httputil.ReverseProxy

	// inflight counts the requests the target is serving. draining is set
	// once the target is deregistered; idle then gets a signal each time
	// inflight drops to zero. gone is set once the target is unused.
	inflight atomic.Int64
	// requests counts the requests sent to the target since it was
	// registered, answered or not (TargetHealth.Requests).
	requests atomic.Uint64
	draining atomic.Bool
	gone     atomic.Bool
	idle     chan struct{}

	// unused is closed once the target is unused and removed.
	unused chan struct{}

	// Guarded by the group's mutex.
	health    health
	stopCheck context.CancelFunc
	// finished is set when the target was removed.
	finished bool
}

// Limits of the connections from the load balancer to one target.
const (
	targetDialTimeout     = 10 * time.Second // ALB's connect timeout
	targetMaxIdleConns    = 100
	targetIdleConnTimeout = 60 * time.Second
)

func newTarget(addr string, h health, dial DialFunc) *target {
	return &target{
		addr:      addr,
		transport: newTargetTransport(dial),
		idle:      make(chan struct{}, 1),
		unused:    make(chan struct{}),
		health:    h,
	}
}

func newTargetTransport(dial DialFunc) *http.Transport {
	return &http.Transport{
		Proxy: nil, // never through HTTP_PROXY
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, targetDialTimeout)
			defer cancel()
			return dial(ctx, network, addr)
		},
		MaxIdleConns:          targetMaxIdleConns,
		MaxIdleConnsPerHost:   targetMaxIdleConns,
		IdleConnTimeout:       targetIdleConnTimeout,
		ExpectContinueTimeout: time.Second,
		// The client's Accept-Encoding goes through untouched and the
		// answer comes back as the target sent it.
		DisableCompression: true,
	}
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
		Requests:    t.requests.Load(),
	}
}
