package secgroup

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseCIDR reads a rule's source range: an IPv4 or IPv6 CIDR.
//
// A CIDR with host bits set ("10.0.0.1/24") is refused, with a hint naming
// both readings ("did you mean 10.0.0.0/24, or 10.0.0.1/32?"). The EC2 API
// would accept it and silently canonicalise it to 10.0.0.0/24, but a rule
// in an allow-list is the one place where guessing is wrong: whoever wrote
// 10.0.0.1/24 meant either the network or that one host, and opening the
// network when the host was meant lets 255 other addresses in. Terraform
// refuses it too, so a stack shoal accepts also exports cleanly.
//
// A bare address ("10.0.0.1") is refused with a hint to add /32 (or /128),
// as AWS asks. So is an IPv4-mapped IPv6 range ("::ffff:10.0.0.0/104"),
// with a hint to write it as IPv4: shoal matches an IPv4-mapped source
// address against IPv4 ranges, so the IPv6 spelling would match nothing.
func ParseCIDR(s string) (netip.Prefix, error) {
	if t := strings.TrimSpace(s); t != s {
		return netip.Prefix{}, fmt.Errorf("cidr %q: spaces around the range: write %q", s, t)
	}
	if !strings.Contains(s, "/") {
		return netip.Prefix{}, bareAddressError(s)
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("cidr %q is not an IPv4 or IPv6 range like 10.0.0.0/8 or 2001:db8::/32: %v", s, prefixReason(err))
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("cidr %q has bits set after the first %d: did you mean %s (the whole range), or %s (that address alone)?",
			s, p.Bits(), m, netip.PrefixFrom(p.Addr(), p.Addr().BitLen()))
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, mappedPrefixError(s, p)
	}
	return p, nil
}

func bareAddressError(s string) error {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return fmt.Errorf("cidr %q is not an IPv4 or IPv6 range: write an address, a slash and a prefix length, like 10.0.0.0/8 or 2001:db8::/32", s)
	}
	return fmt.Errorf("cidr %q has no prefix length: write %s for that address alone", s, netip.PrefixFrom(a, a.BitLen()))
}

func mappedPrefixError(s string, p netip.Prefix) error {
	if p.Bits() < 96 {
		return fmt.Errorf("cidr %q mixes IPv6 with IPv4-mapped addresses: write the IPv4 and IPv6 ranges as two rules", s)
	}
	v4 := netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	return fmt.Errorf("cidr %q is an IPv4-mapped IPv6 range: write it as IPv4, %s", s, v4)
}

// prefixReason shortens netip's error, which repeats the input, to its
// reason.
func prefixReason(err error) string {
	msg := err.Error()
	if _, after, ok := strings.Cut(msg, "): "); ok {
		return after
	}
	return msg
}

// lastAddr is the highest address of p, which must be masked.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As16()
	skip := 0
	if p.Addr().Is4() {
		skip = 12
	}
	for i := skip*8 + p.Bits(); i < 128; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a := netip.AddrFrom16(b)
	if p.Addr().Is4() {
		return a.Unmap()
	}
	return a
}
