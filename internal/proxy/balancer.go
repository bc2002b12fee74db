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
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoalhq/shoal/internal/clock"
	"github.com/shoalhq/shoal/internal/httpwire"
	"github.com/shoalhq/shoal/internal/routing"
)

// ErrClosed is returned by Apply and Register once the balancer is closed.
var ErrClosed = errors.New("load balancer closed")

// Options configure a Balancer.
type Options struct {
	// Clock times health checks and drains. Default: clock.Real{}.
	Clock clock.Clock
	// Logger gets the balancer's logs. Default: discard.
	Logger *slog.Logger
	// Dial connects to a target, for requests and health checks alike: the
	// instance provider's dialer, which knows where tasks listen. Default: a
	// plain TCP dial from this host.
	Dial DialFunc
	// OnHealthChange is called on every change of a target's state, in the
	// order the changes happened, from one goroutine of the balancer and
	// never while a lock is held. It should return quickly: later changes
	// wait for it.
	OnHealthChange func(HealthChange)
	// AccessLogStdout gets the access log lines of the listeners whose
	// AccessLogConfig.Path is "-", whole lines at a time, at least every
	// second. Default: os.Stdout.
	AccessLogStdout io.Writer
	// MaxClientConns caps the client connections of all listeners
	// together (see gate.go). Default: half the process's file-descriptor
	// limit left after a reserve of 512.
	MaxClientConns int
	// MaxConnsPerTarget caps the connections to one target (see wire.go).
	// Default: 1024.
	MaxConnsPerTarget int
}

// DialFunc dials addr on network, like net.Dialer.DialContext.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Balancer is the load balancer: listeners, routing and target groups.
type Balancer struct {
	d      deps
	wg     sync.WaitGroup // every goroutine of the balancer but the notifier
	ctx    context.Context
	cancel context.CancelFunc
	table  atomic.Pointer[routingTable]
	closed atomic.Bool
	gate   gate

	mu        sync.Mutex           // serializes Prepare, Commit and Close
	gen       uint64               // counts commits
	listeners map[string]*listener // by listenerKey
	groups    map[string]*targetGroup
	retiring  []*targetGroup // removed from the config, still draining
	// conns are the connection counters of every load balancer ever
	// configured, by name.
	conns map[string]*connCounters
	// logs are the open access log writers, by path.
	logs      map[string]*logWriter
	logStdout io.Writer
}

// routingTable is what requests are routed by. Immutable once stored.
type routingTable struct {
	listeners []*listener // in Config order
	routes    map[*listener]*route
	groups    map[string]*targetGroup
	// conns are the configured load balancers' connection counters.
	conns map[string]*connCounters
}

// route is how one listener routes its requests: its compiled rules, and
// the target groups of their forward actions, by rule priority (0: the
// default action).
type route struct {
	name     string
	table    *routing.Table
	forwards map[int]*forwardTo
	// oidc are the listener's authenticate-oidc actions, whose callback
	// and public keys it answers.
	oidc        []*routing.OIDCAction
	idleTimeout time.Duration
	// headerReadTimeout bounds the reading of a request head, and
	// clientKeepAlive a client connection's life.
	headerReadTimeout, clientKeepAlive time.Duration
	desync                             desyncMode
	// conns are the counters of the listener's load balancer.
	conns  *connCounters
	port   string
	scheme string
	// xff is the listener's X-Forwarded-For mode (XFFAppend when ""), and
	// xffPort whether append writes the client's port too.
	xff     string
	xffPort bool
	// maxBody is the largest request body taken; 0: no limit.
	maxBody int64
	// headers changes every answer of the listener; nil when it does not.
	headers *responseHeaders
	// log is the listener's access log; nil when it has none.
	log *accessLog
}

// New returns a balancer with no listeners; Apply gives it some.
func New(opts Options) *Balancer {
	b := &Balancer{listeners: map[string]*listener{}, groups: map[string]*targetGroup{}, conns: map[string]*connCounters{},
		logs: map[string]*logWriter{}, logStdout: cmp.Or[io.Writer](opts.AccessLogStdout, os.Stdout)}
	b.gate.max = cmp.Or(opts.MaxClientConns, defaultMaxConns(fileLimit()))
	b.d = deps{
		clock:   cmp.Or[clock.Clock](opts.Clock, clock.Real{}),
		log:     cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)),
		wg:      &b.wg,
		buffers: newBufferPool(),
		// Stickiness cookies are sealed with a key of this process: a
		// restart re-picks every sticky client once.
		cookieKey: newCookieKey(),
		dial:      opts.Dial,
		maxConns:  cmp.Or(opts.MaxConnsPerTarget, defaultMaxConnsPerTarget),
	}
	if b.d.dial == nil {
		b.d.dial = (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext
	}
	b.d.claims = newClaimsSigner(b.d.cookieKey)
	b.d.jwks = &keySets{}
	b.d.events = newNotifier(opts.OnHealthChange, b.d.log)
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.table.Store(&routingTable{})
	return b
}

