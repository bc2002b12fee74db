package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/testkit"
)

// TestEndToEnd_IsolatedExample runs the bundled example with
// cluster.isolation: netns, as root: the tutorial's two security groups
// enforced. Every request through the listener is answered 200, while a
// connection from the host straight to any task is dropped; a rule added
// with shoal deploy lets the host in at once; and neither a stop nor a
// SIGKILL followed by a new start leaves a namespace, a link or a table of
// the stack behind.
func TestEndToEnd_IsolatedExample(t *testing.T) {
	ex := newExample(t)
	requireNamespaces(t)
	name := fmt.Sprintf("iso-%06x", rand.Uint32()>>8)
	ex.stack = isolatedStack(t, ex.stack, name, "")
	up := ex.up(t)
	st := waitSteady(t, up, ex.bin, ex.state)
	url := "http://" + st.Listeners[0] + "/"
	for i := range 100 {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("request %d through the listener: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d through the listener: %s, want 200", i, resp.Status)
		}
	}

	tasks := shoalPS(t, ex.bin, ex.state)
	if len(tasks) != 4 {
		t.Fatalf("%d tasks, want 3 api and 1 cache", len(tasks))
	}
	for _, task := range tasks {
		checkIsolatedAddress(t, task)
		if c, err := net.DialTimeout("tcp", task.Address, 500*time.Millisecond); err == nil {
			c.Close()
			t.Errorf("the host connected straight to task %s at %s: the instances' group admits only the load balancer", task.ID, task.Address)
		}
	}

	// Let this host in: its processes connect from the bridge's first
	// address. New connections follow the rule once deploy returns.
	gateway := gatewayOf(t, tasks[0].Address)
	ex.stack = isolatedStack(t, ex.stack, name, gateway.String()+"/32")
	if code, out := runShoal(t, ex.bin, ex.state, "deploy", "-f", ex.stack); code != 0 {
		t.Fatalf("shoal deploy with a rule for %s: exit %d\n%s", gateway, code, out)
	}
	applied := time.Now()
	testkit.WaitFor(t, time.Second, "a straight connection to a task once the host is admitted", func() bool {
		c, err := net.DialTimeout("tcp", tasks[0].Address, 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	t.Logf("the host reached %s %v after shoal deploy returned", tasks[0].Address, time.Since(applied).Round(time.Millisecond))

	up.stop(t)
	checkNothingLeft(t, name)

	// A SIGKILLed shoal leaves its network behind; the next start of the
	// stack removes it, and that one's stop leaves nothing.
	killed := ex.up(t)
	waitSteady(t, killed, ex.bin, ex.state)
	killed.cmd.Process.Kill()
	<-killed.done
	killed.done <- nil
	if left := namespacesOf(t, name); len(left) == 0 {
		t.Error("a SIGKILLed shoal left no namespace: the test no longer tests the clean-up")
	}
	again := ex.up(t)
	waitSteady(t, again, ex.bin, ex.state)
	if out := again.out.String(); !strings.Contains(out, "removed what a previous run of the stack left behind") {
		t.Errorf("the start after SIGKILL does not say it removed the leftovers:\n%s", out)
	}
	again.stop(t)
	checkNothingLeft(t, name)
}

// requireNamespaces skips where network namespaces cannot be created (not
// root, not Linux, no nft), but never in CI, which runs as root.
func requireNamespaces(t *testing.T) {
	t.Helper()
	probe := fmt.Sprintf("shoal-e2eprobe-%d", os.Getpid())
	err := exec.Command("ip", "netns", "add", probe).Run()
	if err == nil {
		exec.Command("ip", "netns", "delete", probe).Run()
		_, err = exec.LookPath("nft")
	}
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("isolated mode needs network namespaces and nft, as root: %v", err)
	}
	t.Skipf("isolated mode needs network namespaces and nft (apt-get install nftables), as root: %v", err)
}

// isolatedStack rewrites the example at path as stack name in isolated
// mode, with an extra rule of the instances' group for cidr when given.
func isolatedStack(t *testing.T, path, name, cidr string) string {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	for old, repl := range map[string]string{
		"name: catalog":   "name: " + name,
		"isolation: none": "isolation: netns",
	} {
		s = strings.Replace(s, old, repl, 1)
	}
	if cidr != "" {
		const rule = "      - {port: all, source_group: alb}\n"
		if !strings.Contains(s, rule) {
			t.Fatalf("the example's instances group no longer has %q; update the test", rule)
		}
		s = strings.Replace(s, rule, rule+"      - {port: all, cidr: "+cidr+"}\n", 1)
	}
	if !strings.Contains(s, "isolation: netns") || !strings.Contains(s, "name: "+name) {
		t.Fatal("the example stack no longer has name: catalog and isolation: none; update the test")
	}
	out := filepath.Join(filepath.Dir(path), "isolated.yaml")
	if err := os.WriteFile(out, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkIsolatedAddress checks that a task listens on its namespace's own
// address, in shoal's reserved range.
func checkIsolatedAddress(t *testing.T, task agent.TaskStatus) {
	t.Helper()
	ap, err := netip.ParseAddrPort(task.Address)
	if err != nil || !netip.MustParsePrefix("198.18.0.0/15").Contains(ap.Addr()) {
		t.Errorf("task %s's address is %q, want ip:port in 198.18.0.0/15", task.ID, task.Address)
	}
}

// gatewayOf is the host's address on the bridge of the task's subnet.
func gatewayOf(t *testing.T, addr string) netip.Addr {
	t.Helper()
	ap := netip.MustParseAddrPort(addr)
	b := ap.Addr().As4()
	b[3] = 1
	return netip.AddrFrom4(b)
}

// checkNothingLeft checks that `ip netns list` and `nft list tables` show
// nothing of the stack's, nor `ip link` its bridge or veths.
func checkNothingLeft(t *testing.T, name string) {
	t.Helper()
	if left := namespacesOf(t, name); len(left) > 0 {
		t.Errorf("ip netns list shows %v after shoal stopped", left)
	}
	out, err := exec.Command("nft", "list", "tables").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list tables: %v: %s", err, out)
	}
	if strings.Contains(string(out), "shoal") {
		t.Errorf("nft list tables shows shoal's tables after shoal stopped:\n%s", out)
	}
	// The stack's bridge and veths are named "sh" and 8 hex digits of its
	// name's SHA-256 (interface names are 15 bytes at most).
	sum := sha256.Sum256([]byte(name))
	prefix := "sh" + hex.EncodeToString(sum[:])[:8]
	links, err := exec.Command("ip", "-o", "link", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("ip link: %v: %s", err, links)
	}
	for _, l := range strings.Split(string(links), "\n") {
		if strings.Contains(l, ": "+prefix) {
			t.Errorf("a link of the stack is left: %s", l)
		}
	}
}

// namespacesOf lists the network namespaces of stack name.
func namespacesOf(t *testing.T, name string) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, out)
	}
	var found []string
	for _, line := range strings.Split(string(out), "\n") {
		if ns, _, _ := strings.Cut(line, " "); strings.HasPrefix(ns, "shoal-"+name+"-") {
			found = append(found, ns)
		}
	}
	return found
}
