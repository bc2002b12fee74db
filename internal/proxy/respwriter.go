package proxy

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// responseWriter writes one answer on a serverConn, as HTTP/1.1: the head
// on the first Write or Flush (or at finish), then the body with the
// framing the head announced: its Content-Length, none for HEAD, 204 and
// 304, chunked otherwise (close-delimited for an HTTP/1.0 client).
type responseWriter struct {
	c      *serverConn
	req    *http.Request // nil for an answer to a head that did not parse
	header http.Header
	status int

	wroteHeader bool
	chunked     bool
	noBody      bool
	// remaining is what is left of a declared Content-Length; -1 when
	// none was declared.
	remaining int64
	// closeAfter closes the connection after this answer: the client
	// asked, the request was ambiguous, the keep-alive ran out, the
	// listener is closing, or the answer could not be framed otherwise.
	closeAfter bool
	hijacked   bool
	failed     bool // a write to the client failed
	idle       time.Duration
}

var (
	_ http.ResponseWriter = (*responseWriter)(nil)
	_ http.Flusher        = (*responseWriter)(nil)
	_ http.Hijacker       = (*responseWriter)(nil)
)

// start readies w for r's answer on a listener of idle timeout idle.
func (w *responseWriter) start(r *http.Request, idle time.Duration) {
	w.remaining = -1
	w.idle = idle
	if r != nil && r.ProtoMinor == 0 && !headerHasToken(r.Header, "Connection", "keep-alive") {
		w.closeAfter = true
	}
}

func (w *responseWriter) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header, 8)
	}
	return w.header
}

// WriteHeader notes the status; informational ones (100, 103) are sent at
// once, as they come.
func (w *responseWriter) WriteHeader(code int) {
	if w.wroteHeader || w.hijacked {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.c.extendWrite(w.idle)
		w.c.bw.WriteString(statusLine(code))
		writeHeaderLines(w.c.bw, w.header)
		w.c.bw.WriteString("\r\n")
		w.c.bw.Flush()
		return
	}
	if w.status == 0 {
		w.status = code
	}
}

// commit writes the head; final when the handler has returned, so that
// an answer without a body gets Content-Length: 0 rather than chunks.
func (w *responseWriter) commit(final bool) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	if w.status == 0 {
		w.status = http.StatusOK
	}
	h := w.Header()
	w.noBody = w.status == http.StatusNoContent || w.status == http.StatusNotModified ||
		(w.req != nil && w.req.Method == http.MethodHead)
	if headerHasToken(h, "Connection", "close") {
		w.closeAfter = true
	}
	for k := range h {
		if isHopHeader(k) {
			delete(h, k)
		}
	}
	bw := w.c.bw
	w.c.extendWrite(w.idle)
	bw.WriteString(statusLine(w.status))
	if cl := h["Content-Length"]; len(cl) > 0 {
		if n, err := strconv.ParseInt(cl[0], 10, 64); err == nil && n >= 0 && !w.noBody {
			w.remaining = n
		} else if err != nil || n < 0 {
			delete(h, "Content-Length")
		}
	}
	if _, ok := h["Date"]; !ok {
		bw.WriteString("Date: ")
		bw.WriteString(httpDate())
		bw.WriteString("\r\n")
	}
	writeHeaderLines(bw, h)
	switch {
	case w.noBody || w.remaining >= 0:
	case final:
		bw.WriteString("Content-Length: 0\r\n")
		w.remaining = 0
	case w.req != nil && w.req.ProtoMinor >= 1:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
		w.chunked = true
	default:
		w.closeAfter = true // HTTP/1.0: the body ends with the connection
	}
	switch {
	case w.closeAfter:
		bw.WriteString("Connection: close\r\n")
	case w.req != nil && w.req.ProtoMinor == 0:
		bw.WriteString("Connection: keep-alive\r\n")
	}
	bw.WriteString("\r\n")
}

