package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoalhq/shoal/internal/clock"
)

// ErrUnknownTargetGroup is returned for a target group that is not in the
// applied Config.
var ErrUnknownTargetGroup = errors.New("unknown target group")

// ErrTargetDraining is returned by Register for a target that is still
// draining from an earlier deregistration.
var ErrTargetDraining = errors.New("target is draining")

// deps are what target groups share with their balancer.
type deps struct {
	clock  clock.Clock
	log    *slog.Logger
	events *notifier
	// wg counts every goroutine the balancer owns.
	wg *sync.WaitGroup
	// buffers are the reverse proxies' copy buffers, shared by every target
	// so that a response does not allocate its own 32 KiB.
	buffers *bufferPool
	// dial connects to targets.
	dial DialFunc
	// cookieKey seals the stickiness cookies (sealCookie): made once per
	// balancer, so that a cookie from another balancer or an earlier run
	// does not open.
	cookieKey []byte
	// claims signs x-amzn-oidc-data with a key derived from cookieKey,
	// made once with it.
	claims *claimsSigner
	// jwks are the JWKS key sets of the JWT validation actions.
	jwks *keySets
	// maxConns caps the connections to each target.
	maxConns int
}

// groupSettings are a target group's settings, as the balancer keeps them.
// Immutable: a changed config makes a new value.
type groupSettings struct {
	path                string
	port                int // 0: the traffic port
	interval, timeout   time.Duration
	thresholds          thresholds
	matcher             Matcher
	deregistrationDelay time.Duration
	algorithm           algorithm
	// slowStart is how long a newly healthy target ramps up; 0 when off,
	// and always 0 unless the algorithm is round robin: ALB refuses slow
	// start with least outstanding requests and weighted random.
	slowStart time.Duration
	sticky    stickiness
	upstream  upstream
}

func settingsFrom(tg TargetGroupConfig) *groupSettings {
	hc := tg.HealthCheck
	alg := parseAlgorithm(tg.Algorithm)
	slowStart := tg.SlowStart
	if alg != algoRoundRobin {
		slowStart = 0
	}
	return &groupSettings{
		path:     hc.Path,
		port:     hc.Port,
		interval: hc.Interval,
		timeout:  hc.Timeout,
		thresholds: thresholds{
			healthy:   hc.HealthyThreshold,
			unhealthy: hc.UnhealthyThreshold,
		},
		matcher:             slices.Clone(hc.Success),
		deregistrationDelay: tg.DeregistrationDelay,
		algorithm:           alg,
		slowStart:           slowStart,
		sticky:              stickinessFrom(tg.Stickiness),
		upstream:            upstreamOf(tg),
	}
}

// targetSet is the immutable routing view of a group's targets.
type targetSet struct {
	healthy *pool
	// open is every registered target that is not draining: the group
	// fails open to these when none is healthy.
	open *pool
}

// candidates are the targets a request may go to: the healthy ones, or
// when there are none every one that is not draining.
func (s *targetSet) candidates() *pool {
	if len(s.healthy.targets) > 0 {
		return s.healthy
	}
	return s.open
}

// targetGroup is a pool of targets with their health checks. Routing reads
// only atomics; registration, health changes and drains take the mutex and
// publish a new targetSet.
type targetGroup struct {
	name     string
	d        *deps
	checks   *checkClient
	ctx      context.Context // done when the group is dropped or closed
	cancel   context.CancelFunc
	settings atomic.Pointer[groupSettings]
	set      atomic.Pointer[targetSet]
	next     atomic.Uint64
	metrics  groupCounters // the group's ALB metrics (metrics.go)
	// fault is the response fault injected (`shoal fault latency|errors`);
	// nil, one atomic load on the forward path, when there is none.
	fault atomic.Pointer[ResponseFault]

	mu      sync.Mutex
	targets map[string]*target
	static  map[string]bool // targets registered by Apply
	closed  bool            // takes no new targets
	// retiring is set once the group was removed from the config: its
	// targets drain, and the group stops once the last one is unused.
	retiring bool
}

func newTargetGroup(ctx context.Context, name string, s *groupSettings, d *deps) *targetGroup {
	g := &targetGroup{name: name, d: d, checks: newCheckClient(d.dial), targets: map[string]*target{}}
	g.ctx, g.cancel = context.WithCancel(ctx)
	g.settings.Store(s)
	g.set.Store(&targetSet{healthy: &pool{}, open: &pool{}})
	g.metrics.init()
	return g
}

