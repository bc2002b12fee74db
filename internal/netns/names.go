package netns

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// The host numbers of the stack's /24 that are not instances'.
const (
	gatewayHost  = 1
	balancerHost = 254
)

// runNetns is where `ip netns add` mounts namespaces (iproute2's
// NETNS_RUN_DIR).
const runNetns = "/run/netns"

// linkPrefix is what every link of the stack's starts with: "sh" and the
// first 8 hex digits of sha256(stack). Link names are at most 15 bytes, too
// short for the stack's name; cleanup finds the stack's links by it.
func linkPrefix(stack string) string {
	h := sha256.Sum256([]byte(stack))
	return "sh" + hex.EncodeToString(h[:4])
}

// bridgeName is the stack's bridge: 12 bytes.
func bridgeName(stack string) string { return linkPrefix(stack) + "br" }

// vethName is the host side of instance i's veth: at most 14 bytes.
func vethName(stack string, i int) string { return linkPrefix(stack) + "v" + strconv.Itoa(i) }

// isShoalLink reports whether name has the form of a link shoal creates
// (bridgeName or vethName of some stack).
func isShoalLink(name string) bool {
	const n = len("sh") + 8
	if len(name) <= n || !strings.HasPrefix(name, "sh") || !isHex(name[2:n]) {
		return false
	}
	rest := name[n:]
	return rest == "br" || len(rest) > 1 && rest[0] == 'v' && isDigits(rest[1:])
}

// namespacePrefix starts the names of the stack's namespaces.
func namespacePrefix(stack string) string { return "shoal-" + stack + "-" }

func namespaceName(stack string, i int) string {
	return namespacePrefix(stack) + instanceName(i)
}

func instanceName(i int) string { return "instance-" + strconv.Itoa(i) }

// isStackNamespace reports whether ns is one of the stack's namespaces. It
// checks the whole form, because one stack's prefix can start another's
// ("shoal-a-" starts "shoal-a-b-instance-1").
func isStackNamespace(stack, ns string) bool {
	rest, ok := strings.CutPrefix(ns, namespacePrefix(stack)+"instance-")
	return ok && isDigits(rest)
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && s == strings.ToLower(s)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// instancesOf lays out count instances on subnet: instance-N at .(N+1).
func instancesOf(stack string, subnet netip.Prefix, count int) []Instance {
	out := make([]Instance, count)
	for i := range out {
		ns := namespaceName(stack, i+1)
		out[i] = Instance{
			Name:      instanceName(i + 1),
			Namespace: ns,
			Path:      runNetns + "/" + ns,
			Address:   hostAddr(subnet, byte(i+2)),
		}
	}
	return out
}

// hostAddr is host number h of the /24 subnet.
func hostAddr(subnet netip.Prefix, h byte) netip.Addr {
	a := subnet.Addr().As4()
	a[3] = h
	return netip.AddrFrom4(a)
}

// pickSubnet chooses the stack's /24 in rng: the first, from an index
// derived from the stack's name and wrapping round, that overlaps none of
// used. Starting from the name's hash makes a stack land on the same subnet
// run after run, and different stacks rarely contend for one.
func pickSubnet(stack string, rng netip.Prefix, used []netip.Prefix) (netip.Prefix, error) {
	count := uint32(1) << (24 - rng.Bits())
	h := sha256.Sum256([]byte(stack))
	start := binary.BigEndian.Uint32(h[4:8]) % count
	base := binary.BigEndian.Uint32(rng.Masked().Addr().AsSlice())
	for i := range count {
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], base+(start+i)%count<<8)
		p := netip.PrefixFrom(netip.AddrFrom4(a), 24)
		if !overlapsAny(p, used) {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no /24 of %s is free: each overlaps an address or route of this host (ip -4 route); set another range for isolated mode", rng)
}

func overlapsAny(p netip.Prefix, used []netip.Prefix) bool {
	for _, u := range used {
		if p.Overlaps(u) {
			return true
		}
	}
	return false
}
