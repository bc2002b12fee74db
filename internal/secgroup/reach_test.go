package secgroup

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The tutorial's destinations: the listener, and a task's port.
var (
	listener = Destination{Name: "web:80", Groups: []string{"alb"}, Protocol: TCP, Port: 80}
	taskPort = Destination{Name: "api/1:32768", Groups: []string{"instances"}, Protocol: TCP, Port: 32768}
)

func cidrSource(name, cidr string) Source {
	return Source{Name: name, CIDR: netip.MustParsePrefix(cidr)}
}

func TestSet_Reachability_Tutorial(t *testing.T) {
	sources := []Source{
		cidrSource("internet", "0.0.0.0/0"),
		cidrSource("internet6", "::/0"),
		{Name: "load balancer", Group: "alb"},
		{Name: "tasks", Group: "instances"},
		cidrSource("lb address", lbAddr+"/32"),
		cidrSource("task address", task1+"/32"),
	}
	want := []Reach{
		{Source: "internet", Destination: "web:80", Allowed: true,
			Why: "allowed by alb rule 1: tcp 80 from 0.0.0.0/0"},
		{Source: "internet", Destination: "api/1:32768",
			Why: "denied: no rule of instances allows tcp 32768 from 0.0.0.0/0; instances rule 1 allows only members of group alb"},
		{Source: "internet6", Destination: "web:80", Allowed: true,
			Why: "allowed by alb rule 2: tcp 80 from ::/0"},
		{Source: "internet6", Destination: "api/1:32768",
			Why: "denied: no rule of instances allows tcp 32768 from ::/0; instances rule 1 allows only members of group alb"},
		{Source: "load balancer", Destination: "web:80", Allowed: true,
			Why: "allowed for every member of group alb (1 address), by alb rule 1: tcp 80 from 0.0.0.0/0"},
		{Source: "load balancer", Destination: "api/1:32768", Allowed: true,
			Why: "allowed by instances rule 1: tcp all ports from group alb"},
		{Source: "tasks", Destination: "web:80", Allowed: true,
			Why: "allowed for every member of group instances (2 addresses), by alb rule 1: tcp 80 from 0.0.0.0/0"},
		{Source: "tasks", Destination: "api/1:32768",
			Why: "denied: no rule of instances allows tcp 32768 from group instances or any of its 2 members"},
		{Source: "lb address", Destination: "web:80", Allowed: true,
			Why: "allowed by alb rule 1: tcp 80 from 0.0.0.0/0"},
		{Source: "lb address", Destination: "api/1:32768", Allowed: true,
			Why: "allowed by instances rule 1: tcp all ports from group alb"},
		{Source: "task address", Destination: "web:80", Allowed: true,
			Why: "allowed by alb rule 1: tcp 80 from 0.0.0.0/0"},
		{Source: "task address", Destination: "api/1:32768",
			Why: "denied: no rule of instances allows tcp 32768 from 127.0.0.11"},
	}
	got := tutorialSet(t).Reachability(sources, []Destination{listener, taskPort})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Reachability (-want +got):\n%s", diff)
	}
}

