package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// traceHeader is ALB's request tracing header.
const traceHeader = "X-Amzn-Trace-Id"

// errIdleTimeout is the cause of a request cancelled because its target did
// not start answering within the listener's idle timeout.
var errIdleTimeout = errors.New("target did not answer within the idle timeout")

// forwardKey is the context key of a request's *forwarding.
type forwardKey struct{}

// forwarding is what the proxy of one request needs from its route.
type forwarding struct {
	listener string // the listener's name, for logs
	port     string // the listener's port, for X-Forwarded-Port
	// idle fires the idle timeout; it is stopped once the answer starts.
	idle *time.Timer
}

// serve forwards r to one of the group's targets, or answers 503 when the
// group has none.
func (g *targetGroup) serve(w http.ResponseWriter, r *http.Request, rt *route) {
	t := g.pick()
	if t == nil {
		writeError(w, http.StatusServiceUnavailable)
		return
	}
	defer t.release()
	t.forward(w, r, rt)
}

// forward proxies r to t, counting it in t.requests first: a request sent
// counts whether it is answered or not. The idle timeout is real time
// (time.AfterFunc), not the injected clock, so the hot path starts no
// goroutine: tests of 504 use a short real timeout.
func (t *target) forward(w http.ResponseWriter, r *http.Request, rt *route) {
	t.requests.Add(1)
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	f := &forwarding{listener: rt.name, port: rt.port}
	f.idle = time.AfterFunc(rt.idleTimeout, func() { cancel(errIdleTimeout) })
	defer f.idle.Stop()
	ctx = context.WithValue(ctx, forwardKey{}, f)
	t.proxy.ServeHTTP(w, r.WithContext(ctx))
}

// bufferPool recycles the reverse proxies' copy buffers.
type bufferPool struct{ p sync.Pool }

var _ httputil.BufferPool = (*bufferPool)(nil)

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
}

func (bp *bufferPool) Get() []byte  { return *bp.p.Get().(*[]byte) }
func (bp *bufferPool) Put(b []byte) { bp.p.Put(&b) }

// newTargetProxy makes the reverse proxy of one target, on the target's own
// transport.
func newTargetProxy(t *target, d *deps) *httputil.ReverseProxy {
	u := &url.URL{Scheme: "http", Host: t.addr}
	log := d.log.With("target", t.addr)
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			rewrite(pr, u, d.clock.Now())
		},
		Transport:  t.transport,
		BufferPool: d.buffers,
		ModifyResponse: func(resp *http.Response) error {
			if f, ok := resp.Request.Context().Value(forwardKey{}).(*forwarding); ok {
				f.idle.Stop() // the target answered in time
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			proxyError(w, r, err, log)
		},
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// rewrite turns the client's request into the request to the target, with
// the headers ALB adds.
func rewrite(pr *httputil.ProxyRequest, target *url.URL, now time.Time) {
	pr.SetURL(target)
	pr.Out.Host = pr.In.Host // ALB passes the Host header through
	// ReverseProxy strips these; ALB leaves them alone.
	for _, k := range []string{"Forwarded", "X-Forwarded-Host"} {
		if v := pr.In.Header.Values(k); len(v) > 0 {
			pr.Out.Header[k] = slices.Clone(v)
		}
	}
	port := ""
	if f, ok := pr.In.Context().Value(forwardKey{}).(*forwarding); ok {
		port = f.port
	}
	setForwarded(pr.Out.Header, pr.In, port)
	if pr.Out.Header.Get(traceHeader) == "" {
		pr.Out.Header.Set(traceHeader, newTraceID(now))
	}
}

// setForwarded sets X-Forwarded-For (the client's address appended to any
// list the client sent), X-Forwarded-Proto and X-Forwarded-Port.
func setForwarded(h http.Header, in *http.Request, port string) {
	if ip, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
		prior := slices.Clip(in.Header.Values("X-Forwarded-For"))
		h.Set("X-Forwarded-For", strings.Join(append(prior, ip), ", "))
	}
	h.Set("X-Forwarded-Proto", "http")
	if port != "" {
		h.Set("X-Forwarded-Port", port)
	}
}

// newTraceID makes an X-Amzn-Trace-Id value as ALB does: version 1, the
// time in seconds as 8 hex digits, and 96 random bits as 24 hex digits.
func newTraceID(now time.Time) string {
	return fmt.Sprintf("Root=1-%08x-%08x%016x", uint32(now.Unix()), rand.Uint32(), rand.Uint64())
}

// proxyError answers a request the target did not serve: 504 when it did
// not answer in time, 502 when it refused, reset or answered garbage.
func proxyError(w http.ResponseWriter, r *http.Request, err error, log *slog.Logger) {
	status := http.StatusBadGateway
	switch {
	case errors.Is(context.Cause(r.Context()), errIdleTimeout), isTimeout(err):
		status = http.StatusGatewayTimeout
	case r.Context().Err() != nil:
		// The client went away (ALB logs 460); nobody to answer.
		log.Debug("client closed the connection", "err", err)
		return
	}
	if f, ok := r.Context().Value(forwardKey{}).(*forwarding); ok {
		log = log.With("listener", f.listener)
	}
	log.Warn("target did not serve the request", "status", status, "err", err)
	writeError(w, status)
}

// writeError answers with a small HTML error page, as ALB does.
func writeError(w http.ResponseWriter, code int) {
	title := strconv.Itoa(code) + " " + statusText(code)
	body := "<html><head><title>" + title + "</title></head><body><center><h1>" +
		title + "</h1></center></body></html>"
	h := w.Header()
	h.Set("Server", "shoal")
	h.Set("Content-Type", "text/html")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	io.WriteString(w, body)
}

// statusText is ALB's wording of the statuses it makes itself.
func statusText(code int) string {
	switch code {
	case http.StatusServiceUnavailable:
		return "Service Temporarily Unavailable"
	case http.StatusGatewayTimeout:
		return "Gateway Time-out"
	}
	return http.StatusText(code)
}
