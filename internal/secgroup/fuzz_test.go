package secgroup

import (
	"fmt"
	"net/netip"
	"testing"
)

func FuzzParsePorts(f *testing.F) {
	for _, s := range []string{"80", "8000-8100", "all", "ALL", "0", "65535", "65536", "100-80", "80-", "-1", " 80", "1e3", "080-0100", "1-65535"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParsePorts(s)
		if err != nil {
			if r != (PortRange{}) {
				t.Fatalf("ParsePorts(%q) failed but returned %v", s, r)
			}
			return
		}
		if r.From > r.To {
			t.Fatalf("ParsePorts(%q) = %#v: From above To", s, r)
		}
		if r.From == 0 && r != AllPorts {
			t.Fatalf("ParsePorts(%q) = %#v: port 0 outside all", s, r)
		}
		again, err := ParsePorts(r.String())
		if err != nil || again != r {
			t.Fatalf("ParsePorts(%q) = %#v, printed %q, parsed again to %#v, %v", s, r, r.String(), again, err)
		}
	})
}

func FuzzParseCIDR(f *testing.F) {
	for _, s := range []string{"0.0.0.0/0", "::/0", "10.0.0.0/8", "10.0.0.1/24", "10.0.0.1", "2001:db8::/32", "2001:db8::1/32",
		"::ffff:10.0.0.0/104", "fe80::%eth0/64", "10.0.0.0/33", "1.2.3.4/32", "::ffff:0:0/96"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseCIDR(s)
		if err != nil {
			if p.IsValid() {
				t.Fatalf("ParseCIDR(%q) failed but returned %v", s, p)
			}
			return
		}
		if p.Masked() != p {
			t.Fatalf("ParseCIDR(%q) = %v: not masked", s, p)
		}
		if p.Addr().Is4In6() || p.Addr().Zone() != "" {
			t.Fatalf("ParseCIDR(%q) = %v: mapped or zoned", s, p)
		}
		again, err := ParseCIDR(p.String())
		if err != nil || again != p {
			t.Fatalf("ParseCIDR(%q) = %v, parsed again to %v, %v", s, p, again, err)
		}
	})
}

// fuzzInput reads the choices of a fuzz case from its bytes, and zeros
// when they run out.
type fuzzInput []byte

func (in *fuzzInput) next() byte {
	if len(*in) == 0 {
		return 0
	}
	b := (*in)[0]
	*in = (*in)[1:]
	return b
}

// pick returns one of n choices.
func (in *fuzzInput) pick(n int) int { return int(in.next()) % n }

var (
	fuzzProtocols = []Protocol{TCP, UDP, ICMP, All}
	fuzzPorts     = []uint16{1, 22, 79, 80, 81, 443, 8000, 8100, 65534, 65535}
	fuzzAddrs     = []string{"10.0.0.1", "10.0.0.2", "10.0.0.200", "10.1.0.1", "192.0.2.7", "203.0.113.1", "127.0.0.2",
		"0.0.0.0", "255.255.255.255", "2001:db8::1", "2001:db8::2", "2001:db9::1", "::", "fe80::1", "::ffff:10.0.0.1"}
	fuzzPrefixes = []string{"0.0.0.0/0", "::/0", "10.0.0.0/8", "10.0.0.0/24", "10.0.0.1/32", "10.0.0.128/25", "192.0.2.0/24",
		"128.0.0.0/1", "2001:db8::/32", "2001:db8::1/128", "fe80::/10"}
)

// addr is one of fuzzAddrs, or an address of 10.0.0.0/24 or 2001:db8::/120.
func (in *fuzzInput) addr() netip.Addr {
	switch k := in.pick(4); k {
	case 0:
		return netip.AddrFrom4([4]byte{10, 0, 0, in.next()})
	case 1:
		return netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", in.next()))
	}
	return netip.MustParseAddr(fuzzAddrs[in.pick(len(fuzzAddrs))])
}

// prefix is one of fuzzPrefixes, or a range inside 10.0.0.0/24.
func (in *fuzzInput) prefix() netip.Prefix {
	if in.pick(2) == 0 {
		return netip.MustParsePrefix(fuzzPrefixes[in.pick(len(fuzzPrefixes))])
	}
	p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, 0, in.next()}), 24+in.pick(9))
	return p.Masked()
}

func (in *fuzzInput) ports(proto Protocol) PortRange {
	if proto == ICMP || proto == All || in.pick(4) == 0 {
		return AllPorts
	}
	from, to := fuzzPorts[in.pick(len(fuzzPorts))], fuzzPorts[in.pick(len(fuzzPorts))]
	return PortRange{min(from, to), max(from, to)}
}

func (in *fuzzInput) rule(names []string) Rule {
	r := Rule{Protocol: fuzzProtocols[in.pick(len(fuzzProtocols))]}
	r.Ports = in.ports(r.Protocol)
	if in.pick(3) == 0 {
		r.SourceGroup = names[in.pick(len(names))]
	} else {
		r.CIDR = in.prefix()
	}
	return r
}

