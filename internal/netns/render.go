package netns

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Accept is one rule that admits new inbound connections to an instance.
// Replies and related traffic (ICMP errors) of admitted connections pass
// without rules; outbound traffic is not filtered.
type Accept struct {
	// Protocol is "tcp", "udp", "icmp" (ICMP and ICMPv6) or "all" (every
	// protocol).
	Protocol string
	// FromPort and ToPort are the destination ports admitted, inclusive:
	// for tcp and udp only. 0 to 65535 means every port.
	FromPort, ToPort uint16
	// Sources are the prefixes connections may come from, IPv4 and IPv6 in
	// any mix. A rule without sources admits nothing and is left out.
	Sources []netip.Prefix
	// Comment is shown in `nft list ruleset`, to say which security group
	// rule this is. It is cut to 120 printable ASCII characters without
	// quotes.
	Comment string
}

// maxComment stays below nftables' limit on a rule's comment (128 bytes).
const maxComment = 120

// check reports what is wrong with a, in words Apply passes on.
func (a Accept) check() error {
	switch a.Protocol {
	case "tcp", "udp":
		if a.FromPort > a.ToPort {
			return fmt.Errorf("ports %d-%d: give the lower port first", a.FromPort, a.ToPort)
		}
	case "icmp", "all":
	default:
		return fmt.Errorf("protocol %q: write tcp, udp, icmp or all", a.Protocol)
	}
	for _, p := range a.Sources {
		if !p.IsValid() {
			return fmt.Errorf("source %v is not a valid prefix", p)
		}
	}
	return nil
}

// tableHeader opens the table: creating it first makes the delete valid
// when the namespace has no table yet, and the three run as one transaction,
// so no packet ever sees the namespace without a table.
const tableHeader = `table inet shoal {}
delete table inet shoal
table inet shoal {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		ct state invalid drop
		iif "lo" accept
`

const tableFooter = "\t}\n}\n"

// Render returns the nft script Apply loads into one instance's namespace
// for accepts: a table inet shoal that drops new inbound connections except
// from the instance itself and those accepts admit. The script is the same
// for the same accepts. Accepts Apply would refuse are left out, so that a
// mistake admits less rather than more.
func Render(accepts []Accept) string {
	var b strings.Builder
	b.WriteString(tableHeader)
	for _, a := range accepts {
		if a.check() != nil {
			continue
		}
		v4, v6 := splitSources(a.Sources)
		writeRule(&b, "ip", v4, a)
		writeRule(&b, "ip6", v6, a)
	}
	b.WriteString(tableFooter)
	return b.String()
}

// writeRule writes a's rule for one address family; none without sources.
func writeRule(b *strings.Builder, family string, sources []netip.Prefix, a Accept) {
	if len(sources) == 0 {
		return
	}
	elems := make([]string, len(sources))
	for i, p := range sources {
		elems[i] = prefixString(p)
	}
	fmt.Fprintf(b, "\t\t%s saddr { %s }", family, strings.Join(elems, ", "))
	if m := l4Match(a); m != "" {
		b.WriteString(" " + m)
	}
	b.WriteString(" accept")
	if c := sanitizeComment(a.Comment); c != "" {
		fmt.Fprintf(b, " comment %q", c)
	}
	b.WriteString("\n")
}

// l4Match is the protocol and port part of a's rule.
func l4Match(a Accept) string {
	switch {
	case a.Protocol == "icmp":
		return "meta l4proto { icmp, ipv6-icmp }"
	case a.Protocol == "all":
		return ""
	case a.FromPort == 0 && a.ToPort == 65535:
		return "meta l4proto " + a.Protocol
	case a.FromPort == a.ToPort:
		return fmt.Sprintf("%s dport %d", a.Protocol, a.FromPort)
	}
	return fmt.Sprintf("%s dport %d-%d", a.Protocol, a.FromPort, a.ToPort)
}

// splitSources sorts sources into IPv4 and IPv6, masked, in order, without
// duplicates or prefixes another one covers: the script stays the same
// whatever order the sources came in, and older nft versions, which do not
// merge overlapping elements of a set, accept it.
func splitSources(sources []netip.Prefix) (v4, v6 []netip.Prefix) {
	for _, p := range sources {
		p = unmapPrefix(p).Masked()
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	return outermost(v4), outermost(v6)
}

// unmapPrefix turns an IPv4-mapped IPv6 prefix (::ffff:10.0.0.0/104) into
// the IPv4 prefix it means, which is how such packets reach the instance.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if !p.Addr().Is4In6() || p.Bits() < 96 {
		return p
	}
	return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
}

// outermost sorts prefixes of one family and drops those inside another.
// Prefixes are nested or disjoint, so after sorting by address (the shorter
// first on a tie) a prefix is covered iff the last one kept covers it.
func outermost(ps []netip.Prefix) []netip.Prefix {
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	var out []netip.Prefix
	for _, p := range ps {
		if len(out) > 0 && out[len(out)-1].Contains(p.Addr()) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// prefixString writes a host prefix as a bare address, as nft lists it.
func prefixString(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// sanitizeComment keeps what an nft quoted string holds safely: printable
// ASCII without quotes or backslashes (each other character becomes '_'),
// cut to maxComment.
func sanitizeComment(s string) string {
	var b strings.Builder
	for _, c := range s {
		if b.Len() == maxComment {
			break
		}
		if c < ' ' || c > '~' || c == '"' || c == '\'' || c == '\\' {
			c = '_'
		}
		b.WriteRune(c)
	}
	return strings.TrimSpace(b.String())
}
