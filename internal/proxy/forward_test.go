package proxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// seenRequest is what a backend saw of a proxied request.
type seenRequest struct {
	Host                          string
	ForwardedFor, Proto, Port     string
	Trace, Forwarded, FwdHost, UA string
}

func TestForward_Headers(t *testing.T) {
	seen := make(chan seenRequest, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		seen <- seenRequest{
			Host: r.Host, ForwardedFor: r.Header.Get("X-Forwarded-For"),
			Proto: r.Header.Get("X-Forwarded-Proto"), Port: r.Header.Get("X-Forwarded-Port"),
			Trace: r.Header.Get("X-Amzn-Trace-Id"), Forwarded: r.Header.Get("Forwarded"),
			FwdHost: r.Header.Get("X-Forwarded-Host"), UA: r.Header.Get("User-Agent"),
		}
	}))
	t.Cleanup(srv.Close)
	h := newHarness(t, testGroup(), 0)
	h.register(srv.Listener.Addr().String())
	_, port, _ := net.SplitHostPort(h.b.ListenerAddrs()[0])

	send := func(header map[string]string) seenRequest {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, h.base+"/orders?id=1", nil)
		req.Host = "shop.example"
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return <-seen
	}

	got := send(map[string]string{"User-Agent": "test", "X-Forwarded-Proto": "https", "X-Forwarded-Port": "1"})
	trace := regexp.MustCompile(`^Root=1-([0-9a-f]{8})-[0-9a-f]{24}$`).FindStringSubmatch(got.Trace)
	if trace == nil || trace[1] != fmt.Sprintf("%08x", testStart.Unix()) {
		t.Errorf("X-Amzn-Trace-Id: got %q, want Root=1-%08x-<24 hex>", got.Trace, testStart.Unix())
	}
	got.Trace = ""
	want := seenRequest{Host: "shop.example", ForwardedFor: "127.0.0.1", Proto: "http", Port: port, UA: "test"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("first request (-want +got):\n%s", diff)
	}

	got = send(map[string]string{
		"X-Forwarded-For": "203.0.113.7, 198.51.100.2", "X-Amzn-Trace-Id": "Root=1-67891233-abcdef012345678912345678",
		"Forwarded": "for=203.0.113.7", "X-Forwarded-Host": "shop.example",
	})
	want = seenRequest{
		Host: "shop.example", ForwardedFor: "203.0.113.7, 198.51.100.2, 127.0.0.1", Proto: "http", Port: port,
		Forwarded: "for=203.0.113.7", FwdHost: "shop.example",
		UA: "Go-http-client/1.1",
	}
	// ALB inserts a Self field of its own before the client's Root.
	if !regexp.MustCompile(`^Self=1-[0-9a-f]{8}-[0-9a-f]{24};Root=1-67891233-abcdef012345678912345678$`).MatchString(got.Trace) {
		t.Errorf("X-Amzn-Trace-Id: got %q, want Self=1-…;Root=1-67891233-abcdef012345678912345678", got.Trace)
	}
	got.Trace = ""
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request with forwarding headers (-want +got):\n%s", diff)
	}
}

// errorPage is the body of an error the balancer makes itself.
func errorPage(title string) string {
	return "<html><head><title>" + title + "</title></head><body><center><h1>" + title +
		"</h1></center></body></html>"
}

func TestForward_Errors(t *testing.T) {
	tests := []struct {
		name   string
		target func(t *testing.T) string // "" registers nothing
		path   string
		code   int
		title  string
	}{
		{"no target", func(*testing.T) string { return "" }, "/", 503, "503 Service Temporarily Unavailable"},
		{"refused", refusedAddr, "/", 502, "502 Bad Gateway"},
		{"broken response", garbageBackend, "/", 502, "502 Bad Gateway"},
		{"slow target", func(t *testing.T) string { return newBackend(t, "slow").addr }, "/slow", 504, "504 Gateway Time-out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, failFastGroup(), 100*time.Millisecond)
			if addr := tt.target(t); addr != "" {
				h.registerAs(addr, tt.code)
			}
			resp, err := h.client.Get(h.base + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got := []string{fmt.Sprint(resp.StatusCode), resp.Header.Get("Server"), resp.Header.Get("Content-Type"), string(body)}
			want := []string{fmt.Sprint(tt.code), "shoal", "text/html", errorPage(tt.title)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

// garbageBackend answers every request with bytes that are not HTTP.
func garbageBackend(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("this is not http\r\n\r\n"))
			c.Close()
		}
	}()
	return l.Addr().String()
}
