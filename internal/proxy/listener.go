package proxy

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// listener is one bound address with the HTTP server that takes its
// connections. It outlives Apply calls that keep its address: only the
// routing table and its certificates change under it.
type listener struct {
	ln   net.Listener
	port string // the bound port, also when 0 was asked for
	srv  *http.Server
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
	l := &listener{ln: ln, port: strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)}
	l.tls = newTLSConfig(l.certs.Load)
	return l, nil
}

// maxConcurrentStreams is how many requests one client HTTP/2 connection
// may have in flight: 128, as ALB.
const maxConcurrentStreams = 128

// start serves the listener on a goroutine counted by wg. The idle timeout
// closes client connections that stay idle between requests (HTTP/2 ones
// too: PING frames do not count as activity, as on ALB), and bounds the
// wait for a request's headers and for a TLS handshake.
//
// HTTP/2 is offered by ALPN on TLS connections only: cleartext HTTP/2 is
// not served, as ALB does not.
func (l *listener) start(h http.Handler, idle time.Duration, log *slog.Logger, wg *sync.WaitGroup) {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	l.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: idle,
		IdleTimeout:       idle,
		TLSConfig:         l.tls,
		Protocols:         &protocols,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: maxConcurrentStreams},
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	wg.Go(func() { l.srv.Serve(acceptor{l.ln, l}) }) // returns once the listener is closed
}

// acceptor counts each connection in the listener's load balancer and
// hands it to the server as the listener's protocol is when it is
// accepted: in TLS while the listener has certificates.
type acceptor struct {
	net.Listener
	l *listener
}

func (a acceptor) Accept() (net.Conn, error) {
	c, err := a.Listener.Accept()
	if err != nil {
		return c, err
	}
	if counters := a.l.conns.Load(); counters != nil {
		c = counters.track(c)
	}
	if a.l.certs.Load() == nil {
		return c, nil
	}
	return tls.Server(c, a.l.tls), nil
}

// shutdown stops taking connections and waits for in-flight requests; once
// ctx is done it closes the connections left. Upgraded connections
// (WebSockets) are not waited for: they end when idle, or with their
// target (see forwarding.upgrade).
func (l *listener) shutdown(ctx context.Context) error {
	err := l.srv.Shutdown(ctx)
	if ctx.Err() != nil {
		l.srv.Close()
		return err
	}
	return nil
}

// retire frees the address at once and shuts down in the background, on a
// goroutine counted by wg, until in-flight requests end or ctx is done.
func (l *listener) retire(ctx context.Context, wg *sync.WaitGroup) {
	l.ln.Close()
	wg.Go(func() { l.shutdown(ctx) })
}
