package secgroup

import (
	"net/netip"
	"testing"
)

// cidrRule is a rule with a CIDR source, from the values a stack file
// gives; it panics on a bad value, which is a bug in the test.
func cidrRule(proto, ports, cidr string) Rule {
	return Rule{Protocol: must(ParseProtocol(proto)), Ports: must(ParsePorts(ports)), CIDR: must(ParseCIDR(cidr))}
}

// groupRule is a rule whose source is the group src.
func groupRule(proto, ports, src string) Rule {
	return Rule{Protocol: must(ParseProtocol(proto)), Ports: must(ParsePorts(ports)), SourceGroup: src}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

// The addresses of the tutorial: the load balancer dials tasks from lbAddr;
// task1 and task2 are tasks on two instances; internet is a client.
const (
	lbAddr   = "127.0.0.2"
	task1    = "127.0.0.11"
	task2    = "127.0.0.12"
	internet = "203.0.113.9"
)

// tutorialGroups are the AWS tutorial's groups, plus a few that the tests
// of ports, protocols and several groups need.
func tutorialGroups() []Group {
	return []Group{
		{Name: "alb", Ingress: []Rule{
			cidrRule("tcp", "80", "0.0.0.0/0"),
			cidrRule("tcp", "80", "::/0"),
		}},
		{Name: "instances", Ingress: []Rule{
			groupRule("tcp", "all", "alb"),
		}},
		{Name: "api", Ingress: []Rule{ // a service's own group
			cidrRule("tcp", "9000", "10.0.0.0/8"),
		}},
		{Name: "edges", Ingress: []Rule{
			cidrRule("tcp", "8000-8100", "10.0.0.0/8"),
			cidrRule("udp", "53", "10.0.0.0/8"),
		}},
		{Name: "ops", Ingress: []Rule{
			cidrRule("all", "all", "192.0.2.0/24"),
			cidrRule("icmp", "all", "198.51.100.0/24"),
		}},
		{Name: "linklocal", Ingress: []Rule{
			cidrRule("tcp", "22", "fe80::/10"),
		}},
	}
}

func tutorialMembers() map[string][]netip.Addr {
	return map[string][]netip.Addr{
		"alb":       addrs(lbAddr),
		"instances": addrs(task1, task2),
	}
}

func tutorialSet(t testing.TB) *Set {
	t.Helper()
	s, err := NewSet(tutorialGroups(), tutorialMembers())
	if err != nil {
		t.Fatalf("NewSet: %v", err)
	}
	return s
}
