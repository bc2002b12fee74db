// Package instance is where tasks run. An instance is one host for tasks,
// with an address of its own; a provider owns the instances of a cluster:
// where their tasks run and listen, how a port is checked free there, and
// how the load balancer and its health checks dial a task.
//
// Loopback is the first provider: every instance is a loopback address of
// this host. Network namespaces (security groups) and a container network
// (the Docker driver) are the next ones; the agent, the driver and the
// load balancer reach instances only through what a provider gives them.
package instance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
)

// Instance is one host for tasks.
type Instance struct {
	// Name is "instance-N", N counting from 1 in placement order.
	Name string
	// Address is where the instance's tasks listen and are reached: each
	// task listens on Address and a dynamic host port.
	Address string
	// Namespace is the path of the network namespace the instance's tasks
	// run in, where Address is ("": this host's network).
	Namespace string
}

// MaxInstances is the most instances a cluster can have.
const MaxInstances = 250

// Loopback places instance N on the loopback address 127.0.0.(N+1) of this
// host, leaving 127.0.0.1 to the load balancer's listeners, so that targets
// on different instances are told apart as on two EC2 hosts. Linux routes
// all of 127.0.0.0/8 to the loopback interface; where a host only has
// 127.0.0.1 (macOS, unless aliases are added to lo0), every instance shares
// 127.0.0.1 and a warning says how to add the addresses. It is safe for
// concurrent use.
type Loopback struct {
	log    *slog.Logger
	dialer net.Dialer

	mu     sync.Mutex
	shared bool // this host lacks 127.0.0.2 and up: all instances share 127.0.0.1
	warned bool
}

// NewLoopback returns the loopback provider. log gets the one warning a
// host without loopback aliases earns; nil discards it.
func NewLoopback(log *slog.Logger) *Loopback {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Loopback{log: log}
}

// Cluster returns n instances, in placement order.
func (l *Loopback) Cluster(n int) ([]Instance, error) {
	if n < 1 || n > MaxInstances {
		return nil, fmt.Errorf("a cluster has 1-%d instances, not %d", MaxInstances, n)
	}
	shared, err := l.sharedAddress(n)
	if err != nil {
		return nil, err
	}
	out := make([]Instance, n)
	for i := range out {
		addr := loopbackAddr(i + 1)
		if shared {
			addr = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		}
		out[i] = Instance{Name: fmt.Sprintf("instance-%d", i+1), Address: addr.String()}
	}
	return out, nil
}

// loopbackAddr is instance n's own address, 127.0.0.(n+1).
func loopbackAddr(n int) netip.Addr { return netip.AddrFrom4([4]byte{127, 0, 0, byte(n + 1)}) }

// sharedAddress finds out, once, whether this host can bind the instances'
// own addresses. It checks the highest one the cluster needs.
func (l *Loopback) sharedAddress(n int) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shared {
		return true, nil
	}
	addr := loopbackAddr(n)
	ln, err := net.Listen("tcp", net.JoinHostPort(addr.String(), "0"))
	if err == nil {
		return false, ln.Close()
	}
	if !errors.Is(err, syscall.EADDRNOTAVAIL) {
		return false, fmt.Errorf("instance address %s: %w", addr, err)
	}
	l.shared = true
	if !l.warned {
		l.warned = true
		l.log.Warn("this host has no loopback addresses beyond 127.0.0.1, so every instance shares 127.0.0.1 (tasks still differ by port); "+
			"to give each instance its own address, add them to the loopback interface, on macOS: sudo ifconfig lo0 alias 127.0.0.N up, for N from 2 to instances+1",
			"address", addr.String())
	}
	return true, nil
}

// PortFree reports whether nothing on this host is bound to addr:port.
func (l *Loopback) PortFree(addr string, port int) (bool, error) { return HostPortFree(addr, port) }

// DialContext connects to a task from the load balancer: on loopback, a
// plain dial.
func (l *Loopback) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return l.dialer.DialContext(ctx, network, addr)
}

// HostPortFree binds addr:port in this host's network and closes it again.
// "Address in use" means taken; any other failure (an address that is not
// local, a privileged port) would fail for every port, so it is returned
// rather than scanned past.
func HostPortFree(addr string, port int) (bool, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
	if errors.Is(err, syscall.EADDRINUSE) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("host port: %w", err)
	}
	return true, l.Close()
}
