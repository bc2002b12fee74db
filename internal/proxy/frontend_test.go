package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// dialRaw opens a TCP connection to addr, closed with the test.
func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawResponse reads one response from br, with its body, within 10 s.
func rawResponse(t *testing.T, c net.Conn, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the response body: %v", err)
	}
	resp.Body.Close()
	return resp, string(body)
}

// closedWithin reports whether the peer closes c within d, draining
// whatever it sends first.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// healthyHarness is a harness whose group has the given backends, all
// healthy.
func healthyHarness(t *testing.T, idle time.Duration, addrs ...string) *harness {
	t.Helper()
	h := newHarness(t, testGroup(), idle)
	h.register(addrs...)
	return h
}

func listenerAddr(h *harness) string { return h.b.ListenerAddrs()[0] }

func TestFrontEnd_HeaderLimits(t *testing.T) {
	bk := newBackend(t, "a")
	h := healthyHarness(t, 0, bk.addr)
	for _, c := range []struct {
		name string
		head string
		want int
	}{
		{"request line over 16 KiB", "GET /" + strings.Repeat("a", 17<<10) + " HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusRequestURITooLong},
		{"header over 16 KiB", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 17<<10) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge},
		{"headers over 64 KiB", "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-Part: "+strings.Repeat("c", 4<<10)+"\r\n", 17) + "\r\n", http.StatusRequestHeaderFieldsTooLarge},
		{"8 KiB header", "GET / HTTP/1.1\r\nHost: x\r\nX-Fine: " + strings.Repeat("d", 8<<10) + "\r\n\r\n", http.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn := dialRaw(t, listenerAddr(h))
			go io.WriteString(conn, c.head) // may fail once the answer came
			resp, _ := rawResponse(t, conn, bufio.NewReader(conn), http.MethodGet)
			if resp.StatusCode != c.want {
				t.Errorf("status: got %d, want %d", resp.StatusCode, c.want)
			}
			if c.want != http.StatusOK && !resp.Close {
				t.Errorf("the connection stays open after %d", c.want)
			}
		})
	}
}

func TestFrontEnd_HeaderReadTimeout(t *testing.T) {
	bk := newBackend(t, "a")
	h := healthyHarness(t, 0, bk.addr)
	cfg := singleListener("api", testGroup(), 0)
	cfg.Listeners[0].HeaderReadTimeout = 300 * time.Millisecond
	if err := h.b.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	conn := dialRaw(t, listenerAddr(h))
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n") // and never the end
	start := time.Now()
	resp, _ := rawResponse(t, conn, bufio.NewReader(conn), http.MethodGet)
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("status: got %d, want 408", resp.StatusCode)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("answered after %v, want about the 300 ms header read timeout", took)
	}
	t.Logf("slow head closed after %v", time.Since(start).Round(time.Millisecond))
}

// rawTarget is a target that answers every request with fn, on raw
// connections, and a health check on /health with 200.
func rawTarget(t *testing.T, fn func(c net.Conn, br *bufio.Reader, r *http.Request)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					r, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					if r.URL.Path == "/health" {
						io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
						continue
					}
					fn(c, br, r)
				}
			})
		}
	})
	return l.Addr().String()
}

func TestFrontEnd_StalledTargetBody(t *testing.T) {
	stall := make(chan struct{})
	addr := rawTarget(t, func(c net.Conn, _ *bufio.Reader, _ *http.Request) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nfirst bytes")
		<-stall
	})
	t.Cleanup(func() { close(stall) }) // before rawTarget's, which waits for this handler
	const idle = time.Second
	h := healthyHarness(t, idle, addr)
	conn := dialRaw(t, listenerAddr(h))
	io.WriteString(conn, "GET /stall HTTP/1.1\r\nHost: x\r\n\r\n")
	start := time.Now()
	if !closedWithin(conn, 10*time.Second) {
		t.Fatal("the client's connection stays open after its target stalled")
	}
	took := time.Since(start)
	t.Logf("client connection closed %v after the request (idle timeout %v)", took.Round(time.Millisecond), idle)
	if took < idle || took > 3*idle {
		t.Errorf("closed after %v, want about the idle timeout %v", took, idle)
	}
	waitFor(t, "no request in flight on the target", func() bool {
		th, _ := h.target(addr)
		return th.InFlight == 0
	})
}

