package secgroup

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewSet_Errors(t *testing.T) {
	tests := []struct {
		name    string
		groups  []Group
		members map[string][]netip.Addr
		wantErr string
	}{
		{
			name:   "the tutorial",
			groups: tutorialGroups(), members: tutorialMembers(),
		},
		{
			name:   "a group may name itself",
			groups: []Group{{Name: "db", Ingress: []Rule{groupRule("tcp", "5432", "db")}}},
		},
		{
			name:    "unknown source_group",
			groups:  []Group{{Name: "alb"}, {Name: "instances", Ingress: []Rule{cidrRule("tcp", "22", "10.0.0.0/8"), groupRule("tcp", "all", "lb")}}},
			wantErr: `security group "instances" rule 2: source_group "lb" is not a security group of this stack (it has groups alb, instances)`,
		},
		{
			name:    "duplicate name",
			groups:  []Group{{Name: "alb"}, {Name: "alb"}},
			wantErr: `security group "alb" is defined twice`,
		},
		{
			name:    "no name",
			groups:  []Group{{Name: "alb"}, {}},
			wantErr: "security group 2 has no name",
		},
		{
			name:    "invalid rule",
			groups:  []Group{{Name: "alb", Ingress: []Rule{{Protocol: ICMP, Ports: PortRange{80, 80}, CIDR: netip.MustParsePrefix("0.0.0.0/0")}}}},
			wantErr: `security group "alb" rule 1: icmp rule with ports 80`,
		},
		{
			name:    "members of an unknown group",
			groups:  []Group{{Name: "alb"}},
			members: map[string][]netip.Addr{"albs": addrs(lbAddr)},
			wantErr: `members given for "albs", which is not a security group of this stack (it has groups alb)`,
		},
		{
			name:    "invalid member",
			groups:  []Group{{Name: "alb"}},
			members: map[string][]netip.Addr{"alb": {{}}},
			wantErr: `security group "alb": a member has no address`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSet(tt.groups, tt.members)
			checkErr(t, err, tt.wantErr)
			if (s == nil) != (err != nil) {
				t.Errorf("got set %v and error %v, want exactly one", s, err)
			}
		})
	}
}

