package agent

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/shoalhq/shoal/internal/secgroup"
)

// fakeFirewall keeps the rules it was last given.
type fakeFirewall struct {
	mu    sync.Mutex
	rules map[string][]secgroup.Admission
	calls int
}

func (f *fakeFirewall) Apply(_ context.Context, rules map[string][]secgroup.Admission) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules, f.calls = rules, f.calls+1
	return nil
}

// of describes the rules of one instance, one line each.
func (f *fakeFirewall) of(instance string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, a := range f.rules[instance] {
		out = append(out, fmt.Sprintf("%s %s from %v", a.Protocol, a.Ports, a.Sources))
	}
	return out
}

func rule(proto, ports, source string) secgroup.Rule {
	r := secgroup.Rule{Protocol: secgroup.Protocol(proto), Ports: secgroup.AllPorts}
	if ports != "all" {
		r.Ports, _ = secgroup.ParsePorts(ports)
	}
	if p, err := netip.ParsePrefix(source); err == nil {
		r.CIDR = p
	} else {
		r.SourceGroup = source
	}
	return r
}

// securedStack is testStack with the tutorial's groups, and a group of
// the service's own admitting 10.0.0.0/8 on every tcp port.
func securedStack(instancesFrom string) *Stack {
	s := testStack(2)
	s.Security = Security{
		Groups: []secgroup.Group{
			{Name: "alb", Ingress: []secgroup.Rule{rule("tcp", "all", "0.0.0.0/0")}},
			{Name: "instances", Ingress: []secgroup.Rule{rule("tcp", "all", instancesFrom)}},
			{Name: "scrape", Ingress: []secgroup.Rule{rule("tcp", "all", "10.0.0.0/8")}},
		},
		Balancer: []string{"alb"}, Instances: []string{"instances"},
		Services: map[string][]string{"web": {"scrape"}},
	}
	s.LoadBalancer.Listeners[0].SecurityGroups = []string{"alb"}
	return s
}

func TestAgent_FirewallGetsTheInstancesAndServicesRules(t *testing.T) {
	fw := &fakeFirewall{}
	balancer := netip.MustParseAddr("198.18.7.254")
	h := newHarness(t, func(c *Config) { c.Firewall, c.BalancerAddrs = fw, []netip.Addr{balancer} })
	h.run(t, securedStack("alb"))
	waitFor(t, "2 running tasks", h.running(2))
	tasks := h.runner.started()
	waitFor(t, "each task's port in its instance's rules", func() bool {
		for _, tk := range tasks {
			_, port, _ := strings.Cut(tk.addr, ":")
			in := "instance-1"
			if strings.HasPrefix(tk.addr, "127.0.0.3") {
				in = "instance-2"
			}
			want := fmt.Sprintf("tcp %s from [10.0.0.0/8]", port)
			if !slices.Contains(fw.of(in), want) {
				return false
			}
		}
		return true
	})
	for _, in := range []string{"instance-1", "instance-2"} {
		if got := fw.of(in); len(got) == 0 || got[0] != "tcp all from [198.18.7.254/32]" {
			t.Errorf("%s's first rule is %q, want the instances' group admitting the load balancer's address", in, got)
		}
	}
	if set := h.agent.LoadBalancer().SecurityGroups; set == nil {
		t.Fatal("the load balancer's config lost its security groups")
	} else if d := set.Allow([]string{"instances"}, balancer, secgroup.TCP, 40001); !d.Allowed {
		t.Errorf("the set denies the load balancer: %s", d.Why)
	}

	v := h.agent.SecurityView()
	if !v.Isolated || len(v.Tasks) != 2 || len(v.Listeners) != 1 || v.Listeners[0].Groups[0] != "alb" {
		t.Errorf("SecurityView = %+v, want isolated, 2 tasks and listener web/0 guarded by alb", v)
	}
	for _, tk := range v.Tasks {
		if !slices.Equal(tk.Groups, []string{"instances", "scrape"}) || tk.Service != "web" {
			t.Errorf("task %s is guarded by %v, want the instances' and the service's groups", tk.Name, tk.Groups)
		}
	}
	if got := v.Members["alb"]; len(got) != 1 || got[0] != balancer {
		t.Errorf("alb's members are %v, want the balancer's address", got)
	}

	// A changed rule reaches the firewall by the time Apply returns.
	if err := h.agent.Apply(context.Background(), securedStack("192.0.2.0/24")); err != nil {
		t.Fatal(err)
	}
	if got := fw.of("instance-1"); len(got) == 0 || got[0] != "tcp all from [192.0.2.0/24]" {
		t.Errorf("after Apply, instance-1's first rule is %q, want the new one", got)
	}
}

func TestAgent_UnknownSourceGroupIsRefused(t *testing.T) {
	h := newHarness(t)
	s := securedStack("nope")
	err := h.agent.Apply(context.Background(), s)
	if err == nil || !strings.Contains(err.Error(), `source_group "nope"`) {
		t.Fatalf("Apply = %v, want the unknown source group named", err)
	}
}

func TestAgent_NoGroupsNoFirewallRules(t *testing.T) {
	fw := &fakeFirewall{}
	h := newHarness(t, func(c *Config) { c.Firewall = fw })
	h.run(t, testStack(1))
	waitFor(t, "1 running task", h.running(1))
	waitFor(t, "the firewall to get the (empty) rules", func() bool {
		fw.mu.Lock()
		defer fw.mu.Unlock()
		return fw.calls > 0
	})
	for _, in := range []string{"instance-1", "instance-2"} {
		if got := fw.of(in); len(got) != 0 {
			t.Errorf("%s has rules %q in a stack without groups", in, got)
		}
	}
}
