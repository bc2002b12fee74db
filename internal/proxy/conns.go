package proxy

import (
	"net"

	"github.com/shoalhq/shoal/internal/httpwire"
	"slices"
	"strings"
	"sync/atomic"
)

// Client connections are counted per load balancer, over all its
// listeners, as ALB's ActiveConnectionCount and NewConnectionCount. The
// accept path counts a connection with two atomic adds and wraps it in a
// countedConn (one small allocation per connection, beside the HTTP
// server's own); its Close takes it off the active count, once. Requests
// cost nothing more: the counters sit on the connection, not the
// forward path.

// ConnectionCounts are a load balancer's client connections, over all its
// listeners, since the balancer started.
type ConnectionCounts struct {
	// Active is how many client connections are open now (ALB
	// ActiveConnectionCount), upgraded ones (WebSockets) included until
	// they close.
	Active int64
	// New is how many client connections were accepted (ALB
	// NewConnectionCount).
	New uint64
	// Rejected is how many connections were refused or shed for lack of
	// capacity (ALB RejectedConnectionCount; see gate.go).
	Rejected uint64
	// Denied is how many connections the load balancer's security groups
	// closed before a byte was read (shoal's own: on AWS they never reach
	// the load balancer).
	Denied uint64
	// NonCompliant counts the requests that were not compliant, by their
	// desync class (ALB DesyncMitigationMode_NonCompliant_Request_Count,
	// split by class): index 1 acceptable, 2 ambiguous, 3 severe (index 0
	// stays 0).
	NonCompliant [4]uint64
}

// connCounters are the live counters of one load balancer's connections.
// They outlive configuration changes: a load balancer removed and
// configured again goes on counting where it was.
type connCounters struct {
	accepted     atomic.Uint64
	active       atomic.Int64
	rejected     atomic.Uint64
	denied       atomic.Uint64
	nonCompliant [4]atomic.Uint64 // by httpwire.Class
}

func (c *connCounters) read() ConnectionCounts {
	cc := ConnectionCounts{Active: c.active.Load(), New: c.accepted.Load(), Rejected: c.rejected.Load(), Denied: c.denied.Load()}
	for i := range c.nonCompliant {
		cc.NonCompliant[i] = c.nonCompliant[i].Load()
	}
	return cc
}

// reject counts a connection refused or shed; c may be nil.
func (c *connCounters) reject() {
	if c != nil {
		c.rejected.Add(1)
	}
}

// deny counts a connection its security groups denied; c may be nil.
func (c *connCounters) deny() {
	if c != nil {
		c.denied.Add(1)
	}
}

// classified counts a request of class k that was not compliant; c may be
// nil.
func (c *connCounters) classified(k httpwire.Class) {
	if c != nil && k != httpwire.Compliant && int(k) < len(c.nonCompliant) {
		c.nonCompliant[k].Add(1)
	}
}

// track counts a newly accepted connection, admitted by g as e, and
// returns it wrapped, so that closing it takes it off the active count and
// out of the gate; c may be nil (not counted).
func (c *connCounters) track(conn net.Conn, g *gate, e *gateEntry) net.Conn {
	if c != nil {
		c.accepted.Add(1)
		c.active.Add(1)
	}
	return &countedConn{Conn: conn, counters: c, gate: g, entry: e}
}

// countedConn is an accepted client connection that leaves the active
// count and the gate when it is first closed, by the front end, the
// HTTP/2 server it was handed to, or whoever hijacked it (a WebSocket).
type countedConn struct {
	net.Conn
	counters *connCounters
	gate     *gate
	entry    *gateEntry
	closed   atomic.Bool
}

func (c *countedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		if c.counters != nil {
			c.counters.active.Add(-1)
		}
		c.gate.leave(c.entry)
	}
	return c.Conn.Close()
}

// loadBalancerName is the load balancer a listener belongs to: its name
// up to the "/" ("web/0" is web's).
func loadBalancerName(listener string) string {
	name, _, _ := strings.Cut(listener, "/")
	return name
}

// connCountersLocked gives each listener of the new config its load
// balancer's counters (made on first use), and returns them by load
// balancer for the routing table.
func (b *Balancer) connCountersLocked(lcs []ListenerConfig, listeners map[string]*listener) map[string]*connCounters {
	out := map[string]*connCounters{}
	for _, lc := range lcs {
		name := loadBalancerName(lc.Name)
		c := b.conns[name]
		if c == nil {
			c = &connCounters{}
			b.conns[name] = c
		}
		listeners[listenerKey(lc)].conns.Store(c)
		out[name] = c
	}
	return out
}

// ConnectionCounts returns the client connection counts of every
// configured load balancer, by name (a listener "web/0" is load balancer
// web's).
func (b *Balancer) ConnectionCounts() map[string]ConnectionCounts {
	t := b.table.Load()
	out := make(map[string]ConnectionCounts, len(t.conns))
	for name, c := range t.conns {
		out[name] = c.read()
	}
	return out
}

// TargetGroups returns the names of the configured target groups, sorted
// (not those still draining after they were removed from the config).
func (b *Balancer) TargetGroups() []string {
	groups := b.table.Load().groups
	names := make([]string, 0, len(groups))
	for name := range groups {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
