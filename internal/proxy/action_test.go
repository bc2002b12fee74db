package proxy

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/clock/clocktest"
	"github.com/shoalhq/shoal/internal/routing"
)

// routed is a balancer on a fake clock whose listener routes by rules to
// groups of one backend each, named after the group.
type routed struct {
	b      *Balancer
	base   string
	client *http.Client
}

func newRouted(t *testing.T, rules routing.Listener, groups ...string) *routed {
	t.Helper()
	b := New(Options{Clock: clocktest.NewFake(testStart)})
	t.Cleanup(func() { b.Close(context.Background()) })
	cfg := Config{
		Listeners:    []ListenerConfig{{Name: "web/0", Address: "127.0.0.1:0", Routes: rules, IdleTimeout: defaultIdle}},
		TargetGroups: map[string]TargetGroupConfig{},
	}
	for _, g := range groups {
		cfg.TargetGroups[g] = testGroup()
	}
	if err := b.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if err := b.Register(g, newBackend(t, g).addr); err != nil {
			t.Fatal(err)
		}
	}
	settleTargets(t, b)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &routed{b: b, base: "http://" + b.ListenerAddrs()[0],
		client: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (rd *routed) do(t *testing.T, method, path string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, rd.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if h := header.Get("Host"); h != "" {
		req.Host = h
	}
	resp, err := rd.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func forwardAction(group string) routing.Action {
	return routing.Action{Type: routing.Forward, Forward: &routing.ForwardAction{Groups: []routing.WeightedGroup{{Name: group, Weight: 1}}}}
}

func rule(priority int, action routing.Action, conds ...routing.Condition) routing.Rule {
	return routing.Rule{Priority: priority, Conditions: conds, Action: action}
}

// TestRouting_EveryConditionThroughTheBalancer sends requests that each
// match one rule by one kind of condition, and one that matches none.
func TestRouting_EveryConditionThroughTheBalancer(t *testing.T) {
	rd := newRouted(t, routing.Listener{
		Rules: []routing.Rule{
			rule(10, forwardAction("host"), routing.Condition{Field: routing.HostHeader, Values: []string{"*.example.com"}}),
			rule(20, forwardAction("path"), routing.Condition{Field: routing.PathPattern, Values: []string{"/api/*"}}),
			rule(30, forwardAction("header"), routing.Condition{Field: routing.HTTPHeader, HeaderName: "X-Env", Values: []string{"canary*"}}),
			rule(40, forwardAction("method"), routing.Condition{Field: routing.HTTPRequestMethod, Values: []string{"DELETE"}}),
			rule(50, forwardAction("query"), routing.Condition{Field: routing.QueryString, Query: []routing.KeyValue{{Key: "v", Value: "2"}}}),
			rule(60, forwardAction("source"), routing.Condition{Field: routing.SourceIP, CIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}),
		},
		Default: forwardAction("default"),
	}, "host", "path", "header", "method", "query", "source", "default")
	tests := []struct {
		name, method, path string
		header             http.Header
		want               string
	}{
		{"host header, any case", "GET", "/", http.Header{"Host": {"Shop.EXAMPLE.com"}}, "host"},
		{"path pattern", "GET", "/api/items", nil, "path"},
		{"path pattern is case-sensitive: falls through", "GET", "/API/items", nil, "source"},
		{"http header", "GET", "/", http.Header{"X-Env": {"Canary-2"}}, "header"},
		{"method", "DELETE", "/", nil, "method"},
		{"query string, not the path", "GET", "/x?v=2", nil, "query"},
		{"source ip: the peer, never X-Forwarded-For", "GET", "/", http.Header{"X-Forwarded-For": {"203.0.113.9"}}, "source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := rd.do(t, tt.method, tt.path, tt.header)
			if resp.StatusCode != 200 || body != tt.want {
				t.Errorf("%s %s: got %d %q, want 200 %q", tt.method, tt.path, resp.StatusCode, body, tt.want)
			}
		})
	}
}

func TestRouting_FixedResponseAndRedirect(t *testing.T) {
	rd := newRouted(t, routing.Listener{
		Rules: []routing.Rule{
			rule(1, routing.Action{Type: routing.FixedResponse, Fixed: &routing.FixedResponseAction{StatusCode: 404, ContentType: "application/json", Body: `{"error":"not here"}`}},
				routing.Condition{Field: routing.PathPattern, Values: []string{"/admin*"}}),
			rule(2, routing.Action{Type: routing.Redirect, Redirect: &routing.RedirectAction{
				Protocol: "HTTPS", Host: "#{host}", Port: "8443", Path: "/new/#{path}", Query: "#{query}", StatusCode: 301}},
				routing.Condition{Field: routing.PathPattern, Values: []string{"/old/*"}}),
		},
		Default: forwardAction("api"),
	}, "api")
	resp, body := rd.do(t, "GET", "/admin/users", nil)
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/json" || body != `{"error":"not here"}` {
		t.Errorf("fixed response: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, _ = rd.do(t, "GET", "/old/a?b=c", http.Header{"Host": {"shop.test"}})
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "https://shop.test:8443/new/old/a?b=c" {
		t.Errorf("redirect: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, body := rd.do(t, "GET", "/", nil); resp.StatusCode != 200 || body != "api" {
		t.Errorf("default: %d %q", resp.StatusCode, body)
	}
}

// TestRouting_WeightedForwardHonoursWeightsAndSticks sends 2,000 requests
// to a 90/10 forward: each group's share within 3 points of its weight's;
// with target group stickiness, a client with the AWSALBTG cookie stays.
func TestRouting_WeightedForwardHonoursWeightsAndSticks(t *testing.T) {
	weighted := func(sticky time.Duration) routing.Listener {
		return routing.Listener{Default: routing.Action{Type: routing.Forward, Forward: &routing.ForwardAction{
			Groups: []routing.WeightedGroup{{Name: "blue", Weight: 90}, {Name: "green", Weight: 10}}, Stickiness: sticky}}}
	}
	rd := newRouted(t, weighted(0), "blue", "green")
	const n = 2000
	got := map[string]int{}
	for range n {
		_, body := rd.do(t, "GET", "/", nil)
		got[body]++
	}
	if share := float64(got["green"]) / n; math.Abs(share-0.10) > 0.03 {
		t.Errorf("green got %d of %d (%.1f%%), want 10%% ± 3", got["green"], n, 100*share)
	}

	rd = newRouted(t, weighted(time.Hour), "blue", "green")
	resp, first := rd.do(t, "GET", "/", nil)
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "AWSALBTG" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatalf("no AWSALBTG cookie with target group stickiness; cookies %v", resp.Cookies())
	}
	for range 50 {
		if _, body := rd.do(t, "GET", "/", http.Header{"Cookie": {cookie.String()}}); body != first {
			t.Fatalf("with the AWSALBTG cookie of %s, a request went to %s", first, body)
		}
	}
	tampered := cookie.Name + "=" + strings.ToUpper(cookie.Value)
	if resp, _ := rd.do(t, "GET", "/", http.Header{"Cookie": {tampered}}); resp.StatusCode != 200 {
		t.Errorf("a tampered AWSALBTG cookie: status %d, want a normal pick", resp.StatusCode)
	}
}

func TestBalancer_RulesAndExplain(t *testing.T) {
	rd := newRouted(t, routing.Listener{
		Rules: []routing.Rule{
			rule(10, forwardAction("admin"), routing.Condition{Field: routing.PathPattern, Values: []string{"/admin*"}}),
		},
		Default: forwardAction("api"),
	}, "admin", "api")
	rules := rd.b.Rules()
	if len(rules) != 1 || len(rules[0].Rules) != 1 || rules[0].Default.Forward.Groups[0].Name != "api" {
		t.Fatalf("rules: %+v", rules)
	}
	ex, err := rd.b.Explain(ExplainRequest{URL: rd.base + "/items"})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Routing.Matched != 0 || len(ex.Routing.Steps) != 1 || ex.Routing.Steps[0].Matched || ex.Group != "api" || ex.Pick == nil || len(ex.Pick.Candidates) != 1 {
		t.Errorf("explain /items: %+v", ex)
	}
	if !strings.Contains(ex.Routing.Steps[0].Conditions[0].Why, "/admin*") {
		t.Errorf("why rule 10 did not match: %q", ex.Routing.Steps[0].Conditions[0].Why)
	}
	if _, err := rd.b.Explain(ExplainRequest{URL: "http://127.0.0.1:1/"}); err == nil {
		t.Error("explain on a port no listener has: no error")
	}
}
