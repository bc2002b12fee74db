package secgroup

import (
	"net/netip"
	"strings"
	"testing"
)

// checkErr fails unless err is nil when want is "", or contains want.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("got error %q, want none", err)
	case want != "" && err == nil:
		t.Fatalf("got no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("got error %q, want one containing %q", err, want)
	}
}

func TestParseProtocol(t *testing.T) {
	tests := []struct {
		in      string
		want    Protocol
		wantErr string
	}{
		{in: "tcp", want: TCP},
		{in: "TCP", want: TCP},
		{in: "udp", want: UDP},
		{in: "icmp", want: ICMP},
		{in: "all", want: All},
		{in: "-1", want: All},
		{in: "6", want: TCP},
		{in: "17", want: UDP},
		{in: "1", want: ICMP},
		{in: "", wantErr: "protocol is empty: write tcp, udp, icmp or all"},
		{in: " tcp", wantErr: `has spaces around it: write tcp`},
		{in: "icmpv6", wantErr: "shoal's icmp covers ICMPv6 too: write icmp"},
		{in: "58", wantErr: "write icmp"},
		{in: "http", wantErr: "HTTP runs over TCP: write tcp"},
		{in: "any", wantErr: "write all for every protocol"},
		{in: "sctp", wantErr: `protocol "sctp" is not supported: write tcp, udp, icmp or all`},
		{in: "47", wantErr: "is not supported"},
		{in: "0", wantErr: "is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseProtocol(tt.in)
			checkErr(t, err, tt.wantErr)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParsePorts(t *testing.T) {
	tests := []struct {
		in      string
		want    PortRange
		wantErr string
	}{
		{in: "80", want: PortRange{80, 80}},
		{in: "1", want: PortRange{1, 1}},
		{in: "65535", want: PortRange{65535, 65535}},
		{in: "8000-8100", want: PortRange{8000, 8100}},
		{in: "80-80", want: PortRange{80, 80}},
		{in: "1-65535", want: PortRange{1, 65535}},
		{in: "all", want: AllPorts},
		{in: "ALL", want: AllPorts},
		{in: "", wantErr: "no ports: write a port (80), a range (8000-8100) or all"},
		{in: "0", wantErr: "port 0 cannot be connected to"},
		{in: "0-80", wantErr: "port 0 cannot be connected to"},
		{in: "0-65535", wantErr: "write all for every port"},
		{in: "65536", wantErr: "port 65536 is above 65535"},
		{in: "1-99999999999999999999999", wantErr: "is above 65535"},
		{in: "100-80", wantErr: "the first port is above the last: write 80-100"},
		{in: "80-", wantErr: "the range has no last port: write 80 or 80-<last port>"},
		{in: "-80", wantErr: "the range has no first port"},
		{in: "-1", wantErr: "-1 is AWS's way of saying every port: write all"},
		{in: "*", wantErr: "write all"},
		{in: " 80", wantErr: `spaces around the ports: write "80"`},
		{in: "80 ", wantErr: `write "80"`},
		{in: "1e3", wantErr: `port "1e3" is not a number: write digits only`},
		{in: "0x50", wantErr: "is not a number"},
		{in: "+80", wantErr: "is not a number"},
		{in: "80-9o", wantErr: `port "9o" is not a number`},
		{in: "80,443", wantErr: "write one rule for each"},
		{in: "1-2-3", wantErr: "a range has two ports"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePorts(tt.in)
			checkErr(t, err, tt.wantErr)
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPortRange_String(t *testing.T) {
	tests := []struct {
		r    PortRange
		want string
	}{
		{PortRange{80, 80}, "80"},
		{PortRange{8000, 8100}, "8000-8100"},
		{PortRange{1, 65535}, "1-65535"},
		{AllPorts, "all"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("%#v.String(): got %q, want %q", tt.r, got, tt.want)
		}
	}
}

func TestPortRange_Contains(t *testing.T) {
	r := PortRange{8000, 8100}
	for p, want := range map[uint16]bool{7999: false, 8000: true, 8050: true, 8100: true, 8101: false, 0: false} {
		if got := r.Contains(p); got != want {
			t.Errorf("Contains(%d): got %v, want %v", p, got, want)
		}
	}
	if !AllPorts.Contains(0) || !AllPorts.Contains(65535) {
		t.Errorf("AllPorts does not contain 0 and 65535")
	}
}

func TestParseCIDR(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{in: "0.0.0.0/0", want: "0.0.0.0/0"},
		{in: "::/0", want: "::/0"},
		{in: "10.0.0.0/8", want: "10.0.0.0/8"},
		{in: "192.0.2.1/32", want: "192.0.2.1/32"},
		{in: "2001:db8::/32", want: "2001:db8::/32"},
		{in: "2001:db8::1/128", want: "2001:db8::1/128"},
		{in: "2001:DB8::/32", want: "2001:db8::/32"},
		{in: "10.0.0.1/24", wantErr: "did you mean 10.0.0.0/24 (the whole range), or 10.0.0.1/32 (that address alone)?"},
		{in: "2001:db8::1/32", wantErr: "did you mean 2001:db8::/32 (the whole range), or 2001:db8::1/128"},
		{in: "10.0.0.1", wantErr: "has no prefix length: write 10.0.0.1/32"},
		{in: "2001:db8::1", wantErr: "write 2001:db8::1/128"},
		{in: "10.0.0.0/33", wantErr: "prefix length out of range"},
		{in: "::/129", wantErr: "prefix length out of range"},
		{in: "10.0.0.0/", wantErr: "is not an IPv4 or IPv6 range"},
		{in: "10.0.0.0/08", wantErr: "is not an IPv4 or IPv6 range"},
		{in: "010.0.0.0/8", wantErr: "is not an IPv4 or IPv6 range"},
		{in: "/8", wantErr: "is not an IPv4 or IPv6 range"},
		{in: "fe80::%eth0/64", wantErr: "is not an IPv4 or IPv6 range"},
		{in: "", wantErr: "is not an IPv4 or IPv6 range"},
		{in: "example.com", wantErr: "write an address, a slash and a prefix length"},
		{in: " 10.0.0.0/8", wantErr: `spaces around the range: write "10.0.0.0/8"`},
		{in: "::ffff:10.0.0.0/104", wantErr: "write it as IPv4, 10.0.0.0/8"},
		{in: "::ffff:0.0.0.0/96", wantErr: "write it as IPv4, 0.0.0.0/0"},
		{in: "::ffff:0:0/95", wantErr: "has bits set after the first 95"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCIDR(tt.in)
			checkErr(t, err, tt.wantErr)
			want := netip.Prefix{}
			if tt.want != "" {
				want = netip.MustParsePrefix(tt.want)
			}
			if got != want {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestLastAddr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0.0.0.0/0", "255.255.255.255"},
		{"10.0.0.0/8", "10.255.255.255"},
		{"192.0.2.1/32", "192.0.2.1"},
		{"::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
		{"2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"},
	}
	for _, tt := range tests {
		if got := lastAddr(netip.MustParsePrefix(tt.in)); got != netip.MustParseAddr(tt.want) {
			t.Errorf("lastAddr(%s): got %v, want %s", tt.in, got, tt.want)
		}
	}
}
