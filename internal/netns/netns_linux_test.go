//go:build linux

package netns

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/testkit"
)

// helperStackEnv makes the test binary, started by TestOpen_AfterCrash,
// open the stack it names and wait to be killed.
const helperStackEnv = "SHOAL_NETNS_TEST_STACK"

// blockedDial is how long a dial the firewall drops is given: the SYN is
// dropped, not refused, so the dial can only time out.
const blockedDial = 300 * time.Millisecond

// requireSupported skips a test that needs isolated mode where it cannot
// run, except in CI (which runs the tests as root), where it fails.
func requireSupported(t *testing.T) {
	t.Helper()
	if err := Supported(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must test isolated mode, but it cannot run here: %v", err)
		}
		t.Skipf("isolated mode cannot run here, so neither can this test: %v", err)
	}
}

// testStack is a stack name no other test uses.
func testStack() string { return fmt.Sprintf("t%08x", rand.Uint32()) }

// openTest opens a network for stack and closes it when the test ends.
func openTest(t *testing.T, stack string, instances int) *Network {
	t.Helper()
	n, err := openStack(t, Options{Stack: stack, Instances: instances})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func openStack(t *testing.T, opts Options) (*Network, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts.Log = slog.New(slog.NewTextHandler(t.Output(), nil))
	start := time.Now()
	n, err := Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	t.Logf("opened stack %s: %d instances on %s in %v", opts.Stack, opts.Instances, n.Subnet(), time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close stack %s: %v", opts.Stack, err)
		}
	})
	return n, nil
}

// leftoversOf is what leftovers lists of stack: other packages' tests may
// run stacks of their own meanwhile.
func leftoversOf(t *testing.T, stack string) []string {
	t.Helper()
	all, err := leftovers()
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(all, func(s string) bool {
		return !strings.Contains(s, namespacePrefix(stack)) && !strings.Contains(s, linkPrefix(stack))
	})
}

func ipNetnsList(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	return string(out)
}

// serve listens on inst's address in its namespace, on a free port, and
// answers each connection with the address it came from.
func serve(t *testing.T, n *Network, inst Instance) netip.AddrPort {
	t.Helper()
	var l net.Listener
	err := n.Do(inst.Name, func() (err error) {
		l, err = net.Listen("tcp", netip.AddrPortFrom(inst.Address, 0).String())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			io.WriteString(c, host+"\n")
			c.Close()
		}
	})
	return netip.MustParseAddrPort(l.Addr().String())
}

// greeting reads what serve writes: the address the connection came from.
func greeting(c net.Conn) (string, error) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestOpen_TwoInstances(t *testing.T) {
	requireSupported(t)
	stack := testStack()
	n := openTest(t, stack, 2)

	list := ipNetnsList(t)
	sub := n.Subnet()
	for i, inst := range n.Instances() {
		if !strings.Contains(list, inst.Namespace) {
			t.Errorf("ip netns list lacks %s:\n%s", inst.Namespace, list)
		}
		if want := hostAddr(sub, byte(i+2)); inst.Address != want || !sub.Contains(inst.Address) {
			t.Errorf("%s: address %v, want %v in %v", inst.Name, inst.Address, want, sub)
		}
		if _, err := os.Stat(inst.Path); err != nil {
			t.Errorf("%s: %v", inst.Name, err)
		}
	}
	if sub.Bits() != 24 || !DefaultRange.Contains(sub.Addr()) {
		t.Errorf("subnet %v: want a /24 of %v", sub, DefaultRange)
	}
	if n.Gateway() != hostAddr(sub, 1) || n.BalancerAddr() != hostAddr(sub, 254) {
		t.Errorf("gateway %v, balancer %v: want .1 and .254 of %v", n.Gateway(), n.BalancerAddr(), sub)
	}

	other := openTest(t, testStack(), 1)
	if other.Subnet().Overlaps(sub) {
		t.Errorf("two open stacks share %v and %v", sub, other.Subnet())
	}

	_, err := Open(context.Background(), Options{Stack: stack, Instances: 2})
	want := fmt.Sprintf("another shoal (pid %d) runs stack %s in isolated mode", os.Getpid(), stack)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("second Open of %s: got %v, want an error containing %q", stack, err, want)
	}
	if list := ipNetnsList(t); !strings.Contains(list, n.Instances()[0].Namespace) {
		t.Errorf("the refused Open removed the first one's namespaces:\n%s", list)
	}
}

