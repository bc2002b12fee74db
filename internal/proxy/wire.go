package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shoalhq/shoal/internal/httpwire"
)

// HTTP/1.1 requests go to their targets on shoal's own client: a pool of
// keep-alive connections per target, the request head written once from
// the parsed request, the answer's head parsed by package httpwire and its
// body streamed back. No goroutine, context or timer per request: the idle
// timeout is a deadline on each connection, moved as data goes either way
// (see extend). net/http's Transport, with its two goroutines per
// connection and a channel handoff per request, carries what this does
// not: HTTP/2 and gRPC target groups, and upgrades (WebSockets).
//
// A request whose connection to its target was refused, or reset before a
// byte went through, is retried once on another target whatever its
// method, since no target saw it; the refusing target is taken out at once
// (targetGroup.refused). A request without a body that finds a kept
// connection closed by its target (which may close idle connections at
// any time) is retried once on a new connection. A GET, HEAD or OPTIONS
// without a body whose connection is lost before any of the answer came
// (its target died as it arrived) is retried once on another target.

// Limits of a target's connection pool.
const (
	// defaultMaxConnsPerTarget caps the connections to one target, in use
	// and idle: past it requests go to another target, or get 503.
	defaultMaxConnsPerTarget = 1024
	// maxIdlePerTarget is how many idle connections a target keeps.
	maxIdlePerTarget = 512
	// maxIdleAge is how long an idle connection is kept for reuse: less
	// than Node.js's default keep-alive timeout (5 s), so that the
	// tutorial's NestJS targets seldom close one just as it is reused.
	maxIdleAge = 4 * time.Second
)

var (
	// errTargetBusy: the target has its maximum of connections.
	errTargetBusy = errors.New("target has reached its connection limit")
	// errNotSent marks an error after which the request may go to
	// another target: nothing of it reached this one.
	errNotSent = errors.New("request not sent")
	// errResendable marks a request of a safe method, without a body,
	// whose connection was lost before any of the answer came: a target
	// that dies as the request reaches it (its kernel took the connection
	// while the process was exiting). Like nginx's proxy_next_upstream
	// error, it is sent once to another target; a POST never is.
	errResendable = errors.New("connection lost before the answer")
)

// wirePool is the HTTP/1.1 connections to one target, cleartext or TLS.
type wirePool struct {
	addr   string
	dial   DialFunc
	secure bool
	max    int

	mu     sync.Mutex
	idle   []*wireConn // most recently used last
	open   int         // idle and in use
	closed bool
}

// wireConn is one connection to a target.
type wireConn struct {
	conn      net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	head      []byte
	idleSince time.Duration // monoTime
	// readBy and writeBy move the deadlines now and then.
	readBy, writeBy deadline
}

// get returns an idle connection (reused) or, when there is none or fresh
// is set, a new one.
func (p *wirePool) get(fresh bool) (wc *wireConn, reused bool, err error) {
	now := monoTime()
	var stale []*wireConn
	p.mu.Lock()
	for n := len(p.idle); n > 0 && wc == nil && !fresh; n = len(p.idle) {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		if now-c.idleSince < maxIdleAge {
			wc = c
		} else {
			stale = append(stale, c)
			p.open--
		}
	}
	if wc == nil {
		if p.open >= p.max {
			p.mu.Unlock()
			closeAll(stale)
			return nil, false, errTargetBusy
		}
		p.open++
	}
	p.mu.Unlock()
	closeAll(stale)
	if wc != nil {
		return wc, true, nil
	}
	conn, err := p.connect()
	if err != nil {
		p.mu.Lock()
		p.open--
		p.mu.Unlock()
		return nil, false, err
	}
	return &wireConn{conn: conn, br: bufio.NewReaderSize(conn, 4<<10), bw: bufio.NewWriterSize(conn, 4<<10)}, false, nil
}

