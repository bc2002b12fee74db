package secgroup

import (
	"fmt"
	"strconv"
	"strings"
)

// PortRange is an inclusive range of ports, From to To. Rules for tcp and
// udp name ports 1 to 65535; AllPorts, which "all" parses to, is the only
// range that includes 0, so that it is told apart from "1-65535" when
// printed back, and it is what icmp and all rules carry.
type PortRange struct{ From, To uint16 }

// AllPorts is every port, written "all" in a stack file.
var AllPorts = PortRange{0, 65535}

// ParsePorts reads a rule's ports: one port ("80"), an inclusive range
// ("8000-8100") or "all". Nothing else is accepted, not even spaces: a
// stack file is read by people, so every rule has one spelling, and the
// error says how to write the value instead.
func ParsePorts(s string) (PortRange, error) {
	if strings.EqualFold(s, "all") {
		return AllPorts, nil
	}
	if hint := portsHint(s); hint != "" {
		return PortRange{}, fmt.Errorf("ports %q: %s", s, hint)
	}
	first, last, isRange := strings.Cut(s, "-")
	from, err := parsePort(first)
	if err != nil || !isRange {
		return PortRange{from, from}, err
	}
	if last == "" {
		return PortRange{}, fmt.Errorf("ports %q: the range has no last port: write %s or %s-<last port>", s, first, first)
	}
	to, err := parsePort(last)
	if err != nil {
		return PortRange{}, err
	}
	if from > to {
		return PortRange{}, fmt.Errorf("ports %q: the first port is above the last: write %d-%d", s, to, from)
	}
	return PortRange{from, to}, nil
}

// portsHint recognises the usual mistakes in a ports value and says how to
// write it; it returns "" for anything else, which parsePort then judges.
func portsHint(s string) string {
	switch t := strings.TrimSpace(s); {
	case s == "":
		return "no ports: write a port (80), a range (8000-8100) or all"
	case t != s:
		return fmt.Sprintf("spaces around the ports: write %q", t)
	case s == "-1":
		return "-1 is AWS's way of saying every port: write all"
	case s == "*" || strings.EqualFold(s, "any"):
		return "write all for every port"
	case s == "0-65535":
		return "port 0 cannot be connected to: write all for every port"
	case strings.ContainsAny(s, ",; "):
		return "a rule takes one port or one range: write one rule for each"
	case strings.HasPrefix(s, "-"):
		return "the range has no first port: write <first port>" + s
	case strings.Count(s, "-") > 1:
		return "a range has two ports: write <first>-<last>, like 8000-8100"
	}
	return ""
}

// parsePort reads one port number, 1 to 65535, in decimal digits only.
func parsePort(s string) (uint16, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("port %q is not a number: write digits only, like 80 or 8000-8100", s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > 65535 {
		return 0, fmt.Errorf("port %s is above 65535, the largest port", s)
	}
	if n == 0 {
		return 0, fmt.Errorf("port 0 cannot be connected to: ports run from 1 to 65535 (write all for every port)")
	}
	return uint16(n), nil
}

// String writes r as ParsePorts reads it: "80", "8000-8100" or "all".
func (r PortRange) String() string {
	switch {
	case r == AllPorts:
		return "all"
	case r.From == r.To:
		return strconv.Itoa(int(r.From))
	}
	return strconv.Itoa(int(r.From)) + "-" + strconv.Itoa(int(r.To))
}

// Contains reports whether p is in r, both ends included.
func (r PortRange) Contains(p uint16) bool { return r.From <= p && p <= r.To }