func TestOpen_ConcurrentStacksGetDisjointSubnets(t *testing.T) {
	requireSupported(t)
	rng := netip.MustParsePrefix("198.19.254.0/23") // room for two stacks only
	nets := make([]*Network, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range nets {
		wg.Go(func() { nets[i], errs[i] = openStack(t, Options{Stack: testStack(), Instances: 1, Range: rng}) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if a, b := nets[0].Subnet(), nets[1].Subnet(); a == b || !rng.Contains(a.Addr()) || !rng.Contains(b.Addr()) {
		t.Errorf("subnets %v and %v: want the two /24s of %v", a, b, rng)
	}
	_, err := Open(context.Background(), Options{Stack: testStack(), Instances: 1, Range: rng})
	if err == nil || !strings.Contains(err.Error(), "no /24 of 198.19.254.0/23 is free") {
		t.Errorf("third stack on a full range: got %v, want an error saying no /24 is free", err)
	}
}

func TestApply_Enforcement(t *testing.T) {
	requireSupported(t)
	n := openTest(t, testStack(), 2)
	inst := n.Instances()[0]
	target := serve(t, n, inst)
	ctx := context.Background()

	// Until Apply, the firewall admits nothing.
	dctx, cancel := context.WithTimeout(ctx, blockedDial)
	_, err := n.DialContext(dctx, "tcp", target.String())
	cancel()
	if !isTimeout(err) {
		t.Fatalf("dial before any Apply: got %v, want a timeout", err)
	}

	lbOnly := []Accept{{Protocol: "tcp", FromPort: target.Port(), ToPort: target.Port(),
		Sources: []netip.Prefix{netip.PrefixFrom(n.BalancerAddr(), 32)}, Comment: "load balancer"}}
	if err := n.Apply(ctx, map[string][]Accept{inst.Name: lbOnly}); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		c, err := n.DialContext(ctx, "tcp", target.String())
		if err != nil {
			t.Fatalf("balancer dial %d: %v", i, err)
		}
		if from, err := greeting(c); err != nil || from != n.BalancerAddr().String() {
			t.Fatalf("balancer dial %d: got %q, %v; want the server to see %v", i, from, err, n.BalancerAddr())
		}
	}

	// From the host (source Gateway) and from instance-2, at once: each
	// dial waits out blockedDial.
	var fromPeer error
	var wg sync.WaitGroup
	wg.Go(func() { fromPeer = n.Do("instance-2", func() error { return blocked(target) }) })
	if failed, first := hostDials(target, 100); failed > 0 {
		t.Errorf("plain host dials: %d of 100 not blocked; the first: %v", failed, first)
	}
	wg.Wait()
	if fromPeer != nil {
		t.Errorf("from instance-2: %v", fromPeer)
	}

	start := time.Now()
	withHost := append(lbOnly, Accept{Protocol: "tcp", FromPort: target.Port(), ToPort: target.Port(),
		Sources: []netip.Prefix{netip.PrefixFrom(n.Gateway(), 32)}, Comment: "host"})
	if err := n.Apply(ctx, map[string][]Accept{inst.Name: withHost}); err != nil {
		t.Fatal(err)
	}
	applied := time.Now()
	from := firstHostGreeting(t, target, applied.Add(time.Second))
	t.Logf("Apply took %v; a plain host dial connected %v after it returned",
		applied.Sub(start).Round(time.Microsecond), time.Since(applied).Round(time.Microsecond))
	if from != n.Gateway().String() {
		t.Errorf("plain host dial came from %s, want the gateway %v", from, n.Gateway())
	}
}

// hostDials dials target count times at once from the host, wanting each
// dial to time out, and counts those that did not.
func hostDials(target netip.AddrPort, count int) (failed int, first error) {
	errs := make([]error, count)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = blocked(target) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			failed++
			first = cmp.Or(first, err)
		}
	}
	return failed, first
}

// blocked dials target and wants the dial to time out.
func blocked(target netip.AddrPort) error {
	c, err := net.DialTimeout("tcp", target.String(), blockedDial)
	if err == nil {
		c.Close()
		return fmt.Errorf("connected to %v from %v", target, c.LocalAddr())
	}
	if !isTimeout(err) {
		return fmt.Errorf("dial %v: %w, want a timeout", target, err)
	}
	return nil
}

// firstHostGreeting dials target from the host until a dial connects, by
// deadline, and returns the address the server saw.
func firstHostGreeting(t *testing.T, target netip.AddrPort, deadline time.Time) string {
	t.Helper()
	for attempt := 1; ; attempt++ {
		c, err := net.DialTimeout("tcp", target.String(), time.Until(deadline))
		if err == nil {
			from, err := greeting(c)
			if err != nil {
				t.Fatal(err)
			}
			return from
		}
		if time.Now().After(deadline) {
			t.Fatalf("no plain host dial connected within 1 s of Apply (%d attempts): %v", attempt, err)
		}
	}
}

func TestClose_LeavesNothing(t *testing.T) {
	requireSupported(t)
	stack := testStack()
	n, err := Open(context.Background(), Options{Stack: stack, Instances: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := leftoversOf(t, stack); len(got) != 3+1+3 {
		t.Errorf("while open, leftovers lists %q; want 3 namespaces, a bridge and 3 veths", got)
	}
	start := time.Now()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Close took %v", time.Since(start).Round(time.Millisecond))
	if got := leftoversOf(t, stack); len(got) > 0 {
		t.Errorf("after Close, leftovers lists %q", got)
	}
	if list := ipNetnsList(t); strings.Contains(list, namespacePrefix(stack)) {
		t.Errorf("after Close, ip netns list shows:\n%s", list)
	}
	if _, err := os.Stat(stackLockPath(stack)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file after Close: %v, want it gone", err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := n.Apply(context.Background(), map[string][]Accept{"instance-1": nil}); err == nil {
		t.Error("Apply after Close: want an error")
	}
}

// TestHelperProcess is not a test: run by TestOpen_AfterCrash with
// helperStackEnv set, it opens that stack with 3 instances, says "ready",
// and waits to be killed.
func TestHelperProcess(t *testing.T) {
	stack := os.Getenv(helperStackEnv)
	if stack == "" {
		return
	}
	if _, err := Open(context.Background(), Options{Stack: stack, Instances: 3}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin) // until the parent goes
	os.Exit(0)
}

func TestOpen_AfterCrash(t *testing.T) {
	requireSupported(t)
	stack := testStack()
	t.Cleanup(func() { removeStack(context.Background(), stack) })
	child := startHelper(t, stack)
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	for i := 1; i <= 3; i++ {
		if _, err := os.Stat(runNetns + "/" + namespaceName(stack, i)); err != nil {
			t.Fatalf("after the crash: %v; want the namespace left behind", err)
		}
	}

	n := openTest(t, stack, 2)
	if list := ipNetnsList(t); strings.Contains(list, namespaceName(stack, 3)) || !strings.Contains(list, namespaceName(stack, 2)) {
		t.Errorf("reopened with 2 instances, ip netns list shows:\n%s", list)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if got := leftoversOf(t, stack); len(got) > 0 {
		t.Errorf("after Close, leftovers lists %q", got)
	}
}

// startHelper starts TestHelperProcess for stack and waits for it to say
// it is ready.
func startHelper(t *testing.T, stack string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperStackEnv+"="+stack)
	var stderr testkit.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- true
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("the helper exited before it was ready: %s", stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("the helper was not ready within a minute: %s", stderr.String())
	}
	return cmd
}

func TestPortFree(t *testing.T) {
	requireSupported(t)
	n := openTest(t, testStack(), 2)
	inst := n.Instances()[0]
	taken := serve(t, n, inst)
	addr := inst.Address.String()

	if free, err := n.PortFree(addr, int(taken.Port())); free || err != nil {
		t.Errorf("port %d, bound in %s: got %v, %v; want false, nil", taken.Port(), inst.Name, free, err)
	}
	// The other instance's namespace is another network: its port is free.
	if free, err := n.PortFree(n.Instances()[1].Address.String(), int(taken.Port())); !free || err != nil {
		t.Errorf("port %d in instance-2: got %v, %v; want true, nil", taken.Port(), free, err)
	}
	port := freePort(t, n, inst)
	if free, err := n.PortFree(addr, port); !free || err != nil {
		t.Errorf("unbound port %d: got %v, %v; want true, nil", port, free, err)
	}
	for _, a := range []string{"192.0.2.77", n.Gateway().String(), "not-an-address"} {
		if _, err := n.PortFree(a, port); err == nil {
			t.Errorf("PortFree(%s): want an error, it is no instance's address", a)
		}
	}
}

// freePort is a port nothing in inst's namespace is bound to: one the
// kernel chose for a listener that is closed again.
func freePort(t *testing.T, n *Network, inst Instance) int {
	t.Helper()
	var port int
	err := n.Do(inst.Name, func() error {
		l, err := net.Listen("tcp", netip.AddrPortFrom(inst.Address, 0).String())
		if err != nil {
			return err
		}
		port = l.Addr().(*net.TCPAddr).Port
		return l.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func TestDo_RunsInNamespace(t *testing.T) {
	requireSupported(t)
	n := openTest(t, testStack(), 1)
	inst := n.Instances()[0]
	has := func() (bool, error) {
		addrs, err := net.InterfaceAddrs()
		return slices.ContainsFunc(addrs, func(a net.Addr) bool {
			return strings.HasPrefix(a.String(), inst.Address.String()+"/")
		}), err
	}
	var inside bool
	if err := n.Do(inst.Name, func() (err error) { inside, err = has(); return err }); err != nil || !inside {
		t.Errorf("in Do: sees its address %v: %v, %v; want true", inst.Address, inside, err)
	}
	for range 5 { // the threads Do used are back in the host namespace
		if outside, err := has(); outside || err != nil {
			t.Fatalf("after Do, the host sees %v: %v, %v", inst.Address, outside, err)
		}
		runtime.Gosched()
	}
	if err := n.Do(inst.Name, func() error { runtime.Goexit(); return nil }); !errors.Is(err, errGoexit) {
		t.Errorf("fn calling Goexit: got %v, want %v", err, errGoexit)
	}
	if err := n.Do("instance-9", func() error { return nil }); err == nil || !strings.Contains(err.Error(), "no instance-9") {
		t.Errorf("unknown instance: got %v", err)
	}
}

// TestApply_LoadsEveryForm loads each form Render writes into a real
// namespace, so that nft, not only the golden strings, accepts them.
func TestApply_LoadsEveryForm(t *testing.T) {
	requireSupported(t)
	n := openTest(t, testStack(), 2)
	accepts := []Accept{
		{Protocol: "tcp", FromPort: 80, ToPort: 80, Sources: prefixes("10.0.0.0/8", "10.1.0.0/16", "192.0.2.7/32"), Comment: `web "sg"; drop table`},
		{Protocol: "tcp", FromPort: 0, ToPort: 65535, Sources: prefixes("2001:db8::/32", "0.0.0.0/0")},
		{Protocol: "udp", FromPort: 1000, ToPort: 2000, Sources: prefixes("::/0")},
		{Protocol: "icmp", Sources: prefixes("198.18.0.0/15", "fd00::1/128")},
		{Protocol: "all", Sources: prefixes("203.0.113.0/24")},
	}
	if err := n.Apply(context.Background(), map[string][]Accept{"instance-1": accepts}); err != nil {
		t.Fatalf("%v\nscript:\n%s", err, Render(accepts))
	}
	got := nftTable(t, n.Instances()[0].Namespace)
	for _, want := range []string{`tcp dport 80 accept comment "web _sg_; drop table"`, "ip6 saddr 2001:db8::/32 meta l4proto tcp accept",
		"udp dport 1000-2000", `meta l4proto { icmp, ipv6-icmp }`, "ip saddr 203.0.113.0/24 accept", "policy drop"} {
		if !strings.Contains(got, want) {
			t.Errorf("nft lists no %q in:\n%s", want, got)
		}
	}
	if other := nftTable(t, n.Instances()[1].Namespace); strings.Contains(other, "saddr") || !strings.Contains(other, "policy drop") {
		t.Errorf("instance-2, not in the map, has no longer the table Open gave it:\n%s", other)
	}
}

func nftTable(t *testing.T, ns string) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", "inet", "shoal").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list table in %s: %v: %s", ns, err, out)
	}
	return string(out)
}