func TestFrontEnd_SlowSteadyUpload(t *testing.T) {
	addr := rawTarget(t, func(c net.Conn, _ *bufio.Reader, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		body := strconv.FormatInt(n, 10)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	})
	const idle = time.Second
	h := healthyHarness(t, idle, addr)
	pr, pw := io.Pipe()
	go func() {
		chunk := bytes.Repeat([]byte("u"), 1<<10)
		for range 25 { // 2.5 s, more than twice the idle timeout
			if _, err := pw.Write(chunk); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond) // the upload's pace, not a wait for anything
		}
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, h.base+"/upload", pr)
	req.ContentLength = 25 << 10
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != strconv.Itoa(25<<10) {
		t.Errorf("slow upload: got %d %q, want 200 %d", resp.StatusCode, body, 25<<10)
	}
}

func TestFrontEnd_RefusedTargetRetriedElsewhere(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	deadAddr := dead.Listener.Addr().String()
	h := healthyHarness(t, 0, a.addr, b.addr, deadAddr)
	dead.Close() // healthy until its next check, but refusing connections
	got := h.countBodies(30)
	if got["a"]+got["b"] != 30 {
		t.Errorf("answers: got %v, want all 30 from a and b", got)
	}
	// Out of rotation at once: one request tried it, and its state is
	// left to the health checks.
	th, _ := h.target(deadAddr)
	if th.Requests != 1 || th.State != StateHealthy || th.Reason != ReasonRefusedConnection {
		t.Errorf("refusing target: %d requests, state %s (%s); want 1 request, and healthy with reason %s until its checks fail",
			th.Requests, th.State, th.Reason, ReasonRefusedConnection)
	}
	// A passing check brings it back: here it keeps refusing, and its
	// checks turn it unhealthy.
	h.tick(3)
	h.tick(3)
	h.waitState(deadAddr, StateUnhealthy)
}

func TestFrontEnd_InitialTargetsGetNoTraffic(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	addr := refusedAddr(t)
	h.registerOnly(addr)
	h.settle(1) // its first check failed: still initial, below the threshold
	if th, _ := h.target(addr); th.State != StateInitial {
		t.Fatalf("target: got %s, want initial", th.State)
	}
	if code, _ := h.mustGet("/"); code != http.StatusServiceUnavailable {
		t.Errorf("with only an initial target: got %d, want 503", code)
	}
	h.tick(1)
	h.waitState(addr, StateUnhealthy)
	// Failing open to the unhealthy target, which refuses: no other
	// target to retry on.
	if code, _ := h.mustGet("/"); code != http.StatusBadGateway {
		t.Errorf("failing open to a refusing target: got %d, want 502", code)
	}
}

func TestFrontEnd_TargetClosingKeptConnections(t *testing.T) {
	// The target closes each connection after its answer without saying
	// so, as one whose keep-alive timeout just ran out: every request
	// must still succeed.
	addr := rawTarget(t, func(c net.Conn, _ *bufio.Reader, r *http.Request) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		c.(*net.TCPConn).CloseWrite()
		c.Close()
	})
	h := healthyHarness(t, 0, addr)
	for i := range 50 {
		if code, body := h.mustGet("/"); code != http.StatusOK || body != "ok" {
			t.Fatalf("request %d: got %d %q, want 200 ok", i, code, body)
		}
	}
}

func TestFrontEnd_GateShedsPendingConnections(t *testing.T) {
	bk := newBackend(t, "a")
	b := New(Options{MaxClientConns: 4})
	t.Cleanup(func() { b.Close(context.Background()) })
	cfg := singleListener("api", testGroup(), 0)
	if err := b.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if err := b.Register("api", bk.addr); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a healthy target", func() bool {
		ts := b.Targets()
		return len(ts) == 1 && ts[0].State == StateHealthy
	})
	addr := b.ListenerAddrs()[0]
	silent := make([]net.Conn, 4)
	for i := range silent {
		silent[i] = dialRaw(t, addr)
	}
	waitFor(t, "4 connections open", func() bool { return b.ConnectionCounts()["web"].Active == 4 })
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("a client sending its request at once: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status: got %d, want 200", resp.StatusCode)
	}
	if !closedWithin(silent[0], 5*time.Second) {
		t.Error("the oldest silent connection is still open")
	}
	if n := b.ConnectionCounts()["web"].Rejected; n != 1 {
		t.Errorf("RejectedConnectionCount: got %d, want 1", n)
	}
}

