package proxy

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// listener is one bound address with the HTTP server that takes its
// connections. It outlives Apply calls that keep its address: only the
// routing table changes under it.
type listener struct {
	ln   net.Listener
	port string // the bound port, also when 0 was asked for
	srv  *http.Server
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
	return &listener{ln: ln, port: strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)}, nil
}

// start serves the listener on a goroutine counted by wg. The idle timeout
// closes client connections that stay idle between requests.
func (l *listener) start(h http.Handler, idle time.Duration, log *slog.Logger, wg *sync.WaitGroup) {
	l.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: idle,
		IdleTimeout:       idle,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	wg.Go(func() { l.srv.Serve(l.ln) }) // returns once the listener is closed
}

// shutdown stops taking connections and waits for in-flight requests; once
// ctx is done it closes the connections left.
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
