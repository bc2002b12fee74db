package secgroup

import (
	"fmt"
	"strings"
)

// Protocol is the IP protocol a rule admits, by the name the stack file
// uses. A connection has one of TCP, UDP or ICMP; All appears in rules (it
// admits every protocol) and, in a query, asks about every protocol at once.
type Protocol string

// The protocols shoal filters. ICMP stands for ping in both IPv4 and IPv6:
// shoal's enforcement does not tell ICMP from ICMPv6, unlike AWS's "58".
const (
	TCP  Protocol = "tcp"
	UDP  Protocol = "udp"
	ICMP Protocol = "icmp"
	All  Protocol = "all"
)

// protocolNames maps every spelling ParseProtocol accepts (lower-cased) to
// its protocol: the names, AWS's "-1" for all, and the IANA numbers AWS
// also accepts, so that rules copied from CloudFormation or the CLI work.
var protocolNames = map[string]Protocol{
	"tcp": TCP, "6": TCP,
	"udp": UDP, "17": UDP,
	"icmp": ICMP, "1": ICMP,
	"all": All, "-1": All,
}

// ParseProtocol reads a rule's protocol: tcp, udp, icmp or all, in any case,
// or AWS's spellings -1 (all), 6, 17 and 1. The error says what to write.
func ParseProtocol(s string) (Protocol, error) {
	if p, ok := protocolNames[strings.ToLower(s)]; ok {
		return p, nil
	}
	return "", protocolError(s)
}

func protocolError(s string) error {
	const want = "write tcp, udp, icmp or all"
	switch t := strings.ToLower(strings.TrimSpace(s)); {
	case s == "":
		return fmt.Errorf("protocol is empty: %s", want)
	case t != strings.ToLower(s) && protocolNames[t] != "":
		return fmt.Errorf("protocol %q has spaces around it: write %s", s, protocolNames[t])
	case t == "icmpv6" || t == "58":
		return fmt.Errorf("protocol %q: shoal's icmp covers ICMPv6 too: write icmp", s)
	case t == "http" || t == "https":
		return fmt.Errorf("protocol %q: HTTP runs over TCP: write tcp", s)
	case t == "*" || t == "any":
		return fmt.Errorf("protocol %q: write all for every protocol", s)
	}
	return fmt.Errorf("protocol %q is not supported: %s (AWS's -1, 6, 17 and 1 work too)", s, want)
}

// HasPorts reports whether connections of p have ports to choose: tcp and
// udp do, icmp and all do not (their rules take every port).
func (p Protocol) HasPorts() bool { return p == TCP || p == UDP }
