package driver

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"

	"github.com/shoalhq/shoal/internal/instance"
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
	free   PortCheck

	mu   sync.Mutex
	used map[string]map[int]bool // address → ports handed out, not released
}

// PortCheck reports whether port is free on the instance at addr: the
// instance provider's check, which knows where that instance's tasks
// listen.
type PortCheck func(addr string, port int) (bool, error)

// NewPortAllocator returns an allocator for ports lo to hi inclusive, that
// checks with free whether a port is free right now (nil: bound in this
// host's network, instance.HostPortFree). The range must satisfy
// 1 <= lo <= hi <= 65535, or Allocate always fails.
func NewPortAllocator(lo, hi int, free PortCheck) *PortAllocator {
	if free == nil {
		free = instance.HostPortFree
	}
	return &PortAllocator{lo: lo, hi: hi, free: free, used: make(map[string]map[int]bool)}
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
		free, err := a.free(addr, port)
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

// parsePortRange parses Linux's ip_local_port_range, "low<tab>high" (see
// kernelEphemeralRange in ephemeral_linux.go).
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
