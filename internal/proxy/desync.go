package proxy

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/shoalhq/shoal/internal/httpwire"
)

// Desync mitigation modes, as ALB's routing.http.desync_mitigation_mode.
const (
	DesyncMonitor   = "monitor"
	DesyncDefensive = "defensive"
	DesyncStrictest = "strictest"
)

// Defaults of the client-side timeouts.
const (
	defaultHeaderReadTimeout = 10 * time.Second
	defaultClientKeepAlive   = 3600 * time.Second
)

// desyncMode is a listener's desync mitigation mode.
type desyncMode uint8

const (
	desyncDefensive desyncMode = iota
	desyncMonitor
	desyncStrictest
)

func parseDesyncMode(s string) desyncMode {
	switch s {
	case DesyncMonitor:
		return desyncMonitor
	case DesyncStrictest:
		return desyncStrictest
	}
	return desyncDefensive
}

// decide is what the mode does with a request of class c, as ALB's table:
//
//	class       monitor   defensive        strictest
//	compliant   forward   forward          forward
//	acceptable  forward   forward          400
//	ambiguous   forward   forward, close   400
//	severe      forward   400              400
//
// "close" closes the connections to the client and to the target after
// the answer. Strictest lets through only requests that comply with RFC
// 7230, as ALB's documentation says of it. shoal also closes the
// connections after a severe request it forwards in monitor mode: RFC 9112
// §6.1 requires it for a request framed by both Content-Length and
// Transfer-Encoding. Whatever the class, a request goes out re-framed by
// shoal, never as the client sent it.
func (m desyncMode) decide(c httpwire.Class) (refuse, closeAfter bool) {
	switch {
	case c == httpwire.Compliant:
		return false, false
	case m == desyncStrictest:
		return true, true
	case c == httpwire.Acceptable:
		return false, false
	case m == desyncDefensive && c == httpwire.Severe:
		return true, true
	case m == desyncMonitor && c == httpwire.Ambiguous:
		return false, false
	}
	return false, true
}

// errBodyTooLarge is the error of a request body read past the load
// balancer's max_request_body.
var errBodyTooLarge = errors.New("request body larger than the load balancer's max_request_body")

// capBody returns a shallow copy of r whose body fails with
// errBodyTooLarge past max bytes (r itself keeps its body: the front end
// drops the rest of it after the answer).
func capBody(r *http.Request, max int64) *http.Request {
	c := *r
	c.Body = &cappedBody{ReadCloser: r.Body, left: max}
	return &c
}

// cappedBody is a request body limited to left more bytes.
type cappedBody struct {
	io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one byte past the limit tells it is exceeded
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n + int(b.left), errBodyTooLarge
	}
	return n, err
}
