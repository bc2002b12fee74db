package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/shoalhq/shoal/internal/httpwire"
	"github.com/shoalhq/shoal/internal/routing"
)

// AccessLogConfig is a listener's access log: a line per request, with the
// fields of ALB's access log in its order.
type AccessLogConfig struct {
	// Path is the file lines are appended to (absolute), or "-" for
	// Options.AccessLogStdout. Listeners logging to one path share its
	// writer.
	Path string
	// Format is "alb" ("" too): ALB's space-separated line; or "json": one
	// object a line, the same fields by ALB's names, every value a string.
	Format string
	// LoadBalancer is the load balancer's name, and ID its 16-hex-digit
	// id: the elb field is app/LoadBalancer/ID.
	LoadBalancer, ID string
}

// Access log formats.
const (
	FormatALB  = "alb"
	FormatJSON = "json"
)

// accessLogFields are the names of the access log's fields, in ALB's order,
// as its documentation names them; quoted are those ALB writes in double
// quotes.
var accessLogFields = [...]struct {
	name   string
	quoted bool
}{
	{"type", false}, {"time", false}, {"elb", false}, {"client:port", false}, {"target:port", false},
	{"request_processing_time", false}, {"target_processing_time", false}, {"response_processing_time", false},
	{"elb_status_code", false}, {"target_status_code", false}, {"received_bytes", false}, {"sent_bytes", false},
	{"request", true}, {"user_agent", true}, {"ssl_cipher", false}, {"ssl_protocol", false},
	{"target_group_arn", false}, {"trace_id", true}, {"domain_name", true}, {"chosen_cert_arn", true},
	{"matched_rule_priority", false}, {"request_creation_time", false}, {"actions_executed", true},
	{"redirect_url", true}, {"error_reason", true}, {"target:port_list", true}, {"target_status_code_list", true},
	{"classification", true}, {"classification_reason", true}, {"conn_trace_id", false},
}

// ALB's error reasons that shoal knows.
const (
	reasonConnection = "TargetConnectionErrorCode"
	reasonResponse   = "TargetResponseErrorCode"
	reasonTimeout    = "TargetResponseTimeout"
)

func (c *AccessLogConfig) validate() error {
	if c.Format != "" && c.Format != FormatALB && c.Format != FormatJSON {
		return fmt.Errorf("access log format %q: want %s or %s", c.Format, FormatALB, FormatJSON)
	}
	if c.Path == "" {
		return errors.New("access log without a path")
	}
	return nil
}

// logWriter is one access log destination, shared by the listeners
// logging to it. Lines go to a 64 KiB buffer under a mutex, always whole
// (the buffer is flushed before a line that does not fit), and the buffer
// is flushed every second and on close: a request waits on the disk only
// when the buffer is full, never for an fsync.
type logWriter struct {
	mu     sync.Mutex
	buf    *bufio.Writer
	dst    io.Writer
	file   *os.File // nil for standard output
	log    *slog.Logger
	failed bool // a write failed: logged once
	stop   chan struct{}
	done   chan struct{}
}

const (
	logBufferSize    = 64 << 10
	logFlushInterval = time.Second
)

// openLogWriter opens path for append ("-": stdout) and starts flushing
// it every second.
func openLogWriter(path string, stdout io.Writer, log *slog.Logger) (*logWriter, error) {
	lw := &logWriter{log: log.With("access_log", path), stop: make(chan struct{}), done: make(chan struct{})}
	out := stdout
	if path != "-" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("access log: %w", err)
		}
		lw.file, out = f, f
	}
	lw.dst, lw.buf = out, bufio.NewWriterSize(out, logBufferSize)
	go lw.run()
	return lw, nil
}

func (lw *logWriter) run() {
	defer close(lw.done)
	tick := time.NewTicker(logFlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			lw.flush()
		case <-lw.stop:
			return
		}
	}
}

// write adds one whole line (ending in a newline).
func (lw *logWriter) write(line []byte) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if len(line) > lw.buf.Available() && lw.buf.Buffered() > 0 {
		lw.flushLocked()
	}
	if _, err := lw.buf.Write(line); err != nil {
		lw.failedLocked(err)
	}
}

func (lw *logWriter) flush() {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	lw.flushLocked()
}

