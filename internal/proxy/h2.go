package proxy

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// h2Server serves the https connections of one listener that chose HTTP/2
// by ALPN, with net/http's server: the front end hands each over after
// its handshake, through a listener of handed-over connections.
type h2Server struct {
	srv *http.Server
	ln  *handoffListener
}

func newH2Server(h http.Handler, addr net.Addr, cfg *tls.Config, idle time.Duration, log *slog.Logger, wg *sync.WaitGroup) *h2Server {
	var protocols http.Protocols
	protocols.SetHTTP1(true) // never used: connections arrive speaking h2
	protocols.SetHTTP2(true)
	s := &h2Server{
		srv: &http.Server{
			Handler:     h,
			IdleTimeout: idle,
			TLSConfig:   cfg,
			Protocols:   &protocols,
			HTTP2:       &http.HTTP2Config{MaxConcurrentStreams: maxConcurrentStreams},
			ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		},
		ln: &handoffListener{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})},
	}
	wg.Go(func() { s.srv.Serve(s.ln) }) // returns once Shutdown closed ln
	return s
}

// give hands conn (a *tls.Conn whose handshake chose h2) to the server;
// false once the server is shutting down.
func (s *h2Server) give(conn net.Conn) bool {
	select {
	case s.ln.conns <- conn:
		return true
	case <-s.ln.closed:
		return false
	}
}

// shutdown waits for the HTTP/2 connections' requests, then closes them;
// once ctx is done it closes them at once.
func (s *h2Server) shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if ctx.Err() != nil {
		s.srv.Close()
	}
	return err
}

// handoffListener is a net.Listener whose connections come from give.
type handoffListener struct {
	addr   net.Addr
	conns  chan net.Conn
	once   sync.Once
	closed chan struct{}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }
