package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/compile"
	"github.com/shoalhq/shoal/internal/instance"
	"github.com/shoalhq/shoal/internal/netns"
	"github.com/shoalhq/shoal/internal/secgroup"
	"github.com/shoalhq/shoal/internal/spec"
)

// cluster is where serve runs the instances: loopback addresses of this
// host, or network namespaces with the security groups enforced.
type cluster struct {
	instances interface {
		agent.Instances
		PortFree(addr string, port int) (bool, error)
		DialContext(ctx context.Context, network, addr string) (net.Conn, error)
	}
	// firewall enforces the instances' groups; nil on loopback.
	firewall agent.Firewall
	// balancer is the address the load balancer dials tasks from, host
	// the one this host's other processes do, endpointHost where the
	// endpoints of depended-on services listen for tasks ("": loopback).
	balancer     []netip.Addr
	host         netip.Addr
	endpointHost string
	close        func() error
}

// openCluster sets up the instances as the stack asks. Isolation that
// this host cannot give (not Linux, not root, no nft) falls back to
// loopback with a warning, as does a stack with groups on its instances
// that did not ask for it: both say how to have them enforced.
func openCluster(ctx context.Context, e *env, s *spec.Stack, iso compile.Isolation, log *slog.Logger) (*cluster, error) {
	loopback := &cluster{instances: instance.NewLoopback(log), close: func() error { return nil }}
	guarded := len(s.Cluster.SecurityGroups) > 0 || servicesHaveGroups(s)
	if !iso.Netns {
		if guarded {
			fmt.Fprintf(e.stderr, "shoal: the instances' security groups are not enforced (cluster.isolation: none): any process on this host can connect to a task; "+
				"the listeners' groups are. To enforce them, set cluster.isolation: netns in %s and run shoal as root on Linux.\n", s.File)
		}
		return loopback, nil
	}
	if err := netns.Supported(); err != nil {
		fmt.Fprintf(e.stderr, "shoal: cluster.isolation: netns is not available here, so the instances run on loopback addresses and their security groups are not enforced: %v\n", err)
		return loopback, nil
	}
	rng, err := netip.ParsePrefix(iso.Network)
	if err != nil {
		return nil, fmt.Errorf("cluster.network: %w", err)
	}
	n, err := netns.Open(ctx, netns.Options{Stack: networkName(s.Name), Instances: s.Cluster.Instances, Range: rng, Log: log})
	if err != nil {
		return nil, fmt.Errorf("isolated network: %w", err)
	}
	fmt.Fprintf(e.stdout, "shoal: instances isolated in network namespaces %s… on %s; the load balancer dials them from %s, this host's other processes from %s\n",
		n.Instances()[0].Namespace, n.Subnet(), n.BalancerAddr(), n.Gateway())
	return &cluster{
		instances: isolated{n}, firewall: firewall{n},
		balancer: []netip.Addr{n.BalancerAddr()}, host: n.Gateway(), endpointHost: n.Gateway().String(),
		close: n.Close,
	}, nil
}

func servicesHaveGroups(s *spec.Stack) bool {
	for _, svc := range s.Services {
		if svc != nil && len(svc.SecurityGroups) > 0 {
			return true
		}
	}
	return false
}

// networkName is the stack's name as the isolated network takes it:
// lowercase letters, digits and '-', at most 40 characters. A name that
// had to change gets a few characters of its hash, so that two stacks
// whose names differ only in what was dropped stay apart.
func networkName(stack string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(stack) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteRune(c)
		} else {
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-")
	if name == stack && len(name) <= 40 {
		return name
	}
	sum := sha256.Sum256([]byte(stack))
	return strings.Trim(name[:min(len(name), 33)], "-") + "-" + hex.EncodeToString(sum[:3])
}

// isolated is the instance provider of an isolated network.
type isolated struct{ n *netns.Network }

// Cluster returns the first count instances of the network, which was
// opened with the stack's count when shoal started.
func (p isolated) Cluster(count int) ([]instance.Instance, error) {
	all := p.n.Instances()
	if count > len(all) {
		return nil, fmt.Errorf("the isolated network has %d instances, and %d are asked for: restart shoal up to change cluster.instances in isolated mode", len(all), count)
	}
	out := make([]instance.Instance, count)
	for i, in := range all[:count] {
		out[i] = instance.Instance{Name: in.Name, Address: in.Address.String(), Namespace: in.Path}
	}
	return out, nil
}

func (p isolated) PortFree(addr string, port int) (bool, error) { return p.n.PortFree(addr, port) }

func (p isolated) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return p.n.DialContext(ctx, network, addr)
}

// firewall applies the agent's rules as each instance's nftables table.
type firewall struct{ n *netns.Network }

func (f firewall) Apply(ctx context.Context, rules map[string][]secgroup.Admission) error {
	tables := make(map[string][]netns.Accept, len(rules))
	for name, admissions := range rules {
		accepts := make([]netns.Accept, 0, len(admissions))
		for _, a := range admissions {
			accepts = append(accepts, netns.Accept{
				Protocol: string(a.Protocol), FromPort: a.Ports.From, ToPort: a.Ports.To,
				Sources: a.Sources, Comment: a.Why,
			})
		}
		tables[name] = accepts
	}
	return f.n.Apply(ctx, tables)
}

// SecurityGroups is the agent's view of the groups, with what each
// listener's groups denied.
func (b backend) SecurityGroups() agent.SecurityView {
	v := b.Agent.SecurityView()
	guards := b.lb.ListenerGuards()
	for i, l := range v.Listeners {
		for _, g := range guards {
			if g.Listener == l.Name {
				v.Listeners[i].Denied, v.Listeners[i].LastDenied = g.Denied, g.LastDenied
			}
		}
	}
	return v
}
