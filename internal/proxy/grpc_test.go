package proxy

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// grpcFrame is a gRPC length-prefixed message: not compressed, 4 bytes of
// length (big endian), the message.
func grpcFrame(msg string) []byte {
	b := make([]byte, 5+len(msg))
	binary.BigEndian.PutUint32(b[1:5], uint32(len(msg)))
	copy(b[5:], msg)
	return b
}

// readGRPCFrame reads one length-prefixed message.
func readGRPCFrame(r io.Reader) (string, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return "", err
	}
	if hdr[0] != 0 {
		return "", fmt.Errorf("compressed flag %d, want 0", hdr[0])
	}
	msg := make([]byte, binary.BigEndian.Uint32(hdr[1:]))
	_, err := io.ReadFull(r, msg)
	return string(msg), err
}

// grpcGreeter is a unary gRPC method, /shop.Greeter/Hello, by hand: it
// answers "hello, <name>" with grpc-status 0, or, for the name "nobody",
// no message and grpc-status 5 (NOT_FOUND) with a grpc-message. It checks
// that the call came as gRPC over HTTP/2 and sends what went wrong as
// grpc-status 3 (INVALID_ARGUMENT).
func grpcGreeter(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/health" {
		return
	}
	w.Header().Set("Content-Type", "application/grpc")
	w.Header().Set("Trailer", "Grpc-Status, Grpc-Message")
	fail := func(code int, msg string) {
		w.WriteHeader(http.StatusOK)
		w.Header().Set("Grpc-Status", fmt.Sprint(code))
		w.Header().Set("Grpc-Message", msg)
	}
	switch {
	case r.ProtoMajor != 2:
		fail(3, fmt.Sprintf("came as HTTP/%d.%d", r.ProtoMajor, r.ProtoMinor))
		return
	case r.Method != http.MethodPost || r.URL.Path != "/shop.Greeter/Hello":
		fail(12, r.Method+" "+r.URL.Path) // UNIMPLEMENTED
		return
	case r.Header.Get("Content-Type") != "application/grpc" || r.Header.Get("Te") != "trailers":
		fail(3, fmt.Sprintf("content-type %q, te %q", r.Header.Get("Content-Type"), r.Header.Get("Te")))
		return
	}
	name, err := readGRPCFrame(r.Body)
	if err != nil {
		fail(3, err.Error())
		return
	}
	if name == "nobody" {
		fail(5, "no such person")
		return
	}
	w.WriteHeader(http.StatusOK)
	w.Write(grpcFrame("hello, " + name))
	w.Header().Set("Grpc-Status", "0")
}

// grpcCall calls /shop.Greeter/Hello with name through client and returns
// the answer's message and its trailers.
func grpcCall(t *testing.T, client *http.Client, url, name string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/shop.Greeter/Hello", bytes.NewReader(grpcFrame(name)))
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body) // the trailers come after the body
	if err != nil {
		t.Fatal(err)
	}
	msg := ""
	if len(body) > 0 {
		if msg, err = readGRPCFrame(bytes.NewReader(body)); err != nil {
			t.Fatalf("answer %q: %v", body, err)
		}
	}
	return resp, msg
}

func TestForward_GRPCEndToEnd(t *testing.T) {
	cert := newTestCert(t, certOpts{}, "grpc.example.com")
	for _, c := range []struct {
		name    string
		backend func(t *testing.T) string
		tg      TargetGroupConfig
	}{
		{"h2c target", func(t *testing.T) string {
			return newBackendServer(t, http.HandlerFunc(grpcGreeter), true)
		}, TargetGroupConfig{ProtocolVersion: GRPC}},
		{"https target with a self-signed certificate", func(t *testing.T) string {
			return newTLSBackend(t, http.HandlerFunc(grpcGreeter))
		}, TargetGroupConfig{Protocol: "https", ProtocolVersion: GRPC}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tg := testGroup()
			tg.Protocol, tg.ProtocolVersion = c.tg.Protocol, c.tg.ProtocolVersion
			h := newHTTPSHarness(t, tg, h2AndH1, cert)
			h.register(c.backend(t))
			url := "https://grpc.example.com"

			resp, msg := grpcCall(t, h.client, url, "ada")
			if got := resp.Trailer.Get("Grpc-Status"); resp.StatusCode != 200 || got != "0" || msg != "hello, ada" {
				t.Errorf("got %d %q with grpc-status %q (%s), want 200 \"hello, ada\" with grpc-status 0",
					resp.StatusCode, msg, got, resp.Trailer.Get("Grpc-Message"))
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/grpc" {
				t.Errorf("content-type: got %q, want application/grpc", ct)
			}

			resp, msg = grpcCall(t, h.client, url, "nobody")
			if got, gm := resp.Trailer.Get("Grpc-Status"), resp.Trailer.Get("Grpc-Message"); got != "5" || gm != "no such person" || msg != "" {
				t.Errorf("error status: got grpc-status %q grpc-message %q and message %q, want 5 \"no such person\" and none", got, gm, msg)
			}
		})
	}
}

