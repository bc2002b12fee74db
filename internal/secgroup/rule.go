package secgroup

import (
	"errors"
	"fmt"
	"net/netip"
)

// Rule is one ingress rule of a security group: it admits new connections
// of Protocol, to a port in Ports, from a source that is either a CIDR or
// the members of another group (exactly one of the two, as in AWS).
type Rule struct {
	Protocol Protocol
	// Ports is AllPorts for icmp and all, which have no ports to choose.
	Ports PortRange
	// CIDR is valid iff the source is a range of addresses; it is masked.
	CIDR netip.Prefix
	// SourceGroup is non-empty iff the source is a group: the rule admits
	// its members, whatever their addresses.
	SourceGroup string
}

// String describes r in the words Decision.Why uses: "tcp 80 from
// 0.0.0.0/0", "tcp all ports from group alb", "icmp from 10.0.0.0/8",
// "all traffic from group instances".
func (r Rule) String() string {
	return r.what() + " from " + r.source()
}

func (r Rule) what() string {
	switch {
	case r.Protocol == All:
		return "all traffic"
	case r.Protocol == ICMP:
		return "icmp"
	case r.Ports == AllPorts:
		return string(r.Protocol) + " all ports"
	}
	return string(r.Protocol) + " " + r.Ports.String()
}

func (r Rule) source() string {
	if r.SourceGroup != "" {
		return "group " + r.SourceGroup
	}
	return r.CIDR.String()
}

// OpensToWorld reports whether r admits every address of IPv4 (0.0.0.0/0)
// or of IPv6 (::/0): the rules a review looks at first.
func (r Rule) OpensToWorld() bool {
	return r.CIDR.IsValid() && r.CIDR.Bits() == 0
}

// Validate checks what ParseProtocol, ParsePorts and ParseCIDR cannot see
// alone: that the ports suit the protocol and that the rule has exactly one
// source. NewSet calls it for every rule; whoever decodes a stack file can
// call it too, to report the rule's line.
func (r Rule) Validate() error {
	if err := r.validatePorts(); err != nil {
		return err
	}
	return r.validateSource()
}

func (r Rule) validatePorts() error {
	switch r.Protocol {
	case TCP, UDP:
		if r.Ports == (PortRange{}) {
			return fmt.Errorf("%s rule without ports: write a port (80), a range (8000-8100) or all", r.Protocol)
		}
		if r.Ports.From == 0 && r.Ports != AllPorts {
			return fmt.Errorf("ports %s: port 0 cannot be connected to: start at 1, or write all for every port", r.Ports)
		}
		if r.Ports.From > r.Ports.To {
			return fmt.Errorf("ports %d-%d: the first port is above the last: write %d-%d", r.Ports.From, r.Ports.To, r.Ports.To, r.Ports.From)
		}
	case ICMP, All:
		if r.Ports != AllPorts {
			return fmt.Errorf("%s rule with ports %s: %s takes no ports: leave port out or write all, as AWS", r.Protocol, r.Ports, r.Protocol)
		}
	default:
		_, err := ParseProtocol(string(r.Protocol))
		return err
	}
	return nil
}

func (r Rule) validateSource() error {
	switch {
	case r.SourceGroup != "" && r.CIDR.IsValid():
		return errors.New("rule has both cidr and source_group: write one, and a second rule for the other")
	case r.SourceGroup == "" && !r.CIDR.IsValid():
		return errors.New("rule has no source: write cidr (0.0.0.0/0 for everyone) or source_group")
	case r.CIDR.IsValid():
		_, err := ParseCIDR(r.CIDR.String()) // refuses host bits and mapped ranges
		return err
	}
	return nil
}
