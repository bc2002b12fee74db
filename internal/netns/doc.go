// Package netns is the Linux plumbing of isolated mode: each instance of a
// stack is a network namespace with one veth on a bridge of the stack's own,
// and each instance's security groups are one nftables table inside its
// namespace.
//
// The picture, for a stack with two instances on 198.18.7.0/24:
//
//	host namespace                          shoal-<stack>-instance-1
//	  sh<hash8>br  198.18.7.1   (Gateway)      eth0 198.18.7.2   table inet shoal
//	               198.18.7.254 (BalancerAddr) shoal-<stack>-instance-2
//	    ├── sh<hash8>v1 ── veth ──────────────  eth0 198.18.7.3   table inet shoal
//	    └── sh<hash8>v2 ── veth ─────────────┘
//
// The namespaces have no default route and the host neither forwards nor
// NATs for them: tasks reach the stack's /24 and nothing else, so nothing
// they send leaves the machine. The load balancer dials from BalancerAddr
// and every other host process from Gateway, so an instance's rules can
// tell the two apart.
//
// The package shells out to ip(8) and nft(8) rather than speaking netlink
// itself: the commands are what an operator would type to inspect or repair
// the same state, and their errors already say what went wrong.
package netns
