package routing

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCompile_Errors(t *testing.T) {
	ok := forward("web")
	long := func(n int) string { return "/" + strings.Repeat("a", n-1) }
	weighted := func(gs ...WeightedGroup) Action { return Action{Type: Forward, Forward: &ForwardAction{Groups: gs}} }
	sticky := func(d time.Duration) Action {
		a := forward("blue", "green")
		a.Forward.Stickiness = d
		return a
	}
	redirect := func(r RedirectAction) Action {
		if r.StatusCode == 0 {
			r.StatusCode = 301
		}
		return redirectAction(r)
	}
	fixed := func(f FixedResponseAction) Action { return Action{Type: FixedResponse, Fixed: &f} }
	tests := []struct {
		name   string
		l      Listener
		want   string // the error's text, in full
		rule   int    // the index of the rule it names (-1: the default action)
		field  string
		hidden bool // the listener's default action is not "ok"
	}{
		{name: "duplicate priority",
			l:    Listener{Rules: []Rule{ruleAt(5, ok, path("/a")), ruleAt(5, ok, path("/b"))}},
			want: "rule 5: priority: 5 is also the priority of rule #1: priorities are unique in a listener", rule: 1, field: "priority"},
		{name: "priority 0",
			l:    Listener{Rules: []Rule{ruleAt(0, ok, path("/a"))}},
			want: "rule 0: priority: 0 is outside 1-50000", field: "priority"},
		{name: "priority above 50000",
			l:    Listener{Rules: []Rule{ruleAt(50001, ok, path("/a"))}},
			want: "rule 50001: priority: 50001 is outside 1-50000", field: "priority"},
		{name: "a rule without conditions",
			l:    Listener{Rules: []Rule{ruleAt(1, ok)}},
			want: "rule 1: conditions: none: a rule has at least one condition (only the default action has none)", field: "conditions"},
		{name: "a condition with no value",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, path())}},
			want: "rule 1: path-pattern: no value: a condition has one to 3", field: "path-pattern"},
		{name: "an empty value",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, host(""))}},
			want: "rule 1: host-header: an empty value", field: "host-header"},
		{name: "four values in a condition",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, path("/a", "/b", "/c", "/d"))}},
			want: "rule 1: path-pattern: 4 values: a condition has at most 3", field: "path-pattern"},
		{name: "six values in a rule",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, path("/a", "/b", "/c"), method("GET", "PUT", "POST"))}},
			want: "rule 1: conditions: 6 values in all: a rule has at most 5", field: "conditions"},
		{name: "six wildcards in a rule",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, path("/a/*/b/*/c/*"), host("*.*.example.com", "?.example.com"))}},
			want: "rule 1: conditions: 6 wildcards (* and ?) in all: a rule has at most 5", field: "conditions"},
		{name: "two path conditions",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, path("/a"), path("/b"))}},
			want: "rule 1: path-pattern: more than one: a rule has at most one path-pattern condition (put the values in one)", field: "path-pattern"},
		{name: "unknown field",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, Condition{Field: "cookie", Values: []string{"a"}})}},
			want: `rule 1: conditions: unknown condition field "cookie" (host-header, path-pattern, http-header, http-request-method, query-string or source-ip)`, field: "conditions"},
		{name: "a value of another condition type",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, Condition{Field: PathPattern, Values: []string{"/a"}, CIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})}},
			want: "rule 1: path-pattern: CIDRs are not for a path-pattern condition", field: "path-pattern"},
		{name: "path pattern too long",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, path(long(129)))}},
			want: `rule 1: path-pattern: "` + long(129) + `" is 129 characters long: at most 128`, field: "path-pattern"},
		{name: "path pattern with a space",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, path("/a b"))}},
			want: `rule 1: path-pattern: "/a b" holds ' ', which ALB does not take: letters, digits and _-.$/~"'@:+&*?`, field: "path-pattern"},
		{name: "path pattern with a percent",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, path("/a%20b"))}},
			want: `rule 1: path-pattern: "/a%20b" holds '%', which ALB does not take: letters, digits and _-.$/~"'@:+&*?`, field: "path-pattern"},
		{name: "host without a dot",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, host("localhost"))}},
			want: `rule 1: host-header: "localhost" has no '.': a host name has at least one`, field: "host-header"},
		{name: "host ending in digits",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, host("10.0.0.1"))}},
			want: `rule 1: host-header: "10.0.0.1" has '1' after its last '.': only letters may follow it`, field: "host-header"},
		{name: "host with a port",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, host("example.com:8080"))}},
			want: `rule 1: host-header: "example.com:8080" holds ':', which ALB does not take: letters, digits and -._*?`, field: "host-header"},
		{name: "header without a name",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, header("", "a"))}},
			want: "rule 1: http-header : no header name", field: "http-header "},
		{name: "header name with a space",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, header("X Env", "a"))}},
			want: `rule 1: http-header X Env: "X Env" holds ' ', which ALB does not take: letters, digits and !#$%&'*+-.^_` + "`" + `|~ (the header name is an RFC 7230 token)`, field: "http-header X Env"},
		{name: "header name too long",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, header(strings.Repeat("x", 41), "a"))}},
			want: `rule 1: http-header ` + strings.Repeat("x", 41) + `: "` + strings.Repeat("x", 41) + `" is 41 characters long: at most 40`, field: "http-header " + strings.Repeat("x", 41)},
		{name: "a Host header condition",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, header("host", "a.example.com"))}},
			want: "rule 1: http-header host: the Host header is matched by a host-header condition", field: "http-header host"},
		{name: "header value with a backslash",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, header("X-Env", `a\b`))}},
			want: `rule 1: http-header X-Env: "a\\b" holds '\\', which ALB does not take: visible ASCII and spaces, but \`, field: "http-header X-Env"},
		{name: "lower case method",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, method("get"))}},
			want: `rule 1: http-request-method: "get" holds 'g': a method is A-Z, - and _ (upper case: methods are case-sensitive)`, field: "http-request-method"},
		{name: "method with a digit",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, method("M2"))}},
			want: `rule 1: http-request-method: "M2" holds '2': a method is A-Z, - and _ (upper case: methods are case-sensitive)`, field: "http-request-method"},
		{name: "query pair without a value",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, query(KeyValue{Key: "a"}))}},
			want: `rule 1: query-string: pair "a"="" has no value (the key may be left out, not the value)`, field: "query-string"},
		{name: "query value with a lone backslash",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, query(KeyValue{Value: `a\b`}))}},
			want: `rule 1: query-string: "a\\b" holds a \ that is not \* or \? (a literal * or ?)`, field: "query-string"},
		{name: "query value with a space",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, query(KeyValue{Value: "a b"}))}},
			want: `rule 1: query-string: "a b" holds ' ', which ALB does not take: letters, digits and _-.$/~"'@:+&()!,;=*?\`, field: "query-string"},
		{name: "broadcast source",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, source("255.255.255.255/32"))}},
			want: "rule 1: source-ip: 255.255.255.255/32 is not taken by ALB", field: "source-ip"},
		{name: "invalid CIDR",
			l:    Listener{Rules: []Rule{ruleAt(1, ok, Condition{Field: SourceIP, CIDRs: []netip.Prefix{{}}})}},
			want: "rule 1: source-ip: an invalid CIDR", field: "source-ip"},

		// Actions.
		{name: "no default action", hidden: true,
			l:    Listener{},
			want: "default action: action: none: forward, redirect or fixed-response", rule: -1, field: "action"},
		{name: "forward without its configuration", hidden: true,
			l:    Listener{Default: Action{Type: Forward}},
			want: "default action: action: forward without its configuration", rule: -1, field: "action"},
		{name: "two configurations", hidden: true,
			l:    Listener{Default: Action{Type: Forward, Forward: ok.Forward, Fixed: &FixedResponseAction{StatusCode: 200}}},
			want: "default action: action: forward with the configuration of another action as well", rule: -1, field: "action"},
		{name: "forward to no group",
			l:    Listener{Rules: []Rule{ruleAt(3, weighted(), path("/a"))}},
			want: "rule 3: forward: no target group", rule: 0, field: "forward"},
		{name: "more than 5 groups",
			l:    Listener{Rules: []Rule{ruleAt(3, forward("a", "b", "c", "d", "e", "f"), path("/a"))}},
			want: "rule 3: forward: 6 target groups: at most 5", field: "forward"},
		{name: "a group twice",
			l:    Listener{Rules: []Rule{ruleAt(3, forward("a", "a"), path("/a"))}},
			want: "rule 3: forward: target group a twice", field: "forward"},
		{name: "weight above 999",
			l:    Listener{Rules: []Rule{ruleAt(3, weighted(WeightedGroup{"a", 1000}, WeightedGroup{"b", 1}), path("/a"))}},
			want: "rule 3: forward weight: a weighs 1000: weights are 0-999", field: "forward weight"},
		{name: "negative weight",
			l:    Listener{Rules: []Rule{ruleAt(3, weighted(WeightedGroup{"a", -1}, WeightedGroup{"b", 1}), path("/a"))}},
			want: "rule 3: forward weight: a weighs -1: weights are 0-999", field: "forward weight"},
		{name: "all weights zero", hidden: true,
			l:    Listener{Default: weighted(WeightedGroup{"a", 0}, WeightedGroup{"b", 0})},
			want: "default action: forward weight: every target group weighs 0: no request could be forwarded", rule: -1, field: "forward weight"},
		{name: "stickiness below a second",
			l:    Listener{Rules: []Rule{ruleAt(3, sticky(time.Millisecond), path("/a"))}},
			want: "rule 3: forward stickiness: 1ms: whole seconds, 1s to 7 days (604800s)", field: "forward stickiness"},
		{name: "stickiness above 7 days",
			l:    Listener{Rules: []Rule{ruleAt(3, sticky(7*24*time.Hour+time.Second), path("/a"))}},
			want: "rule 3: forward stickiness: 168h0m1s: whole seconds, 1s to 7 days (604800s)", field: "forward stickiness"},
		{name: "redirect 303",
			l:    Listener{Rules: []Rule{ruleAt(3, redirect(RedirectAction{Protocol: "HTTPS", StatusCode: 303}), path("/a"))}},
			want: "rule 3: redirect status: 303: 301 (permanent) or 302 (temporary)", field: "redirect status"},
		{name: "redirect loop",
			l:    Listener{Rules: []Rule{ruleAt(3, redirect(RedirectAction{Host: "#{host}", Query: "x=1"}), path("/a"))}},
			want: "rule 3: redirect: it keeps the protocol, host, port and path: a redirect to the same URL loops (change at least one)", field: "redirect"},
		{name: "redirect loop to the listener's own protocol",
			l:    Listener{Scheme: "https", Rules: []Rule{ruleAt(3, redirect(RedirectAction{Protocol: "HTTPS"}), path("/a"))}},
			want: "rule 3: redirect: it keeps the protocol, host, port and path: a redirect to the same URL loops (change at least one)", field: "redirect"},
		{name: "redirect HTTPS to HTTP",
			l:    Listener{Scheme: "https", Rules: []Rule{ruleAt(3, redirect(RedirectAction{Protocol: "HTTP", Port: "80"}), path("/a"))}},
			want: "rule 3: redirect protocol: HTTP on an https listener: ALB does not redirect HTTPS to HTTP", field: "redirect protocol"},
		{name: "redirect protocol in lower case",
			l:    Listener{Rules: []Rule{ruleAt(3, redirect(RedirectAction{Protocol: "https"}), path("/a"))}},
			want: `rule 3: redirect protocol: "https": HTTP, HTTPS or #{protocol}`, field: "redirect protocol"},
		{name: "redirect port 0",
			l:    Listener{Rules: []Rule{ruleAt(3, redirect(RedirectAction{Protocol: "HTTPS", Port: "0"}), path("/a"))}},
			want: `rule 3: redirect port: "0": 1-65535 or #{port}`, field: "redirect port"},
		{name: "redirect path without /",
			l:    Listener{Rules: []Rule{ruleAt(3, redirect(RedirectAction{Path: "new/#{path}"}), path("/a"))}},
			want: `rule 3: redirect path: "new/#{path}" does not start with /`, field: "redirect path"},
		{name: "redirect path with #{query}",
			l:    Listener{Rules: []Rule{ruleAt(3, redirect(RedirectAction{Path: "/#{query}"}), path("/a"))}},
			want: `rule 3: redirect path: "/#{query}" holds #{query}: this part may hold #{host}, #{path}, #{port}`, field: "redirect path"},
		{name: "redirect host with #{path}",
			l:    Listener{Rules: []Rule{ruleAt(3, redirect(RedirectAction{Host: "#{path}.example.com"}), path("/a"))}},
			want: `rule 3: redirect host: "#{path}.example.com" holds #{path}: this part may hold #{host}`, field: "redirect host"},
		{name: "redirect query with ?",
			l:    Listener{Rules: []Rule{ruleAt(3, redirect(RedirectAction{Host: "example.com", Query: "?a=1"}), path("/a"))}},
			want: `rule 3: redirect query: "?a=1" starts with ?: ALB adds it`, field: "redirect query"},
		{name: "redirect query too long",
			l:    Listener{Rules: []Rule{ruleAt(3, redirect(RedirectAction{Host: "example.com", Query: strings.Repeat("a", 129)}), path("/a"))}},
			want: `rule 3: redirect query: "` + strings.Repeat("a", 129) + `" is 129 characters long: at most 128`, field: "redirect query"},
		{name: "fixed response 302",
			l:    Listener{Rules: []Rule{ruleAt(3, fixed(FixedResponseAction{StatusCode: 302}), path("/a"))}},
			want: "rule 3: fixed-response status: 302: 2XX, 4XX or 5XX", field: "fixed-response status"},
		{name: "fixed response 600",
			l:    Listener{Rules: []Rule{ruleAt(3, fixed(FixedResponseAction{StatusCode: 600}), path("/a"))}},
			want: "rule 3: fixed-response status: 600: 2XX, 4XX or 5XX", field: "fixed-response status"},
		{name: "fixed response content type",
			l:    Listener{Rules: []Rule{ruleAt(3, fixed(FixedResponseAction{StatusCode: 200, ContentType: "text/xml"}), path("/a"))}},
			want: `rule 3: fixed-response content type: "text/xml": text/plain, text/css, text/html, application/javascript, application/json (or none)`, field: "fixed-response content type"},
		{name: "fixed response body over 1024 bytes",
			l:    Listener{Rules: []Rule{ruleAt(3, fixed(FixedResponseAction{StatusCode: 200, Body: strings.Repeat("x", 1025)}), path("/a"))}},
			want: "rule 3: fixed-response body: 1025 bytes: at most 1024", field: "fixed-response body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.l
			if !tt.hidden {
				l.Default = ok
			}
			tab, err := Compile(l)
			if err == nil {
				t.Fatalf("Compile: got a table of %d rules, want the error %q", len(tab.Rules()), tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Compile: got the error\n%s\nwant\n%s", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Compile: %T is not an *Error", err)
			}
			if e.Rule != tt.rule || e.Field != tt.field {
				t.Errorf("Compile: got rule #%d field %q, want rule #%d field %q", e.Rule, e.Field, tt.rule, tt.field)
			}
		})
	}
}

