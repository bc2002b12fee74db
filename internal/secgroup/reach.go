package secgroup

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Destination is something that takes connections: a listener (the load
// balancer's groups, its port) or a task port (its instance's and its
// service's groups).
type Destination struct {
	Name     string
	Groups   []string
	Protocol Protocol
	Port     uint16
}

// Source is who might connect: the members of Group, or the addresses of
// CIDR ("the internet" is 0.0.0.0/0; one address is a /32 or /128; an
// IPv4-mapped IPv6 range stands for its IPv4 range). Exactly one of the two
// is set.
type Source struct {
	Name  string
	Group string
	CIDR  netip.Prefix
}

// Reach is whether Source can open a connection to Destination: Allowed
// when all of it can, Partly when only some of it can, neither when none
// can. Why is one sentence naming the rules.
type Reach struct {
	Source, Destination string
	Allowed             bool
	Partly              bool
	Why                 string
}

// Reachability answers, for every source and then every destination (in
// that order), whether the source can open a connection to it and by which
// rule. The answers are:
//
//   - A one-address source (a /32 or /128) gets exactly the Decision Allow
//     gives a connection from that address, so asking about a member's
//     address answers as its connections are answered.
//   - A wider CIDR source stands for hosts outside the stack (the
//     internet, an office network), so only CIDR rules admit it: a
//     source_group rule admits a group's members, and an outside host is
//     not one even if the range happens to contain a member's address.
//     Allowed means the rules, together, cover every address of the range;
//     Partly that they cover some (a rule for 10.0.0.0/8 against the source
//     0.0.0.0/0), and Why names the parts allowed. IPv4 rules never cover
//     an IPv6 range, nor the reverse.
//   - A group source is allowed when a rule names it as source_group: that
//     holds for every member, present and future. Otherwise its members are
//     judged one by one as Allow judges them: Allowed if all are, Partly if
//     some are, and Why lists the ones allowed.
//   - A group with no members, unless a rule names it, is judged as if its
//     members could have any address: as the two CIDR sources 0.0.0.0/0
//     and ::/0 together, so that rules open to the world answer Allowed and
//     narrower ones Partly. Why says the group has no members yet.
func (s *Set) Reachability(sources []Source, dests []Destination) []Reach {
	out := make([]Reach, 0, len(sources)*len(dests))
	for _, src := range sources {
		for _, d := range dests {
			r := s.reach(src, d)
			r.Source, r.Destination = src.Name, d.Name
			out = append(out, r)
		}
	}
	return out
}

func (s *Set) reach(src Source, d Destination) Reach {
	switch {
	case src.Group != "" && src.CIDR.IsValid():
		return Reach{Why: "denied: the source gives both a group and a cidr: give one"}
	case src.Group != "":
		return s.reachGroup(src.Group, d)
	case !src.CIDR.IsValid():
		return Reach{Why: "denied: the source gives neither a group nor a cidr"}
	}
	p := normalPrefix(src.CIDR)
	if p.IsSingleIP() {
		dec := s.Allow(d.Groups, p.Addr(), d.Protocol, d.Port)
		return Reach{Allowed: dec.Allowed, Why: dec.Why}
	}
	return s.reachCIDR(p, d)
}

// about lists the rules of d's groups that match d's protocol and port, in
// the order Allow tries them.
func (s *Set) about(d Destination) []*compiled {
	var refs []*compiled
	for _, name := range d.Groups {
		i, ok := s.index[name]
		if !ok {
			continue
		}
		for j := range s.groups[i].rules {
			if r := &s.groups[i].rules[j]; r.matches(d.Protocol, d.Port) {
				refs = append(refs, r)
			}
		}
	}
	return refs
}

// normalPrefix is p masked, and, if it is an IPv4-mapped IPv6 range, the
// IPv4 range: the addresses Allow would match against it.
func normalPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// reachCIDR judges the outside hosts of p, which is masked and wider than
// one address, against the CIDR rules of d.
func (s *Set) reachCIDR(p netip.Prefix, d Destination) Reach {
	refs := s.about(d)
	c := cover(p, refs)
	switch {
	case c.whole != nil:
		return Reach{Allowed: true, Why: c.whole.why}
	case c.full:
		return Reach{Allowed: true, Why: "allowed: together " + ruleList(c.parts) + " cover " + p.String()}
	case len(c.parts) > 0:
		return Reach{Partly: true, Why: "partly: of " + p.String() + ", only " + prefixList(c.parts) + " " +
			isAre(len(c.parts)) + " allowed, by " + ruleList(c.parts)}
	}
	return Reach{Why: s.denial(d.Groups, "from "+p.String(), d.Protocol, d.Port) + groupRulesNote(refs)}
}

// groupRulesNote tells, after a CIDR source's denial, which rules admit
// only members of a group: the way in that the source is not.
func groupRulesNote(refs []*compiled) string {
	var notes []string
	for _, r := range refs {
		if r.SourceGroup != "" {
			notes = append(notes, r.name+" allows only members of group "+r.SourceGroup)
		}
	}
	if len(notes) == 0 {
		return ""
	}
	return "; " + strings.Join(notes, "; ")
}

// coverage is how the CIDR rules of a destination cover a source range.
type coverage struct {
	whole *compiled   // the first rule whose range contains the source's
	parts []*compiled // otherwise, rules for disjoint parts, by address
	full  bool        // whether the parts, together, are the whole range
}

func cover(p netip.Prefix, refs []*compiled) coverage {
	var c coverage
	for _, r := range refs {
		switch {
		case r.SourceGroup != "":
		case r.CIDR.Bits() <= p.Bits() && r.CIDR.Contains(p.Addr()):
			return coverage{whole: r}
		case p.Contains(r.CIDR.Addr()):
			c.parts = append(c.parts, r)
		}
	}
	c.parts = outermost(c.parts)
	c.full = covers(p, c.parts)
	return c
}

// outermost drops the rules whose range is inside another's (or the same
// as an earlier one's), and sorts the rest by address.
func outermost(refs []*compiled) []*compiled {
	slices.SortStableFunc(refs, func(a, b *compiled) int { return a.CIDR.Bits() - b.CIDR.Bits() })
	var kept []*compiled
	for _, r := range refs {
		if !slices.ContainsFunc(kept, func(k *compiled) bool { return k.CIDR.Contains(r.CIDR.Addr()) }) {
			kept = append(kept, r)
		}
	}
	slices.SortFunc(kept, func(a, b *compiled) int { return a.CIDR.Addr().Compare(b.CIDR.Addr()) })
	return kept
}

// covers reports whether disjoint ranges, sorted by address and all inside
// p, leave no address of p out.
func covers(p netip.Prefix, parts []*compiled) bool {
	next := p.Addr()
	for _, r := range parts {
		if r.CIDR.Addr() != next {
			return false
		}
		last := lastAddr(r.CIDR)
		if last == lastAddr(p) {
			return true
		}
		next = last.Next()
	}
	return false
}

// reachGroup judges the members of the group name.
func (s *Set) reachGroup(name string, d Destination) Reach {
	gi, ok := s.index[name]
	if !ok {
		return Reach{Why: "denied: source group " + name + " is not a security group of this stack"}
	}
	g := &s.groups[gi]
	for _, r := range s.about(d) {
		if r.source == gi {
			return Reach{Allowed: true, Why: r.why + noMembersNote(g)}
		}
	}
	if len(g.addrs) == 0 {
		return s.reachAnyAddress(g, d)
	}
	return s.reachMembers(g, d)
}

func noMembersNote(g *group) string {
	if len(g.addrs) > 0 {
		return ""
	}
	return " (group " + g.name + " has no members yet)"
}

// reachMembers judges each member of g as Allow does.
func (s *Set) reachMembers(g *group, d Destination) Reach {
	var allowed []netip.Addr
	var why []string
	for _, a := range g.addrs {
		dec := s.Allow(d.Groups, a, d.Protocol, d.Port)
		if !dec.Allowed {
			continue
		}
		allowed = append(allowed, a)
		if w := strings.TrimPrefix(dec.Why, "allowed by "); !slices.Contains(why, w) {
			why = append(why, w)
		}
	}
	n := strconv.Itoa(len(g.addrs)) + " member" + plural(len(g.addrs), "s")
	switch {
	case len(allowed) == len(g.addrs):
		count := strconv.Itoa(len(g.addrs)) + " address" + plural(len(g.addrs), "es")
		return Reach{Allowed: true, Why: "allowed for every member of group " + g.name + " (" + count + "), by " + strings.Join(why, "; ")}
	case len(allowed) > 0:
		return Reach{Partly: true, Why: "partly: of the " + n + " of group " + g.name + ", only " + addrList(allowed) + " " +
			isAre(len(allowed)) + " allowed, by " + strings.Join(why, "; ")}
	}
	return Reach{Why: s.denial(d.Groups, "from group "+g.name+" or any of its "+n, d.Protocol, d.Port)}
}

// reachAnyAddress judges a group without members as if they could have any
// address, IPv4 or IPv6.
func (s *Set) reachAnyAddress(g *group, d Destination) Reach {
	v4 := s.reachCIDR(netip.MustParsePrefix("0.0.0.0/0"), d)
	v6 := s.reachCIDR(netip.MustParsePrefix("::/0"), d)
	r := Reach{Allowed: v4.Allowed && v6.Allowed}
	r.Partly = !r.Allowed && (v4.Allowed || v4.Partly || v6.Allowed || v6.Partly)
	verdict := "denied"
	switch {
	case r.Allowed:
		verdict = "allowed"
	case r.Partly:
		verdict = "partly"
	}
	r.Why = verdict + ": group " + g.name + " has no members yet, so any address is considered: " + v4.Why + "; " + v6.Why
	return r
}

func ruleList(refs []*compiled) string {
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = r.name + " (" + r.String() + ")"
	}
	return strings.Join(s, ", ")
}

func prefixList(refs []*compiled) string {
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = r.CIDR.String()
	}
	return strings.Join(s, ", ")
}

// addrList writes up to five addresses, then how many more there are.
func addrList(addrs []netip.Addr) string {
	const most = 5
	var s []string
	for i, a := range addrs {
		if i == most {
			s = append(s, "and "+strconv.Itoa(len(addrs)-most)+" more")
			break
		}
		s = append(s, a.String())
	}
	return strings.Join(s, ", ")
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// plural is suffix, unless n is 1.
func plural(n int, suffix string) string {
	if n == 1 {
		return ""
	}
	return suffix
}