// errBodyTooLong is returned by Write past the declared Content-Length.
var errBodyTooLong = errors.New("answer longer than its Content-Length")

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	w.commit(false)
	if w.noBody {
		return len(p), nil
	}
	if w.failed {
		return 0, errClientGone
	}
	var err error
	if w.remaining >= 0 && int64(len(p)) > w.remaining {
		p, err = p[:w.remaining], errBodyTooLong
	}
	if len(p) == 0 {
		return 0, err
	}
	bw := w.c.bw
	w.c.extendWrite(w.idle)
	if w.chunked {
		bw.WriteString(strconv.FormatInt(int64(len(p)), 16))
		bw.WriteString("\r\n")
	}
	n, werr := bw.Write(p)
	if w.chunked && werr == nil {
		_, werr = bw.WriteString("\r\n")
	}
	if w.remaining >= 0 {
		w.remaining -= int64(n)
	}
	if werr != nil {
		w.failed, w.closeAfter = true, true
		return n, werr
	}
	return n, err
}

// errClientGone is returned by writes after one failed.
var errClientGone = errors.New("client connection failed")

// Flush sends what is buffered, the head first if it was not sent yet.
func (w *responseWriter) Flush() {
	if w.hijacked || w.failed {
		return
	}
	w.commit(false)
	w.c.extendWrite(w.idle)
	if err := w.c.bw.Flush(); err != nil {
		w.failed, w.closeAfter = true, true
	}
}

// Hijack hands the connection to the handler (a WebSocket upgrade): the
// server no longer reads or writes it, and does not close it.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.wroteHeader {
		return nil, nil, errors.New("hijack after the answer started")
	}
	w.hijacked = true
	c := w.c
	c.rwc.SetDeadline(time.Time{})
	conn := c.rwc
	c.rwc = nil // the handler closes it
	return conn, bufio.NewReadWriter(c.br, c.bw), nil
}

// SetReadDeadline and SetWriteDeadline serve http.ResponseController.
func (w *responseWriter) SetReadDeadline(t time.Time) error  { return w.c.rwc.SetReadDeadline(t) }
func (w *responseWriter) SetWriteDeadline(t time.Time) error { return w.c.rwc.SetWriteDeadline(t) }

// finish ends the answer once the handler returned: the head if not sent,
// the last chunk, the flush; then the rest of the request's body is read
// and dropped. It reports whether the connection may carry another
// request.
func (w *responseWriter) finish() bool {
	if w.hijacked {
		return false
	}
	w.commit(true)
	bw := w.c.bw
	if w.chunked && !w.failed {
		bw.WriteString("0\r\n\r\n")
	}
	if w.remaining > 0 {
		w.closeAfter = true // the answer fell short of its Content-Length
	}
	if !w.failed {
		w.c.extendWrite(w.idle)
		if err := bw.Flush(); err != nil {
			w.failed, w.closeAfter = true, true
		}
	}
	if w.closeAfter || w.failed {
		return false
	}
	if b, ok := w.req.Body.(*requestBody); ok && !b.discard() {
		return false
	}
	return true
}

// writeHeaderLines writes h as header lines. A CR or LF inside a value
// (which package httpwire never produces, but a handler might) becomes a
// space, so that no value can start a header of its own.
func writeHeaderLines(bw *bufio.Writer, h http.Header) {
	for k, vs := range h {
		for _, v := range vs {
			bw.WriteString(k)
			bw.WriteString(": ")
			if strings.ContainsAny(v, "\r\n") {
				v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
			}
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
}

// headerHasToken reports whether a comma-separated header of h lists
// token, in any case.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h[name] {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// httpDate is the Date header's value now, formatted at most once a
// second.
func httpDate() string {
	now := time.Now()
	sec := now.Unix()
	if d := cachedDate.Load(); d != nil && d.sec == sec {
		return d.text
	}
	d := &dateText{sec: sec, text: now.UTC().Format(http.TimeFormat)}
	cachedDate.Store(d)
	return d.text
}

type dateText struct {
	sec  int64
	text string
}

var cachedDate atomic.Pointer[dateText]