func TestForward_HTTP2ToTargets(t *testing.T) {
	cert := newTestCert(t, certOpts{}, "shop.example.com")
	protoOf := func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Proto, r.Header.Get("X-Forwarded-Proto"))
	}
	for _, c := range []struct {
		name     string
		protocol string
		version  string
		backend  func(t *testing.T) string
		want     string
	}{
		{"HTTP2 to an h2c target", "http", HTTP2, func(t *testing.T) string {
			return newBackendServer(t, http.HandlerFunc(protoOf), true)
		}, "HTTP/2.0 https"},
		{"HTTP2 to an https target", "https", HTTP2, func(t *testing.T) string {
			return newTLSBackend(t, http.HandlerFunc(protoOf))
		}, "HTTP/2.0 https"},
		{"HTTP1 to an https target that could speak HTTP/2", "https", HTTP1, func(t *testing.T) string {
			return newTLSBackend(t, http.HandlerFunc(protoOf))
		}, "HTTP/1.1 https"},
		{"HTTP1 (the default) to an h2c-capable target", "", "", func(t *testing.T) string {
			return newBackendServer(t, http.HandlerFunc(protoOf), true)
		}, "HTTP/1.1 https"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tg := testGroup()
			tg.Protocol, tg.ProtocolVersion = c.protocol, c.version
			h := newHTTPSHarness(t, tg, h2AndH1, cert)
			h.register(c.backend(t))
			code, body := h.mustGet("/")
			if code != http.StatusOK || body != c.want {
				t.Errorf("the target saw %d %q, want 200 %q", code, body, c.want)
			}
		})
	}
}

func TestForward_IncompatibleProtocolIs464(t *testing.T) {
	cert := newTestCert(t, certOpts{}, "shop.example.com")
	backend := func(t *testing.T) string { return newBackendServer(t, http.HandlerFunc(grpcGreeter), true) }
	for _, c := range []struct {
		name    string
		version string
		protos  []string // of the client
		method  string
		grpc    bool
		want    int
	}{
		{"HTTP/1.1 to HTTP2", HTTP2, h1Only, http.MethodGet, false, 464},
		{"HTTP/1.1 to GRPC", GRPC, h1Only, http.MethodPost, false, 464},
		{"HTTP/1.1 gRPC-looking to GRPC", GRPC, h1Only, http.MethodPost, true, 464},
		{"HTTP/2 GET to GRPC", GRPC, h2AndH1, http.MethodGet, false, 464},
		{"gRPC to HTTP1", HTTP1, h2AndH1, http.MethodPost, true, 464},
		{"HTTP/2 POST to GRPC", GRPC, h2AndH1, http.MethodPost, false, 200},
		{"HTTP/2 to HTTP1", HTTP1, h2AndH1, http.MethodGet, false, 200},
		{"HTTP/1.1 to HTTP1", HTTP1, h1Only, http.MethodPost, true, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			tg := testGroup()
			tg.ProtocolVersion = c.version
			h := newHTTPSHarness(t, tg, c.protos, cert)
			h.register(backend(t))
			req, _ := http.NewRequest(c.method, "https://shop.example.com/shop.Greeter/Hello", strings.NewReader(""))
			if c.grpc {
				req.Header.Set("Content-Type", "application/grpc+proto")
			}
			resp, err := h.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("got %d %q, want %d", resp.StatusCode, body, c.want)
			}
			if n := h.b.Targets()[0].Requests; c.want == 464 && n != 0 {
				t.Errorf("the target was sent %d requests, want none", n)
			}
		})
	}
}

func TestUpstream_Accepts(t *testing.T) {
	req := func(major int, method, ct string) *http.Request {
		r := httptest.NewRequest(method, "/", nil)
		r.ProtoMajor = major
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		return r
	}
	for _, c := range []struct {
		name    string
		version protocolVersion
		r       *http.Request
		want    bool
	}{
		{"HTTP/1.1 to HTTP1", versionHTTP1, req(1, "GET", ""), true},
		{"HTTP/2 to HTTP1", versionHTTP1, req(2, "GET", ""), true},
		{"gRPC to HTTP1", versionHTTP1, req(2, "POST", "application/grpc"), false},
		{"gRPC+proto to HTTP1", versionHTTP1, req(2, "POST", "application/grpc+proto"), false},
		{"gRPC-Web over HTTP/2 to HTTP1", versionHTTP1, req(2, "POST", "application/grpc-web"), true},
		{"HTTP/1.1 to HTTP2", versionHTTP2, req(1, "GET", ""), false},
		{"HTTP/2 to HTTP2", versionHTTP2, req(2, "GET", ""), true},
		{"gRPC to HTTP2", versionHTTP2, req(2, "POST", "application/grpc"), true},
		{"HTTP/1.1 to GRPC", versionGRPC, req(1, "POST", "application/grpc"), false},
		{"HTTP/2 GET to GRPC", versionGRPC, req(2, "GET", ""), false},
		{"HTTP/2 POST to GRPC", versionGRPC, req(2, "POST", "text/plain"), true},
		{"gRPC to GRPC", versionGRPC, req(2, "POST", "application/grpc"), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := (upstream{version: c.version}).accepts(c.r); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestTargetTransport_OneTransportPerWay(t *testing.T) {
	tt := &targetTransport{dial: nil}
	for _, u := range []upstream{{}, {tls: true}, {version: versionHTTP2}, {tls: true, version: versionGRPC}} {
		tr := tt.transport(u)
		if again := tt.transport(u); again != tr {
			t.Errorf("%+v: a second transport was made", u)
		}
		if got := tt.transport(upstream{tls: u.tls, version: versionGRPC}); u.http2() && got != tr {
			t.Errorf("%+v: GRPC and HTTP2 should share the HTTP/2 transport", u)
		}
	}
}