// maxPickAttempts bounds the retries of pick when it races with drains.
const maxPickAttempts = 4

// pickFor chooses the target of r and counts the request on it; nil when
// the group has no target to send to. A stickiness cookie of r that names
// a candidate wins; otherwise the group's algorithm picks. With lb_cookie
// stickiness it sets the AWSALB and AWSALBCORS cookies on w's header, for
// the proxy to send with the target's answer; app_cookie stickiness sets
// AWSALBAPP-0 once the target has answered (see stickAppCookie).
func (g *targetGroup) pickFor(w http.ResponseWriter, r *http.Request) *target {
	s := g.settings.Load()
	if s.sticky.kind == stickyOff {
		return g.pickBy(s)
	}
	return g.pickSticky(w, r, s)
}

// pickBy chooses a target by the group's algorithm (settings s), ignoring
// stickiness, and counts the request on it; nil when the group has no
// target to send to.
func (g *targetGroup) pickBy(s *groupSettings) *target {
	for range maxPickAttempts {
		p := g.set.Load().candidates()
		if len(p.targets) == 0 {
			return nil
		}
		if t := p.targets[g.choose(p, s)]; t.acquire() {
			return t
		}
	}
	return nil
}

// register adds a target in state initial and starts checking it.
func (g *targetGroup) register(addr string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return fmt.Errorf("%w %q", ErrUnknownTargetGroup, g.name)
	}
	if t := g.targets[addr]; t != nil {
		if t.draining.Load() {
			return fmt.Errorf("register %s in %s: %w", addr, g.name, ErrTargetDraining)
		}
		return nil
	}
	now := g.d.clock.Now()
	t := newTarget(addr, newHealth(now), g.d.dial, g.d.maxConns)
	t.proxy = newTargetProxy(t, g.d, &g.metrics)
	g.stickAppCookies(t)
	t.rampOnHealthy = g.steadyLocked(nil, now)
	g.targets[addr] = t
	g.publishLocked()
	g.notifyLocked(t, StateUnused, now)
	ctx, cancel := context.WithCancel(g.ctx)
	t.stopCheck = cancel
	c := &checker{g: g, t: t}
	g.d.wg.Go(func() { c.run(ctx) })
	return nil
}

// deregister starts draining addr and returns a channel closed once it is
// unused; nil when addr is not registered.
func (g *targetGroup) deregister(addr string) <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	t := g.targets[addr]
	if t == nil {
		return nil
	}
	if t.health.state != StateDraining {
		g.startDrainLocked(t)
	}
	return t.unused
}

func (g *targetGroup) startDrainLocked(t *target) {
	now := g.d.clock.Now()
	from := t.health.state
	t.health = t.health.drain(now)
	t.stopCheck()
	g.publishLocked() // out of routing before draining is set: see acquire
	t.draining.Store(true)
	g.notifyLocked(t, from, now)
	deadline := g.d.clock.NewTimer(g.settings.Load().deregistrationDelay)
	g.d.wg.Go(func() {
		defer deadline.Stop()
		t.waitIdle(g.ctx, deadline.C())
		g.finish(t)
	})
}

func (g *targetGroup) finish(t *target) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.finishLocked(t)
}

// finishLocked makes t unused and removes it from the group.
func (g *targetGroup) finishLocked(t *target) {
	if t.finished {
		return
	}
	t.finished = true
	now := g.d.clock.Now()
	from := t.health.state
	t.health = t.health.unused(now)
	t.stopCheck()
	delete(g.targets, t.addr)
	g.publishLocked()
	t.draining.Store(true)
	t.gone.Store(true)
	g.notifyLocked(t, from, now)
	close(t.unused)
	t.transport.closeAll()
	if g.retiring && len(g.targets) == 0 {
		g.stopLocked()
	}
}

// retire drains every target of a group removed from the config; once the
// last one is unused the group stops.
func (g *targetGroup) retire() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed, g.retiring = true, true
	for _, addr := range slices.Sorted(maps.Keys(g.targets)) {
		if t := g.targets[addr]; t.health.state != StateDraining {
			g.startDrainLocked(t)
		}
	}
	if len(g.targets) == 0 {
		g.stopLocked()
	}
}

// retired reports whether a retiring group has no target left.
func (g *targetGroup) retired() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.retiring && len(g.targets) == 0
}