// connect dials the target within ALB's connect timeout, and for an https
// target group makes the TLS handshake (certificates not verified, as
// ALB).
func (p *wirePool) connect() (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), targetDialTimeout)
	defer cancel()
	conn, err := p.dial(ctx, "tcp", p.addr)
	if err != nil || !p.secure {
		return conn, err
	}
	tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

// put keeps wc for the next request, or closes it when the pool is full
// or closed.
func (p *wirePool) put(wc *wireConn) {
	wc.idleSince = monoTime()
	p.mu.Lock()
	if !p.closed && len(p.idle) < maxIdlePerTarget {
		p.idle = append(p.idle, wc)
		p.mu.Unlock()
		return
	}
	p.open--
	p.mu.Unlock()
	wc.conn.Close()
}

// drop closes wc, which will not be used again.
func (p *wirePool) drop(wc *wireConn) {
	wc.conn.Close()
	p.mu.Lock()
	p.open--
	p.mu.Unlock()
}

// closeIdle closes the idle connections; with final, connections given
// back later are closed too (the target is unused).
func (p *wirePool) closeIdle(final bool) {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.open -= len(idle)
	p.closed = p.closed || final
	p.mu.Unlock()
	closeAll(idle)
}

func closeAll(cs []*wireConn) {
	for _, c := range cs {
		c.conn.Close()
	}
}

// extendRead and extendWrite move the connection's deadlines to the idle
// timeout from now (see deadline).
func (wc *wireConn) extendRead(idle time.Duration) {
	if t, ok := wc.readBy.due(idle); ok {
		wc.conn.SetReadDeadline(t)
	}
}

func (wc *wireConn) extendWrite(idle time.Duration) {
	if t, ok := wc.writeBy.due(idle); ok {
		wc.conn.SetWriteDeadline(t)
	}
}

// exchange is one request forwarded by the wire client, possibly to a
// second target.
type exchange struct {
	g   *targetGroup
	w   http.ResponseWriter
	r   *http.Request
	rt  *route
	u   upstream
	log *logEntry // nil when the listener does not log
	// bodyUsed is set once any of the client's body was read: the
	// request can then go nowhere else.
	bodyUsed bool
	// sent is when the request head went out (monoTime), for
	// TargetResponseTime.
	sent time.Duration
	// t is the target the request went to last, whose counters count a
	// failure too.
	t *target
}

// clientError wraps a failure to read the client's body, which is the
// client's fault, not the target's.
type clientError struct{ err error }

func (e clientError) Error() string { return "reading the request body: " + e.err.Error() }
func (e clientError) Unwrap() error { return e.err }

// forwardWire sends r to t, which pickFor acquired, and streams back the
// answer; when nothing of r reached t it tries one other target.
func (g *targetGroup) forwardWire(w http.ResponseWriter, r *http.Request, rt *route, u upstream, t *target) {
	x := &exchange{g: g, w: w, r: r, rt: rt, u: u}
	if rt.log != nil {
		x.log = entryOf(r)
	}
	err := x.to(t)
	if err == nil {
		return
	}
	if errors.Is(err, errNotSent) || errors.Is(err, errResendable) {
		if isRefusal(err) {
			g.refused(t, err)
		}
		if other := g.pickOther(t); other != nil {
			g.d.log.Debug("request retried on another target", "target_group", g.name, "from", t.addr, "to", other.addr, "err", err)
			if err = x.to(other); err == nil {
				return
			}
		}
	}
	x.fail(err)
}

