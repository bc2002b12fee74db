package proxy

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoalhq/shoal/internal/httpwire"
)

// shoal serves HTTP/1.1 clients with a front end of its own rather than
// net/http's server, for three reasons:
//
//   - HTTP desync: the front end sees each request head as sent, classifies
//     it as ALB does (package httpwire) and decides, by the load balancer's
//     desync_mitigation_mode, whether to forward it, forward it and close,
//     or refuse it. net/http normalises obs-folds and bare LFs before
//     anyone can look, and keeps a connection open after a request framed
//     by both Content-Length and Transfer-Encoding.
//   - Hostile clients: heads are read into a buffer bounded by ALB's limits
//     (16 KiB a line, 64 KiB in all) within a header read timeout of their
//     own, and connections are admitted through the balancer's gate (see
//     gate.go), which sheds the slowest when file descriptors run short.
//   - Cost: one goroutine, one reader and one writer per connection, no
//     context or timer per request; see docs/performance.md.
//
// HTTP/2 (https listeners, ALPN h2) stays with net/http's server: the
// front end hands it the connection after the handshake.

// Connection states, for shutdown: a connection waiting for a request may
// be closed at once; one serving a request finishes it first.
const (
	connWaiting int32 = iota
	connServing
)

// serverConn is one client connection served in HTTP/1.1.
type serverConn struct {
	b *Balancer
	l *listener
	// conn is the accepted connection, never changed: what a shutdown
	// wakes or closes. rwc is the same while the server owns it, nil once
	// handed off or hijacked.
	conn   net.Conn
	rwc    net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	head   []byte
	born   time.Time // accepted: client_keep_alive counts from here
	remote string
	tls    *tls.ConnectionState
	state  atomic.Int32
	// pending links the connection in the gate's list of connections that
	// have not sent a whole request head yet (see gate.go).
	pending *gateEntry
	// readBy and writeBy move the read deadline (while a body is read)
	// and the write deadline only now and then.
	readBy, writeBy deadline
	// upstream is the target connection of the request being forwarded,
	// for a shutdown that gives up waiting to close.
	upstream atomic.Pointer[wireConn]
}

// readLimits are ALB's limits on a request head.
var readLimits = httpwire.Limits{}

// bufio sizes of a client connection: a head of up to 4 KiB is read in one
// go; a larger one goes to the connection's head buffer.
const (
	connReadBuffer  = 4 << 10
	connWriteBuffer = 4 << 10
)

// The connections' readers and writers are pooled, and a connection takes
// its writer only once it has a head to answer: thousands of connections
// that never send one (a slowloris flood) hold a reader each, no writer.
var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, connReadBuffer) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, connWriteBuffer) }}
)

// serve serves the connection until it closes, on its own goroutine.
func (c *serverConn) serve() {
	defer c.close()
	rt := c.route()
	if rt == nil {
		return
	}
	c.rwc.SetReadDeadline(c.born.Add(rt.headerReadTimeout))
	if tc, ok := c.rwc.(*tls.Conn); ok {
		if err := tc.Handshake(); err != nil {
			c.b.d.log.Debug("TLS handshake failed", "listener", rt.name, "client", c.remote, "err", err)
			return
		}
		st := tc.ConnectionState()
		if st.NegotiatedProtocol == "h2" {
			c.b.gate.admit(c.pending)
			c.handOff()
			return
		}
		c.tls = &st
	}
	c.br = readerPool.Get().(*bufio.Reader)
	c.br.Reset(c.rwc)
	for first := true; ; first = false {
		if !first {
			if rt = c.route(); rt == nil || !c.awaitRequest(rt) {
				return
			}
		}
		head, err := httpwire.ReadHead(c.br, c.head[:0], readLimits)
		if first {
			c.b.gate.admit(c.pending)
			c.bw = writerPool.Get().(*bufio.Writer)
			c.bw.Reset(c.rwc)
		}
		if err != nil {
			c.refuseHead(rt, err)
			return
		}
		c.head = head[:0]
		if !c.serveHead(rt, head) {
			return
		}
	}
}

// route is the listener's current route; nil once it was retired.
func (c *serverConn) route() *route { return c.b.table.Load().routes[c.l] }

// idleTimeout is the listener's idle timeout, ALB's default once the
// listener was retired.
func (c *serverConn) idleTimeout() time.Duration {
	if rt := c.route(); rt != nil {
		return rt.idleTimeout
	}
	return 60 * time.Second
}

// awaitRequest waits up to the idle timeout for the next request's first
// byte, then gives the client the header read timeout to send the rest.
// It reports false when the connection is to close instead: the client
// closed or stayed idle, its keep-alive ran out, or the listener is
// shutting down.
func (c *serverConn) awaitRequest(rt *route) bool {
	now := time.Now()
	if now.Sub(c.born) >= rt.clientKeepAlive {
		return false
	}
	// The deadline is set before the state says waiting, and the
	// listener's closing read after: a shutdown either sees this
	// connection waiting (and moves its deadline to now) or this
	// connection sees the shutdown.
	c.rwc.SetReadDeadline(now.Add(rt.idleTimeout))
	c.state.Store(connWaiting)
	if c.l.closing.Load() {
		return false
	}
	if _, err := c.br.Peek(1); err != nil {
		return false
	}
	c.state.Store(connServing)
	c.rwc.SetReadDeadline(time.Now().Add(rt.headerReadTimeout))
	return true
}