// Apply makes cfg the balancer's configuration, all or nothing: Prepare,
// then Commit.
func (b *Balancer) Apply(ctx context.Context, cfg Config) error {
	c, err := b.Prepare(ctx, cfg)
	if err != nil {
		return err
	}
	return c.Commit()
}

// Change is a configuration made ready by Prepare: its new listeners are
// bound, but nothing serves by it until Commit. Exactly one of Commit and
// Abort must be called.
type Change struct {
	b     *Balancer
	cfg   Config
	gen   uint64                // the balancer's generation it was prepared against
	next  map[string]*listener  // by listenerKey: kept ones and bound ones
	bound []*listener           // the ones Prepare bound
	certs listenerCerts         // loaded by Prepare, installed by Commit
	logs  map[string]*logWriter // access logs Prepare opened
	done  bool
}

// ErrConflict is returned by Commit when another configuration was
// committed after this one was prepared.
var ErrConflict = errors.New("the load balancer's configuration changed since this change was prepared")

// Prepare checks cfg and binds its new listeners, changing nothing that
// serves: if a listener cannot be bound, those just bound are closed and
// the error names the listener and the address. Listeners whose address is
// unchanged are kept as they are.
func (b *Balancer) Prepare(ctx context.Context, cfg Config) (*Change, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	certs, err := loadCertificates(cfg.Listeners, b.d.clock.Now())
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return nil, ErrClosed
	}
	logs, err := b.openLogsLocked(cfg.Listeners)
	if err != nil {
		return nil, err
	}
	next, bound, err := b.bindLocked(ctx, cfg.Listeners)
	if err != nil {
		closeLogs(logs)
		return nil, err
	}
	return &Change{b: b, cfg: cfg, gen: b.gen, next: next, bound: bound, certs: certs, logs: logs}, nil
}

// Abort drops a prepared change: the listeners it bound are closed.
// Calling it after Commit does nothing.
func (c *Change) Abort() {
	if c.done {
		return
	}
	c.done = true
	for _, l := range c.bound {
		l.ln.Close()
	}
	closeLogs(c.logs)
}

// openLogsLocked opens the access logs of lcs that are not open yet.
func (b *Balancer) openLogsLocked(lcs []ListenerConfig) (map[string]*logWriter, error) {
	opened := map[string]*logWriter{}
	for _, lc := range lcs {
		if lc.AccessLog == nil || b.logs[lc.AccessLog.Path] != nil || opened[lc.AccessLog.Path] != nil {
			continue
		}
		lw, err := openLogWriter(lc.AccessLog.Path, b.logStdout, b.d.log)
		if err != nil {
			closeLogs(opened)
			return nil, fmt.Errorf("listener %s: %w", lc.Name, err)
		}
		opened[lc.AccessLog.Path] = lw
	}
	return opened, nil
}

// commitLogsLocked adds the access logs a change opened and returns those
// no listener of cfg logs to any more, to close once no request uses them.
func (b *Balancer) commitLogsLocked(cfg Config, opened map[string]*logWriter) map[string]*logWriter {
	maps.Copy(b.logs, opened)
	used := map[string]bool{}
	for _, lc := range cfg.Listeners {
		if lc.AccessLog != nil {
			used[lc.AccessLog.Path] = true
		}
	}
	dropped := map[string]*logWriter{}
	for path, lw := range b.logs {
		if !used[path] {
			dropped[path] = lw
			delete(b.logs, path)
		}
	}
	return dropped
}

// closeLogs flushes and closes access logs.
func closeLogs(logs map[string]*logWriter) {
	for _, lw := range logs {
		lw.close()
	}
}

