package netns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"syscall"
)

// Options configure a stack's isolated network.
type Options struct {
	// Stack is the stack's name: lowercase letters, digits and '-', at most
	// 40 characters. The names of the namespaces and links derive from it.
	Stack string
	// Instances is how many instances (namespaces) to create: 1 to 250.
	Instances int
	// Range is the IPv4 range the stack's /24 is taken from; the zero value
	// means DefaultRange.
	Range netip.Prefix
	// Log receives what Open and Close did; nil discards it.
	Log *slog.Logger
}

// DefaultRange is where stacks' subnets come from unless Options.Range says
// otherwise: RFC 2544's benchmarking range, never routed on the internet, so
// it rarely collides with a real network.
var DefaultRange = netip.MustParsePrefix("198.18.0.0/15")

// maxStack bounds a stack's name so that namespace names stay readable; the
// link names do not depend on it (they use a hash).
const maxStack = 40

// maxInstances keeps .(N+1) below BalancerAddr's .254.
const maxInstances = 250

// validate checks o and fills in its defaults.
func (o *Options) validate() error {
	if err := checkStack(o.Stack); err != nil {
		return err
	}
	if o.Instances < 1 || o.Instances > maxInstances {
		return fmt.Errorf("stack %s: %d instances: isolated mode runs 1 to %d", o.Stack, o.Instances, maxInstances)
	}
	if !o.Range.IsValid() {
		o.Range = DefaultRange
	}
	if !o.Range.Addr().Is4() || o.Range.Bits() > 24 {
		return fmt.Errorf("range %s: give an IPv4 prefix of /24 or larger, such as %s", o.Range, DefaultRange)
	}
	o.Range = o.Range.Masked()
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

func checkStack(s string) error {
	if s == "" || len(s) > maxStack {
		return fmt.Errorf("stack name %q: give 1 to %d lowercase letters, digits or '-'", s, maxStack)
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("stack name %q has %q: use only lowercase letters, digits and '-'", s, c)
		}
	}
	return nil
}

// Instance is one instance's namespace and address.
type Instance struct {
	Name      string     // "instance-N", N from 1
	Namespace string     // "shoal-<stack>-instance-N", as `ip netns list` shows it
	Path      string     // "/run/netns/shoal-<stack>-instance-N": what setns(2) opens
	Address   netip.Addr // the address of the namespace's eth0: x.y.z.(N+1)
}

// Network is a stack's isolated network, from Open to Close. Its methods
// are safe for concurrent use.
type Network struct {
	stack     string
	subnet    netip.Prefix
	instances []Instance
	log       *slog.Logger
	lock      *os.File // the stack's lock, held until Close

	// mu serialises Apply and Close, so that a Close never runs between
	// the instances of one Apply and two Applies end in the later one.
	mu     sync.Mutex
	closed bool
	loaded map[string]string // instance name → the script its table came from
}

// Instances returns the stack's instances, in order.
func (n *Network) Instances() []Instance { return slices.Clone(n.instances) }

// Subnet returns the stack's /24.
func (n *Network) Subnet() netip.Prefix { return n.subnet }

// Gateway returns x.y.z.1, the bridge's primary address in the host
// namespace: every host process that connects to an instance has it as its
// source address, and shoal's service endpoints listen on it for tasks.
func (n *Network) Gateway() netip.Addr { return hostAddr(n.subnet, gatewayHost) }

// BalancerAddr returns x.y.z.254, the bridge's second address. Only the
// load balancer dials from it (see DialContext), so the instances' rules can
// admit the load balancer without admitting every process on the host.
func (n *Network) BalancerAddr() netip.Addr { return hostAddr(n.subnet, balancerHost) }

// DialContext dials addr like net.Dialer does; to an address inside Subnet
// it dials from BalancerAddr (port 0), so that the instance's rules see the
// load balancer. It is the load balancer's dial function in isolated mode.
func (n *Network) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	d.LocalAddr = n.localAddr(network, addr)
	return d.DialContext(ctx, network, addr)
}

// localAddr is the address DialContext binds before dialing addr, or nil
// for a plain dial (addresses outside the subnet, names, other networks).
func (n *Network) localAddr(network, addr string) net.Addr {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !n.subnet.Contains(a.Unmap()) {
		return nil
	}
	ip := net.IP(n.BalancerAddr().AsSlice())
	switch network {
	case "tcp", "tcp4":
		return &net.TCPAddr{IP: ip}
	case "udp", "udp4":
		return &net.UDPAddr{IP: ip}
	}
	return nil
}

