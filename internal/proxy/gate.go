package proxy

import (
	"net"
	"sync"
	"syscall"
)

// The gate caps the balancer's client connections, over all listeners,
// well below the process's file-descriptor limit: every connection may
// need a second descriptor towards its target, and health checks, access
// logs and shoal's own tasks need theirs. Without it, a flood of idle
// connections (slowloris) takes every descriptor, the health checks fail
// with "too many open files", and healthy targets are taken out.
//
// A connection is pending from its accept until its first request head is
// read whole. At the cap, a new connection evicts the oldest pending one
// (closed at once): a flood of connections that send nothing, or send
// slowly, sheds itself, while a client that sends its request right away
// is served. Only when no connection is pending is the new one refused.
// Both count as ALB's RejectedConnectionCount on the new connection's
// load balancer.

// reservedFiles are the descriptors kept out of the gate's budget for
// everything but client connections and their target connections.
const reservedFiles = 512

// defaultMaxConns is the cap for a process whose file-descriptor limit is
// nofile: half of what is left after the reserve, each client connection
// counting for itself and one connection to a target.
func defaultMaxConns(nofile uint64) int {
	if nofile < 2*reservedFiles {
		return max(int(nofile)/4, 16)
	}
	return int((nofile - reservedFiles) / 2)
}

// fileLimit is the process's soft RLIMIT_NOFILE, which Go's runtime raised
// to the hard limit at start; 1024 when it cannot be read.
func fileLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return 1024
	}
	return rl.Cur
}

// gate counts the open client connections and keeps the pending ones in
// accept order.
type gate struct {
	max int

	mu   sync.Mutex
	open int
	// head and tail of the pending connections, oldest first.
	head, tail *gateEntry
}

// gateEntry is a connection's place in the gate.
type gateEntry struct {
	conn       net.Conn
	prev, next *gateEntry
	pending    bool
}

// enter admits conn as pending, evicting the oldest pending connection
// when the gate is full. It returns nil, without closing conn, when the
// gate is full and nothing is pending: the caller refuses conn. evicted
// reports whether a connection was shed for it.
func (g *gate) enter(conn net.Conn) (e *gateEntry, evicted bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open >= g.max {
		victim := g.head
		if victim == nil {
			return nil, false
		}
		g.unlinkLocked(victim)
		// Closing makes its server goroutine return, which leaves the
		// gate: until then the count runs over the cap by the evictions
		// in progress.
		victim.conn.Close()
		evicted = true
	}
	g.open++
	e = &gateEntry{conn: conn, pending: true, prev: g.tail}
	if g.tail != nil {
		g.tail.next = e
	} else {
		g.head = e
	}
	g.tail = e
	return e, evicted
}

// admit notes that e's connection sent a whole request head: it is no
// longer shed for others.
func (g *gate) admit(e *gateEntry) {
	if e == nil {
		return
	}
	g.mu.Lock()
	if e.pending {
		g.unlinkLocked(e)
	}
	g.mu.Unlock()
}

// leave takes a closed connection off the count.
func (g *gate) leave(e *gateEntry) {
	if e == nil {
		return
	}
	g.mu.Lock()
	if e.pending {
		g.unlinkLocked(e)
	}
	g.open--
	g.mu.Unlock()
}

func (g *gate) unlinkLocked(e *gateEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		g.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		g.tail = e.prev
	}
	e.prev, e.next, e.pending = nil, nil, false
}