// set makes up to three groups of up to four rules each, with up to three
// members each.
func (in *fuzzInput) set() ([]Group, map[string][]netip.Addr) {
	names := []string{"g0", "g1", "g2"}[:1+in.pick(3)]
	groups := make([]Group, len(names))
	members := map[string][]netip.Addr{}
	for i, name := range names {
		groups[i].Name = name
		for range in.pick(5) {
			groups[i].Ingress = append(groups[i].Ingress, in.rule(names))
		}
		for range in.pick(4) {
			members[name] = append(members[name], in.addr())
		}
	}
	return groups, members
}

// destGroups is a list of the groups' names, with repeats and an unknown one.
func (in *fuzzInput) destGroups(groups []Group) []string {
	var names []string
	for range in.pick(4) {
		if k := in.pick(len(groups) + 1); k < len(groups) {
			names = append(names, groups[k].Name)
		} else {
			names = append(names, "nosuch")
		}
	}
	return names
}

// reference is Allow written naively: every rule of every group, checked
// from scratch. It returns the group and the index of the first rule that
// allows the connection, or "" and -1.
func reference(groups []Group, members map[string][]netip.Addr, dest []string, src netip.Addr, proto Protocol, port uint16) (string, int) {
	src = src.Unmap()
	for _, name := range dest {
		for _, g := range groups {
			if g.Name != name {
				continue
			}
			for i, r := range g.Ingress {
				if referenceAdmits(r, members, src, proto, port) {
					return name, i
				}
			}
		}
	}
	return "", -1
}

func referenceAdmits(r Rule, members map[string][]netip.Addr, src netip.Addr, proto Protocol, port uint16) bool {
	if r.Protocol != All && r.Protocol != proto || port < r.Ports.From || port > r.Ports.To {
		return false
	}
	if r.SourceGroup == "" {
		return r.CIDR.Contains(src)
	}
	for _, m := range members[r.SourceGroup] {
		if m.Unmap() == src {
			return true
		}
	}
	return false
}

func FuzzAllow(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{2, 3, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add([]byte("the internet reaches the listener, not the tasks"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := fuzzInput(data)
		groups, members := in.set()
		s, err := NewSet(groups, members)
		if err != nil {
			t.Fatalf("NewSet of valid groups: %v", err)
		}
		for range 8 {
			dest, src := in.destGroups(groups), in.addr()
			proto := fuzzProtocols[in.pick(len(fuzzProtocols))]
			port := fuzzPorts[in.pick(len(fuzzPorts))]
			got := s.Allow(dest, src, proto, port)
			wantGroup, wantRule := reference(groups, members, dest, src, proto, port)
			if got.Group != wantGroup || got.Rule != wantRule || got.Allowed != (wantRule >= 0) || got.Why == "" {
				t.Fatalf("groups %+v, members %v: Allow(%v, %v, %v, %d) = %+v, want group %q rule %d",
					groups, members, dest, src, proto, port, got, wantGroup, wantRule)
			}
		}
	})
}

// FuzzReachability checks the answer for a CIDR source against every
// address of it, judged as Reachability says: by the CIDR rules only.
func FuzzReachability(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{2, 3, 1, 0, 0, 1, 1, 10, 0, 1, 1, 50, 2, 0, 3, 0, 1, 0, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := fuzzInput(data)
		groups, members := in.set()
		s, err := NewSet(groups, members)
		if err != nil {
			t.Fatalf("NewSet of valid groups: %v", err)
		}
		d := Destination{Name: "d", Groups: in.destGroups(groups), Protocol: fuzzProtocols[in.pick(len(fuzzProtocols))]}
		d.Port = fuzzPorts[in.pick(len(fuzzPorts))]
		src := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, 0, in.next()}), 24+in.pick(8)).Masked()
		got := s.Reachability([]Source{{Name: "s", CIDR: src}}, []Destination{d})[0]
		var cidrRules []Group
		for _, g := range groups {
			cidrRules = append(cidrRules, Group{Name: g.Name})
			for _, r := range g.Ingress {
				if r.SourceGroup != "" {
					r = Rule{Protocol: r.Protocol, Ports: r.Ports, CIDR: netip.MustParsePrefix("255.255.255.255/32")}
				}
				cidrRules[len(cidrRules)-1].Ingress = append(cidrRules[len(cidrRules)-1].Ingress, r)
			}
		}
		n, allowed := 0, 0
		for a := src.Addr(); src.Contains(a); a = a.Next() {
			n++
			if _, rule := reference(cidrRules, nil, d.Groups, a, d.Protocol, d.Port); rule >= 0 {
				allowed++
			}
		}
		if got.Allowed != (allowed == n) || got.Partly != (allowed > 0 && allowed < n) {
			t.Fatalf("groups %+v, %v to %+v: got %+v, want %d of %d addresses allowed", groups, src, d, got, allowed, n)
		}
	})
}