func TestFrontEnd_HopByHopAndTrace(t *testing.T) {
	seen := make(chan http.Header, 1)
	addr := rawTarget(t, func(c net.Conn, _ *bufio.Reader, r *http.Request) {
		seen <- r.Header
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: X-Resp-Secret\r\nX-Resp-Secret: 1\r\nKeep-Alive: timeout=5\r\nX-Kept: yes\r\n\r\nok")
	})
	h := healthyHarness(t, 0, addr)
	req, _ := http.NewRequest(http.MethodGet, h.base+"/", nil)
	req.Header.Set("Connection", "X-Secret")
	req.Header.Set("X-Secret", "1")
	req.Header.Set("Keep-Alive", "300")
	req.Header.Set("X-Amzn-Trace-Id", "Root=1-67891233-abcdef012345678912345678;CalledFrom=app")
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := <-seen
	for _, k := range []string{"X-Secret", "Keep-Alive"} {
		if got.Get(k) != "" {
			t.Errorf("the target got hop-by-hop header %s", k)
		}
	}
	trace := got.Get("X-Amzn-Trace-Id")
	if !strings.HasPrefix(trace, "Self=1-") || !strings.HasSuffix(trace, ";Root=1-67891233-abcdef012345678912345678;CalledFrom=app") {
		t.Errorf("X-Amzn-Trace-Id: got %q, want Self=… inserted before the client's fields", trace)
	}
	for _, k := range []string{"X-Resp-Secret", "Keep-Alive"} {
		if resp.Header.Get(k) != "" {
			t.Errorf("the client got hop-by-hop header %s", k)
		}
	}
	if resp.Header.Get("X-Kept") != "yes" {
		t.Errorf("the client did not get X-Kept")
	}
}

func TestFrontEnd_ExpectContinue(t *testing.T) {
	seen := make(chan http.Header, 1)
	addr := rawTarget(t, func(c net.Conn, _ *bufio.Reader, r *http.Request) {
		seen <- r.Header
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(strconv.FormatInt(n, 10)), strconv.FormatInt(n, 10))
	})
	h := healthyHarness(t, 0, addr)
	conn := dialRaw(t, listenerAddr(h))
	br := bufio.NewReader(conn)
	io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("first answer line: got %q (%v), want 100 Continue", line, err)
	}
	br.ReadString('\n') // the empty line after it
	io.WriteString(conn, "hello")
	resp, body := rawResponse(t, conn, br, http.MethodPost)
	if resp.StatusCode != http.StatusOK || body != "5" {
		t.Errorf("got %d %q, want 200 5", resp.StatusCode, body)
	}
	if got := <-seen; got.Get("Expect") != "" {
		t.Errorf("the target got Expect: %q", got.Get("Expect"))
	}
}

func TestFrontEnd_PipelinedAndHTTP10(t *testing.T) {
	bk := newBackend(t, "a")
	h := healthyHarness(t, 0, bk.addr)
	conn := dialRaw(t, listenerAddr(h))
	br := bufio.NewReader(conn)
	io.WriteString(conn, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
	for i := range 2 {
		if resp, body := rawResponse(t, conn, br, http.MethodGet); resp.StatusCode != http.StatusOK || body != "a" {
			t.Errorf("pipelined answer %d: got %d %q", i, resp.StatusCode, body)
		}
	}
	conn10 := dialRaw(t, listenerAddr(h))
	io.WriteString(conn10, "GET / HTTP/1.0\r\n\r\n")
	resp, body := rawResponse(t, conn10, bufio.NewReader(conn10), http.MethodGet)
	if resp.StatusCode != http.StatusOK || body != "a" || !resp.Close {
		t.Errorf("HTTP/1.0: got %d %q close=%v, want 200 a and the connection closed", resp.StatusCode, body, resp.Close)
	}
}

func TestFrontEnd_ChunkedBodies(t *testing.T) {
	addr := rawTarget(t, func(c net.Conn, _ *bufio.Reader, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(b), b)
	})
	h := healthyHarness(t, 0, addr)
	conn := dialRaw(t, listenerAddr(h))
	br := bufio.NewReader(conn)
	io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
	if resp, body := rawResponse(t, conn, br, http.MethodPost); resp.StatusCode != http.StatusOK || body != "abcde" {
		t.Errorf("chunked upload: got %d %q, want 200 abcde", resp.StatusCode, body)
	}
	io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")
	resp, _ := rawResponse(t, conn, br, http.MethodPost)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("malformed chunk size: got %d, want 400", resp.StatusCode)
	}
}

