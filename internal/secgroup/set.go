package secgroup

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Group is a security group: its name in the stack file and its ingress
// rules, in the order written.
type Group struct {
	Name    string
	Ingress []Rule
}

// Set is every group of a stack with its members: which addresses belong to
// which group (the load balancer's own dialing address is in the load
// balancer's groups, a task's address in its instance's and service's
// groups, and so on). It is immutable once built, so that it can be shared
// by every listener and swapped whole when the stack changes.
type Set struct {
	groups []group
	index  map[string]int // group name → its position in groups
}

// group is a Group compiled for Allow.
type group struct {
	name    string
	rules   []compiled
	members map[netip.Addr]struct{} // normalised by normalAddr
	addrs   []netip.Addr            // the members, sorted, for Reachability
}

// compiled is a Rule with what Allow needs precomputed, so that the allow
// path neither looks up names nor builds strings.
type compiled struct {
	Rule
	source int    // position of SourceGroup in Set.groups; -1 for a CIDR rule
	name   string // "alb rule 1"
	why    string // "allowed by alb rule 1: tcp 80 from 0.0.0.0/0"
}

// NewSet checks and compiles groups and their members. It refuses a group
// without a name or defined twice, an invalid rule (see Rule.Validate), a
// source_group that names no group of the set, and members of a group that
// does not exist or invalid member addresses. Errors number rules from 1,
// as a person counts the entries of an ingress list.
func NewSet(groups []Group, members map[string][]netip.Addr) (*Set, error) {
	s := &Set{groups: make([]group, len(groups)), index: make(map[string]int, len(groups))}
	for i, g := range groups {
		if err := s.name(i, g.Name); err != nil {
			return nil, err
		}
	}
	for i, g := range groups {
		if err := s.compile(i, g.Ingress); err != nil {
			return nil, err
		}
	}
	if err := s.addMembers(members); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Set) name(i int, name string) error {
	if name == "" {
		return fmt.Errorf("security group %d has no name", i+1)
	}
	if _, dup := s.index[name]; dup {
		return fmt.Errorf("security group %q is defined twice: give each group its own name, or merge their rules", name)
	}
	s.index[name] = i
	s.groups[i].name = name
	return nil
}

func (s *Set) compile(i int, rules []Rule) error {
	g := &s.groups[i]
	g.rules = make([]compiled, len(rules))
	for j, r := range rules {
		c := compiled{Rule: r, source: -1, name: g.name + " rule " + strconv.Itoa(j+1)}
		if err := r.Validate(); err != nil {
			return fmt.Errorf("security group %q rule %d: %v", g.name, j+1, err)
		}
		if r.SourceGroup != "" {
			src, ok := s.index[r.SourceGroup]
			if !ok {
				return fmt.Errorf("security group %q rule %d: source_group %q is not a security group of this stack (it has %s)",
					g.name, j+1, r.SourceGroup, s.names())
			}
			c.source = src
		}
		c.why = "allowed by " + c.name + ": " + r.String()
		g.rules[j] = c
	}
	return nil
}

func (s *Set) addMembers(members map[string][]netip.Addr) error {
	for name, addrs := range members {
		i, ok := s.index[name]
		if !ok {
			return fmt.Errorf("members given for %q, which is not a security group of this stack (it has %s)", name, s.names())
		}
		g := &s.groups[i]
		g.members = make(map[netip.Addr]struct{}, len(addrs))
		for _, a := range addrs {
			if !a.IsValid() {
				return fmt.Errorf("security group %q: a member has no address", name)
			}
			g.members[normalAddr(a)] = struct{}{}
		}
		for a := range g.members {
			g.addrs = append(g.addrs, a)
		}
		slices.SortFunc(g.addrs, netip.Addr.Compare)
	}
	return nil
}

// names lists the groups of s, for errors.
func (s *Set) names() string {
	if len(s.groups) == 0 {
		return "no groups"
	}
	names := make([]string, len(s.groups))
	for i, g := range s.groups {
		names[i] = g.name
	}
	return "groups " + strings.Join(names, ", ")
}

// normalAddr is the form in which addresses are compared: an IPv4-mapped
// IPv6 address (what a dual-stack listener reports for an IPv4 peer) is the
// IPv4 address, and zones are dropped since rules cannot name them.
func normalAddr(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}

// Decision is the outcome of one connection check.
type Decision struct {
	Allowed bool
	// Group is the group whose rule allowed the connection; "" when denied.
	Group string
	// Rule is that rule's index in the group's Ingress, from 0; -1 when
	// denied. Why numbers rules from 1, as people count them.
	Rule int
	// Why is one sentence for logs and explanations: "allowed by alb rule
	// 1: tcp 80 from 0.0.0.0/0", "denied: no rule of alb, instances allows
	// tcp 22 from 192.0.2.1".
	Why string
}

// Allow checks a new connection from src to a destination protected by
// groups (names), on proto and port. An IPv4-mapped IPv6 src matches IPv4
// CIDRs; a name that is not a group of s protects nothing. The first
// allowing rule, in the order of groups and then of their rules, is the one
// reported. Allow runs for every accepted connection, so it allocates
// nothing when it allows; a denial builds its sentence.
//
// proto is the connection's: tcp, udp or icmp (whose port is ignored by
// icmp rules). All asks whether every protocol is allowed, which only a
// rule for all traffic answers.
func (s *Set) Allow(groups []string, src netip.Addr, proto Protocol, port uint16) Decision {
	src = normalAddr(src)
	for _, name := range groups {
		i, ok := s.index[name]
		if !ok {
			continue
		}
		g := &s.groups[i]
		for j := range g.rules {
			if r := &g.rules[j]; s.admits(r, src, proto, port) {
				return Decision{Allowed: true, Group: g.name, Rule: j, Why: r.why}
			}
		}
	}
	return Decision{Rule: -1, Why: s.denial(groups, "from "+addrString(src), proto, port)}
}

// admits reports whether r allows a connection from src, which must be
// normalised.
func (s *Set) admits(r *compiled, src netip.Addr, proto Protocol, port uint16) bool {
	if !r.matches(proto, port) {
		return false
	}
	if r.source < 0 {
		return r.CIDR.Contains(src)
	}
	_, ok := s.groups[r.source].members[src]
	return ok
}

// matches reports whether r is about connections of proto to port,
// whatever their source.
func (r *compiled) matches(proto Protocol, port uint16) bool {
	return (r.Protocol == All || r.Protocol == proto) && r.Ports.Contains(port)
}

// denial is the sentence of a denied connection; from names its source.
func (s *Set) denial(groups []string, from string, proto Protocol, port uint16) string {
	if len(groups) == 0 {
		return "denied: the destination has no security group, so no rule allows " + connString(proto, port)
	}
	return "denied: no rule of " + s.groupList(groups) + " allows " + connString(proto, port) + " " + from
}

// groupList writes names for a sentence, marking the ones s does not have.
func (s *Set) groupList(names []string) string {
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(n)
		if _, ok := s.index[n]; !ok {
			b.WriteString(" (not a security group)")
		}
	}
	return b.String()
}

// connString describes a connection by protocol and port: "tcp 22",
// "icmp", "all traffic to port 22".
func connString(proto Protocol, port uint16) string {
	switch proto {
	case ICMP:
		return "icmp"
	case All:
		return "all traffic to port " + strconv.Itoa(int(port))
	}
	return string(proto) + " " + strconv.Itoa(int(port))
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return "an invalid address"
	}
	return a.String()
}