// to sends the request to t and streams back the answer; t is released
// when it returns, or when an abort unwinds it.
func (x *exchange) to(t *target) error {
	defer t.release()
	x.t = t
	t.metrics.request()
	if x.log != nil {
		x.log.target = t.addr
	}
	pool := t.transport.wirePool(x.u.tls)
	for attempt := 0; ; attempt++ {
		wc, reused, err := pool.get(attempt > 0)
		if err != nil {
			if errors.Is(err, errTargetBusy) || isRefusal(err) {
				return errors.Join(errNotSent, err)
			}
			return err
		}
		release := x.watchClient(wc)
		err = x.send(wc)
		var resp *httpwire.Response
		if err == nil {
			resp, err = x.receive(wc)
		}
		if err != nil {
			release()
			pool.drop(wc)
			// A kept connection the target had closed: nothing was
			// read of the answer, and no body to resend. Its other idle
			// connections are suspect too (the target may have died):
			// the retry dials, and a refusal sends it elsewhere.
			if reused && attempt == 0 && !x.bodyUsed && isConnLost(err) {
				pool.closeIdle(false)
				continue
			}
			if resp == nil && !x.bodyUsed && isConnLost(err) && safeMethod(x.r.Method) {
				return errors.Join(errResendable, err)
			}
			return err
		}
		defer release() // when relay aborts
		x.relay(wc, resp, pool, t)
		// Released before the connection goes back to the pool: an
		// HTTP/2 client going away later must not close it.
		release()
		x.done(wc, resp, pool)
		return nil
	}
}

// watchClient lets the client's side end the exchange: a shutdown that
// gives up on an HTTP/1.1 request closes its target connection too
// (listener.shutdown), and an HTTP/2 request's target connection is closed
// when the client resets the stream or goes away. It returns what undoes
// it, to call once wc is no longer used for the request.
func (x *exchange) watchClient(wc *wireConn) (release func()) {
	if sc := serverConnOf(x.w); sc != nil {
		sc.upstream.Store(wc)
		return func() { sc.upstream.Store(nil) }
	}
	if x.r.ProtoMajor == 2 {
		stop := context.AfterFunc(x.r.Context(), func() { wc.conn.Close() })
		return func() { stop() }
	}
	return func() {}
}

// serverConnOf is the front end's connection under w, through the
// writers that wrap it; nil for an HTTP/2 request.
func serverConnOf(w http.ResponseWriter) *serverConn {
	for {
		switch v := w.(type) {
		case *responseWriter:
			return v.c
		case interface{ Unwrap() http.ResponseWriter }:
			w = v.Unwrap()
		default:
			return nil
		}
	}
}

