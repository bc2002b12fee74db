// Package proxy is shoal's data plane: an HTTP load balancer that behaves
// like an AWS Application Load Balancer. Listeners forward to target groups;
// targets are health checked (initial → healthy ⇄ unhealthy), only healthy
// targets get traffic (all of them when none is, failing open), and a
// deregistered target drains (draining → unused) before it is dropped.
//
// Routing reads immutable tables swapped whole with atomic pointers, so a
// request never sees half-applied config and the hot path takes no lock.
package proxy

import (
	"cmp"
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
	"github.com/shoalhq/shoal/internal/spec"
)

// ErrClosed is returned by Apply and Register once the balancer is closed.
var ErrClosed = errors.New("load balancer closed")

// Options configure a Balancer.
type Options struct {
	// Clock times health checks and drains. Default: clock.Real{}.
	Clock clock.Clock
	// Logger gets the balancer's logs. Default: discard.
	Logger *slog.Logger
	// OnHealthChange is called on every change of a target's state, in the
	// order the changes happened, from one goroutine of the balancer and
	// never while a lock is held. It should return quickly: later changes
	// wait for it.
	OnHealthChange func(HealthChange)
}

// Balancer is the load balancer: listeners, routing and target groups.
type Balancer struct {
	d      deps
	wg     sync.WaitGroup // every goroutine of the balancer but the notifier
	ctx    context.Context
	cancel context.CancelFunc
	table  atomic.Pointer[routingTable]
	closed atomic.Bool

	mu        sync.Mutex           // serializes Apply and Close
	listeners map[string]*listener // by listenerKey
	groups    map[string]*targetGroup
}

// routingTable is what requests are routed by. Immutable once stored.
type routingTable struct {
	listeners []*listener // in Config order
	routes    map[*listener]*route
	groups    map[string]*targetGroup
}

// route is where one listener sends its requests.
type route struct {
	name        string
	group       *targetGroup
	idleTimeout time.Duration
	port        string
}

// New returns a balancer with no listeners; Apply gives it some.
func New(opts Options) *Balancer {
	b := &Balancer{listeners: map[string]*listener{}, groups: map[string]*targetGroup{}}
	b.d = deps{
		clock:   cmp.Or[clock.Clock](opts.Clock, clock.Real{}),
		log:     cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)),
		wg:      &b.wg,
		buffers: newBufferPool(),
	}
	b.d.events = newNotifier(opts.OnHealthChange, b.d.log)
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.table.Store(&routingTable{})
	return b
}

// Apply makes cfg the balancer's configuration, all or nothing. New
// listeners are bound first; if one cannot be, those just bound are closed
// and Apply returns an error with nothing changed. Then the new routing
// table is swapped in whole, and listeners no longer configured stop
// taking connections (their in-flight requests finish). Listeners whose
// address is unchanged keep running; target groups keep their targets and
// health, and a changed health check applies from the next check. Static
// targets are registered, and those removed from the config deregistered
// (Apply does not wait for their drain).
func (b *Balancer) Apply(ctx context.Context, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return ErrClosed
	}
	listeners, bound, err := b.bindLocked(ctx, cfg.Listeners)
	if err != nil {
		return err
	}
	groups := b.nextGroupsLocked(cfg.TargetGroups)
	table := newRoutingTable(cfg, listeners, groups)
	b.table.Store(table)
	for _, l := range bound {
		l.start(router{b, l}, table.routes[l].idleTimeout, b.d.log, &b.wg)
	}
	b.retireLocked(listeners, groups)
	b.listeners, b.groups = listeners, groups
	for _, name := range slices.Sorted(maps.Keys(cfg.TargetGroups)) {
		groups[name].setStatic(cfg.TargetGroups[name].Targets)
	}
	return nil
}

// bindLocked returns the listeners of the new config, keeping the running
// ones and binding the others (also returned apart as bound).
func (b *Balancer) bindLocked(ctx context.Context, lcs []ListenerConfig) (map[string]*listener, []*listener, error) {
	next := map[string]*listener{}
	var bound []*listener
	for _, lc := range lcs {
		key := listenerKey(lc)
		if l := b.listeners[key]; l != nil {
			next[key] = l
			continue
		}
		l, err := bindListener(ctx, lc.Address)
		if err != nil {
			for _, l := range bound {
				l.ln.Close()
			}
			return nil, nil, fmt.Errorf("listener %s: %w", lc.Name, err) // err names the address
		}
		next[key] = l
		bound = append(bound, l)
	}
	return next, bound, nil
}