func (lw *logWriter) flushLocked() {
	if lw.buf.Buffered() == 0 {
		return
	}
	if err := lw.buf.Flush(); err != nil {
		lw.failedLocked(err)
		lw.buf.Reset(lw.dst) // drop what cannot be written, write what comes
	}
}

func (lw *logWriter) failedLocked(err error) {
	if !lw.failed {
		lw.failed = true
		lw.log.Warn("cannot write the access log", "err", err)
	}
}

// close flushes the lines left and closes the file.
func (lw *logWriter) close() {
	close(lw.stop)
	<-lw.done
	lw.mu.Lock()
	defer lw.mu.Unlock()
	lw.flushLocked()
	if lw.file != nil {
		lw.file.Close()
	}
}

// accessLog is a route's access log.
type accessLog struct {
	w    *logWriter
	json bool
	elb  string // app/NAME/ID
}

func newAccessLog(c *AccessLogConfig, writers map[string]*logWriter) *accessLog {
	if c == nil {
		return nil
	}
	return &accessLog{w: writers[c.Path], json: c.Format == FormatJSON, elb: "app/" + c.LoadBalancer + "/" + c.ID}
}

// logKey is the context key of a logged request's *logEntry.
type logKey struct{}

// logEntry is what the access log records of one request, filled in as it
// goes through the balancer. Times are monoTime values; 0 is not reached.
type logEntry struct {
	created   time.Time
	start     time.Duration
	received  int64
	priority  int // -1: no rule matched
	acted     bool
	action    routing.ActionType
	auth      bool
	group     string
	target    string
	sent      time.Duration
	answered  time.Duration
	targetSC  int
	trace     string
	redirect  string
	reason    string
	status    int
	headerLen int64
	bodyLen   int64
	// verdict is the front end's desync classification of the request.
	verdict httpwire.Verdict
}

// entryOf is the request's log entry, nil when its listener does not log.
func entryOf(r *http.Request) *logEntry {
	e, _ := r.Context().Value(logKey{}).(*logEntry)
	return e
}

// begin starts the entry of r, and returns the request and writer that
// record what happens to it.
func (al *accessLog) begin(w http.ResponseWriter, r *http.Request) (*logEntry, http.ResponseWriter, *http.Request) {
	e := &logEntry{created: time.Now(), start: monoTime(), received: requestHeaderLen(r), priority: -1}
	r = r.WithContext(context.WithValue(r.Context(), logKey{}, e))
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &countingBody{ReadCloser: r.Body, n: &e.received}
	}
	return e, &logRecorder{ResponseWriter: w, e: e}, r
}

// countingBody counts the bytes read of a request's body.
type countingBody struct {
	io.ReadCloser
	n *int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	*b.n += int64(n)
	return n, err
}

// logRecorder notes the status and size of the answer.
type logRecorder struct {
	http.ResponseWriter
	e *logEntry
}

func (lr *logRecorder) WriteHeader(code int) {
	if lr.e.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		lr.e.status = code
		lr.e.headerLen = responseHeaderLen(code, lr.Header())
	}
	lr.ResponseWriter.WriteHeader(code)
}

func (lr *logRecorder) Write(p []byte) (int, error) {
	if lr.e.status == 0 {
		lr.WriteHeader(http.StatusOK)
	}
	n, err := lr.ResponseWriter.Write(p)
	lr.e.bodyLen += int64(n)
	return n, err
}

func (lr *logRecorder) Flush() { http.NewResponseController(lr.ResponseWriter).Flush() }

func (lr *logRecorder) Unwrap() http.ResponseWriter { return lr.ResponseWriter }

// requestHeaderLen is the size of r's request line and headers, as HTTP/1.1
// would send them.
func requestHeaderLen(r *http.Request) int64 {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2 + len("Host: ") + len(r.Host) + 2 + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return int64(n)
}

func responseHeaderLen(code int, h http.Header) int64 {
	n := len("HTTP/1.1 200 ") + len(http.StatusText(code)) + 2 + 2
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return int64(n)
}

