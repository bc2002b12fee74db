package proxy

import (
	"context"
	"errors"
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
	"sync/atomic"
	"time"
)

// traceHeader is ALB's request tracing header.
const traceHeader = "X-Amzn-Trace-Id"

// errIdleTimeout is the cause of a request cancelled because its target did
// not start answering within the listener's idle timeout, or of an upgraded
// connection closed after carrying no data for that long.
var errIdleTimeout = errors.New("target did not answer within the idle timeout")

// errTargetUnused is the cause of an upgraded connection closed because its
// target became unused: its drain ended.
var errTargetUnused = errors.New("target is unused")

// forwardKey is the context key of a request's *forwarding.
type forwardKey struct{}

// forwarding is what the proxy of one request needs from its route.
type forwarding struct {
	rt       *route // the listener's: its name for logs, its port for X-Forwarded-Port
	proto    string // the client connection's protocol, for X-Forwarded-Proto
	upstream upstream
	// log is the request's access log entry; nil when not logged.
	log *logEntry
	// idle fires the idle timeout; it is stopped once the answer starts,
	// except for an upgraded connection, which it closes once no data went
	// either way for the idle timeout.
	idle        *time.Timer
	idleTimeout time.Duration
	cancel      context.CancelCauseFunc
	upgraded    atomic.Pointer[upgraded]
	// sent is when the request went to the target, for TargetResponseTime:
	// a monoTime, which keeps forwarding in its allocation size class.
	sent time.Duration
}

// serve forwards r to one of the group's targets (its stickiness cookie's,
// else the algorithm's pick); it answers 464 when the group's protocol
// version cannot carry r, and 503 when the group has no target.
func (g *targetGroup) serve(w http.ResponseWriter, r *http.Request, rt *route) {
	g.metrics.request() // RequestCount: routed to g, answered or not
	if rt.log != nil {
		entryOf(r).group = g.name
	}
	u := g.upstream()
	if !u.accepts(r) {
		writeError(w, statusIncompatibleProtocol)
		return
	}
	if f := g.fault.Load(); f != nil && g.injectFault(w, r, f) {
		return
	}
	t := g.pickFor(w, r)
	if t == nil {
		g.metrics.balancerAnswered(http.StatusServiceUnavailable) // ELB5XX
		writeError(w, http.StatusServiceUnavailable)
		return
	}
	if u.http2() || isUpgrade(r) {
		defer t.release()
		t.forward(w, r, rt, u)
		return
	}
	g.forwardWire(w, r, rt, u, t)
}

// isUpgrade reports whether r asks to switch protocols (a WebSocket):
// those go through httputil.ReverseProxy, which joins the two
// connections.
func isUpgrade(r *http.Request) bool {
	return r.Header["Upgrade"] != nil && headerHasToken(r.Header, "Connection", "upgrade")
}

// forward proxies r to t the way u says, counting it in t.metrics first:
// a request sent counts whether it is answered or not. The idle timeout is
// real time (time.AfterFunc), not the injected clock, so the hot path
// starts no goroutine: tests of 504 use a short real timeout.
func (t *target) forward(w http.ResponseWriter, r *http.Request, rt *route, u upstream) {
	t.metrics.request()
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	f := &forwarding{rt: rt, proto: protoHTTP, upstream: u,
		idleTimeout: rt.idleTimeout, cancel: cancel}
	if rt.log != nil {
		f.log = entryOf(r)
		f.log.target = t.addr
	}
	if r.TLS != nil {
		f.proto = protoHTTPS
	}
	f.idle = time.AfterFunc(rt.idleTimeout, f.expire)
	defer f.idle.Stop()
	ctx = context.WithValue(ctx, forwardKey{}, f)
	t.proxy.ServeHTTP(w, r.WithContext(ctx))
}

// expire ends the request at its idle timeout; an upgraded connection
// only once it carried no data for that long.
func (f *forwarding) expire() {
	if c := f.upgraded.Load(); c != nil {
		if left := c.idleLeft(f.idleTimeout); left > 0 {
			f.idle.Reset(left)
			return
		}
	}
	f.cancel(errIdleTimeout)
}