// send writes the request head, then the body.
func (x *exchange) send(wc *wireConn) error {
	r, bw, idle := x.r, wc.bw, x.rt.idleTimeout
	wc.extendWrite(idle)
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(requestURI(r))
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(r.Host)
	bw.WriteString("\r\n")
	xff := x.rt.xff
	tokens := connectionTokens(r.Header)
	for k, vs := range r.Header {
		if notForwarded(k, xff) || (tokens != nil && tokens[k]) {
			continue
		}
		for _, v := range vs {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	x.writeForwarded(bw)
	chunked := false
	switch {
	case r.ContentLength > 0:
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.FormatInt(r.ContentLength, 10))
		bw.WriteString("\r\n")
	case r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody:
		// The codings applied before chunked (gzip of "gzip, chunked")
		// go with it.
		bw.WriteString("Transfer-Encoding: ")
		for _, c := range r.Header["Transfer-Encoding"] {
			bw.WriteString(c)
			bw.WriteString(", ")
		}
		bw.WriteString("chunked\r\n")
		chunked = true
	case r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch:
		bw.WriteString("Content-Length: 0\r\n")
	}
	if r.Close {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
	if chunked || r.ContentLength > 0 {
		if err := x.sendBody(wc, chunked); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// sendBody copies the client's body to the target, in chunks of its own
// when the length is not known.
func (x *exchange) sendBody(wc *wireConn, chunked bool) error {
	buf := x.g.d.buffers.Get()
	defer x.g.d.buffers.Put(buf)
	idle := x.rt.idleTimeout
	for {
		n, rerr := x.r.Body.Read(buf)
		if n > 0 {
			x.bodyUsed = true
			wc.extendWrite(idle)
			if chunked {
				wc.bw.WriteString(strconv.FormatInt(int64(n), 16))
				wc.bw.WriteString("\r\n")
			}
			if _, err := wc.bw.Write(buf[:n]); err != nil {
				return err
			}
			if chunked {
				wc.bw.WriteString("\r\n")
			}
		}
		switch {
		case rerr == io.EOF:
			if chunked {
				_, err := wc.bw.WriteString("0\r\n\r\n")
				return err
			}
			return nil
		case rerr != nil:
			x.bodyUsed = true
			return clientError{rerr}
		}
	}
}

// receive reads the answer's head, skipping informational answers (a
// target's 100 Continue, 103 Early Hints). The idle timeout bounds the
// wait: the target has received everything.
func (x *exchange) receive(wc *wireConn) (*httpwire.Response, error) {
	idle := x.rt.idleTimeout
	for range 8 {
		wc.readBy = deadline{} // the wait for an answer starts now
		wc.extendRead(idle)
		head, err := httpwire.ReadHead(wc.br, wc.head[:0], readLimits)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // the target closed before answering
			}
			return nil, err
		}
		wc.head = head[:0]
		resp, err := httpwire.ParseResponse(head)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 {
			return resp, nil
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return nil, errors.New("the target switched protocols on a request that asked for no upgrade")
		}
	}
	return nil, errors.New("too many informational answers")
}

// relay writes the target's answer to the client: the head, with the
// hop-by-hop headers left out, then the body as it comes. A failure
// after the head went out can only close the client's connection: it
// drops wc and aborts the handler (http.ErrAbortHandler). Otherwise the
// caller gives wc back (done).
func (x *exchange) relay(wc *wireConn, resp *httpwire.Response, pool *wirePool, t *target) {
	now := monoTime()
	m := &x.g.metrics
	if x.log != nil {
		x.log.answered, x.log.targetSC = now, resp.StatusCode
	}
	m.targetAnswered(resp.StatusCode, now-x.sent)
	t.metrics.targetAnswered(resp.StatusCode, now-x.sent)
	h := x.w.Header()
	tokens := connectionTokens(resp.Header)
	for k, vs := range resp.Header {
		if isHopHeader(k) || (tokens != nil && tokens[k]) {
			continue
		}
		if prior, ok := h[k]; ok {
			h[k] = append(prior, vs...)
		} else {
			h[k] = vs
		}
	}
	if st := x.g.settings.Load().sticky; st.kind == stickyApp {
		x.g.stickAppCookie(&http.Response{Header: h, Request: x.r}, t, st)
	}
	noBody := x.r.Method == http.MethodHead || resp.StatusCode == http.StatusNoContent ||
		resp.StatusCode == http.StatusNotModified
	switch {
	case noBody && x.r.Method == http.MethodHead && resp.ContentLength >= 0:
		// The length the GET would have had, as the target said.
		h["Content-Length"] = []string{strconv.FormatInt(resp.ContentLength, 10)}
	case noBody:
	case resp.ContentLength >= 0 && !resp.Chunked:
		h["Content-Length"] = []string{strconv.FormatInt(resp.ContentLength, 10)}
	default:
		delete(h, "Content-Length")
	}
	x.w.WriteHeader(resp.StatusCode)
	if noBody || resp.ContentLength == 0 {
		return
	}
	var body io.Reader = wc.br
	switch {
	case resp.Chunked:
		body = httpwire.NewChunkedReader(wc.br, readLimits)
	case resp.ContentLength > 0:
		body = &io.LimitedReader{R: wc.br, N: resp.ContentLength}
	}
	if err := x.copyBody(wc, body); err != nil {
		pool.drop(wc)
		x.g.d.log.Debug("answer cut short", "target", t.addr, "err", err)
		if x.log != nil && isTimeout(err) {
			x.log.reason = reasonTimeout
		}
		panic(http.ErrAbortHandler)
	}
}

// done gives the target's connection back to its pool, unless either side
// asked to close it.
func (x *exchange) done(wc *wireConn, resp *httpwire.Response, pool *wirePool) {
	if resp.Close || x.r.Close || resp.ContentLength < 0 && !resp.Chunked {
		pool.drop(wc)
		return
	}
	pool.put(wc)
}

// copyBody streams the answer's body to the client, flushing whenever the
// target has nothing more buffered, so that a streamed answer (server-sent
// events, a slow download) reaches the client as it comes.
func (x *exchange) copyBody(wc *wireConn, body io.Reader) error {
	buf := x.g.d.buffers.Get()
	defer x.g.d.buffers.Put(buf)
	idle := x.rt.idleTimeout
	flusher, _ := x.w.(http.Flusher)
	for {
		wc.extendRead(idle)
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, err := x.w.Write(buf[:n]); err != nil {
				return clientError{err}
			}
		}
		if lr, ok := body.(*io.LimitedReader); ok && lr.N == 0 && rerr == nil {
			rerr = io.EOF
		}
		switch {
		case rerr == io.EOF:
			if lr, ok := body.(*io.LimitedReader); ok && lr.N > 0 {
				return io.ErrUnexpectedEOF
			}
			return nil
		case rerr != nil:
			return rerr
		}
		if wc.br.Buffered() == 0 && flusher != nil {
			flusher.Flush()
		}
	}
}

// fail answers a request the targets did not serve: 503 when they are all
// at their connection limit, 504 when one did not answer in time, 400 for
// a malformed body from the client, nothing when the client went away,
// and 502 otherwise (refused, reset, a malformed answer).
func (x *exchange) fail(err error) {
	status := http.StatusBadGateway
	var ce clientError
	switch {
	case errors.Is(err, errTargetBusy):
		status = http.StatusServiceUnavailable
	case errors.Is(err, errBodyTooLarge):
		status = http.StatusRequestEntityTooLarge
	case errors.As(err, &ce) && errors.Is(err, httpwire.ErrMalformedChunk):
		status = http.StatusBadRequest
	case errors.As(err, &ce):
		status = 0 // the client went away (ALB logs 460)
	case isTimeout(err):
		status = http.StatusGatewayTimeout
	}
	if x.log != nil {
		x.log.targetError(err, status)
	}
	if status == 0 {
		return
	}
	if status >= 500 {
		x.g.metrics.balancerAnswered(status)
		if x.t != nil {
			x.t.metrics.balancerAnswered(status)
		}
		x.g.d.log.Warn("target did not serve the request", "listener", x.rt.name, "target_group", x.g.name, "status", status, "err", err)
	}
	writeError(x.w, status)
}

// pickOther acquires a target of the group other than t; nil when there is
// none.
func (g *targetGroup) pickOther(t *target) *target {
	s := g.settings.Load()
	for range maxPickAttempts {
		p := g.set.Load().candidates()
		if len(p.targets) == 0 || (len(p.targets) == 1 && p.targets[0] == t) {
			return nil
		}
		if c := p.targets[g.choose(p, s)]; c != t && c.acquire() {
			return c
		}
	}
	return nil
}

// writeForwarded writes the headers ALB adds: X-Forwarded-For by the
// listener's mode, X-Forwarded-Proto, X-Forwarded-Port, and
// X-Amzn-Trace-Id; it notes when the request went out, for
// TargetResponseTime.
func (x *exchange) writeForwarded(bw *bufio.Writer) {
	r := x.r
	if x.rt.xff == XFFAppend {
		bw.WriteString("X-Forwarded-For: ")
		for _, v := range r.Header["X-Forwarded-For"] {
			bw.WriteString(v)
			bw.WriteString(", ")
		}
		bw.WriteString(clientAddr(r.RemoteAddr, x.rt.xffPort))
		bw.WriteString("\r\n")
	}
	bw.WriteString("X-Forwarded-Proto: ")
	if r.TLS != nil {
		bw.WriteString(protoHTTPS)
	} else {
		bw.WriteString(protoHTTP)
	}
	bw.WriteString("\r\nX-Forwarded-Port: ")
	bw.WriteString(x.rt.port)
	bw.WriteString("\r\nX-Amzn-Trace-Id: ")
	trace := traceValue(r.Header.Get(traceHeader), x.g.d.clock.Now())
	bw.WriteString(trace)
	bw.WriteString("\r\n")
	x.sent = monoTime()
	if x.log != nil {
		x.log.sent, x.log.trace = x.sent, trace
	}
}

// clientAddr is the client's address as X-Forwarded-For gives it: the IP,
// or with the port ip:port ([ip]:port for IPv6).
func clientAddr(remote string, withPort bool) string {
	if withPort {
		return remote
	}
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// requestURI is the request-target to send: as the client sent it, unless
// a rule's transform changed the URL (or it was in absolute form, which
// becomes origin-form).
func requestURI(r *http.Request) string {
	uri := r.RequestURI
	if uri == "" || uri[0] != '/' {
		return r.URL.RequestURI()
	}
	path, query, hasQuery := strings.Cut(uri, "?")
	if r.URL.RawQuery != query || r.URL.ForceQuery != (hasQuery && query == "") || r.URL.EscapedPath() != path {
		return r.URL.RequestURI()
	}
	return uri
}

// notForwarded reports whether the request header k stays behind: the
// hop-by-hop ones, the framing (shoal writes its own), and those shoal
// sets (X-Forwarded-For too, unless preserved).
func notForwarded(k, xff string) bool {
	switch k {
	case "Host", "Content-Length", "X-Forwarded-Proto", "X-Forwarded-Port", traceHeader:
		return true
	case "X-Forwarded-For":
		return xff != XFFPreserve
	}
	return isHopHeader(k)
}

func isHopHeader(k string) bool {
	switch k {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// connectionTokens are the headers h's Connection header names as
// hop-by-hop (other than close and keep-alive), canonical; nil when none.
func connectionTokens(h http.Header) map[string]bool {
	var out map[string]bool
	for _, v := range h["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			tok = strings.TrimSpace(tok)
			if tok == "" || strings.EqualFold(tok, "close") || strings.EqualFold(tok, "keep-alive") {
				continue
			}
			if out == nil {
				out = map[string]bool{}
			}
			out[http.CanonicalHeaderKey(tok)] = true
		}
	}
	return out
}

// isRefusal reports whether err is a connection refused, or reset before
// it carried anything: the target is not listening.
func isRefusal(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || (isDialError(err) && errors.Is(err, syscall.ECONNRESET))
}

// safeMethod reports whether a request of method may be sent twice
// without harm (RFC 9110's safe methods that the load balancer forwards).
func safeMethod(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// isConnLost reports whether err is a kept connection found closed by its
// target: an EOF or reset where the answer's head should be, or a broken
// pipe writing the request.
func isConnLost(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// traceValue is the X-Amzn-Trace-Id to send, as ALB makes it: a new Root
// when the client sent none (or one over 7 KB); with the client's, a Self
// field of the balancer's own, inserted first or replacing the client's
// Self, every other field kept.
func traceValue(in string, now time.Time) string {
	id := newTraceID(now) // "Root=1-…"
	if in == "" || len(in) > 7<<10 {
		return id
	}
	self := "Self=" + id[len("Root="):]
	fields := strings.Split(in, ";")
	root := false
	for i, f := range fields {
		switch name, _, _ := strings.Cut(strings.TrimSpace(f), "="); name {
		case "Self":
			fields[i] = self
			return strings.Join(fields, ";")
		case "Root":
			root = true
		}
	}
	if !root {
		return id + ";" + in // fields of the application's own, kept
	}
	return self + ";" + in
}