// PortFree reports whether nothing in the namespace of the instance whose
// Address is addr is bound to TCP addr:port, by binding it there and closing
// it at once. It fails when addr belongs to no instance.
func (n *Network) PortFree(addr string, port int) (bool, error) {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false, fmt.Errorf("port check: %w", err)
	}
	inst, ok := n.instanceAt(a)
	if !ok {
		return false, fmt.Errorf("port check: %s is no instance's address in stack %s (they are %s)", addr, n.stack, n.addrList())
	}
	if port < 1 || port > 65535 {
		return false, fmt.Errorf("port check: port %d: give 1 to 65535", port)
	}
	free := false
	err = n.Do(inst.Name, func() error {
		l, err := net.Listen("tcp", netip.AddrPortFrom(inst.Address, uint16(port)).String())
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil
		}
		if err != nil {
			return err
		}
		free = true
		return l.Close()
	})
	return free, err
}

// Do runs fn on an OS thread that is in the named instance's network
// namespace, and returns fn's error. Sockets fn creates live in that
// namespace and may be used from any goroutine afterwards; fn must not
// start goroutines that expect to be in the namespace.
func (n *Network) Do(instance string, fn func() error) error {
	inst, ok := n.instance(instance)
	if !ok {
		return fmt.Errorf("stack %s has no %s (it has instance-1 to instance-%d)", n.stack, instance, len(n.instances))
	}
	if n.isClosed() {
		return n.closedError()
	}
	return n.do(inst.Path, fn)
}

// Apply replaces each named instance's firewall with the accepts given,
// atomically per instance: a connection sees either the old table or the
// new one, and new connections follow the new one once Apply returns.
// Instances not in rules keep their table, and so do those whose accepts
// render the same script as last time (Apply can be called with the whole
// desired state at every change). Everything is checked before any table
// changes; if loading one table fails, the instances before it (in name
// order) have their new tables and the others their old ones.
func (n *Network) Apply(ctx context.Context, rules map[string][]Accept) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return n.closedError()
	}
	names := slices.Sorted(maps.Keys(rules))
	for _, name := range names {
		if err := n.checkRules(name, rules[name]); err != nil {
			return err
		}
	}
	for _, name := range names {
		if err := n.loadLocked(ctx, name, Render(rules[name])); err != nil {
			return err
		}
	}
	return nil
}

// loadLocked gives the named instance the table of script, unless it has
// it already. The caller holds n.mu, or has n to itself (in Open).
func (n *Network) loadLocked(ctx context.Context, name, script string) error {
	if n.loaded[name] == script {
		return nil
	}
	inst, _ := n.instance(name)
	if err := n.load(ctx, inst.Namespace, script); err != nil {
		return fmt.Errorf("firewall of %s (it keeps its previous table): %w", name, err)
	}
	if n.loaded == nil {
		n.loaded = make(map[string]string)
	}
	n.loaded[name] = script
	n.log.Debug("firewall loaded", "stack", n.stack, "instance", name)
	return nil
}

func (n *Network) checkRules(name string, accepts []Accept) error {
	if _, ok := n.instance(name); !ok {
		return fmt.Errorf("firewall: stack %s has no %s (it has instance-1 to instance-%d)", n.stack, name, len(n.instances))
	}
	for i, a := range accepts {
		if err := a.check(); err != nil {
			return fmt.Errorf("firewall of %s, rule %d: %w", name, i+1, err)
		}
	}
	return nil
}

// Close removes everything Open created (namespaces, veths, bridge, lock
// file) and releases the stack's lock. The stack's tasks must have stopped.
// Closing twice is harmless.
func (n *Network) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	return n.teardown()
}

func (n *Network) isClosed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closed
}

func (n *Network) closedError() error {
	return fmt.Errorf("isolated network of stack %s is closed", n.stack)
}

func (n *Network) instance(name string) (Instance, bool) {
	i := slices.IndexFunc(n.instances, func(in Instance) bool { return in.Name == name })
	if i < 0 {
		return Instance{}, false
	}
	return n.instances[i], true
}

func (n *Network) instanceAt(a netip.Addr) (Instance, bool) {
	i := slices.IndexFunc(n.instances, func(in Instance) bool { return in.Address == a.Unmap() })
	if i < 0 {
		return Instance{}, false
	}
	return n.instances[i], true
}

func (n *Network) addrList() string {
	if len(n.instances) == 0 {
		return "none"
	}
	return fmt.Sprintf("%s to %s", n.instances[0].Address, n.instances[len(n.instances)-1].Address)
}