// stopLocked ends the group's checks and drains and drops its idle
// health check connections.
func (g *targetGroup) stopLocked() {
	g.cancel()
	g.checks.close()
}

// checking notes that the first check of t has started.
func (g *targetGroup) checking(t *target) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t.health = t.health.checking()
}

// observe feeds a check result of t to its health.
func (g *targetGroup) observe(t *target, r checkResult) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.finished {
		return
	}
	now := g.d.clock.Now()
	prev := t.health
	t.health = prev.observe(r, g.settings.Load().thresholds, now)
	// A refusing target is back in rotation once it passes a check, and
	// in the fail-open pool once its checks made it unhealthy.
	if t.refusing && (r.pass() || t.health.state != StateHealthy) {
		t.refusing = false
		if t.health.reason == ReasonRefusedConnection { // still healthy
			t.health.reason, t.health.description = "", ""
		}
		g.publishLocked()
	}
	if t.health.state != prev.state {
		g.rampLocked(t, prev.state, now)
		g.publishLocked()
		g.notifyLocked(t, prev.state, now)
	}
}

// refused takes t out of rotation at once after a request's connection to
// it was refused or reset before a byte went through: shoal's passive
// health check, so that requests stop going to a target that died between
// two active checks (the request itself is retried on another target).
// Its next passing check brings it back. Its health state is left to the
// active checks, as ALB reports it: a task whose process died is stopped
// for that, not for failing health checks.
func (g *targetGroup) refused(t *target, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.finished || t.refusing || t.health.state != StateHealthy {
		return // an unhealthy one is failed open to only when all are
	}
	t.refusing = true
	t.health.reason = ReasonRefusedConnection
	t.health.description = "Out of rotation until its next passing health check: a request found it refusing connections (" +
		errDetail(err) + ") and went to another target"
	g.publishLocked()
	g.d.log.Info("target refused a connection: out of rotation until its next passing health check",
		"target_group", g.name, "target", t.addr, "err", errDetail(err))
}

// publishLocked swaps in a new targetSet built from the targets' health.
func (g *targetGroup) publishLocked() {
	var healthy, open []*target
	for _, addr := range slices.Sorted(maps.Keys(g.targets)) {
		t := g.targets[addr]
		switch {
		case t.refusing:
			// Out of rotation until its next passing check; not even
			// failed open to: it does not listen.
		case t.health.state == StateHealthy:
			healthy = append(healthy, t)
			open = append(open, t)
		case t.health.state == StateUnhealthy:
			// Failing open, as ALB: to every unhealthy target, never to
			// one still initial, which may not listen yet (503 until one
			// passes a check).
			open = append(open, t)
		}
	}
	g.set.Store(&targetSet{healthy: newPool(healthy), open: newPool(open)})
}

func (g *targetGroup) notifyLocked(t *target, from State, now time.Time) {
	h := t.health
	g.d.events.push(HealthChange{
		Group: g.name, Target: t.addr, From: from, To: h.state,
		Reason: h.reason, Description: h.description, At: now,
	})
}

// setStatic registers the static targets of the spec and deregisters the
// ones removed from it since the last Apply, without waiting for drains.
func (g *targetGroup) setStatic(addrs []string) {
	want := map[string]bool{}
	for _, a := range addrs {
		want[a] = true
	}
	g.mu.Lock()
	old := g.static
	g.static = want
	g.mu.Unlock()
	for _, a := range slices.Sorted(maps.Keys(want)) {
		if err := g.register(a); err != nil {
			g.d.log.Warn("static target not registered", "target_group", g.name, "target", a, "err", err)
		}
	}
	for a := range old {
		if !want[a] {
			g.deregister(a)
		}
	}
}

// report reports every target of the group, sorted by address.
func (g *targetGroup) report() []TargetHealth {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]TargetHealth, 0, len(g.targets))
	for _, addr := range slices.Sorted(maps.Keys(g.targets)) {
		th := g.targets[addr].snapshotLocked(g.name)
		th.Fault = g.faultNoteLocked(g.targets[addr])
		out = append(out, th)
	}
	return out
}

// close drops the group: every target becomes unused at once, checks and
// drains stop.
func (g *targetGroup) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	for _, addr := range slices.Sorted(maps.Keys(g.targets)) {
		g.finishLocked(g.targets[addr])
	}
	g.stopLocked()
}