func TestCompile_ReportsEverything(t *testing.T) {
	_, err := Compile(Listener{Rules: []Rule{
		ruleAt(0, forward("a"), path("/a b")),
		ruleAt(2, fixedAction(302), method("get")),
	}})
	want := []string{
		"default action: action: none: forward, redirect or fixed-response",
		"rule 0: priority: 0 is outside 1-50000",
		`rule 0: path-pattern: "/a b" holds ' ', which ALB does not take: letters, digits and _-.$/~"'@:+&*?`,
		`rule 2: http-request-method: "get" holds 'g': a method is A-Z, - and _ (upper case: methods are case-sensitive)`,
		"rule 2: fixed-response status: 302: 2XX, 4XX or 5XX",
	}
	if err == nil {
		t.Fatal("Compile: got no error")
	}
	if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
		t.Errorf("Compile errors (-want +got):\n%s", diff)
	}
}

func TestCompile_TakesWhatALBTakes(t *testing.T) {
	l := Listener{
		Scheme:  "http",
		Default: Action{Type: Forward, Forward: &ForwardAction{Groups: []WeightedGroup{{"only", 0}}}}, // a lone group's weight does not matter
		Rules: []Rule{
			ruleAt(1, forward("a"), host("*.example.com", "example.com", "a-b_c.example.org"), path("/img/*", "/a/$~\"'@:+&/?")),
			ruleAt(2, forward("a"), header("User-Agent", "*Chrome*", `Mozilla/5.0 (X11; "x") [a]{b}`), header("X-Env", "prod")),
			ruleAt(3, forward("a"), method("CUSTOM-METHOD", "M_X"), source("10.0.0.0/8", "2001:db8::/32", "::ffff:192.0.2.0/120")),
			ruleAt(4, forward("a"), query(KeyValue{Key: "version", Value: "v1"}, KeyValue{Value: `\*lit\?*`}, KeyValue{Key: "a", Value: "_-.$/~\"'@:+&()!,;="})),
			ruleAt(5, Action{Type: Forward, Forward: &ForwardAction{Groups: []WeightedGroup{{"blue", 0}, {"green", 999}}, Stickiness: 7 * 24 * time.Hour}}, path("/b")),
			ruleAt(6, redirectAction(RedirectAction{Protocol: "HTTPS", Port: "443", StatusCode: 301}), path("/c")),
			ruleAt(7, redirectAction(RedirectAction{Path: "/new/#{path}", Query: "#{query}&from=#{host}:#{port}#{protocol}", StatusCode: 302}), path("/d")),
			ruleAt(8, redirectAction(RedirectAction{Host: "www.#{host}", StatusCode: 301}), path("/e")),
			ruleAt(9, Action{Type: FixedResponse, Fixed: &FixedResponseAction{StatusCode: 503, Body: strings.Repeat("x", 1024)}}, path("/f")),
			ruleAt(50000, fixedAction(404), path("*")),
		},
	}
	if _, err := Compile(l); err != nil {
		t.Fatalf("Compile: %v", err)
	}
}

