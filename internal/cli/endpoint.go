package cli

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// endpoint is an HTTP server `shoal up` runs beside the stack on a
// listener of its own: the AWS API, the metrics, the profiles.
type endpoint struct {
	srv  *http.Server
	done chan error
	// addr is the bound address, with the port chosen for port 0.
	addr string
}

// serveEndpoint serves h on ln until Close.
func serveEndpoint(ln net.Listener, h http.Handler, log *slog.Logger) *endpoint {
	e := &endpoint{
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)},
		done: make(chan error, 1),
		addr: ln.Addr().String(),
	}
	go func() { e.done <- e.srv.Serve(ln) }()
	return e
}

// Close stops serving: requests in flight get until ctx is done, then
// their connections are closed. A nil endpoint is none.
func (e *endpoint) Close(ctx context.Context) {
	if e == nil {
		return
	}
	if e.srv.Shutdown(ctx) != nil {
		e.srv.Close()
	}
	<-e.done
}