// refuseHead answers a head that could not be read whole: too large (414
// for the request line, 431 for the headers), malformed (400), or too slow
// (408, as ALB when a client sends no data in time). A connection closed
// before a byte gets nothing.
func (c *serverConn) refuseHead(rt *route, err error) {
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, io.EOF):
		return
	case errors.Is(err, httpwire.ErrLineTooLong):
		status = http.StatusRequestURITooLong
	case errors.Is(err, httpwire.ErrHeaderTooLarge):
		status = http.StatusRequestHeaderFieldsTooLarge
	case errors.Is(err, os.ErrDeadlineExceeded):
		status = http.StatusRequestTimeout
	case errors.Is(err, httpwire.ErrMalformed):
	default:
		return // the connection failed: nobody to answer
	}
	c.b.d.log.Debug("request refused", "listener", rt.name, "client", c.remote, "status", status, "err", err)
	c.answerAndClose(status)
}

// answerAndClose writes one of the balancer's error pages and marks the
// connection for closing (the caller returns).
func (c *serverConn) answerAndClose(status int) {
	w := &responseWriter{c: c, closeAfter: true}
	w.start(nil, c.idleTimeout())
	writeError(w, status)
	w.finish()
}

// serveHead parses and classifies one request head and serves it by the
// load balancer's desync mitigation mode. It reports whether the
// connection may carry another request.
func (c *serverConn) serveHead(rt *route, head []byte) bool {
	req, err := httpwire.ParseRequest(head)
	if err != nil {
		rt.conns.classified(httpwire.Severe)
		status := http.StatusBadRequest
		switch {
		case errors.Is(err, httpwire.ErrLineTooLong):
			status = http.StatusRequestURITooLong
		case errors.Is(err, httpwire.ErrHeaderTooLarge):
			status = http.StatusRequestHeaderFieldsTooLarge
		}
		c.b.d.log.Debug("malformed request", "listener", rt.name, "client", c.remote, "err", err)
		c.answerAndClose(status)
		return false
	}
	v := req.Verdict
	rt.conns.classified(v.Class)
	refuse, closeAfter := rt.desync.decide(v.Class)
	r, err := c.newRequest(req, rt)
	if err != nil {
		c.answerAndClose(http.StatusBadRequest)
		return false
	}
	// r.Close tells the forward to close the target's connection after
	// this request too.
	r.Close = closeAfter
	w := &responseWriter{c: c, req: r, closeAfter: closeAfter || req.Close || c.l.closing.Load() ||
		time.Since(c.born) >= rt.clientKeepAlive}
	w.start(r, rt.idleTimeout)
	switch {
	case refuse:
		router{c.b, c.l}.refuse(w, r, v, http.StatusBadRequest)
		w.closeAfter = true
	case r.Method == http.MethodTrace || r.Method == http.MethodConnect:
		// ALB answers 405 to TRACE, and forwards no CONNECT.
		router{c.b, c.l}.refuse(w, r, v, http.StatusMethodNotAllowed)
	default:
		if !c.serveRequest(w, r, v) {
			return false // hijacked, or the handler gave up on the client
		}
	}
	return w.finish()
}

// serveRequest runs the router on r, recovering the panic with which a
// forward aborts an answer it could not finish (http.ErrAbortHandler): the
// connection then closes. It reports false when the connection is no
// longer the server's to use.
func (c *serverConn) serveRequest(w *responseWriter, r *http.Request, v httpwire.Verdict) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				c.b.d.log.Error("request handler panicked", "listener", c.l.port, "panic", p)
			}
			ok = false
		}
	}()
	router{c.b, c.l}.serve(w, r, v)
	return !w.hijacked
}

// newRequest makes the http.Request the router takes of a parsed head.
func (c *serverConn) newRequest(req *httpwire.Request, rt *route) (*http.Request, error) {
	u, err := url.ParseRequestURI(req.Target)
	if err != nil {
		return nil, err
	}
	r := &http.Request{
		Method:     req.Method,
		URL:        u,
		Proto:      protoName(req.ProtoMajor, req.ProtoMinor),
		ProtoMajor: req.ProtoMajor,
		ProtoMinor: req.ProtoMinor,
		Header:     req.Header,
		Host:       req.Host,
		RemoteAddr: c.remote,
		RequestURI: req.Target,
		TLS:        c.tls,
		Body:       http.NoBody,
	}
	if req.Chunked || req.ContentLength > 0 {
		c.readBy = deadline{} // awaitRequest has set the read deadline since
		b := &requestBody{c: c, idle: rt.idleTimeout}
		if req.Chunked {
			b.r = httpwire.NewChunkedReader(c.br, readLimits)
			r.ContentLength = -1
			r.TransferEncoding = []string{"chunked"}
		} else {
			b.r = &io.LimitedReader{R: c.br, N: req.ContentLength}
			r.ContentLength = req.ContentLength
		}
		// The front end answers Expect: 100-continue itself, when the
		// body is first read, and does not forward it: a target's 100
		// would otherwise wait behind the body it asks for.
		if v := req.Header["Expect"]; len(v) == 1 && strings.EqualFold(v[0], "100-continue") {
			b.expect = true
			delete(req.Header, "Expect")
		}
		r.Body = b
	}
	return r, nil
}