func TestSet_Reachability(t *testing.T) {
	groups := []Group{
		{Name: "office", Ingress: []Rule{
			cidrRule("tcp", "22", "10.0.0.0/8"),
			cidrRule("tcp", "22", "10.1.0.0/16"), // inside the first
			cidrRule("tcp", "22", "192.168.0.0/16"),
			cidrRule("udp", "22", "0.0.0.0/0"), // another protocol
		}},
		{Name: "halves", Ingress: []Rule{
			cidrRule("tcp", "443", "128.0.0.0/1"),
			cidrRule("tcp", "443", "0.0.0.0/1"),
		}},
		{Name: "alb", Ingress: []Rule{
			cidrRule("tcp", "80", "0.0.0.0/0"),
			cidrRule("tcp", "80", "::/0"),
		}},
		{Name: "instances", Ingress: []Rule{groupRule("tcp", "all", "alb")}},
		{Name: "mixed"},
		{Name: "later"},
	}
	members := map[string][]netip.Addr{
		"mixed": addrs("192.0.2.1", "10.0.0.2", "10.0.0.1"),
	}
	s, err := NewSet(groups, members)
	if err != nil {
		t.Fatal(err)
	}
	ssh := Destination{Name: "ssh", Groups: []string{"office"}, Protocol: TCP, Port: 22}
	https := Destination{Name: "https", Groups: []string{"halves"}, Protocol: TCP, Port: 443}
	web := Destination{Name: "web", Groups: []string{"alb"}, Protocol: TCP, Port: 80}
	task := Destination{Name: "task", Groups: []string{"instances"}, Protocol: TCP, Port: 8080}
	tests := []struct {
		name string
		src  Source
		dest Destination
		want Reach
	}{
		{
			name: "a rule for part of the range", src: cidrSource("internet", "0.0.0.0/0"), dest: ssh,
			want: Reach{Partly: true, Why: "partly: of 0.0.0.0/0, only 10.0.0.0/8, 192.168.0.0/16 are allowed, by office rule 1 (tcp 22 from 10.0.0.0/8), office rule 3 (tcp 22 from 192.168.0.0/16)"},
		},
		{
			name: "a rule for part of a narrower range", src: cidrSource("lab", "192.168.0.0/15"), dest: ssh,
			want: Reach{Partly: true, Why: "partly: of 192.168.0.0/15, only 192.168.0.0/16 is allowed, by office rule 3 (tcp 22 from 192.168.0.0/16)"},
		},
		{
			name: "a rule for the whole range", src: cidrSource("vpn", "10.1.0.0/16"), dest: ssh,
			want: Reach{Allowed: true, Why: "allowed by office rule 1: tcp 22 from 10.0.0.0/8"},
		},
		{
			name: "an IPv4-mapped range is the IPv4 range", src: cidrSource("vpn", "::ffff:10.1.0.0/112"), dest: ssh,
			want: Reach{Allowed: true, Why: "allowed by office rule 1: tcp 22 from 10.0.0.0/8"},
		},
		{
			name: "rules that together cover the range", src: cidrSource("internet", "0.0.0.0/0"), dest: https,
			want: Reach{Allowed: true, Why: "allowed: together halves rule 2 (tcp 443 from 0.0.0.0/1), halves rule 1 (tcp 443 from 128.0.0.0/1) cover 0.0.0.0/0"},
		},
		{
			name: "IPv4 rules do not cover IPv6", src: cidrSource("internet6", "::/0"), dest: ssh,
			want: Reach{Why: "denied: no rule of office allows tcp 22 from ::/0"},
		},
		{
			name: "a range outside every rule", src: cidrSource("docs", "198.51.100.0/24"), dest: ssh,
			want: Reach{Why: "denied: no rule of office allows tcp 22 from 198.51.100.0/24"},
		},
		{
			name: "some members of a group", src: Source{Name: "mixed", Group: "mixed"}, dest: ssh,
			want: Reach{Partly: true, Why: "partly: of the 3 members of group mixed, only 10.0.0.1, 10.0.0.2 are allowed, by office rule 1: tcp 22 from 10.0.0.0/8"},
		},
		{
			name: "members allowed by different rules", src: Source{Name: "mixed", Group: "mixed"}, dest: https,
			want: Reach{Allowed: true, Why: "allowed for every member of group mixed (3 addresses), by halves rule 2: tcp 443 from 0.0.0.0/1; halves rule 1: tcp 443 from 128.0.0.0/1"},
		},
		{
			name: "no member of a group", src: Source{Name: "mixed", Group: "mixed"}, dest: task,
			want: Reach{Why: "denied: no rule of instances allows tcp 8080 from group mixed or any of its 3 members"},
		},
		{
			name: "a group without members, a rule names it", src: Source{Name: "lb", Group: "alb"}, dest: task,
			want: Reach{Allowed: true, Why: "allowed by instances rule 1: tcp all ports from group alb (group alb has no members yet)"},
		},
		{
			name: "a group without members, rules open to the world", src: Source{Name: "later", Group: "later"}, dest: web,
			want: Reach{Allowed: true, Why: "allowed: group later has no members yet, so any address is considered: allowed by alb rule 1: tcp 80 from 0.0.0.0/0; allowed by alb rule 2: tcp 80 from ::/0"},
		},
		{
			name: "a group without members, rules for some addresses", src: Source{Name: "later", Group: "later"}, dest: ssh,
			want: Reach{Partly: true, Why: "partly: group later has no members yet, so any address is considered: partly: of 0.0.0.0/0, only 10.0.0.0/8, 192.168.0.0/16 are allowed, by office rule 1 (tcp 22 from 10.0.0.0/8), office rule 3 (tcp 22 from 192.168.0.0/16); denied: no rule of office allows tcp 22 from ::/0"},
		},
		{
			name: "a group without members, no rule for it", src: Source{Name: "later", Group: "later"}, dest: task,
			want: Reach{Why: "denied: group later has no members yet, so any address is considered: denied: no rule of instances allows tcp 8080 from 0.0.0.0/0; instances rule 1 allows only members of group alb; denied: no rule of instances allows tcp 8080 from ::/0; instances rule 1 allows only members of group alb"},
		},
		{
			name: "an unknown group", src: Source{Name: "x", Group: "nosuch"}, dest: web,
			want: Reach{Why: "denied: source group nosuch is not a security group of this stack"},
		},
		{
			name: "a source with a group and a cidr", src: Source{Name: "x", Group: "alb", CIDR: netip.MustParsePrefix("0.0.0.0/0")}, dest: web,
			want: Reach{Why: "denied: the source gives both a group and a cidr: give one"},
		},
		{
			name: "a source with neither", src: Source{Name: "x"}, dest: web,
			want: Reach{Why: "denied: the source gives neither a group nor a cidr"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.Reachability([]Source{tt.src}, []Destination{tt.dest})
			tt.want.Source, tt.want.Destination = tt.src.Name, tt.dest.Name
			if diff := cmp.Diff([]Reach{tt.want}, got); diff != "" {
				t.Errorf("Reachability (-want +got):\n%s", diff)
			}
		})
	}
}
