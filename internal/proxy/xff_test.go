package proxy

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// xffSeen is what a target saw of the forwarding headers of one request.
type xffSeen struct {
	XFF         []string // every X-Forwarded-For line, nil when absent
	Proto, Port string
}

// TestForward_XFFModes sends requests through a real balancer to a real
// target, in each X-Forwarded-For mode, with the client port on and off,
// with no, one and several incoming X-Forwarded-For headers.
func TestForward_XFFModes(t *testing.T) {
	seen := make(chan xffSeen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		seen <- xffSeen{XFF: r.Header.Values("X-Forwarded-For"),
			Proto: r.Header.Get("X-Forwarded-Proto"), Port: r.Header.Get("X-Forwarded-Port")}
	}))
	t.Cleanup(srv.Close)

	// client is the client's address as the balancer sees it: "ip" or
	// "ip:port"; several incoming headers are joined by append.
	const client = "\x00"
	for _, tc := range []struct {
		name     string
		mode     string
		port     bool
		incoming []string
		want     []string // client stands for the client's address
	}{
		{"append (default), none", "", false, nil, []string{client}},
		{"append, none", XFFAppend, false, nil, []string{client}},
		{"append, one", XFFAppend, false, []string{"203.0.113.7"}, []string{"203.0.113.7, " + client}},
		{"append, several", XFFAppend, false, []string{"203.0.113.7, 198.51.100.2", "192.0.2.1"},
			[]string{"203.0.113.7, 198.51.100.2, 192.0.2.1, " + client}},
		{"append with port, none", XFFAppend, true, nil, []string{client}},
		{"append with port, one", XFFAppend, true, []string{"203.0.113.7"}, []string{"203.0.113.7, " + client}},
		{"append with port, several", XFFAppend, true, []string{"203.0.113.7", "192.0.2.1:80"},
			[]string{"203.0.113.7, 192.0.2.1:80, " + client}},
		{"preserve, none", XFFPreserve, false, nil, nil},
		{"preserve with port, none", XFFPreserve, true, nil, nil},
		{"preserve, one", XFFPreserve, false, []string{"203.0.113.7"}, []string{"203.0.113.7"}},
		{"preserve with port, several", XFFPreserve, true, []string{"203.0.113.7, 198.51.100.2", "192.0.2.1"},
			[]string{"203.0.113.7, 198.51.100.2", "192.0.2.1"}},
		{"remove, none", XFFRemove, false, nil, nil},
		{"remove with port, none", XFFRemove, true, nil, nil},
		{"remove, one", XFFRemove, false, []string{"203.0.113.7"}, nil},
		{"remove with port, several", XFFRemove, true, []string{"203.0.113.7", "192.0.2.1"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testGroup(), 0)
			cfg := singleListener("api", testGroup(), 0)
			cfg.Listeners[0].XFF, cfg.Listeners[0].XFFClientPort = tc.mode, tc.port
			if err := h.b.Apply(context.Background(), cfg); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			h.register(srv.Listener.Addr().String())
			_, lbPort, _ := net.SplitHostPort(h.b.ListenerAddrs()[0])

			var local string
			ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
				GotConn: func(i httptrace.GotConnInfo) { local = i.Conn.LocalAddr().String() },
			})
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.base+"/", nil)
			for _, v := range tc.incoming {
				req.Header.Add("X-Forwarded-For", v)
			}
			resp, err := h.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := <-seen

			addr := local
			if !tc.port {
				addr, _, _ = net.SplitHostPort(local)
			}
			var want []string
			for _, w := range tc.want {
				if w == client {
					w = addr
				} else if n := len(w) - len(client); n >= 0 && w[n:] == client {
					w = w[:n] + addr
				}
				want = append(want, w)
			}
			if diff := cmp.Diff(xffSeen{XFF: want, Proto: "http", Port: lbPort}, got); diff != "" {
				t.Errorf("target saw (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSetForwarded_ClientPort checks the address append writes, IPv6 in
// brackets when it has a port.
func TestSetForwarded_ClientPort(t *testing.T) {
	for _, tc := range []struct {
		remote   string
		withPort bool
		want     string
	}{
		{"192.0.2.10:51234", false, "192.0.2.10"},
		{"192.0.2.10:51234", true, "192.0.2.10:51234"},
		{"[2001:db8::1]:51234", false, "2001:db8::1"},
		{"[2001:db8::1]:51234", true, "[2001:db8::1]:51234"},
	} {
		in := &http.Request{RemoteAddr: tc.remote, Header: http.Header{"X-Forwarded-For": {"203.0.113.7"}}}
		h := http.Header{}
		setForwarded(h, in, "https", "443", XFFAppend, tc.withPort)
		want := http.Header{"X-Forwarded-For": {"203.0.113.7, " + tc.want},
			"X-Forwarded-Proto": {"https"}, "X-Forwarded-Port": {"443"}}
		if diff := cmp.Diff(want, h); diff != "" {
			t.Errorf("%s, port %v (-want +got):\n%s", tc.remote, tc.withPort, diff)
		}
	}
}
