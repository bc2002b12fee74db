package secgroup

import (
	"net/netip"
	"testing"
)

func TestRule_String(t *testing.T) {
	tests := []struct {
		rule Rule
		want string
	}{
		{cidrRule("tcp", "80", "0.0.0.0/0"), "tcp 80 from 0.0.0.0/0"},
		{cidrRule("tcp", "8000-8100", "2001:db8::/32"), "tcp 8000-8100 from 2001:db8::/32"},
		{groupRule("tcp", "all", "alb"), "tcp all ports from group alb"},
		{cidrRule("udp", "53", "10.0.0.0/8"), "udp 53 from 10.0.0.0/8"},
		{cidrRule("icmp", "all", "192.0.2.0/24"), "icmp from 192.0.2.0/24"},
		{groupRule("all", "all", "instances"), "all traffic from group instances"},
	}
	for _, tt := range tests {
		if got := tt.rule.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestRule_OpensToWorld(t *testing.T) {
	tests := []struct {
		rule Rule
		want bool
	}{
		{cidrRule("tcp", "80", "0.0.0.0/0"), true},
		{cidrRule("tcp", "80", "::/0"), true},
		{cidrRule("tcp", "80", "0.0.0.0/1"), false},
		{cidrRule("tcp", "80", "10.0.0.0/8"), false},
		{groupRule("tcp", "80", "alb"), false},
	}
	for _, tt := range tests {
		if got := tt.rule.OpensToWorld(); got != tt.want {
			t.Errorf("%v: got %v, want %v", tt.rule, got, tt.want)
		}
	}
}

func TestRule_Validate(t *testing.T) {
	world := netip.MustParsePrefix("0.0.0.0/0")
	tests := []struct {
		name    string
		rule    Rule
		wantErr string
	}{
		{"tcp", cidrRule("tcp", "80", "0.0.0.0/0"), ""},
		{"icmp", cidrRule("icmp", "all", "0.0.0.0/0"), ""},
		{"group", groupRule("all", "all", "alb"), ""},
		{"icmp with a port", Rule{Protocol: ICMP, Ports: PortRange{80, 80}, CIDR: world}, "icmp takes no ports: leave port out or write all"},
		{"all with a port", Rule{Protocol: All, Ports: PortRange{80, 80}, CIDR: world}, "all takes no ports"},
		{"tcp without ports", Rule{Protocol: TCP, CIDR: world}, "tcp rule without ports"},
		{"port 0", Rule{Protocol: TCP, Ports: PortRange{0, 80}, CIDR: world}, "ports 0-80: port 0 cannot be connected to"},
		{"reversed ports", Rule{Protocol: UDP, Ports: PortRange{90, 80}, CIDR: world}, "write 80-90"},
		{"no protocol", Rule{Ports: AllPorts, CIDR: world}, "protocol is empty"},
		{"unknown protocol", Rule{Protocol: "gre", Ports: AllPorts, CIDR: world}, `protocol "gre" is not supported`},
		{"no source", Rule{Protocol: TCP, Ports: AllPorts}, "rule has no source"},
		{"two sources", Rule{Protocol: TCP, Ports: AllPorts, CIDR: world, SourceGroup: "alb"}, "rule has both cidr and source_group"},
		{"host bits", Rule{Protocol: TCP, Ports: AllPorts, CIDR: netip.MustParsePrefix("10.0.0.1/8")}, "did you mean 10.0.0.0/8"},
		{"mapped", Rule{Protocol: TCP, Ports: AllPorts, CIDR: netip.MustParsePrefix("::ffff:10.0.0.0/104")}, "write it as IPv4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, tt.rule.Validate(), tt.wantErr)
		})
	}
}
