package proxy

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// newDyingBackend is a target that passes its health checks but resets
// every other request's connection without answering, as a target dying
// while the request reaches it.
func newDyingBackend(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		conn.(*net.TCPConn).SetLinger(0) // close sends RST
		conn.Close()
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// TestForward_SafeRequestLostBeforeAnswerGoesToAnotherTarget: a GET whose
// connection is reset before any answer is sent once to another target,
// as nginx's proxy_next_upstream does; a POST, which the dying target may
// have acted on, is answered 502.
func TestForward_SafeRequestLostBeforeAnswerGoesToAnotherTarget(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	good := newBackend(t, "good")
	h.register(good.addr, newDyingBackend(t))
	for i := range 10 {
		if code, body := h.mustGet("/die"); code != http.StatusOK || body != "good" {
			t.Fatalf("GET %d: %d %q, want 200 from the other target", i, code, body)
		}
	}
	posts502 := 0
	for i := range 10 {
		resp, err := h.client.Post(h.base+"/die", "text/plain", strings.NewReader("order"))
		if err != nil {
			t.Fatalf("POST %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusBadGateway {
			posts502++
		}
	}
	if posts502 == 0 {
		t.Error("no POST got 502: a request with a body was sent again to another target")
	}
}