func TestFrontEnd_MaxRequestBody(t *testing.T) {
	var hits atomic.Int64
	addr := rawTarget(t, func(c net.Conn, _ *bufio.Reader, r *http.Request) {
		hits.Add(1)
		n, _ := io.Copy(io.Discard, r.Body)
		body := strconv.FormatInt(n, 10)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	})
	h := healthyHarness(t, 0, addr)
	cfg := singleListener("api", testGroup(), 0)
	cfg.Listeners[0].MaxRequestBody = 1000
	if err := h.b.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	post := func(body string, chunked bool) int {
		t.Helper()
		conn := dialRaw(t, listenerAddr(h))
		framing := "Content-Length: " + strconv.Itoa(len(body))
		if chunked {
			framing = "Transfer-Encoding: chunked"
			body = fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body)
		}
		go io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\n"+framing+"\r\n\r\n"+body)
		resp, _ := rawResponse(t, conn, bufio.NewReader(conn), http.MethodPost)
		return resp.StatusCode
	}
	if got := post(strings.Repeat("a", 500), false); got != http.StatusOK {
		t.Errorf("500 bytes: got %d, want 200", got)
	}
	before := hits.Load()
	if got := post(strings.Repeat("a", 2000), false); got != http.StatusRequestEntityTooLarge {
		t.Errorf("Content-Length 2000: got %d, want 413", got)
	}
	if hits.Load() != before {
		t.Errorf("a body announced too large reached the target")
	}
	if got := post(strings.Repeat("a", 2000), true); got != http.StatusRequestEntityTooLarge {
		t.Errorf("2000 bytes chunked: got %d, want 413", got)
	}
}

func TestFrontEnd_HeadKeepsTheTargetsLength(t *testing.T) {
	addr := rawTarget(t, func(c net.Conn, _ *bufio.Reader, r *http.Request) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n") // a HEAD answer: no body
	})
	h := healthyHarness(t, 0, addr)
	conn := dialRaw(t, listenerAddr(h))
	br := bufio.NewReader(conn)
	for range 2 { // and the connection stays usable
		io.WriteString(conn, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, _ := rawResponse(t, conn, br, http.MethodHead)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Length") != "1234" {
			t.Fatalf("HEAD: got %d, Content-Length %q; want 200, 1234", resp.StatusCode, resp.Header.Get("Content-Length"))
		}
	}
}

// TestFrontEnd_RefusingTargetComesBack: a target that refused one
// connection (a restart of its listener) is back in rotation, its reason
// cleared, at its next passing check.
func TestFrontEnd_RefusingTargetComesBack(t *testing.T) {
	a := newBackend(t, "a")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "b") })}
	go srv.Serve(l)
	h := healthyHarness(t, 0, a.addr, addr)
	srv.Close() // refuses from now on
	h.countBodies(4)
	if th, _ := h.target(addr); th.Reason != ReasonRefusedConnection {
		t.Fatalf("after a refusal: reason %q, want %s", th.Reason, ReasonRefusedConnection)
	}
	l2, err := net.Listen("tcp", addr) // listening again, on the same port
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	srv2 := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "b") })}
	go srv2.Serve(l2)
	t.Cleanup(func() { srv2.Close() })
	h.tick(2)
	if th, _ := h.target(addr); th.Reason != "" || th.State != StateHealthy {
		t.Fatalf("after a passing check: %s (%s), want healthy with no reason", th.State, th.Reason)
	}
	if got := h.countBodies(10); got["b"] == 0 {
		t.Errorf("answers %v: the target did not come back into rotation", got)
	}
}
