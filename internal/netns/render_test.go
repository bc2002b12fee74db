package netns

import (
	"context"
	"net/netip"
	"strings"
	"testing"
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func TestRender(t *testing.T) {
	lb := prefixes("198.18.7.254/32")
	tests := []struct {
		name    string
		accepts []Accept
		want    string // the rules between the fixed head and tail
	}{
		{"nothing", nil, ""},
		{"tcp single port",
			[]Accept{{Protocol: "tcp", FromPort: 80, ToPort: 80, Sources: lb}},
			"ip saddr { 198.18.7.254 } tcp dport 80 accept"},
		{"tcp range",
			[]Accept{{Protocol: "tcp", FromPort: 1000, ToPort: 2000, Sources: prefixes("10.0.0.0/8")}},
			"ip saddr { 10.0.0.0/8 } tcp dport 1000-2000 accept"},
		{"tcp from port 1",
			[]Accept{{Protocol: "tcp", FromPort: 1, ToPort: 65535, Sources: lb}},
			"ip saddr { 198.18.7.254 } tcp dport 1-65535 accept"},
		{"tcp all ports",
			[]Accept{{Protocol: "tcp", FromPort: 0, ToPort: 65535, Sources: lb}},
			"ip saddr { 198.18.7.254 } meta l4proto tcp accept"},
		{"udp",
			[]Accept{{Protocol: "udp", FromPort: 53, ToPort: 53, Sources: prefixes("0.0.0.0/0")}},
			"ip saddr { 0.0.0.0/0 } udp dport 53 accept"},
		{"icmp ignores ports",
			[]Accept{{Protocol: "icmp", FromPort: 8, ToPort: 9, Sources: lb}},
			"ip saddr { 198.18.7.254 } meta l4proto { icmp, ipv6-icmp } accept"},
		{"all",
			[]Accept{{Protocol: "all", Sources: lb}},
			"ip saddr { 198.18.7.254 } accept"},
		{"mixed v4 and v6: one rule per family, sorted, masked, deduplicated",
			[]Accept{{Protocol: "tcp", FromPort: 443, ToPort: 443, Sources: prefixes(
				"2001:db8::/32", "10.1.2.3/16", "192.0.2.9/32", "10.1.0.0/16", "::ffff:203.0.113.0/120", "2001:db8:1::/48")}},
			"ip saddr { 10.1.0.0/16, 192.0.2.9, 203.0.113.0/24 } tcp dport 443 accept\n" +
				"ip6 saddr { 2001:db8::/32 } tcp dport 443 accept"},
		{"comment sanitised and cut",
			[]Accept{{Protocol: "all", Sources: lb, Comment: `sg-web "from" lb's \ rule` + "\n\t\u00e9" + strings.Repeat("x", 200)}},
			`ip saddr { 198.18.7.254 } accept comment "sg-web _from_ lb_s _ rule___` + strings.Repeat("x", 92) + `"`},
		{"empty sources dropped",
			[]Accept{{Protocol: "tcp", FromPort: 22, ToPort: 22}, {Protocol: "all", Sources: lb, Comment: "kept"}},
			`ip saddr { 198.18.7.254 } accept comment "kept"`},
		{"invalid accepts dropped",
			[]Accept{{Protocol: "sctp", Sources: lb}, {Protocol: "tcp", FromPort: 9, ToPort: 8, Sources: lb}},
			""},
		{"order kept",
			[]Accept{{Protocol: "udp", FromPort: 1, ToPort: 2, Sources: lb}, {Protocol: "tcp", FromPort: 3, ToPort: 3, Sources: lb}},
			"ip saddr { 198.18.7.254 } udp dport 1-2 accept\nip saddr { 198.18.7.254 } tcp dport 3 accept"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tableHeader
			if tt.want != "" {
				want += "\t\t" + strings.ReplaceAll(tt.want, "\n", "\n\t\t") + "\n"
			}
			want += tableFooter
			if got := Render(tt.accepts); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestRender_Whole pins the whole script once, as nft reads it.
func TestRender_Whole(t *testing.T) {
	got := Render([]Accept{{Protocol: "tcp", FromPort: 8080, ToPort: 8080, Sources: prefixes("198.18.7.254/32"), Comment: "load balancer"}})
	want := `table inet shoal {}
delete table inet shoal
table inet shoal {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		ct state invalid drop
		iif "lo" accept
		ip saddr { 198.18.7.254 } tcp dport 8080 accept comment "load balancer"
	}
}
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestRender_DoesNotReorderCallersSources(t *testing.T) {
	src := prefixes("10.0.0.2/32", "10.0.0.1/32")
	Render([]Accept{{Protocol: "all", Sources: src}})
	if src[0] != netip.MustParsePrefix("10.0.0.2/32") {
		t.Errorf("Render reordered the caller's sources: %v", src)
	}
}

func TestApply_RejectsBeforeChangingAnything(t *testing.T) {
	n := &Network{stack: "s", instances: instancesOf("s", netip.MustParsePrefix("198.18.7.0/24"), 2)}
	lb := prefixes("198.18.7.254/32")
	tests := []struct {
		name  string
		rules map[string][]Accept
		want  string
	}{
		{"unknown instance", map[string][]Accept{"instance-3": nil}, "stack s has no instance-3"},
		{"bad protocol", map[string][]Accept{"instance-1": {{Protocol: "TCP", Sources: lb}}}, `rule 1: protocol "TCP": write tcp, udp, icmp or all`},
		{"ports reversed", map[string][]Accept{"instance-2": {{Protocol: "all"}, {Protocol: "udp", FromPort: 9, ToPort: 8, Sources: lb}}}, "instance-2, rule 2: ports 9-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := n.Apply(context.Background(), tt.rules)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestNames(t *testing.T) {
	stack := strings.Repeat("a", maxStack)
	if got := bridgeName(stack); len(got) != 12 || !isShoalLink(got) {
		t.Errorf("bridge %q: want 12 bytes of the form shoal's cleanup finds", got)
	}
	if got := vethName(stack, maxInstances); len(got) > 15 || !isShoalLink(got) {
		t.Errorf("veth %q: want at most 15 bytes of the form shoal's cleanup finds", got)
	}
	for _, name := range []string{"eth0", "sh12345678", "sh1234567xbr", "shABCDEF01br", "sh12345678v", "sh12345678vx", "sh12345678brx"} {
		if isShoalLink(name) {
			t.Errorf("isShoalLink(%q) = true, want false", name)
		}
	}
	if !isStackNamespace("a", "shoal-a-instance-12") || isStackNamespace("a", "shoal-a-b-instance-1") || isStackNamespace("a", "shoal-a-instance-") {
		t.Error("isStackNamespace must match exactly shoal-<stack>-instance-<N>")
	}
}

func TestOptions_Validate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string // "" for valid
	}{
		{"valid", Options{Stack: "web-1", Instances: 250}, ""},
		{"empty stack", Options{Instances: 1}, "stack name"},
		{"upper case", Options{Stack: "Web", Instances: 1}, "lowercase"},
		{"too long", Options{Stack: strings.Repeat("a", 41), Instances: 1}, "1 to 40"},
		{"no instances", Options{Stack: "a"}, "0 instances"},
		{"too many", Options{Stack: "a", Instances: 251}, "1 to 250"},
		{"ipv6 range", Options{Stack: "a", Instances: 1, Range: netip.MustParsePrefix("fd00::/64")}, "IPv4 prefix"},
		{"range too small", Options{Stack: "a", Instances: 1, Range: netip.MustParsePrefix("10.0.0.0/25")}, "/24 or larger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestPickSubnet(t *testing.T) {
	rng := netip.MustParsePrefix("10.9.0.0/22") // four /24s
	first, err := pickSubnet("web", rng, nil)
	if err != nil || !rng.Contains(first.Addr()) || first.Bits() != 24 {
		t.Fatalf("got %v, %v; want a /24 of %v", first, err, rng)
	}
	// Taking the preferred /24 (by a wider route) moves the stack to the next, wrapping.
	second, err := pickSubnet("web", rng, prefixes(first.Addr().String()+"/32"))
	if err != nil || second == first || !rng.Contains(second.Addr()) {
		t.Errorf("got %v, %v; want another /24 of %v than %v", second, err, rng, first)
	}
	if _, err := pickSubnet("web", rng, prefixes("10.8.0.0/15")); err == nil || !strings.Contains(err.Error(), "no /24 of 10.9.0.0/22 is free") {
		t.Errorf("got %v, want an error saying no /24 is free", err)
	}
}
