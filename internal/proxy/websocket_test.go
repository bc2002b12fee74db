package proxy

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"
)

// A minimal WebSocket (RFC 6455): the opening handshake and unfragmented
// frames of up to 64 KiB, enough to see one message go each way.

const (
	wsText  = 0x1
	wsClose = 0x8
)

// wsAccept is the Sec-WebSocket-Accept answering key.
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wsWrite writes one final frame; a client masks it, a server does not.
func wsWrite(w io.Writer, opcode byte, payload []byte, mask bool) error {
	hdr := []byte{0x80 | opcode, 0}
	switch n := len(payload); {
	case n < 126:
		hdr[1] = byte(n)
	default:
		hdr[1] = 126
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
	}
	body := payload
	if mask {
		hdr[1] |= 0x80
		var key [4]byte
		rand.Read(key[:])
		hdr = append(hdr, key[:]...)
		body = make([]byte, len(payload))
		for i, b := range payload {
			body[i] = b ^ key[i%4]
		}
	}
	_, err := w.Write(append(hdr, body...))
	return err
}

// wsRead reads one frame, unmasking it.
func wsRead(r io.Reader) (opcode byte, payload []byte, err error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(hdr[1] & 0x7f)
	if n == 126 {
		var ext [2]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return 0, nil, err
		}
		n = int(binary.BigEndian.Uint16(ext[:]))
	}
	var key [4]byte
	masked := hdr[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return 0, nil, err
		}
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return hdr[0] & 0x0f, payload, nil
}

// newEchoWebSocketBackend starts a backend whose /ws is a WebSocket that
// echoes each text message prefixed with the backend's name; other paths
// answer 200. It returns the backend's address.
func newEchoWebSocketBackend(t *testing.T, name string) string {
	t.Helper()
	return newBackendServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ws" {
			return
		}
		if r.Header.Get("Upgrade") != "websocket" || r.Header.Get("Sec-WebSocket-Version") != "13" {
			http.Error(w, "not a WebSocket handshake", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			wsAccept(r.Header.Get("Sec-WebSocket-Key")))
		brw.Flush()
		for {
			op, msg, err := wsRead(brw)
			if err != nil || op == wsClose {
				return
			}
			if err := wsWrite(conn, wsText, append([]byte(name+": "), msg...), false); err != nil {
				return
			}
		}
	}), false)
}

// wsConn is the client end of a WebSocket.
type wsConn struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

// dialWebSocket opens a WebSocket to path through the connection conn
// (plain or TLS) to a listener.
func dialWebSocket(t *testing.T, conn net.Conn, host, path string) *wsConn {
	t.Helper()
	t.Cleanup(func() { conn.Close() })
	var nonce [16]byte
	rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req, _ := http.NewRequest(http.MethodGet, "http://"+host+path, nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", key)
	req.Header.Set("Sec-WebSocket-Version", "13")
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		t.Fatalf("WebSocket handshake: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("WebSocket handshake: got %d %q (accept %q), want 101 (accept %q)",
			resp.StatusCode, body, resp.Header.Get("Sec-WebSocket-Accept"), wsAccept(key))
	}
	return &wsConn{t: t, conn: conn, br: br}
}

// echo sends msg and returns the answer.
func (c *wsConn) echo(msg string) (string, error) {
	c.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := wsWrite(c.conn, wsText, []byte(msg), true); err != nil {
		return "", err
	}
	_, got, err := wsRead(c.br)
	return string(got), err
}

func (c *wsConn) mustEcho(msg, want string) {
	c.t.Helper()
	got, err := c.echo(msg)
	if err != nil || got != want {
		c.t.Fatalf("echo %q: got %q, %v; want %q", msg, got, err, want)
	}
}

// closedWithin waits up to d for the balancer to close the connection.
func (c *wsConn) closedWithin(d time.Duration) error {
	c.conn.SetReadDeadline(time.Now().Add(d))
	_, _, err := wsRead(c.br)
	switch {
	case err == nil:
		return errors.New("got a frame, want the connection closed")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return nil
	case isTimeout(err):
		return fmt.Errorf("still open after %v", d)
	}
	return nil // reset by peer
}

func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func TestWebSocket_StaysOpenAcrossApply(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	addr := refusedAddr(t) // a fixed port, so that Apply keeps the listener
	apply := func(idle time.Duration) {
		t.Helper()
		cfg := singleListener("api", testGroup(), idle)
		cfg.Listeners[0].Address = addr
		cfg.TargetGroups["other"] = testGroup()
		if err := h.b.Apply(context.Background(), cfg); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}
	apply(0)
	h.register(newEchoWebSocketBackend(t, "ws1"))
	ws := dialWebSocket(t, dialTCP(t, addr), "shop.example", "/ws")
	ws.mustEcho("one", "ws1: one")

	apply(2 * time.Minute) // the same listener, a new routing table
	ws.mustEcho("two", "ws1: two")
	h.base = "http://" + addr
	if code, _ := h.mustGet("/"); code != http.StatusOK {
		t.Errorf("GET after Apply: got %d, want 200", code)
	}
	ws.mustEcho("three", "ws1: three")
	if th := h.b.Targets()[0]; th.InFlight != 1 {
		t.Errorf("in flight: got %d, want 1 (the WebSocket)", th.InFlight)
	}
}

