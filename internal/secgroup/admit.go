package secgroup

import "net/netip"

// Admission is one rule as a packet filter takes it: connections of
// Protocol to Ports from any of Sources are admitted. A source_group rule
// becomes its group's member addresses, each a /32 or /128.
type Admission struct {
	Protocol Protocol
	Ports    PortRange
	Sources  []netip.Prefix
	// Why names the rule: "instances rule 1: all traffic from group alb".
	Why string
}

// Admissions lists, in the order Allow tries them, the rules of groups
// (names; unknown ones guard nothing) with their sources resolved: what a
// packet filter needs to admit exactly what Allow allows, given the
// members the set has now. A rule whose source group has no members admits
// nobody and is left out.
func (s *Set) Admissions(groups []string) []Admission {
	var out []Admission
	for _, name := range groups {
		i, ok := s.index[name]
		if !ok {
			continue
		}
		for _, r := range s.groups[i].rules {
			a := Admission{Protocol: r.Protocol, Ports: r.Ports, Why: r.name + ": " + r.Rule.String()}
			if r.source < 0 {
				a.Sources = []netip.Prefix{r.CIDR}
			} else {
				for _, m := range s.groups[r.source].addrs {
					a.Sources = append(a.Sources, netip.PrefixFrom(m, m.BitLen()))
				}
			}
			if len(a.Sources) > 0 {
				out = append(out, a)
			}
		}
	}
	return out
}

// Within narrows a to the one port p: what a service's groups admit to
// that service's task port. It reports false when a admits nothing there
// (a tcp rule for another port); rules without ports (icmp, all) keep
// theirs.
func (a Admission) Within(p uint16) (Admission, bool) {
	if !a.Protocol.HasPorts() {
		return a, true
	}
	if !a.Ports.Contains(p) {
		return Admission{}, false
	}
	a.Ports = PortRange{p, p}
	return a, true
}
