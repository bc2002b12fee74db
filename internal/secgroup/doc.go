// Package secgroup is the model of security groups that every enforcement
// of them shares: parsing the values of a rule, deciding whether a
// connection is allowed, and explaining who can reach what. The in-process
// check on listeners, the nftables rules of isolated mode and `shoal sg
// explain` all ask this package, so they cannot disagree. It does no I/O and
// reads no clock.
//
// The semantics are AWS's: a group is an allow-list of ingress rules; a
// connection to a destination protected by several groups is allowed if any
// rule of any of them allows it, and denied otherwise (there are no deny
// rules); egress is not filtered. A rule's source is a CIDR or another
// group, whose members may then connect whatever their addresses.
package secgroup
