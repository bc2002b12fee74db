package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestConnectionCounts_PerLoadBalancer: connections count in the load
// balancer of the listener that accepted them, New for each one accepted,
// Active until it closes; requests on a kept-alive connection add none.
func TestConnectionCounts_PerLoadBalancer(t *testing.T) {
	b := New(Options{})
	t.Cleanup(func() { b.Close(context.Background()) })
	cfg := singleListener("api", testGroup(), 0)
	cfg.Listeners = append(cfg.Listeners,
		ListenerConfig{Name: "web/1", Address: "127.0.0.1:0", TargetGroup: "api", IdleTimeout: defaultIdle},
		ListenerConfig{Name: "admin/0", Address: "127.0.0.1:0", TargetGroup: "api", IdleTimeout: defaultIdle})
	cfg.TargetGroups["other"] = testGroup()
	if err := b.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if got, want := b.TargetGroups(), []string{"api", "other"}; !slices.Equal(got, want) {
		t.Errorf("TargetGroups: got %v, want %v", got, want)
	}
	addrs := b.ListenerAddrs()
	var conns []net.Conn
	for _, addr := range []string{addrs[0], addrs[1], addrs[1], addrs[2]} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns = append(conns, c)
	}
	want := map[string]ConnectionCounts{"web": {Active: 3, New: 3}, "admin": {Active: 1, New: 1}}
	waitCounts(t, b, want)

	conns[0].Close()
	conns[3].Close()
	want = map[string]ConnectionCounts{"web": {Active: 2, New: 3}, "admin": {Active: 0, New: 1}}
	waitCounts(t, b, want)

	// Three requests on one kept-alive connection: one connection more.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for range 3 {
		resp, err := client.Get("http://" + addrs[2] + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	want = map[string]ConnectionCounts{"web": {Active: 2, New: 3}, "admin": {Active: 1, New: 2}}
	waitCounts(t, b, want)

	// A config without admin: it is no longer reported; web goes on
	// counting where it was.
	cfg.Listeners = cfg.Listeners[:2]
	if err := b.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	tr.CloseIdleConnections()
	want = map[string]ConnectionCounts{"web": {Active: 2, New: 3}}
	waitCounts(t, b, want)
}

func waitCounts(t *testing.T, b *Balancer, want map[string]ConnectionCounts) {
	t.Helper()
	var got map[string]ConnectionCounts
	deadline := time.Now().Add(10 * time.Second)
	for {
		got = b.ConnectionCounts()
		if cmp.Equal(want, got) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("connection counts (-want +got):\n%s", cmp.Diff(want, got))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCountedConn_ClosesOnce: closing a connection twice (the server and
// a hijacker may both) takes it off the active count and out of the gate
// once.
func TestCountedConn_ClosesOnce(t *testing.T) {
	var c connCounters
	g := gate{max: 2}
	other, _ := g.enter(nopConn{})
	e, _ := g.enter(nopConn{})
	conn := c.track(nopConn{}, &g, e)
	conn.Close()
	conn.Close()
	if got, want := c.read(), (ConnectionCounts{Active: 0, New: 1}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if g.open != 1 || g.head != other || g.tail != other {
		t.Errorf("gate: %d open, want 1, the other connection alone pending", g.open)
	}
}

// BenchmarkConnTracking is what counting adds to one client connection:
// the accept path's counts and wrapper, and the close's count.
func BenchmarkConnTracking(b *testing.B) {
	var c connCounters
	var g gate
	b.ReportAllocs()
	for b.Loop() {
		connSink = c.track(nopConn{}, &g, nil) // escapes, as it does to the server
		connSink.Close()
	}
	if got := c.read(); got.Active != 0 || got.New == 0 {
		b.Fatalf("counts %+v", got)
	}
}

var connSink net.Conn

// nopConn is a connection that does nothing.
type nopConn struct{ net.Conn }

func (nopConn) Close() error { return nil }

// TestGate_EvictsOldestPending: at the cap, a new connection sheds the
// oldest one still pending; an admitted one is never shed; with nothing
// pending the new one is refused.
func TestGate_EvictsOldestPending(t *testing.T) {
	g := gate{max: 2}
	first, second := &closeRecorder{}, &closeRecorder{}
	e1, _ := g.enter(first)
	e2, _ := g.enter(second)
	g.admit(e2)
	e3, evicted := g.enter(&closeRecorder{})
	if e3 == nil || !evicted || !first.closed || second.closed {
		t.Fatalf("third: admitted %v, evicted %v; first closed %v, second closed %v; want the first (pending) shed",
			e3 != nil, evicted, first.closed, second.closed)
	}
	g.leave(e1) // the shed connection's server goes away
	g.admit(e3)
	if e4, _ := g.enter(&closeRecorder{}); e4 != nil {
		t.Errorf("with the cap reached and nothing pending: admitted, want refused")
	}
	if g.open != 2 {
		t.Errorf("open: got %d, want 2", g.open)
	}
}

// closeRecorder is a connection that notes its Close.
type closeRecorder struct {
	net.Conn
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }
