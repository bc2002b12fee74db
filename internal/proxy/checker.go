package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
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
			DialContext:        dial,
			DisableKeepAlives:  true,
			DisableCompression: true,
		},
		// ALB does not follow redirects: a 301 is judged by the matcher.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (c *checkClient) close() { c.client.CloseIdleConnections() }

// check runs one health check of addr and classifies its outcome. The
// timeout is real time, not the injected clock: it bounds real I/O.
func (c *checkClient) check(ctx context.Context, addr string, s *groupSettings) checkResult {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, checkURL(addr, s), nil)
	if err != nil {
		return checkFailed()
	}
	req.Header.Set("User-Agent", healthCheckUserAgent)
	resp, err := c.client.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxCheckBody))
		resp.Body.Close()
	}
	switch {
	case err != nil && (errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err)):
		return checkTimedOut()
	case err != nil:
		return checkFailed()
	case !s.matcher.Match(resp.StatusCode):
		return checkCodeMismatch(resp.StatusCode)
	}
	return checkPassed()
}

// checkURL is the URL a health check of addr requests.
func checkURL(addr string, s *groupSettings) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr + s.path
	}
	if s.port != 0 {
		port = strconv.Itoa(s.port)
	}
	return "http://" + net.JoinHostPort(host, port) + s.path
}

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
		r := c.g.checks.check(ctx, c.t.addr, s)
		if ctx.Err() != nil {
			return
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
