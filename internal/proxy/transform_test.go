package proxy

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shoalhq/shoal/internal/clock/clocktest"
	"github.com/shoalhq/shoal/internal/routing"
)

// newEcho starts a target that answers "name host request-URI", with a
// Server and an X-Frame-Options header of its own.
func newEcho(t *testing.T, name string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "echo")
		w.Header().Set("X-Frame-Options", "ALLOWALL")
		fmt.Fprintf(w, "%s %s %s", name, r.Host, r.RequestURI)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// newEchoed is a balancer whose listener routes by l, with header
// modification hm, to groups of one echo target each, and to a group
// "empty" with no target.
func newEchoed(t *testing.T, l routing.Listener, hm HeaderModification, groups ...string) *routed {
	t.Helper()
	b := New(Options{Clock: clocktest.NewFake(testStart)})
	t.Cleanup(func() { b.Close(context.Background()) })
	cfg := Config{
		Listeners:    []ListenerConfig{{Name: "web/0", Address: "127.0.0.1:0", Routes: l, Headers: hm, IdleTimeout: defaultIdle}},
		TargetGroups: map[string]TargetGroupConfig{"empty": testGroup()},
	}
	for _, g := range groups {
		cfg.TargetGroups[g] = testGroup()
	}
	if err := b.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if err := b.Register(g, newEcho(t, g)); err != nil {
			t.Fatal(err)
		}
	}
	settleTargets(t, b)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &routed{b: b, base: "http://" + b.ListenerAddrs()[0],
		client: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func fixedAction(status int, body string) routing.Action {
	return routing.Action{Type: routing.FixedResponse, Fixed: &routing.FixedResponseAction{StatusCode: status, ContentType: "text/plain", Body: body}}
}

func withTransforms(r routing.Rule, ts ...routing.Transform) routing.Rule {
	r.Transforms = ts
	return r
}

// TestTransforms_TargetSeesTheRewriteRulesSawTheOriginal: the rules decide
// on the request as sent, the target gets it rewritten.
func TestTransforms_TargetSeesTheRewriteRulesSawTheOriginal(t *testing.T) {
	pathIs := func(v ...string) routing.Condition { return routing.Condition{Field: routing.PathPattern, Values: v} }
	hostIs := func(v ...string) routing.Condition { return routing.Condition{Field: routing.HostHeader, Values: v} }
	l := routing.Listener{
		Default: fixedAction(404, "no rule"),
		Rules: []routing.Rule{
			// Would the rules see the rewritten request, it would meet
			// these two, whose priorities come first.
			rule(1, fixedAction(418, "rewritten host was routed"), hostIs("backend.internal")),
			rule(2, fixedAction(418, "rewritten path was routed"), pathIs("/items*")),
			withTransforms(rule(10, forwardAction("api"), pathIs("/api/*")),
				routing.Transform{Type: routing.URLRewrite, Regex: `^/api/(.*)$`, Replace: "/$1"}),
			withTransforms(rule(20, forwardAction("shop"), hostIs("shop.example.com")),
				routing.Transform{Type: routing.HostHeaderRewrite, Regex: `^shop\.example\.com$`, Replace: "backend.internal"},
				routing.Transform{Type: routing.URLRewrite, Regex: `^/dp/([A-Za-z0-9]+)/?$`, Replace: "/product.php?id=$1"}),
			withTransforms(rule(30, forwardAction("api"), pathIs("/keep/*")),
				routing.Transform{Type: routing.URLRewrite, Regex: `^/nomatch`, Replace: "/x"}),
			withTransforms(rule(40, fixedAction(200, "fixed"), pathIs("/fixed")),
				routing.Transform{Type: routing.URLRewrite, Regex: `.*`, Replace: "no slash"}),
		},
	}
	rd := newEchoed(t, l, HeaderModification{}, "api", "shop")
	tests := []struct {
		name, host, path string
		status           int
		body             string
	}{
		{"path rewritten, query kept", "", "/api/items?sort=name", 200, "api 127.0.0.1:* /items?sort=name"},
		{"path escapes kept", "", "/api/a%2Fb", 200, "api 127.0.0.1:* /a%2Fb"},
		{"host and URL rewritten", "shop.example.com", "/dp/B09G3HRMVB", 200, "shop backend.internal /product.php?id=B09G3HRMVB"},
		{"host rewritten, URL does not match", "shop.example.com", "/cart?x=1", 200, "shop backend.internal /cart?x=1"},
		{"no match: unchanged", "", "/keep/a?b=c", 200, "api 127.0.0.1:* /keep/a?b=c"},
		{"a transform on a fixed response changes nothing", "", "/fixed", 200, "fixed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.host != "" {
				h.Set("Host", tt.host)
			}
			resp, body := rd.do(t, http.MethodGet, tt.path, h)
			want := strings.Replace(tt.body, "127.0.0.1:*", strings.TrimPrefix(rd.base, "http://"), 1)
			if resp.StatusCode != tt.status || body != want {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tt.status, want)
			}
		})
	}
}