// upgrade takes over the connection to the target of a 101 Switching
// Protocols answer (a WebSocket), which httputil.ReverseProxy then joins to
// the client's. As on ALB, the connection closes once no data went either
// way for the listener's idle timeout; it also closes when its target
// becomes unused, so a WebSocket keeps a drain going at most the
// deregistration delay. Until then it counts as a request in flight.
//
// WebSockets are HTTP/1.1 upgrades, as on ALB. On an https listener a
// browser opens one on a connection of its own that offers ALPN http/1.1
// only: WebSockets over HTTP/2 (RFC 8441, extended CONNECT) are not
// offered, Go's HTTP/2 server leaving them off by default.
//
// The goroutine watching the target ends with the request: cancelling the
// request's context is also how ReverseProxy is told to close both ends.
func (f *forwarding) upgrade(resp *http.Response, unused <-chan struct{}) {
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		return // ReverseProxy refuses it
	}
	c := &upgraded{ReadWriteCloser: rwc, start: time.Now()}
	resp.Body = c
	f.upgraded.Store(c)
	done := resp.Request.Context().Done()
	go func() {
		select {
		case <-unused:
			f.cancel(errTargetUnused)
		case <-done:
		}
	}()
}

// upgraded is the target's end of an upgraded connection; it notes when
// data last went through, either way.
type upgraded struct {
	io.ReadWriteCloser
	start time.Time
	last  atomic.Int64 // time.Duration since start
}

func (c *upgraded) Read(p []byte) (int, error) {
	n, err := c.ReadWriteCloser.Read(p)
	if n > 0 {
		c.last.Store(int64(time.Since(c.start)))
	}
	return n, err
}

func (c *upgraded) Write(p []byte) (int, error) {
	n, err := c.ReadWriteCloser.Write(p)
	if n > 0 {
		c.last.Store(int64(time.Since(c.start)))
	}
	return n, err
}

