package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/secgroup"
)

// guardedConfig is singleListener with the listener guarded by group
// "alb", whose one rule admits tcp on ports from cidr.
func guardedConfig(t *testing.T, tg TargetGroupConfig, ports, cidr string) Config {
	t.Helper()
	p, err := secgroup.ParsePorts(ports)
	if err != nil {
		t.Fatal(err)
	}
	set, err := secgroup.NewSet([]secgroup.Group{{Name: "alb", Ingress: []secgroup.Rule{
		{Protocol: secgroup.TCP, Ports: p, CIDR: netip.MustParsePrefix(cidr)},
	}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := singleListener("api", tg, 0)
	cfg.SecurityGroups = set
	cfg.Listeners[0].SecurityGroups = []string{"alb"}
	return cfg
}

// closedUnread dials addr and reports whether the listener closed the
// connection without sending a byte, even though a request was sent.
func closedUnread(t *testing.T, addr string) bool {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err) // the kernel accepts it: the guard closes it
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) // may fail once closed
	n, err := c.Read(make([]byte, 1))
	return n == 0 && err != nil && !isTimeout(err)
}

func TestListener_SecurityGroupDeniesBeforeAByte(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	bk := newBackend(t, "a")
	h.register(bk.addr)
	addr := h.b.ListenerAddrs()[0]
	_, port, _ := net.SplitHostPort(addr)

	// Only 10.0.0.0/8 may connect: this test's 127.0.0.1 may not.
	if err := h.b.Apply(context.Background(), guardedConfig(t, testGroup(), "all", "10.0.0.0/8")); err != nil {
		t.Fatal(err)
	}
	const n = 100
	for i := range n {
		if !closedUnread(t, addr) {
			t.Fatalf("connection %d from 127.0.0.1 was answered; the listener's group admits only 10.0.0.0/8", i)
		}
	}
	if got := bk.hits.Load(); got != 0 {
		t.Errorf("the target got %d requests from denied connections", got)
	}
	counts := h.b.ConnectionCounts()["web"]
	if counts.Denied != n {
		t.Errorf("Denied = %d, want %d", counts.Denied, n)
	}
	g := h.b.ListenerGuards()
	if len(g) != 1 || g[0].Denied != n || g[0].Listener != "web/0" ||
		!strings.Contains(g[0].LastDenied, "no rule of alb allows tcp "+port+" from 127.0.0.1") {
		t.Errorf("ListenerGuards = %+v, want web/0 with %d denied, last from 127.0.0.1", g, n)
	}

	// The rule for the listener's own port from 127.0.0.0/8 lets the
	// same client in, on the same listener.
	if err := h.b.Apply(context.Background(), guardedConfig(t, testGroup(), port, "127.0.0.0/8")); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if code, _ := h.mustGet("/"); code != http.StatusOK {
			t.Fatalf("request %d: %d, want 200 once 127.0.0.0/8 is admitted", i, code)
		}
	}
	if got := h.b.ConnectionCounts()["web"].Denied; got != n {
		t.Errorf("Denied = %d after the admitted requests, want still %d", got, n)
	}

	// A rule for another port admits nothing here.
	other, _ := strconv.Atoi(port)
	other = other%65535 + 1
	if err := h.b.Apply(context.Background(), guardedConfig(t, testGroup(), strconv.Itoa(other), "127.0.0.0/8")); err != nil {
		t.Fatal(err)
	}
	h.client.Transport.(*http.Transport).CloseIdleConnections()
	if !closedUnread(t, addr) {
		t.Error("a rule for another port admitted a connection to the listener's port")
	}
}

func TestListener_NoGroupsAdmitsAll(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	bk := newBackend(t, "a")
	h.register(bk.addr)
	resp, err := h.client.Get(h.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if g := h.b.ListenerGuards(); len(g) != 1 || len(g[0].Groups) != 0 || g[0].Denied != 0 {
		t.Errorf("ListenerGuards = %+v, want one listener without groups", g)
	}
}