// Commit swaps the change in whole: the new routing table takes every
// request from then on, new listeners start serving, and listeners no
// longer configured stop taking connections (their in-flight requests
// finish). Target groups keep their targets and health, and a changed
// health check applies from the next check. A target group no longer
// configured drains: its targets take no new requests and are dropped once
// their in-flight requests are done or its deregistration delay has
// passed. Static targets are registered, and those removed from the config
// deregistered (Commit does not wait for their drain). Commit fails, with
// the change aborted and nothing changed, when the balancer was closed or
// another change was committed since Prepare.
func (c *Change) Commit() error {
	if c.done {
		return errors.New("change already committed or aborted")
	}
	b := c.b
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed.Load():
		c.Abort()
		return ErrClosed
	case b.gen != c.gen:
		c.Abort()
		return ErrConflict
	}
	c.done = true
	dropped := b.commitLogsLocked(c.cfg, c.logs)
	groups := b.nextGroupsLocked(c.cfg.TargetGroups)
	table := newRoutingTable(c.cfg, c.next, groups, b.logs)
	table.conns = b.connCountersLocked(c.cfg.Listeners, c.next)
	for _, lc := range c.cfg.Listeners {
		table.routes[c.next[listenerKey(lc)]].conns = table.conns[loadBalancerName(lc.Name)]
	}
	b.table.Store(table)
	c.certs.install(c.next)
	installGuards(c.cfg, c.next)
	for _, l := range c.bound {
		l.start(b, table.routes[l].idleTimeout, b.d.log, &b.wg)
	}
	b.retireLocked(c.next, groups)
	b.listeners, b.groups = c.next, groups
	b.gen++
	for _, name := range slices.Sorted(maps.Keys(c.cfg.TargetGroups)) {
		groups[name].setStatic(c.cfg.TargetGroups[name].Targets)
	}
	// A request that read the old table may still log to a dropped
	// writer: it is closed a moment later, and a line written after
	// that is dropped.
	if len(dropped) > 0 {
		b.wg.Go(func() {
			select {
			case <-time.After(logFlushInterval):
			case <-b.ctx.Done():
			}
			closeLogs(dropped)
		})
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
func (b *Balancer) nextGroupsLocked(tgs map[string]TargetGroupConfig) map[string]*targetGroup {
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

func newRoutingTable(cfg Config, listeners map[string]*listener, groups map[string]*targetGroup, logs map[string]*logWriter) *routingTable {
	t := &routingTable{routes: map[*listener]*route{}, groups: groups}
	for _, lc := range cfg.Listeners {
		l := listeners[listenerKey(lc)]
		t.listeners = append(t.listeners, l)
		t.routes[l] = newRoute(lc, l, groups)
		t.routes[l].log = newAccessLog(lc.AccessLog, logs)
	}
	return t
}

// newRoute compiles a listener's rules (validate has compiled them once
// already, so this does not fail) and resolves their target groups.
func newRoute(lc ListenerConfig, l *listener, groups map[string]*targetGroup) *route {
	routes := lc.routes()
	table, err := routing.Compile(routes)
	if err != nil {
		panic("proxy: a validated listener's rules do not compile: " + err.Error())
	}
	rt := &route{
		name: lc.Name, table: table, forwards: map[int]*forwardTo{}, oidc: oidcActions(routes),
		idleTimeout: lc.IdleTimeout, port: l.port, scheme: cmp.Or(lc.Protocol, "http"),
		headerReadTimeout: cmp.Or(lc.HeaderReadTimeout, defaultHeaderReadTimeout),
		clientKeepAlive:   cmp.Or(lc.ClientKeepAlive, defaultClientKeepAlive),
		desync:            parseDesyncMode(lc.DesyncMode),
		xff:               cmp.Or(lc.XFF, XFFAppend), xffPort: lc.XFFClientPort,
		maxBody: lc.MaxRequestBody,
		headers: newResponseHeaders(lc.Headers),
	}
	if a := routes.Default; a.Type == routing.Forward {
		rt.forwards[0] = newForwardTo(a.Forward, groups)
	}
	for _, r := range routes.Rules {
		if r.Action.Type == routing.Forward {
			rt.forwards[r.Priority] = newForwardTo(r.Action.Forward, groups)
		}
	}
	return rt
}

// retireLocked stops the listeners and drains the target groups that are
// not in the new config. A retiring group stays reachable by Deregister and
// Targets until its last target is unused.
func (b *Balancer) retireLocked(listeners map[string]*listener, groups map[string]*targetGroup) {
	for key, l := range b.listeners {
		if listeners[key] != l {
			l.retire(b.ctx, &b.wg)
		}
	}
	b.retiring = slices.DeleteFunc(b.retiring, (*targetGroup).retired)
	for _, name := range slices.Sorted(maps.Keys(b.groups)) {
		if g := b.groups[name]; groups[name] != g {
			g.retire()
			b.retiring = append(b.retiring, g)
		}
	}
}

// router routes the requests of one listener by the current routing table.
type router struct {
	b *Balancer
	l *listener
}

var _ http.Handler = router{}

// ServeHTTP serves the requests of the HTTP/2 server, which net/http has
// parsed: they are compliant by construction.
func (rr router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rr.serve(w, r, httpwire.Verdict{})
}

// serve routes r, whose head the front end classified v.
func (rr router) serve(w http.ResponseWriter, r *http.Request, v httpwire.Verdict) {
	rt := rr.b.table.Load().routes[rr.l]
	if rt == nil { // the listener is being retired
		writeError(w, http.StatusServiceUnavailable)
		return
	}
	var e *logEntry
	if rt.log != nil {
		e, w, r = rt.log.begin(w, r)
		e.verdict = v
		defer rt.log.finish(e, r, rt)
	}
	if rt.headers != nil {
		w = rt.headers.wrap(w)
	}
	if rt.maxBody > 0 && r.Body != nil && r.Body != http.NoBody {
		if r.ContentLength > rt.maxBody {
			writeError(w, http.StatusRequestEntityTooLarge)
			return
		}
		r = capBody(r, rt.maxBody)
	}
	if rt.serveOAuth2(w, r, &rr.b.d) { // the OIDC callback and public keys, never routed
		if e != nil {
			e.auth = true
		}
		return
	}
	req := routingRequest(r, rt.scheme, rt.port)
	a, priority := rt.table.Match(&req)
	if e != nil {
		e.priority, e.action, e.auth = priority, a.Type, a.Auth != nil
	}
	rt.act(w, r, &req, a, priority, &rr.b.d)
}

// refuse answers r with status without routing it (a request the desync
// mitigation mode refuses, or a method ALB does not take), logging it with
// its classification.
func (rr router) refuse(w http.ResponseWriter, r *http.Request, v httpwire.Verdict, status int) {
	if rt := rr.b.table.Load().routes[rr.l]; rt != nil && rt.log != nil {
		var e *logEntry
		e, w, r = rt.log.begin(w, r)
		e.verdict = v
		defer rt.log.finish(e, r, rt)
	}
	writeError(w, status)
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
	unused := b.deregister(group, target)
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

// deregister starts draining target in the group of that name, or in a
// retiring group of that name, and returns the channel closed once it is
// unused; nil when no such group holds it.
func (b *Balancer) deregister(group, target string) <-chan struct{} {
	if g := b.table.Load().groups[group]; g != nil {
		if unused := g.deregister(target); unused != nil {
			return unused
		}
	}
	for _, g := range b.retiringNamed(group) {
		if unused := g.deregister(target); unused != nil {
			return unused
		}
	}
	return nil
}

// retiringNamed returns the retiring groups called name.
func (b *Balancer) retiringNamed(name string) []*targetGroup {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*targetGroup
	for _, g := range b.retiring {
		if g.name == name {
			out = append(out, g)
		}
	}
	return out
}

// Targets reports every target of every group, draining ones included
// (those of retiring groups too), sorted by group then target.
func (b *Balancer) Targets() []TargetHealth {
	t := b.table.Load()
	b.mu.Lock()
	retiring := slices.Clone(b.retiring)
	b.mu.Unlock()
	var out []TargetHealth
	for _, name := range slices.Sorted(maps.Keys(t.groups)) {
		out = append(out, t.groups[name].report()...)
	}
	for _, g := range retiring {
		out = append(out, g.report()...)
	}
	slices.SortStableFunc(out, func(x, y TargetHealth) int {
		return cmp.Or(cmp.Compare(x.Group, y.Group), cmp.Compare(x.Target, y.Target))
	})
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
	listeners, groups, retiring, logs := b.listeners, b.groups, b.retiring, b.logs
	b.logs = map[string]*logWriter{}
	b.mu.Unlock()
	err := shutdownAll(ctx, slices.Collect(maps.Values(listeners)))
	b.cancel()
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		groups[name].close()
	}
	for _, g := range retiring {
		g.close()
	}
	b.wg.Wait()
	closeLogs(logs) // after the listeners' shutdown: their requests are logged
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
