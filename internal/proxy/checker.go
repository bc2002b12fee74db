package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// healthCheckUserAgent is what ALB health checks send.
const healthCheckUserAgent = "ELB-HealthChecker/2.0"

// maxCheckBody is how much of a health check answer is read.
const maxCheckBody = 64 << 10

// checkClient makes the health check requests of one target group. Every
// check opens a new connection, so a check says whether the target takes
// connections now, and nothing is left idle to clean up.
type checkClient struct {
	client *http.Client
}

func newCheckClient(dial DialFunc) *checkClient {
	return &checkClient{client: &http.Client{
		Transport: &http.Transport{
			Proxy:              nil,
			DialContext:        noticeReads(dial),
			DisableKeepAlives:  true,
			DisableCompression: true,
			// As ALB, the certificates of https targets are not checked.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		},
		// ALB does not follow redirects: a 301 is judged by the matcher.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (c *checkClient) close() { c.client.CloseIdleConnections() }

// check runs one health check of addr and classifies its outcome. The
// timeout is real time, not the injected clock: it bounds real I/O.
func (c *checkClient) check(ctx context.Context, addr string, s *groupSettings) checkResult {
	p := newProbe(addr, s)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	// What the connection got to, to tell a failure's cause: connected, and
	// whether the target sent anything back.
	var connected, answered atomic.Bool
	ctx = context.WithValue(ctx, readFlagKey{}, &answered) // bytes came back, even before the request went
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn:              func(httptrace.GotConnInfo) { connected.Store(true) },
		GotFirstResponseByte: func() { answered.Store(true) },
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url(), nil)
	if err != nil {
		return p.failDetail(causeOther, err.Error())
	}
	req.Header.Set("User-Agent", healthCheckUserAgent)
	resp, err := c.client.Do(req)
	if err != nil {
		// No response: the answer, if any came, was not one.
		return p.classify(ctx, err, answered.Load(), connected.Load())
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxCheckBody))
	resp.Body.Close()
	switch {
	case err != nil:
		// An HTTP answer cut short.
		return p.classify(ctx, err, false, true)
	case !s.matcher.Match(resp.StatusCode):
		return p.codeMismatch(resp.StatusCode)
	}
	return checkPassed()
}

// readFlagKey is the context key of the flag a check's connection sets
// once the target sent it anything. A target that speaks first (an SSH or
// SMTP banner) is seen by net/http as an unsolicited answer on an idle
// connection, without a response or a trace event: only the connection
// itself can tell.
type readFlagKey struct{}

// noticeReads wraps dial so that a connection made for a request whose
// context carries a read flag sets it on its first byte read.
func noticeReads(dial DialFunc) DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if flag, ok := ctx.Value(readFlagKey{}).(*atomic.Bool); ok && err == nil {
			c = &flaggingConn{Conn: c, read: flag}
		}
		return c, err
	}
}

// flaggingConn sets read once anything was read from it.
type flaggingConn struct {
	net.Conn
	read *atomic.Bool
}

func (c *flaggingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.read.Store(true)
	}
	return n, err
}

// classify makes the result of a check of p that failed with err. notHTTP
// is whether the target sent back something that did not make an HTTP
// response; connected whether the connection was made.
func (p probe) classify(ctx context.Context, err error, notHTTP, connected bool) checkResult {
	switch {
	case isResourceError(err):
		return p.failDetail(causeInternal, errDetail(err))
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err):
		return p.fail(causeTimeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return p.fail(causeRefused)
	case notHTTP:
		// Whatever error parsing it gave (net/http's are untyped), or the
		// target closing the connection after it.
		return p.fail(causeNotHTTP)
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return p.fail(causeClosed)
	case !connected:
		return p.failDetail(causeConnect, errDetail(err))
	}
	return p.failDetail(causeOther, errDetail(err))
}

// isResourceError reports whether err is this process running out of a
// resource (file descriptors, memory, buffers) rather than anything the
// target did.
func isResourceError(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

// errDetail is what err says went wrong, without the request or the
// addresses around it: the system's words when it has them.
func errDetail(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err.Error()
	}
	return err.Error()
}

// newProbe is the health check of addr that s asks for.
func newProbe(addr string, s *groupSettings) probe {
	p := probe{scheme: "http", addr: addr, path: s.path, timeout: s.timeout}
	if s.upstream.tls {
		p.scheme = "https"
	}
	if host, _, err := net.SplitHostPort(addr); err == nil && s.port != 0 {
		p.addr, p.port = net.JoinHostPort(host, strconv.Itoa(s.port)), s.port
	}
	return p
}

// url is the URL the check requests.
func (p probe) url() string { return p.scheme + "://" + p.addr + p.path }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// checker runs the health checks of one target on its own goroutine, from
// registration until the target is deregistered or the group is dropped.
type checker struct {
	g *targetGroup
	t *target
}

// run checks at once, then every interval (timed by the injected clock),
// until ctx is done. The settings are read afresh for every check, so a
// changed health check applies from the next one.
func (c *checker) run(ctx context.Context) {
	c.g.checking(c.t)
	clk := c.g.d.clock
	for {
		s := c.g.settings.Load()
		start := clk.Now()
		var r checkResult
		if c.t.healthFault.Load() {
			r = newProbe(c.t.addr, s).failDetail(causeFault, faultHealthDetail)
		} else {
			r = c.g.checks.check(ctx, c.t.addr, s)
		}
		if ctx.Err() != nil {
			return
		}
		if r.cause == causeInternal {
			c.g.d.log.Warn("health check not made", "target_group", c.g.name, "target", c.t.addr,
				"reason", ReasonInternalError, "err", r.detail)
		}
		c.g.observe(c.t, r)
		if !c.wait(ctx, s.interval-clk.Now().Sub(start)) {
			return
		}
	}
}

// wait waits d on the injected clock; false when ctx is done first.
func (c *checker) wait(ctx context.Context, d time.Duration) bool {
	timer := c.g.d.clock.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C():
		return true
	}
}