// nextGroupsLocked returns the target groups of the new config: the
// existing ones with their new settings, and new empty ones.
func (b *Balancer) nextGroupsLocked(tgs map[string]*spec.TargetGroup) map[string]*targetGroup {
	next := map[string]*targetGroup{}
	for name, tg := range tgs {
		s := settingsFrom(tg)
		if g := b.groups[name]; g != nil {
			g.settings.Store(s)
			next[name] = g
			continue
		}
		next[name] = newTargetGroup(b.ctx, name, s, &b.d)
	}
	return next
}

func newRoutingTable(cfg Config, listeners map[string]*listener, groups map[string]*targetGroup) *routingTable {
	t := &routingTable{routes: map[*listener]*route{}, groups: groups}
	for _, lc := range cfg.Listeners {
		l := listeners[listenerKey(lc)]
		t.listeners = append(t.listeners, l)
		t.routes[l] = &route{
			name:        lc.Name,
			group:       groups[lc.TargetGroup],
			idleTimeout: cmp.Or(lc.IdleTimeout, spec.DefaultIdleTimeout),
			port:        l.port,
		}
	}
	return t
}

// retireLocked stops the listeners and drops the target groups that are
// not in the new config.
func (b *Balancer) retireLocked(listeners map[string]*listener, groups map[string]*targetGroup) {
	for key, l := range b.listeners {
		if listeners[key] != l {
			l.retire(b.ctx, &b.wg)
		}
	}
	for name, g := range b.groups {
		if groups[name] != g {
			g.close()
		}
	}
}

// router routes the requests of one listener by the current routing table.
type router struct {
	b *Balancer
	l *listener
}

var _ http.Handler = router{}

func (rr router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt := rr.b.table.Load().routes[rr.l]
	if rt == nil { // the listener is being retired
		writeError(w, http.StatusServiceUnavailable)
		return
	}
	rt.group.serve(w, r, rt)
}

// ListenerAddrs returns the bound address of every listener, in Config
// order, with the port chosen for port 0.
func (b *Balancer) ListenerAddrs() []string {
	t := b.table.Load()
	addrs := make([]string, len(t.listeners))
	for i, l := range t.listeners {
		addrs[i] = l.ln.Addr().String()
	}
	return addrs
}

// Register adds target (address:port) to group in state initial and starts
// checking it. Registering a registered target does nothing; registering
// one that is still draining fails with ErrTargetDraining.
func (b *Balancer) Register(group, target string) error {
	if b.closed.Load() {
		return ErrClosed
	}
	if err := validTarget(target); err != nil {
		return err
	}
	g := b.table.Load().groups[group]
	if g == nil {
		return fmt.Errorf("%w %q", ErrUnknownTargetGroup, group)
	}
	return g.register(target)
}

// Deregister takes target out of routing at once and drains it: it returns
// once the target's in-flight requests are done or the group's
// deregistration delay has passed, whichever comes first, when the target
// is unused; or when ctx is done (the drain goes on). Concurrent calls wait
// for the same drain. A target that is not registered, in a group that may
// not exist, is left alone and nil returned.
func (b *Balancer) Deregister(ctx context.Context, group, target string) error {
	g := b.table.Load().groups[group]
	if g == nil {
		return nil
	}
	unused := g.deregister(target)
	if unused == nil {
		return nil
	}
	select {
	case <-unused:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Targets reports every target of every group, draining ones included,
// sorted by group then target.
func (b *Balancer) Targets() []TargetHealth {
	t := b.table.Load()
	var out []TargetHealth
	for _, name := range slices.Sorted(maps.Keys(t.groups)) {
		out = append(out, t.groups[name].report()...)
	}
	return out
}

// Close shuts the balancer down: listeners stop taking connections and
// their in-flight requests get until ctx is done to finish; then health
// checks and drains stop, every target becomes unused, and Close returns
// once every goroutine of the balancer has exited.
func (b *Balancer) Close(ctx context.Context) error {
	b.mu.Lock()
	if b.closed.Swap(true) {
		b.mu.Unlock()
		return nil
	}
	listeners, groups := b.listeners, b.groups
	b.mu.Unlock()
	err := shutdownAll(ctx, slices.Collect(maps.Values(listeners)))
	b.cancel()
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		groups[name].close()
	}
	b.wg.Wait()
	b.d.events.close()
	return err
}

// shutdownAll shuts the listeners down together.
func shutdownAll(ctx context.Context, ls []*listener) error {
	errs := make([]error, len(ls))
	var wg sync.WaitGroup
	for i, l := range ls {
		wg.Go(func() { errs[i] = l.shutdown(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
