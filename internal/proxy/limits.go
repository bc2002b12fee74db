package proxy

import (
	"errors"
	"io"
	"net/http"
	"time"
)

// Defaults of the client-side timeouts.
const (
	defaultHeaderReadTimeout = 10 * time.Second
	defaultClientKeepAlive   = 3600 * time.Second
)

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
