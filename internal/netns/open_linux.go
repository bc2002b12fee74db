//go:build linux

package netns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// Supported returns nil when isolated mode can run here: ip and nft are in
// PATH, and this process can create a network namespace and use nftables
// in it (it creates and deletes one named shoal-probe-<pid> to find out).
// Otherwise it returns an error wrapping errors.ErrUnsupported that says
// what to do. The answer is worked out once per process.
func Supported() error { return supported() }

var supported = sync.OnceValue(probe)

func probe() error {
	for _, tool := range []struct{ name, pkg string }{{"ip", "iproute2"}, {"nft", "nftables"}} {
		if _, err := exec.LookPath(tool.name); err != nil {
			return fmt.Errorf("%w: isolated mode needs %s, which is not in PATH: apt-get install %s", errors.ErrUnsupported, tool.name, tool.pkg)
		}
	}
	ctx := context.Background()
	ns := fmt.Sprintf("shoal-probe-%d", os.Getpid())
	_, _ = run(ctx, "", "ip", "netns", "delete", ns) // left by a process of the same id that crashed
	if _, err := run(ctx, "", "ip", "netns", "add", ns); err != nil {
		return fmt.Errorf("%w: isolated mode cannot create a network namespace: run shoal as root (it needs CAP_SYS_ADMIN and CAP_NET_ADMIN): %v", errors.ErrUnsupported, err)
	}
	defer func() { _, _ = run(ctx, "", "ip", "netns", "delete", ns) }()
	if _, err := run(ctx, "", "ip", "netns", "exec", ns, "nft", "list", "tables"); err != nil {
		return fmt.Errorf("%w: nftables does not work in a network namespace (does the kernel have nf_tables? modprobe nf_tables): %v", errors.ErrUnsupported, err)
	}
	return nil
}

// Open creates the stack's isolated network: a bridge on a free /24 of
// opts.Range, and per instance a namespace joined to it by a veth, whose
// firewall drops every new inbound connection until Apply admits some.
// It first removes what a previous run of the same stack left behind
// (crash, SIGKILL). For the Network's life it holds an exclusive lock,
// which the kernel drops if the process dies; while another live process
// holds it, Open fails. When Open fails it leaves nothing behind.
func Open(ctx context.Context, opts Options) (*Network, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if err := Supported(); err != nil {
		return nil, err
	}
	lock, err := lockStack(opts.Stack)
	if err != nil {
		return nil, err
	}
	n := &Network{stack: opts.Stack, log: opts.Log, lock: lock}
	if err := n.create(ctx, opts); err != nil {
		return nil, errors.Join(fmt.Errorf("isolated network of stack %s: %w", opts.Stack, err), n.teardown())
	}
	n.log.Info("isolated network ready", "stack", n.stack, "subnet", n.subnet, "instances", len(n.instances))
	return n, nil
}

func (n *Network) create(ctx context.Context, opts Options) error {
	removed, err := removeStack(ctx, n.stack)
	if err != nil {
		return err
	}
	if len(removed) > 0 {
		n.log.Warn("removed what a previous run of the stack left behind", "stack", n.stack, "removed", removed)
	}
	if err := n.createBridge(ctx, opts); err != nil {
		return err
	}
	n.instances = instancesOf(n.stack, n.subnet, opts.Instances)
	if err := n.createInstances(ctx); err != nil {
		return err
	}
	for _, inst := range n.instances {
		if err := n.loadLocked(ctx, inst.Name, Render(nil)); err != nil {
			return err
		}
	}
	return nil
}

// createBridge picks the stack's subnet and puts it on a new bridge, with
// the gateway address first so that the kernel uses it as the source of
// everything the host sends to the subnet.
func (n *Network) createBridge(ctx context.Context, opts Options) error {
	alloc, err := waitLock(ctx, allocLockPath)
	if err != nil {
		return err
	}
	defer alloc.Close()
	used, err := usedPrefixes(ctx)
	if err != nil {
		return err
	}
	if n.subnet, err = pickSubnet(n.stack, opts.Range, used); err != nil {
		return err
	}
	br := bridgeName(n.stack)
	return ipBatch(ctx, []string{
		"link add " + br + " type bridge",
		"addr add " + prefixOf(n.Gateway()) + " dev " + br,
		"addr add " + prefixOf(n.BalancerAddr()) + " dev " + br,
		"link set " + br + " up",
	})
}

// createInstances creates the namespaces and veths in one ip process on
// the host side, then configures each namespace in one more.
func (n *Network) createInstances(ctx context.Context) error {
	br := bridgeName(n.stack)
	var host []string
	for i, inst := range n.instances {
		veth := vethName(n.stack, i+1)
		host = append(host,
			"netns add "+inst.Namespace,
			"link add "+veth+" type veth peer name eth0 netns "+inst.Namespace,
			"link set "+veth+" master "+br+" up")
	}
	if err := ipBatch(ctx, host); err != nil {
		return err
	}
	for _, inst := range n.instances {
		err := ipBatch(ctx, []string{
			"addr add " + prefixOf(inst.Address) + " dev eth0",
			"link set lo up",
			"link set eth0 up",
		}, "-netns", inst.Namespace)
		if err != nil {
			return err
		}
	}
	return nil
}

// prefixOf writes an address of the stack's /24 as ip addr add wants it.
func prefixOf(a netip.Addr) string { return a.String() + "/24" }

// load replaces the firewall of namespace ns with script.
func (n *Network) load(ctx context.Context, ns, script string) error {
	return loadTable(ctx, ns, script)
}

// teardown removes the stack's namespaces and links, then its lock file,
// and drops the lock (even when removing failed: the next Open retries).
func (n *Network) teardown() error {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	removed, err := removeStack(ctx, n.stack)
	if err == nil {
		n.log.Info("isolated network removed", "stack", n.stack, "removed", removed)
	}
	return errors.Join(err, unlockRemove(n.lock))
}

// removeStack deletes the stack's links and namespaces, if any, and
// returns their names. Deleting a veth's host side deletes its peer too,
// even in a namespace a leftover process still holds. It checks afterwards
// rather than trusting each command: a veth vanishes on its own when its
// namespace goes.
func removeStack(ctx context.Context, stack string) ([]string, error) {
	links, nss, err := stackLeftovers(ctx, stack)
	if err != nil || len(links)+len(nss) == 0 {
		return nil, err
	}
	var lines []string
	for _, l := range links {
		lines = append(lines, "link delete "+l)
	}
	for _, ns := range nss {
		lines = append(lines, "netns delete "+ns)
	}
	batchErr := ipBatch(ctx, lines, "-force")
	removed := append(links, nss...)
	links, nss, err = stackLeftovers(ctx, stack)
	if err != nil || len(links)+len(nss) == 0 {
		return removed, err
	}
	return removed, fmt.Errorf("could not remove %s of stack %s (%v): remove them with ip link delete and ip netns delete",
		strings.Join(append(links, nss...), ", "), stack, batchErr)
}

// stackLeftovers lists the stack's links and namespaces on this host.
func stackLeftovers(ctx context.Context, stack string) (links, nss []string, err error) {
	all, err := hostLinks(ctx)
	if err != nil {
		return nil, nil, err
	}
	prefix := linkPrefix(stack)
	for _, l := range all {
		if strings.HasPrefix(l, prefix) && isShoalLink(l) {
			links = append(links, l)
		}
	}
	names, err := namespaces()
	for _, ns := range names {
		if isStackNamespace(stack, ns) {
			nss = append(nss, ns)
		}
	}
	return links, nss, err
}