// idleLeft is how long the connection may still stay idle.
func (c *upgraded) idleLeft(timeout time.Duration) time.Duration {
	return timeout - (time.Since(c.start) - time.Duration(c.last.Load()))
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
// transport; the target's answers and the balancer's errors count in m,
// its group's metrics.
func newTargetProxy(t *target, d *deps, m *groupCounters) *httputil.ReverseProxy {
	plain := &url.URL{Scheme: protoHTTP, Host: t.addr}
	secure := &url.URL{Scheme: protoHTTPS, Host: t.addr}
	log := d.log.With("target", t.addr)
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			f, _ := pr.In.Context().Value(forwardKey{}).(*forwarding)
			u := plain
			if f != nil && f.upstream.tls {
				u = secure
			}
			rewrite(pr, u, f, d.clock.Now())
			if f != nil {
				f.sent = monoTime() // TargetResponseTime starts
				if f.log != nil {
					f.log.sent, f.log.trace = f.sent, pr.Out.Header.Get(traceHeader)
				}
			}
		},
		Transport:  t.transport,
		BufferPool: d.buffers,
		ModifyResponse: func(resp *http.Response) error {
			f, ok := resp.Request.Context().Value(forwardKey{}).(*forwarding)
			if ok { // TargetResponseTime ends; HTTPCode_Target_nXX_Count
				now := monoTime()
				m.targetAnswered(resp.StatusCode, now-f.sent)
				t.metrics.targetAnswered(resp.StatusCode, now-f.sent)
				if f.log != nil {
					f.log.answered, f.log.targetSC = now, resp.StatusCode
				}
			}
			switch {
			case !ok:
			case resp.StatusCode == http.StatusSwitchingProtocols:
				f.upgrade(resp, t.unused)
			default:
				f.idle.Stop() // the target answered in time
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			status := proxyError(w, r, err, log)
			m.balancerAnswered(status) // ELB5XX
			t.metrics.balancerAnswered(status)
			if f, ok := r.Context().Value(forwardKey{}).(*forwarding); ok && f.log != nil {
				f.log.targetError(err, status)
			}
		},
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// rewrite turns the client's request into the request to the target, with
// the headers ALB adds; f may be nil.
func rewrite(pr *httputil.ProxyRequest, target *url.URL, f *forwarding, now time.Time) {
	pr.SetURL(target)
	pr.Out.Host = pr.In.Host // ALB passes the Host header through
	// ReverseProxy strips these; ALB leaves them alone.
	for _, k := range []string{"Forwarded", "X-Forwarded-Host"} {
		if v := pr.In.Header.Values(k); len(v) > 0 {
			pr.Out.Header[k] = slices.Clone(v)
		}
	}
	proto, port, xff, xffPort := protoHTTP, "", XFFAppend, false
	if f != nil {
		proto, port, xff, xffPort = f.proto, f.rt.port, f.rt.xff, f.rt.xffPort
	}
	setForwarded(pr.Out.Header, pr.In, proto, port, xff, xffPort)
	pr.Out.Header.Set(traceHeader, traceValue(pr.In.Header.Get(traceHeader), now))
}

// setForwarded sets X-Forwarded-For the way the listener's mode says, and
// X-Forwarded-Proto and X-Forwarded-Port in every mode, as ALB: append adds
// the client's address (ip, or ip:port when withPort, [ip]:port for IPv6)
// to any list the client sent; preserve forwards the client's header
// unchanged, adding none when absent; remove drops it.
func setForwarded(h http.Header, in *http.Request, proto, port, mode string, withPort bool) {
	switch mode {
	case XFFPreserve:
		// ReverseProxy's Rewrite starts from a request without it: put
		// back exactly what the client sent, if anything.
		if v := in.Header.Values("X-Forwarded-For"); len(v) > 0 {
			h["X-Forwarded-For"] = slices.Clone(v)
		}
	case XFFRemove:
		h.Del("X-Forwarded-For")
	default:
		if ip, clientPort, err := net.SplitHostPort(in.RemoteAddr); err == nil {
			if withPort {
				ip = net.JoinHostPort(ip, clientPort)
			}
			prior := slices.Clip(in.Header.Values("X-Forwarded-For"))
			h.Set("X-Forwarded-For", strings.Join(append(prior, ip), ", "))
		}
	}
	h.Set("X-Forwarded-Proto", proto)
	if port != "" {
		h.Set("X-Forwarded-Port", port)
	}
}

// newTraceID makes an X-Amzn-Trace-Id value as ALB does: version 1, the
// time in seconds as 8 hex digits, and 96 random bits as 24 hex digits.
// It is formatted by hand: it is made for every request.
func newTraceID(now time.Time) string {
	var b [len("Root=1-") + 8 + 1 + 24]byte
	n := copy(b[:], "Root=1-")
	n += putHex(b[n:n+8], uint64(uint32(now.Unix())))
	b[n] = '-'
	n++
	n += putHex(b[n:n+8], uint64(rand.Uint32()))
	putHex(b[n:n+16], rand.Uint64())
	return string(b[:])
}

// putHex writes v as len(dst) lower-case hex digits, zero-padded, and
// returns len(dst).
func putHex(dst []byte, v uint64) int {
	const digits = "0123456789abcdef"
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = digits[v&0xf]
		v >>= 4
	}
	return len(dst)
}

// proxyError answers a request the target did not serve: 504 when it did
// not answer in time, 502 when it refused, reset or answered garbage. It
// returns the status answered, 0 when the client went away.
func proxyError(w http.ResponseWriter, r *http.Request, err error, log *slog.Logger) int {
	status := http.StatusBadGateway
	switch {
	case errors.Is(context.Cause(r.Context()), errIdleTimeout), isTimeout(err):
		status = http.StatusGatewayTimeout
	case r.Context().Err() != nil:
		// The client went away (ALB logs 460); nobody to answer.
		log.Debug("client closed the connection", "err", err)
		return 0
	}
	if f, ok := r.Context().Value(forwardKey{}).(*forwarding); ok {
		log = log.With("listener", f.rt.name)
	}
	log.Warn("target did not serve the request", "status", status, "err", err)
	writeError(w, status)
	return status
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
	case statusIdPError:
		return "Unauthorized"
	case statusIncompatibleProtocol:
		return "Incompatible Protocol"
	}
	return http.StatusText(code)
}