func TestWebSocket_IdleTimeoutClosesOnlyASilentConnection(t *testing.T) {
	const idle = 300 * time.Millisecond
	h := newHarness(t, testGroup(), idle)
	h.register(newEchoWebSocketBackend(t, "ws1"))
	ws := dialWebSocket(t, dialTCP(t, h.b.ListenerAddrs()[0]), "shop.example", "/ws")

	// Data every third of the idle timeout, for several idle timeouts.
	for i := range 10 {
		if i > 0 {
			time.Sleep(idle / 3)
		}
		ws.mustEcho(fmt.Sprint(i), fmt.Sprintf("ws1: %d", i))
	}
	// Then silence: closed after the idle timeout, not before.
	silent := time.Now()
	if err := ws.closedWithin(10 * idle); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(silent); d < idle-idle/10 {
		t.Errorf("closed after %v of silence, want at least the idle timeout %v", d, idle)
	}
	waitFor(t, "the WebSocket to end in flight", func() bool { return h.b.Targets()[0].InFlight == 0 })
}

func TestWebSocket_DrainEndsAtDeregistrationDelay(t *testing.T) {
	tg := testGroup()
	h := newHarness(t, tg, 0)
	target := newEchoWebSocketBackend(t, "ws1")
	h.register(target)
	ws := dialWebSocket(t, dialTCP(t, h.b.ListenerAddrs()[0]), "shop.example", "/ws")
	ws.mustEcho("before", "ws1: before")

	done := make(chan error, 1)
	go func() { done <- h.b.Deregister(context.Background(), "api", target) }()
	h.waitState(target, StateDraining)
	// Draining: no new requests, but the open WebSocket carries on.
	ws.mustEcho("draining", "ws1: draining")
	select {
	case err := <-done:
		t.Fatalf("Deregister returned %v with the WebSocket open, want it to wait", err)
	default:
	}

	waitFor(t, "the drain's deadline timer", func() bool { return h.clock.Timers() > 0 })
	h.clock.Advance(tg.DeregistrationDelay)
	if err := <-done; err != nil {
		t.Fatalf("Deregister: %v", err)
	}
	if err := ws.closedWithin(5 * time.Second); err != nil {
		t.Errorf("WebSocket once its target is unused: %v", err)
	}
}

func TestWebSocket_OverHTTPSWithHTTP1ALPN(t *testing.T) {
	cert := newTestCert(t, certOpts{}, "chat.example.com")
	h := newHTTPSHarness(t, testGroup(), h2AndH1, cert)
	h.register(newEchoWebSocketBackend(t, "ws1"))
	addr := h.b.ListenerAddrs()[0]

	// A browser opens wss:// on a connection of its own offering
	// http/1.1 only: ALB and shoal do not offer WebSockets over HTTP/2
	// (RFC 8441), so an h2 connection cannot carry one.
	conn, err := tls.Dial("tcp", addr, &tls.Config{
		ServerName: "chat.example.com", RootCAs: poolOf(cert), NextProtos: []string{"http/1.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p := conn.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Fatalf("ALPN: got %q, want http/1.1", p)
	}
	ws := dialWebSocket(t, conn, "chat.example.com", "/ws")
	ws.mustEcho("secure", "ws1: secure")

	// The same listener still gives HTTP/2 to a client that offers it.
	resp, err := h.client.Get(h.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("plain request: got HTTP/%d, want HTTP/2", resp.ProtoMajor)
	}
}

func TestWebSocket_CloseEndsIt(t *testing.T) {
	target := newEchoWebSocketBackend(t, "ws1")
	base := runtime.NumGoroutine()
	b := New(Options{})
	if err := b.Apply(context.Background(), singleListener("api", testGroup(), 0)); err != nil {
		t.Fatal(err)
	}
	if err := b.Register("api", target); err != nil {
		t.Fatal(err)
	}
	settleTargets(t, b)
	conn := dialTCP(t, b.ListenerAddrs()[0])
	ws := dialWebSocket(t, conn, "shop.example", "/ws")
	ws.mustEcho("hi", "ws1: hi")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := ws.closedWithin(5 * time.Second); err != nil {
		t.Errorf("WebSocket after Close: %v", err)
	}
	conn.Close()
	checkNoLeak(t, base)
}
