package proxy

import (
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/shoalhq/shoal/internal/secgroup"
)

// A listener whose load balancer has security groups checks every
// connection's source before it reads a byte: a source no rule admits is
// closed at once, as a security group drops the SYN before it reaches an
// ALB. The check is one Allow call (no allocation when allowed); a denial
// is counted and its reason kept for `shoal targets`.

// guard is what a listener checks its connections against, and the
// listener's name. It is immutable: Commit stores a new one.
type guard struct {
	name   string
	set    *secgroup.Set // nil: the stack has no groups
	groups []string      // none: anyone may connect
	port   uint16
	denied *denials // the listener's, kept across changes
}

// denials counts the connections a listener's groups denied.
type denials struct {
	count atomic.Uint64
	mu    sync.Mutex
	last  string // why the last one was denied
}

// admit reports whether conn may be served; it counts it when not.
func (g *guard) admit(conn net.Conn) bool {
	if g == nil || g.set == nil || len(g.groups) == 0 {
		return true
	}
	src, ok := remoteAddr(conn)
	d := g.set.Allow(g.groups, src, secgroup.TCP, g.port)
	if ok && d.Allowed {
		return true
	}
	g.denied.count.Add(1)
	g.denied.mu.Lock()
	g.denied.last = d.Why
	g.denied.mu.Unlock()
	return false
}

// remoteAddr is conn's peer address; false when it has none (not TCP).
func remoteAddr(conn net.Conn) (netip.Addr, bool) {
	if a, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		addr, ok := netip.AddrFromSlice(a.IP)
		return addr, ok
	}
	return netip.Addr{}, false
}

// installGuards gives each listener of cfg its guard.
func installGuards(cfg Config, listeners map[string]*listener) {
	for _, lc := range cfg.Listeners {
		l := listeners[listenerKey(lc)]
		port, _ := strconv.ParseUint(l.port, 10, 16)
		l.guard.Store(&guard{name: lc.Name, set: cfg.SecurityGroups, groups: slices.Clone(lc.SecurityGroups),
			port: uint16(port), denied: &l.denied})
	}
}

// ListenerGuard is a listener's security groups and what they denied.
type ListenerGuard struct {
	// Listener is the listener's name ("web/0") and Address where it is
	// bound.
	Listener string `json:"listener"`
	Address  string `json:"address"`
	// Groups guard it; none means anyone may connect.
	Groups []string `json:"security_groups"`
	// Denied is how many connections its groups denied since shoal
	// started, and LastDenied why the last one was.
	Denied     uint64 `json:"denied"`
	LastDenied string `json:"last_denied,omitempty"`
}

// ListenerGuards lists every listener with its security groups and the
// connections they denied, by listener name.
func (b *Balancer) ListenerGuards() []ListenerGuard {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []ListenerGuard
	for _, l := range b.listeners {
		g := l.guard.Load()
		if g == nil {
			continue
		}
		l.denied.mu.Lock()
		last := l.denied.last
		l.denied.mu.Unlock()
		out = append(out, ListenerGuard{Listener: g.name, Address: l.ln.Addr().String(),
			Groups: slices.Clone(g.groups), Denied: l.denied.count.Load(), LastDenied: last})
	}
	slices.SortFunc(out, func(a, b ListenerGuard) int { return strings.Compare(a.Listener, b.Listener) })
	return out
}
