package driver

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// The range Linux uses when /proc does not tell (its compiled-in default).
const (
	defaultEphemeralLo = 32768
	defaultEphemeralHi = 60999
)

// PortAllocator hands out dynamic host ports the way ECS does with host port
// 0: a port from a range that no other task of this allocator holds on the
// same address and that nothing else on the machine is bound to right now.
// It is safe for concurrent use.
type PortAllocator struct {
	lo, hi int

	mu   sync.Mutex
	used map[string]map[int]bool // address → ports handed out, not released
}

// NewPortAllocator returns an allocator for ports lo to hi inclusive. The
// range must satisfy 1 <= lo <= hi <= 65535, or Allocate always fails.
func NewPortAllocator(lo, hi int) *PortAllocator {
	return &PortAllocator{lo: lo, hi: hi, used: make(map[string]map[int]bool)}
}

// Allocate picks a port on addr and marks it as used until Release. The scan
// starts at a random position so that consecutive tasks do not fight over
// the same few ports (and a port just freed by a stopped task, perhaps still
// in TIME_WAIT for its clients, is not handed out again at once).
//
// A port is free when a TCP listener can be bound to addr:port. Between
// Allocate and the task's own listen another program may take it; the task
// then fails to start, as it would on ECS.
func (a *PortAllocator) Allocate(addr string) (int, error) {
	if a.lo < 1 || a.hi > 65535 || a.lo > a.hi {
		return 0, fmt.Errorf("invalid host port range %d-%d", a.lo, a.hi)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.hi - a.lo + 1
	start := rand.IntN(n)
	for i := range n {
		port := a.lo + (start+i)%n
		if a.used[addr][port] {
			continue
		}
		free, err := portFree(addr, port)
		if err != nil {
			return 0, err
		}
		if free {
			a.markLocked(addr, port)
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free host port in %d-%d on %s", a.lo, a.hi, addr)
}

// Release gives port on addr back to the allocator. Releasing a port that
// is not allocated does nothing.
func (a *PortAllocator) Release(addr string, port int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.used[addr], port)
	if len(a.used[addr]) == 0 {
		delete(a.used, addr)
	}
}

func (a *PortAllocator) markLocked(addr string, port int) {
	if a.used[addr] == nil {
		a.used[addr] = make(map[int]bool)
	}
	a.used[addr][port] = true
}

// portFree binds addr:port and closes it again. "Address in use" means
// taken; any other failure (an address that is not local, a privileged
// port) would fail for every port, so it is returned rather than scanned
// past.
func portFree(addr string, port int) (bool, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
	if errors.Is(err, syscall.EADDRINUSE) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("host port: %w", err)
	}
	return true, l.Close()
}

// KernelEphemeralRange returns the range Linux picks ephemeral ports from
// (/proc/sys/net/ipv4/ip_local_port_range), which is the range ECS uses for
// dynamic host ports. When the file cannot be read or parsed it returns
// Linux's default 32768-60999 together with the error, so the values are
// always usable and the caller decides whether to mention the error.
func KernelEphemeralRange() (lo, hi int, err error) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return defaultEphemeralLo, defaultEphemeralHi, err
	}
	return parsePortRange(string(b))
}

func parsePortRange(s string) (lo, hi int, err error) {
	f := strings.Fields(s)
	if len(f) == 2 {
		lo, err1 := strconv.Atoi(f[0])
		hi, err2 := strconv.Atoi(f[1])
		if err1 == nil && err2 == nil && 1 <= lo && lo <= hi && hi <= 65535 {
			return lo, hi, nil
		}
	}
	return defaultEphemeralLo, defaultEphemeralHi, fmt.Errorf("ephemeral port range %q: want two ports, low then high", strings.TrimSpace(s))
}
