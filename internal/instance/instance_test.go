package instance

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoopback_ClusterGivesEachInstanceItsOwnAddress(t *testing.T) {
	got, err := NewLoopback(nil).Cluster(3)
	if err != nil {
		t.Fatal(err)
	}
	want := []Instance{
		{Name: "instance-1", Address: "127.0.0.2"},
		{Name: "instance-2", Address: "127.0.0.3"},
		{Name: "instance-3", Address: "127.0.0.4"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("instances (-want +got):\n%s", diff)
	}
	for _, in := range got { // tasks can listen there
		l, err := net.Listen("tcp", net.JoinHostPort(in.Address, "0"))
		if err != nil {
			t.Fatalf("%s: %v", in.Name, err)
		}
		l.Close()
	}
}

func TestLoopback_ClusterSize(t *testing.T) {
	l := NewLoopback(nil)
	for _, n := range []int{0, -1, MaxInstances + 1} {
		if _, err := l.Cluster(n); err == nil || !strings.Contains(err.Error(), "1-250 instances") {
			t.Errorf("Cluster(%d): got %v, want an error naming the range", n, err)
		}
	}
	if got, err := l.Cluster(MaxInstances); err != nil || got[MaxInstances-1].Address != "127.0.0.251" {
		t.Errorf("Cluster(%d): got last %v, err %v; want 127.0.0.251", MaxInstances, got[len(got)-1], err)
	}
}

func TestLoopback_PortFree(t *testing.T) {
	l := NewLoopback(nil)
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	if free, err := l.PortFree("127.0.0.2", port); free || err != nil {
		t.Errorf("a bound port: got free %v, err %v; want taken", free, err)
	}
	if free, err := l.PortFree("127.0.0.3", port); !free || err != nil {
		t.Errorf("the same port on another instance: got free %v, err %v; want free", free, err)
	}
	if _, err := l.PortFree("192.0.2.1", port); err == nil {
		t.Errorf("an address that is not this host's: got no error, want one")
	}
}

func TestLoopback_DialReachesATask(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.3:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.WriteString(c, "hello")
			c.Close()
		}
	}()
	c, err := NewLoopback(nil).DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "hello" {
		t.Errorf("read: got %q, %v; want hello", b, err)
	}
}