func TestSet_Allow(t *testing.T) {
	s := tutorialSet(t)
	tests := []struct {
		name   string
		groups []string
		src    string
		proto  Protocol
		port   uint16
		want   Decision
	}{
		{
			name: "the internet reaches the listener", groups: []string{"alb"}, src: internet, proto: TCP, port: 80,
			want: Decision{Allowed: true, Group: "alb", Rule: 0, Why: "allowed by alb rule 1: tcp 80 from 0.0.0.0/0"},
		},
		{
			name: "the IPv6 internet reaches the listener", groups: []string{"alb"}, src: "2001:db8::9", proto: TCP, port: 80,
			want: Decision{Allowed: true, Group: "alb", Rule: 1, Why: "allowed by alb rule 2: tcp 80 from ::/0"},
		},
		{
			name: "an IPv4-mapped client matches the IPv4 rule", groups: []string{"alb"}, src: "::ffff:" + internet, proto: TCP, port: 80,
			want: Decision{Allowed: true, Group: "alb", Rule: 0, Why: "allowed by alb rule 1: tcp 80 from 0.0.0.0/0"},
		},
		{
			name: "the listener's group opens no other port", groups: []string{"alb"}, src: internet, proto: TCP, port: 443,
			want: Decision{Rule: -1, Why: "denied: no rule of alb allows tcp 443 from 203.0.113.9"},
		},
		{
			name: "the internet does not reach a task", groups: []string{"instances"}, src: internet, proto: TCP, port: 32768,
			want: Decision{Rule: -1, Why: "denied: no rule of instances allows tcp 32768 from 203.0.113.9"},
		},
		{
			name: "the load balancer reaches a task", groups: []string{"instances"}, src: lbAddr, proto: TCP, port: 32768,
			want: Decision{Allowed: true, Group: "instances", Rule: 0, Why: "allowed by instances rule 1: tcp all ports from group alb"},
		},
		{
			name: "the load balancer, IPv4-mapped, reaches a task", groups: []string{"instances"}, src: "::ffff:" + lbAddr, proto: TCP, port: 1,
			want: Decision{Allowed: true, Group: "instances", Rule: 0, Why: "allowed by instances rule 1: tcp all ports from group alb"},
		},
		{
			name: "another task does not reach a task", groups: []string{"instances"}, src: task2, proto: TCP, port: 32768,
			want: Decision{Rule: -1, Why: "denied: no rule of instances allows tcp 32768 from 127.0.0.12"},
		},
		{
			name: "a tcp rule does not allow udp", groups: []string{"instances"}, src: lbAddr, proto: UDP, port: 32768,
			want: Decision{Rule: -1, Why: "denied: no rule of instances allows udp 32768 from 127.0.0.2"},
		},
		{
			name: "a tcp rule does not allow icmp", groups: []string{"instances"}, src: lbAddr, proto: ICMP,
			want: Decision{Rule: -1, Why: "denied: no rule of instances allows icmp from 127.0.0.2"},
		},
		{
			name: "a tcp rule does not answer for all protocols", groups: []string{"instances"}, src: lbAddr, proto: All, port: 80,
			want: Decision{Rule: -1, Why: "denied: no rule of instances allows all traffic to port 80 from 127.0.0.2"},
		},
		{
			name: "below a range", groups: []string{"edges"}, src: "10.1.2.3", proto: TCP, port: 7999,
			want: Decision{Rule: -1, Why: "denied: no rule of edges allows tcp 7999 from 10.1.2.3"},
		},
		{
			name: "first port of a range", groups: []string{"edges"}, src: "10.1.2.3", proto: TCP, port: 8000,
			want: Decision{Allowed: true, Group: "edges", Rule: 0, Why: "allowed by edges rule 1: tcp 8000-8100 from 10.0.0.0/8"},
		},
		{
			name: "last port of a range", groups: []string{"edges"}, src: "10.1.2.3", proto: TCP, port: 8100,
			want: Decision{Allowed: true, Group: "edges", Rule: 0, Why: "allowed by edges rule 1: tcp 8000-8100 from 10.0.0.0/8"},
		},
		{
			name: "above a range", groups: []string{"edges"}, src: "10.1.2.3", proto: TCP, port: 8101,
			want: Decision{Rule: -1, Why: "denied: no rule of edges allows tcp 8101 from 10.1.2.3"},
		},
		{
			name: "udp rule, udp connection", groups: []string{"edges"}, src: "10.1.2.3", proto: UDP, port: 53,
			want: Decision{Allowed: true, Group: "edges", Rule: 1, Why: "allowed by edges rule 2: udp 53 from 10.0.0.0/8"},
		},
		{
			name: "udp rule, tcp connection", groups: []string{"edges"}, src: "10.1.2.3", proto: TCP, port: 53,
			want: Decision{Rule: -1, Why: "denied: no rule of edges allows tcp 53 from 10.1.2.3"},
		},
		{
			name: "outside the rule's range", groups: []string{"edges"}, src: "11.0.0.1", proto: TCP, port: 8000,
			want: Decision{Rule: -1, Why: "denied: no rule of edges allows tcp 8000 from 11.0.0.1"},
		},
		{
			name: "all allows tcp", groups: []string{"ops"}, src: "192.0.2.7", proto: TCP, port: 22,
			want: Decision{Allowed: true, Group: "ops", Rule: 0, Why: "allowed by ops rule 1: all traffic from 192.0.2.0/24"},
		},
		{
			name: "all allows udp", groups: []string{"ops"}, src: "192.0.2.7", proto: UDP, port: 53,
			want: Decision{Allowed: true, Group: "ops", Rule: 0, Why: "allowed by ops rule 1: all traffic from 192.0.2.0/24"},
		},
		{
			name: "all answers for all protocols", groups: []string{"ops"}, src: "192.0.2.7", proto: All, port: 22,
			want: Decision{Allowed: true, Group: "ops", Rule: 0, Why: "allowed by ops rule 1: all traffic from 192.0.2.0/24"},
		},
		{
			name: "icmp allows icmp", groups: []string{"ops"}, src: "198.51.100.1", proto: ICMP,
			want: Decision{Allowed: true, Group: "ops", Rule: 1, Why: "allowed by ops rule 2: icmp from 198.51.100.0/24"},
		},
		{
			name: "icmp does not allow tcp", groups: []string{"ops"}, src: "198.51.100.1", proto: TCP, port: 22,
			want: Decision{Rule: -1, Why: "denied: no rule of ops allows tcp 22 from 198.51.100.1"},
		},
		{
			name: "several groups: the service's group allows", groups: []string{"instances", "api"}, src: "10.1.2.3", proto: TCP, port: 9000,
			want: Decision{Allowed: true, Group: "api", Rule: 0, Why: "allowed by api rule 1: tcp 9000 from 10.0.0.0/8"},
		},
		{
			name: "several groups: the first group that allows is reported", groups: []string{"instances", "api"}, src: lbAddr, proto: TCP, port: 9000,
			want: Decision{Allowed: true, Group: "instances", Rule: 0, Why: "allowed by instances rule 1: tcp all ports from group alb"},
		},
		{
			name: "several groups: none allows", groups: []string{"instances", "api"}, src: "10.1.2.3", proto: TCP, port: 9001,
			want: Decision{Rule: -1, Why: "denied: no rule of instances, api allows tcp 9001 from 10.1.2.3"},
		},
		{
			name: "an unknown group protects nothing", groups: []string{"nosuch", "alb"}, src: internet, proto: TCP, port: 22,
			want: Decision{Rule: -1, Why: "denied: no rule of nosuch (not a security group), alb allows tcp 22 from 203.0.113.9"},
		},
		{
			name: "no groups allows nothing", src: internet, proto: TCP, port: 80,
			want: Decision{Rule: -1, Why: "denied: the destination has no security group, so no rule allows tcp 80"},
		},
		{
			name: "a zone does not hide an address", groups: []string{"linklocal"}, src: "fe80::1%eth0", proto: TCP, port: 22,
			want: Decision{Allowed: true, Group: "linklocal", Rule: 0, Why: "allowed by linklocal rule 1: tcp 22 from fe80::/10"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.Allow(tt.groups, netip.MustParseAddr(tt.src), tt.proto, tt.port)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Allow (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSet_AllowInvalidAddress(t *testing.T) {
	got := tutorialSet(t).Allow([]string{"alb"}, netip.Addr{}, TCP, 80)
	want := Decision{Rule: -1, Why: "denied: no rule of alb allows tcp 80 from an invalid address"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Allow (-want +got):\n%s", diff)
	}
}

// TestSet_AllowDoesNotAllocate pins what BenchmarkSet_Allow measures: the
// allow path runs for every accepted connection.
func TestSet_AllowDoesNotAllocate(t *testing.T) {
	s := tutorialSet(t)
	for _, c := range allowPaths {
		src := netip.MustParseAddr(c.src)
		if n := testing.AllocsPerRun(100, func() { s.Allow(c.groups, src, TCP, c.port) }); n != 0 {
			t.Errorf("%s: got %v allocations, want 0", c.name, n)
		}
	}
}

// allowPaths are allowed connections, each by a different kind of rule.
var allowPaths = []struct {
	name   string
	groups []string
	src    string
	port   uint16
}{
	{"cidr", []string{"alb"}, internet, 80},
	{"cidr-v6", []string{"alb"}, "2001:db8::9", 80},
	{"source_group", []string{"instances"}, lbAddr, 32768},
	{"second_group", []string{"instances", "api"}, "10.1.2.3", 9000},
}

func BenchmarkSet_Allow(b *testing.B) {
	s := tutorialSet(b)
	for _, c := range allowPaths {
		src := netip.MustParseAddr(c.src)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !s.Allow(c.groups, src, TCP, c.port).Allowed {
					b.Fatal("denied")
				}
			}
		})
	}
}