func TestCompile_CopiesTheListener(t *testing.T) {
	l := Listener{Default: forward("web"), Rules: []Rule{ruleAt(1, forward("api"), path("/api/*"))}}
	tab, err := Compile(l)
	if err != nil {
		t.Fatal(err)
	}
	l.Rules[0].Conditions[0].Values[0] = "/changed"
	l.Rules[0].Action.Forward.Groups[0].Name = "changed"
	l.Default.Forward.Groups[0].Name = "changed"

	a, p := tab.Match(get("example.com", "/api/x", ""))
	if p != 1 || a.Forward.Groups[0].Name != "api" {
		t.Errorf("Match after the listener changed: got rule %d to %s, want rule 1 to api", p, a.Forward.Groups[0].Name)
	}
	if got := tab.Rules()[0].Conditions[0].Values[0]; got != "/api/*" {
		t.Errorf("Rules after the listener changed: got %q, want /api/*", got)
	}
	rules := tab.Rules()
	rules[0].Action.Forward.Groups[0].Name = "changed again"
	if a, _ := tab.Match(get("example.com", "/api/x", "")); a.Forward.Groups[0].Name != "api" {
		t.Errorf("Match after Rules' result changed: got %s, want api", a.Forward.Groups[0].Name)
	}
}

func TestRules_InEvaluationOrder(t *testing.T) {
	tab, err := Compile(Listener{Default: forward("web"), Rules: []Rule{
		ruleAt(30, forward("c"), path("/c")), ruleAt(1, forward("a"), path("/a")), ruleAt(20, forward("b"), path("/b")),
	}})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, r := range tab.Rules() {
		got = append(got, r.Priority)
	}
	if diff := cmp.Diff([]int{1, 20, 30}, got); diff != "" {
		t.Errorf("Rules priorities (-want +got):\n%s", diff)
	}
	if d := tab.Default(); d.Forward.Groups[0].Name != "web" {
		t.Errorf("Default: got %+v, want a forward to web", d)
	}
}