// TestTransforms_InvalidRewriteIs500: a transform that matches and makes
// an invalid Host or URL is answered 500 by the load balancer, as ALB; the
// target never sees it.
func TestTransforms_InvalidRewriteIs500(t *testing.T) {
	all := routing.Condition{Field: routing.PathPattern, Values: []string{"/*"}}
	l := routing.Listener{Default: forwardAction("api"), Rules: []routing.Rule{
		withTransforms(rule(1, forwardAction("api"), all, routing.Condition{Field: routing.HTTPRequestMethod, Values: []string{"GET"}}),
			routing.Transform{Type: routing.HostHeaderRewrite, Regex: `^(.*)$`, Replace: "$1 x"}),
		withTransforms(rule(2, forwardAction("api"), all),
			routing.Transform{Type: routing.URLRewrite, Regex: `^/(.*)$`, Replace: "$1"}),
	}}
	rd := newEchoed(t, l, HeaderModification{Response: map[string]string{"X-Content-Type-Options": "nosniff"}}, "api")
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		resp, body := rd.do(t, method, "/a", nil)
		if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, "500 Internal Server Error") {
			t.Errorf("%s: got %d %q, want the 500 page", method, resp.StatusCode, body)
		}
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q on the 500 page, want nosniff", method, got)
		}
	}
}

// TestRoute_TransformDoesNotAllocateWithoutTransforms: a forward rule
// without transforms gets its request back, untouched.
func TestRoute_TransformDoesNotAllocateWithoutTransforms(t *testing.T) {
	lc := ListenerConfig{Name: "web/0", Address: "127.0.0.1:0", TargetGroup: "api", IdleTimeout: defaultIdle}
	lc.Routes.Rules = []routing.Rule{
		withTransforms(rule(1, forwardAction("api"), routing.Condition{Field: routing.PathPattern, Values: []string{"/x"}}),
			routing.Transform{Type: routing.URLRewrite, Regex: "x", Replace: "y"}),
	}
	rt := newRoute(lc, &listener{port: "8080"}, map[string]*targetGroup{"api": {name: "api"}})
	r := httptest.NewRequest(http.MethodGet, "http://h/items", nil)
	req := routingRequest(r, rt.scheme, rt.port)
	n := testing.AllocsPerRun(100, func() {
		_, p := rt.table.Match(&req)
		if got, ok := rt.transform(nil, r, &req, p, nil); !ok || got != r {
			t.Fatal("the request changed")
		}
	})
	if n != 0 {
		t.Errorf("%v allocations, want 0", n)
	}
}

// BenchmarkTransform measures what transforms and header modification add
// to a request's route decision: nothing configured (the hot path: one
// lookup, no allocation), a URL rewrite applied, and wrapping the writer
// for response headers.
func BenchmarkTransform(b *testing.B) {
	r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/api/items?sort=name", nil)
	groups := map[string]*targetGroup{"api": {name: "api"}}
	lc := ListenerConfig{Name: "web/0", Address: "127.0.0.1:0", TargetGroup: "api", IdleTimeout: defaultIdle}
	plain := newRoute(lc, &listener{port: "8080"}, groups)
	lc.Routes.Rules = []routing.Rule{withTransforms(rule(1, forwardAction("api"), routing.Condition{Field: routing.PathPattern, Values: []string{"/api/*"}}),
		routing.Transform{Type: routing.URLRewrite, Regex: `^/api/(.*)$`, Replace: "/$1"})}
	lc.Headers = HeaderModification{Response: map[string]string{"X-Frame-Options": "DENY"}, RemoveServer: true}
	rewriting := newRoute(lc, &listener{port: "8080"}, groups)
	d := &deps{}
	for _, c := range []struct {
		name string
		rt   *route
	}{{"none", plain}, {"url-rewrite+headers", rewriting}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			w := httptest.NewRecorder()
			for b.Loop() {
				var ww http.ResponseWriter = w
				if c.rt.headers != nil {
					ww = c.rt.headers.wrap(w)
				}
				req := routingRequest(r, c.rt.scheme, c.rt.port)
				_, p := c.rt.table.Match(&req)
				if _, ok := c.rt.transform(ww, r, &req, p, d); !ok {
					b.Fatal("transform failed")
				}
			}
		})
	}
}
