package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// listener is one bound address, whose connections shoal's HTTP/1.1 front
// end serves (server.go), handing those that choose HTTP/2 to a net/http
// server. It outlives Apply calls that keep its address: only the routing
// table and its certificates change under it.
type listener struct {
	ln   net.Listener
	port string // the bound port, also when 0 was asked for
	// h2 serves the https connections that chose HTTP/2 by ALPN.
	h2 *h2Server
	// certs are the certificates of an https listener, nil while it is
	// http. Commit installs them; each accepted connection reads them to
	// know whether to speak TLS, and each handshake to pick one, so that a
	// kept listener changes certificates, or protocol, without a rebind.
	certs atomic.Pointer[certSet]
	tls   *tls.Config
	// conns counts its connections, in its load balancer's counters; set
	// by Commit before the listener serves, and again when a change moves
	// it to another load balancer (nil: not counted).
	conns atomic.Pointer[connCounters]
	// closing is set once the listener shuts down: connections finish
	// the request they serve and close.
	closing atomic.Bool
	// guard checks each connection's source against the load balancer's
	// security groups (guard.go); denied counts those it closed.
	guard  atomic.Pointer[guard]
	denied denials

	mu      sync.Mutex
	served  map[*serverConn]struct{}
	drained chan struct{} // closed when served empties during a shutdown
}

// listenerKey identifies a listener across Apply calls: its address, or
// for port 0 (a new free port each bind) its name and address.
func listenerKey(lc ListenerConfig) string {
	if _, port, err := net.SplitHostPort(lc.Address); err == nil && port != "0" {
		return lc.Address
	}
	return lc.Name + " " + lc.Address
}

func bindListener(ctx context.Context, addr string) (*listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	l := &listener{ln: ln, port: strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), served: map[*serverConn]struct{}{}}
	l.tls = newTLSConfig(l.certs.Load)
	return l, nil
}

// maxConcurrentStreams is how many requests one client HTTP/2 connection
// may have in flight: 128, as ALB.
const maxConcurrentStreams = 128

// start serves the listener on goroutines counted by wg: the accept loop
// and the HTTP/2 server. The HTTP/2 server's idle timeout closes client
// connections that stay idle between requests (PING frames do not count
// as activity, as on ALB).
//
// HTTP/2 is offered by ALPN on TLS connections only: cleartext HTTP/2 is
// not served, as ALB does not.
func (l *listener) start(b *Balancer, idle time.Duration, log *slog.Logger, wg *sync.WaitGroup) {
	l.h2 = newH2Server(router{b, l}, l.ln.Addr(), l.tls, idle, log, wg)
	wg.Go(func() { l.accept(b, log) }) // returns once the listener is closed
}

// accept takes connections until the listener is closed, each through the
// balancer's gate, and serves each on a goroutine of its own. A failing
// accept (out of file descriptors) is retried after a pause that grows up
// to a second, as net/http's server does.
func (l *listener) accept(b *Balancer, log *slog.Logger) {
	var pause time.Duration
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			log.Warn("accept failed; retrying", "listener", l.ln.Addr().String(), "err", err, "pause", pause)
			time.Sleep(pause)
			continue
		}
		pause = 0
		counters := l.conns.Load()
		if !l.guard.Load().admit(conn) {
			counters.deny()
			conn.Close() // before a byte is read, as a dropped SYN
			continue
		}
		e, evicted := b.gate.enter(conn)
		if evicted || e == nil {
			counters.reject()
		}
		if e == nil {
			conn.Close()
			continue
		}
		conn = counters.track(conn, &b.gate, e)
		if l.certs.Load() != nil {
			conn = tls.Server(conn, l.tls)
		}
		c := &serverConn{b: b, l: l, conn: conn, rwc: conn, born: time.Now(), remote: conn.RemoteAddr().String(), pending: e}
		if !l.track(c) {
			c.rwc.Close()
			continue
		}
		go c.serve()
	}
}

// track adds c to the connections the listener serves; false once it is
// shutting down.
func (l *listener) track(c *serverConn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing.Load() {
		return false
	}
	l.served[c] = struct{}{}
	return true
}

func (l *listener) untrack(c *serverConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.served, c)
	if len(l.served) == 0 && l.drained != nil {
		close(l.drained)
		l.drained = nil
	}
}

// shutdown stops taking connections, closes those waiting for a request,
// and waits for the others to finish the request they serve; once ctx is
// done it closes the connections left. Upgraded connections (WebSockets)
// are not waited for: they end when idle, or with their target (see
// forwarding.upgrade).
func (l *listener) shutdown(ctx context.Context) error {
	l.ln.Close()
	l.mu.Lock()
	l.closing.Store(true)
	for c := range l.served {
		if c.state.Load() == connWaiting {
			c.conn.SetReadDeadline(time.Now())
		}
	}
	var drained chan struct{}
	if len(l.served) > 0 {
		l.drained = make(chan struct{})
		drained = l.drained
	}
	l.mu.Unlock()
	h2 := make(chan error, 1)
	go func() { h2 <- l.h2.shutdown(ctx) }()
	if drained != nil {
		select {
		case <-drained:
		case <-ctx.Done():
			l.mu.Lock()
			for c := range l.served {
				c.conn.Close()
				if wc := c.upstream.Load(); wc != nil {
					wc.conn.Close()
				}
			}
			l.mu.Unlock()
			<-h2
			return ctx.Err()
		}
	}
	return <-h2
}

// retire frees the address at once and shuts down in the background, on a
// goroutine counted by wg, until in-flight requests end or ctx is done.
func (l *listener) retire(ctx context.Context, wg *sync.WaitGroup) {
	l.ln.Close()
	wg.Go(func() { l.shutdown(ctx) })
}