func protoName(major, minor int) string {
	if major == 1 && minor == 0 {
		return "HTTP/1.0"
	}
	return "HTTP/1.1"
}

// handOff gives an https connection that chose HTTP/2 to the listener's
// net/http server.
func (c *serverConn) handOff() {
	c.rwc.SetReadDeadline(time.Time{})
	if !c.l.h2.give(c.rwc) {
		c.rwc.Close()
	}
	c.rwc = nil // the server owns it now
}

// close closes the connection, unless it was handed off or hijacked (its
// new owner closes it, which takes it out of the gate), and takes it off
// the listener.
func (c *serverConn) close() {
	if c.rwc != nil {
		c.rwc.Close()
		// Still the server's: the reader and writer go back to their
		// pools (a hijacker keeps them).
		if c.br != nil {
			c.br.Reset(nil)
			readerPool.Put(c.br)
		}
		if c.bw != nil {
			c.bw.Reset(nil)
			writerPool.Put(c.bw)
		}
	}
	c.l.untrack(c)
}

// extendWrite moves the connection's write deadline to the idle timeout
// from now: a client that reads nothing for the idle timeout is dropped.
func (c *serverConn) extendWrite(idle time.Duration) {
	if t, ok := c.writeBy.due(idle); ok {
		c.rwc.SetWriteDeadline(t)
	}
}

// deadline is a connection deadline moved forward as data goes through, at
// most every quarter of its timeout: a steady stream costs a deadline
// change now and then rather than one a read or write, and a stalled one
// still ends within the timeout (and a quarter, at most).
type deadline struct{ by time.Duration } // monoTime when it runs out

// due returns the new deadline when it is time to move it.
func (d *deadline) due(timeout time.Duration) (time.Time, bool) {
	now := monoTime()
	if d.by-now > timeout*3/4 {
		return time.Time{}, false
	}
	d.by = now + timeout
	return time.Now().Add(timeout), true
}

// requestBody is a request's body, read from the client connection; the
// idle timeout applies to each read.
type requestBody struct {
	c      *serverConn
	r      io.Reader
	idle   time.Duration
	eof    bool
	closed bool
	expect bool // the client waits for 100 Continue
	err    error
}

var errBodyClosed = errors.New("request body closed")

func (b *requestBody) Read(p []byte) (int, error) {
	switch {
	case b.closed:
		return 0, errBodyClosed
	case b.eof:
		return 0, io.EOF
	case b.err != nil:
		return 0, b.err
	}
	if b.expect {
		b.expect = false
		io.WriteString(b.c.bw, "HTTP/1.1 100 Continue\r\n\r\n")
		if err := b.c.bw.Flush(); err != nil {
			b.err = err
			return 0, err
		}
	}
	if t, ok := b.c.readBy.due(b.idle); ok {
		b.c.rwc.SetReadDeadline(t)
	}
	n, err := b.r.Read(p)
	if lr, ok := b.r.(*io.LimitedReader); ok && err == nil && lr.N == 0 {
		err = io.EOF
	}
	switch {
	case err == io.EOF:
		if lr, ok := b.r.(*io.LimitedReader); ok && lr.N > 0 {
			err = io.ErrUnexpectedEOF
			b.err = err
		} else {
			b.eof = true
		}
	case err != nil:
		b.err = err
	}
	return n, err
}

func (b *requestBody) Close() error {
	b.closed = true
	return nil
}

// maxDiscard is how much of a request body the front end reads and drops
// after the answer, to keep the connection for the next request; past it
// the connection closes instead.
const maxDiscard = 256 << 10

// discard reads the rest of the body, and reports whether it is all read.
func (b *requestBody) discard() bool {
	if b.eof {
		return true
	}
	if b.err != nil || b.expect {
		// A client still waiting for 100 Continue has sent no body: the
		// connection cannot carry another request reliably.
		return false
	}
	b.closed = false
	n, _ := io.CopyN(io.Discard, b, maxDiscard+1)
	return b.eof && n <= maxDiscard
}

// statusLines are "HTTP/1.1 code text\r\n" for every code shoal has a
// text for, made once.
var statusLines = func() map[int]string {
	m := map[int]string{}
	for code := 100; code < 600; code++ {
		if t := statusText(code); t != "" {
			m[code] = "HTTP/1.1 " + strconv.Itoa(code) + " " + t + "\r\n"
		}
	}
	return m
}()

// statusLine is the status line of code.
func statusLine(code int) string {
	if s, ok := statusLines[code]; ok {
		return s
	}
	return "HTTP/1.1 " + strconv.Itoa(code) + " status\r\n"
}