// targetError notes why a target did not serve the request.
func (e *logEntry) targetError(err error, status int) {
	switch {
	case status == http.StatusGatewayTimeout:
		e.reason = reasonTimeout
	case status == 0:
	case isDialError(err):
		e.reason = reasonConnection
	default:
		e.reason = reasonResponse
	}
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// finish writes the entry's line.
func (al *accessLog) finish(e *logEntry, r *http.Request, rt *route) {
	end := monoTime()
	var v [len(accessLogFields)]string
	typ := "http"
	switch {
	case e.targetSC == http.StatusSwitchingProtocols && r.TLS != nil:
		typ = "wss"
	case e.targetSC == http.StatusSwitchingProtocols:
		typ = "ws"
	case r.ProtoMajor == 2:
		typ = "h2"
	case r.TLS != nil:
		typ = "https"
	}
	status := e.status
	if status == 0 {
		status = 460 // the client closed the connection before an answer, as ALB
	}
	v[0] = typ
	v[1] = time.Now().UTC().Format(logTime)
	v[2] = al.elb
	v[3] = dash(r.RemoteAddr)
	v[4] = dash(e.target)
	v[5], v[6], v[7] = "-1", "-1", "-1"
	if e.sent != 0 && e.reason != reasonConnection {
		v[5] = seconds(e.sent - e.start)
	}
	if e.answered != 0 {
		v[6] = seconds(e.answered - e.sent)
		v[7] = seconds(end - e.answered)
	}
	v[8] = strconv.Itoa(status)
	v[9] = "-"
	if e.targetSC != 0 {
		v[9] = strconv.Itoa(e.targetSC)
	}
	v[10] = strconv.FormatInt(e.received, 10)
	v[11] = strconv.FormatInt(e.headerLen+e.bodyLen, 10)
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	v[12] = r.Method + " " + rt.scheme + "://" + net.JoinHostPort(host, rt.port) + r.URL.RequestURI() + " " + r.Proto
	v[13] = dash(r.UserAgent())
	v[14], v[15] = "-", "-"
	if r.TLS != nil {
		v[14] = dash(tls.CipherSuiteName(r.TLS.CipherSuite))
		v[15] = tlsVersionName(r.TLS.Version)
	}
	v[16] = dash(e.group)
	v[17] = dash(e.trace)
	if e.trace == "" {
		v[17] = dash(r.Header.Get(traceHeader))
	}
	v[18] = "-"
	if r.TLS != nil {
		v[18] = dash(r.TLS.ServerName)
	}
	v[19] = "-"
	v[20] = "-"
	if e.priority >= 0 {
		v[20] = strconv.Itoa(e.priority)
	}
	v[21] = e.created.UTC().Format(logTime)
	v[22] = e.actions()
	v[23] = dash(e.redirect)
	v[24] = dash(e.reason)
	v[25], v[26] = v[4], v[9]
	v[27], v[28], v[29] = "-", "-", "-"
	if e.verdict.Class != httpwire.Compliant {
		v[27], v[28] = e.verdict.Class.String(), dash(e.verdict.Reason)
	}
	al.write(&v)
}

const logTime = "2006-01-02T15:04:05.000000Z"

// actions is ALB's actions_executed: what the balancer did, in order.
func (e *logEntry) actions() string {
	var s string
	if e.auth {
		s = "authenticate"
	}
	if e.acted {
		name := "-"
		switch e.action {
		case routing.Forward:
			name = "forward"
		case routing.Redirect:
			name = "redirect"
		case routing.FixedResponse:
			name = "fixed-response"
		}
		if s != "" {
			s += ","
		}
		s += name
	}
	return dash(s)
}

func (al *accessLog) write(v *[len(accessLogFields)]string) {
	line := make([]byte, 0, 512)
	if al.json {
		line = append(line, '{')
		for i, f := range accessLogFields {
			if i > 0 {
				line = append(line, ',')
			}
			line = appendJSONString(line, f.name)
			line = append(line, ':')
			line = appendJSONString(line, v[i])
		}
		line = append(line, '}', '\n')
	} else {
		for i, f := range accessLogFields {
			if i > 0 {
				line = append(line, ' ')
			}
			if f.quoted {
				line = appendQuoted(line, v[i])
			} else {
				line = append(line, v[i]...)
			}
		}
		line = append(line, '\n')
	}
	al.w.write(line)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 6, 64) }

func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return "-"
}

// appendQuoted writes s in double quotes, as ALB's quoted fields: a double
// quote or backslash escaped with a backslash, control bytes as \xHH.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'x', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// appendJSONString writes s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', "0123456789abcdef"[r>>4], "0123456789abcdef"[r&15])
		default:
			b = utf8.AppendRune(b, r) // RuneError for invalid bytes
		}
	}
	return append(b, '"')
}
