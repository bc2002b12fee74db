package agent

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strconv"

	"github.com/shoalhq/shoal/internal/instance"
	"github.com/shoalhq/shoal/internal/sched"
	"github.com/shoalhq/shoal/internal/secgroup"
)

// Firewall enforces the instances' security groups: isolated mode's
// packet filter. Apply replaces each named instance's rules with the
// admissions given, in order; new connections follow them once it returns.
type Firewall interface {
	Apply(ctx context.Context, rules map[string][]secgroup.Admission) error
}

// loopbackBalancer is the address the load balancer dials loopback
// instances from: Linux picks 127.0.0.1 for every 127.0.0.0/8 peer.
var loopbackBalancer = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// securitySet compiles s's security groups with their members: the load
// balancer's dialing addresses for its groups, the instances' addresses
// for theirs and the services'.
func (a *Agent) securitySet(s *Stack, instances []instance.Instance) (*secgroup.Set, error) {
	if len(s.Security.Groups) == 0 {
		return nil, nil
	}
	set, err := secgroup.NewSet(s.Security.Groups, a.securityMembers(s, instances))
	if err != nil {
		return nil, fmt.Errorf("security groups: %w", err)
	}
	return set, nil
}

// securityMembers are the addresses in each group of s.
func (a *Agent) securityMembers(s *Stack, instances []instance.Instance) map[string][]netip.Addr {
	sec := s.Security
	balancer := a.cfg.BalancerAddrs
	if len(balancer) == 0 {
		balancer = []netip.Addr{loopbackBalancer}
	}
	var hosts []netip.Addr
	for _, in := range instances {
		if addr, err := netip.ParseAddr(in.Address); err == nil {
			hosts = append(hosts, addr)
		}
	}
	members := map[string][]netip.Addr{}
	for _, g := range sec.Balancer {
		members[g] = append(members[g], balancer...)
	}
	guarded := slices.Clone(sec.Instances)
	for _, name := range sortedKeys(sec.Services) {
		guarded = append(guarded, sec.Services[name]...)
	}
	for _, g := range guarded {
		members[g] = append(members[g], hosts...)
	}
	for g, addrs := range members {
		slices.SortFunc(addrs, netip.Addr.Compare)
		members[g] = slices.Compact(addrs)
	}
	return members
}

// firewallRulesLocked is what each instance's packet filter admits now:
// its instances' groups on every port, and for each running task of a
// service with groups of its own, those groups on the task's port.
func (a *Agent) firewallRulesLocked() map[string][]secgroup.Admission {
	if a.stack == nil {
		return nil
	}
	set := a.stack.LoadBalancer.SecurityGroups
	out := map[string][]secgroup.Admission{}
	for _, in := range a.instances {
		out[in.Name] = nil
		if set != nil {
			out[in.Name] = set.Admissions(a.stack.Security.Instances)
		}
	}
	if set == nil {
		return out
	}
	for _, id := range sortedKeys(a.tasks) {
		t := a.tasks[id]
		groups := a.stack.Security.Services[t.service]
		port, ok := taskPort(t.addr)
		if len(groups) == 0 || !ok || t.status == sched.Stopped {
			continue
		}
		for _, ad := range set.Admissions(groups) {
			if ad, ok := ad.Within(port); ok {
				ad.Why = fmt.Sprintf("%s (task %s of service %s)", ad.Why, t.id, t.service)
				out[t.instance.Name] = append(out[t.instance.Name], ad)
			}
		}
	}
	return out
}

// taskPort is the port of a task's host:port.
func taskPort(addr string) (uint16, bool) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(p, 10, 16)
	return uint16(n), err == nil && n > 0
}

// syncFirewall gives the firewall the rules of the stack and its tasks
// when they changed since it last took them. It runs outside a.mu.
func (a *Agent) syncFirewall(ctx context.Context) {
	if a.cfg.Firewall == nil {
		return
	}
	a.fwMu.Lock()
	defer a.fwMu.Unlock()
	a.mu.Lock()
	rules := a.firewallRulesLocked()
	a.mu.Unlock()
	if rules == nil || reflect.DeepEqual(rules, a.fwApplied) {
		return
	}
	if err := a.cfg.Firewall.Apply(ctx, rules); err != nil {
		a.log.Warn("apply the security groups to the instances", "err", err)
		return // tried again on the next pass
	}
	a.fwApplied = rules
}

// SecurityView is the running stack's security groups with their members
// and what they guard, for `shoal sg explain`.
type SecurityView struct {
	Groups  []secgroup.Group        `json:"groups"`
	Members map[string][]netip.Addr `json:"members"`
	// Listeners are the load balancer's listeners, Tasks the running
	// tasks, each with the groups that guard it.
	Listeners []GuardedPort `json:"listeners"`
	Tasks     []GuardedPort `json:"tasks"`
	// Isolated says the task ports' groups are enforced (cluster.isolation
	// netns); the listeners' always are.
	Isolated bool `json:"isolated"`
	// Host is the address this host's own processes (a shell, curl)
	// connect to the instances from.
	Host netip.Addr `json:"host"`
}

// GuardedPort is a listener or a task port and the groups guarding it.
type GuardedPort struct {
	// Name is the listener's ("web/0") or the task's id.
	Name string `json:"name"`
	// Address is where it listens, ip:port.
	Address string   `json:"address"`
	Groups  []string `json:"security_groups"`
	// Service and Instance are a task's.
	Service  string `json:"service,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Denied is how many connections a listener's groups closed, and
	// LastDenied why the last one was (the load balancer fills them in).
	Denied     uint64 `json:"denied,omitempty"`
	LastDenied string `json:"last_denied,omitempty"`
}

// SecurityView returns the security groups of the running stack; a
// stack without groups has none.
func (a *Agent) SecurityView() SecurityView {
	lb := a.LoadBalancer() // not under a.mu: it asks the balancer
	a.mu.Lock()
	defer a.mu.Unlock()
	v := SecurityView{Isolated: a.cfg.Firewall != nil, Host: a.cfg.HostAddr, Members: map[string][]netip.Addr{}}
	if !v.Host.IsValid() {
		v.Host = loopbackBalancer
	}
	if a.stack == nil {
		return v
	}
	sec := a.stack.Security
	v.Groups, v.Members = sec.Groups, a.securityMembers(a.stack, a.instances)
	for _, l := range lb.Listeners {
		v.Listeners = append(v.Listeners, GuardedPort{Name: l.Name, Address: l.Address, Groups: l.SecurityGroups})
	}
	for _, id := range sortedKeys(a.tasks) {
		t := a.tasks[id]
		if t.status == sched.Stopped || t.addr == "" {
			continue
		}
		groups := append(slices.Clone(sec.Instances), sec.Services[t.service]...)
		v.Tasks = append(v.Tasks, GuardedPort{Name: t.id, Address: t.addr, Groups: groups, Service: t.service, Instance: t.instance.Name})
	}
	return v
}
