package driver

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/shoalhq/shoal/internal/instance"
)

// freeRange finds n consecutive ports free on every address, below the
// kernel's ephemeral range so that outgoing connections do not take them
// while the test runs.
func freeRange(t *testing.T, n int, addrs ...string) int {
	t.Helper()
	for range 100 {
		base := 20000 + rand.IntN(10000)
		if rangeFree(base, n, addrs) {
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports found", n)
	return 0
}

func rangeFree(base, n int, addrs []string) bool {
	for port := base; port < base+n; port++ {
		for _, addr := range addrs {
			if free, err := instance.HostPortFree(addr, port); !free || err != nil {
				return false
			}
		}
	}
	return true
}

func listen(t *testing.T, addr string, port int) {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
}

// allocStep is one call in a TestPortAllocator scenario: Allocate on addr,
// or, with release, Release the port at offset in the range.
type allocStep struct {
	addr    string
	release bool
	offset  int
	wantErr bool
}

func TestPortAllocator(t *testing.T) {
	linuxOnly(t, "uses 127.0.0.2 and 127.0.0.3")
	const a2, a3 = "127.0.0.2", "127.0.0.3"
	alloc := func(addr string) allocStep { return allocStep{addr: addr} }
	exhausted := func(addr string) allocStep { return allocStep{addr: addr, wantErr: true} }
	release := func(addr string, off int) allocStep { return allocStep{addr: addr, release: true, offset: off} }
	tests := []struct {
		name  string
		size  int
		held  []int // offsets another program listens on, on a2
		steps []allocStep
	}{
		{"allocates distinct ports until the range is exhausted", 4, nil,
			[]allocStep{alloc(a2), alloc(a2), alloc(a2), alloc(a2), exhausted(a2)}},
		{"skips ports held by a real listener", 4, []int{0, 2},
			[]allocStep{alloc(a2), alloc(a2), exhausted(a2)}},
		{"a range of one port held by another program is exhausted", 1, []int{0},
			[]allocStep{exhausted(a2)}},
		{"a released port is allocated again", 1, nil,
			[]allocStep{alloc(a2), exhausted(a2), release(a2, 0), alloc(a2), exhausted(a2)}},
		{"addresses are independent", 1, nil,
			[]allocStep{alloc(a2), alloc(a3), exhausted(a2), exhausted(a3), release(a3, 0), alloc(a3)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := freeRange(t, tt.size, a2, a3)
			for _, off := range tt.held {
				listen(t, a2, base+off)
			}
			runAllocSteps(t, NewPortAllocator(base, base+tt.size-1, nil), base, tt.held, tt.steps)
		})
	}
}

// runAllocSteps plays steps and checks every allocation: in the range, not
// held by another program, not already allocated on the same address.
func runAllocSteps(t *testing.T, a *PortAllocator, base int, held []int, steps []allocStep) {
	t.Helper()
	hi := a.hi
	inUse := map[string]map[int]bool{"127.0.0.2": {}, "127.0.0.3": {}}
	for _, off := range held {
		inUse["127.0.0.2"][base+off] = true
	}
	for i, s := range steps {
		if s.release {
			a.Release(s.addr, base+s.offset)
			delete(inUse[s.addr], base+s.offset)
			continue
		}
		port, err := a.Allocate(s.addr)
		if s.wantErr {
			want := fmt.Sprintf("no free host port in %d-%d on %s", base, hi, s.addr)
			if err == nil || err.Error() != want {
				t.Fatalf("step %d: Allocate(%s) = %d, %v; want error %q", i, s.addr, port, err, want)
			}
			continue
		}
		if err != nil || port < base || port > hi || inUse[s.addr][port] {
			t.Fatalf("step %d: Allocate(%s) = %d, %v; want a free port in %d-%d not in %v", i, s.addr, port, err, base, hi, inUse[s.addr])
		}
		inUse[s.addr][port] = true
	}
}

func TestPortAllocator_ConcurrentAllocationsAreDistinct(t *testing.T) {
	linuxOnly(t, "uses 127.0.0.2 and 127.0.0.3")
	const n = 40
	base := freeRange(t, n, "127.0.0.2")
	a := NewPortAllocator(base, base+n-1, nil)
	ports := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			port, err := a.Allocate("127.0.0.2")
			if err != nil {
				t.Error(err)
			}
			ports <- port
		})
	}
	wg.Wait()
	close(ports)
	seen := map[int]bool{}
	for p := range ports {
		if seen[p] {
			t.Errorf("port %d allocated twice", p)
		}
		seen[p] = true
	}
}

// Fresh allocators do not all start with the same port.
func TestPortAllocator_StartsAtARandomPort(t *testing.T) {
	linuxOnly(t, "uses 127.0.0.2 and 127.0.0.3")
	const n = 100
	base := freeRange(t, n, "127.0.0.2")
	first := map[int]bool{}
	for range 10 {
		port, err := NewPortAllocator(base, base+n-1, nil).Allocate("127.0.0.2")
		if err != nil {
			t.Fatal(err)
		}
		first[port] = true
	}
	if len(first) < 2 {
		t.Errorf("10 fresh allocators all started at %v", first)
	}
}

func TestPortAllocator_Errors(t *testing.T) {
	tests := []struct {
		name   string
		lo, hi int
		addr   string
		want   string
	}{
		{"low end zero", 0, 10, "127.0.0.2", "invalid host port range 0-10"},
		{"reversed", 2000, 1000, "127.0.0.2", "invalid host port range 2000-1000"},
		{"beyond 65535", 65000, 65536, "127.0.0.2", "invalid host port range 65000-65536"},
		// Not an exhausted range: the address itself is not on this machine.
		{"address not local", 20000, 20010, "192.0.2.1", "cannot assign requested address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPortAllocator(tt.lo, tt.hi, nil).Allocate(tt.addr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Allocate: got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestParsePortRange(t *testing.T) {
	tests := []struct {
		in      string
		lo, hi  int
		wantErr bool
	}{
		{"32768\t60999\n", 32768, 60999, false},
		{"1024 65535", 1024, 65535, false},
		{"", defaultEphemeralLo, defaultEphemeralHi, true},
		{"60999 32768", defaultEphemeralLo, defaultEphemeralHi, true},
		{"0 100", defaultEphemeralLo, defaultEphemeralHi, true},
		{"a b", defaultEphemeralLo, defaultEphemeralHi, true},
		{"1 2 3", defaultEphemeralLo, defaultEphemeralHi, true},
	}
	for _, tt := range tests {
		lo, hi, err := parsePortRange(tt.in)
		if lo != tt.lo || hi != tt.hi || (err != nil) != tt.wantErr {
			t.Errorf("parsePortRange(%q) = %d, %d, %v; want %d, %d, error %v", tt.in, lo, hi, err, tt.lo, tt.hi, tt.wantErr)
		}
	}
}

func TestKernelEphemeralRange(t *testing.T) {
	lo, hi, err := KernelEphemeralRange()
	if err != nil || lo < 1 || lo > hi || hi > 65535 {
		t.Errorf("KernelEphemeralRange() = %d, %d, %v; want a valid range", lo, hi, err)
	}
}
