// Package endpoint gives a service a stable local address: an Endpoint
// listens on one port of 127.0.0.1 for the life of the stack and forwards
// each TCP connection to a task of the service that is healthy at that
// moment. Tasks that depend on the service are given the endpoint's address
// (${services.cache.address}), so a dependency that is replaced, moves to
// another instance or port, needs no restart of its dependents: their next
// connection reaches the new task, as with ECS Service Connect.
package endpoint

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Picker chooses the address of a task to forward a new connection to; ok
// is false when the service has none that is healthy.
type Picker func() (addr string, ok bool)

// DialFunc dials addr on network, like net.Dialer.DialContext.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// dialTimeout bounds the connection to a task.
const dialTimeout = 5 * time.Second

// Endpoint forwards the connections it accepts to tasks.
type Endpoint struct {
	name string
	ln   net.Listener
	pick Picker
	dial DialFunc
	log  *slog.Logger

	wg     sync.WaitGroup // the accept loop and every forwarded connection
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// Listen opens an endpoint for the service name on addr ("127.0.0.1:0"
// picks a free port) and serves it until Close.
func Listen(name, addr string, pick Picker, dial DialFunc, log *slog.Logger) (*Endpoint, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Endpoint{name: name, ln: ln, pick: pick, dial: dial, log: log, conns: map[net.Conn]struct{}{}}
	e.wg.Go(e.accept)
	return e, nil
}

// Addr is the endpoint's address, host:port.
func (e *Endpoint) Addr() string { return e.ln.Addr().String() }

func (e *Endpoint) accept() {
	for {
		c, err := e.ln.Accept()
		if err != nil {
			return // closed
		}
		if !e.track(c) {
			c.Close()
			return
		}
		e.wg.Go(func() { e.forward(c) })
	}
}

// forward connects c to a task, or closes it at once when no task is
// healthy: the client sees its connection end, as with a dependency down.
func (e *Endpoint) forward(c net.Conn) {
	defer e.untrack(c)
	defer c.Close()
	addr, ok := e.pick()
	if !ok {
		e.log.Debug("no healthy task to forward to", "service", e.name)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	t, err := e.dial(ctx, "tcp", addr)
	cancel()
	if err != nil {
		e.log.Debug("forward", "service", e.name, "target", addr, "err", err)
		return
	}
	if !e.track(t) {
		t.Close()
		return
	}
	defer e.untrack(t)
	defer t.Close()
	pipe(c, t)
}

// pipe copies both ways until both directions are done; a direction's end
// is passed on as a half close where the connection allows it.
func pipe(a, b net.Conn) {
	var wg sync.WaitGroup
	wg.Go(func() { copyHalf(a, b) })
	copyHalf(b, a)
	wg.Wait()
}

func copyHalf(dst, src net.Conn) {
	_, err := io.Copy(dst, src)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok && err == nil {
		cw.CloseWrite() // src said all it had: pass its end on
		return
	}
	dst.Close()
	src.Close()
}

func (e *Endpoint) track(c net.Conn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.conns[c] = struct{}{}
	return true
}

func (e *Endpoint) untrack(c net.Conn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.conns, c)
}

// Close stops accepting, closes every forwarded connection and returns
// once all of the endpoint's goroutines have ended.
func (e *Endpoint) Close() error {
	e.mu.Lock()
	e.closed = true
	for c := range e.conns {
		c.Close()
	}
	e.mu.Unlock()
	err := e.ln.Close()
	e.wg.Wait()
	return err
}
