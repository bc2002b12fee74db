package routing

import (
	"net/http"
	"net/netip"
	"testing"
)

// mustCompile compiles a listener whose default action forwards to
// "default".
func mustCompile(t testing.TB, rules ...Rule) *Table {
	t.Helper()
	tab, err := Compile(Listener{Default: forward("default"), Rules: rules})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return tab
}

// matchesOne reports whether a table of one rule with c matches r.
func matchesOne(t *testing.T, c Condition, r *Request) bool {
	t.Helper()
	tab := mustCompile(t, ruleAt(1, forward("rule"), c))
	_, p := tab.Match(r)
	return p == 1
}

func TestMatch_HostHeader(t *testing.T) {
	tests := []struct {
		name    string
		pattern []string
		host    string
		want    bool
	}{
		{"exact", []string{"example.com"}, "example.com", true},
		{"not case-sensitive", []string{"Example.COM"}, "EXAMPLE.com", true},
		{"port ignored", []string{"example.com"}, "example.com:8080", true},
		{"subdomain wildcard", []string{"*.example.com"}, "test.example.com", true},
		{"*.example.com is not example.com", []string{"*.example.com"}, "example.com", false},
		{"? is one character", []string{"api?.example.com"}, "api1.example.com", true},
		{"? is not two", []string{"api?.example.com"}, "api12.example.com", false},
		{"any of the values", []string{"a.example.com", "b.example.com"}, "b.example.com:443", true},
		{"none of the values", []string{"a.example.com", "b.example.com"}, "c.example.com", false},
		{"no Host", []string{"*.example.com"}, "", false},
		{"IPv6 literal with port", []string{"*.example.com"}, "[::1]:8080", false},
		{"other domain", []string{"*.example.com"}, "test.example.org", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matchesOne(t, host(tt.pattern...), get(tt.host, "/", "")); got != tt.want {
				t.Errorf("host %q against %q: got %v, want %v", tt.host, tt.pattern, got, tt.want)
			}
		})
	}
}

func TestMatch_PathPattern(t *testing.T) {
	tests := []struct {
		name    string
		pattern []string
		path    string
		query   string
		want    bool
	}{
		{"exact", []string{"/health"}, "/health", "", true},
		{"case-sensitive", []string{"/Health"}, "/health", "", false},
		{"prefix", []string{"/img/*"}, "/img/a/b.png", "", true},
		{"* crosses /", []string{"/img/*/pics"}, "/img/a/b/pics", "", true},
		{"the query is not the path", []string{"/search"}, "/search", "q=1", true},
		{"the query is never matched", []string{"*q*"}, "/search", "q=1", false},
		{"?", []string{"/v?/users"}, "/v2/users", "", true},
		{"any of the values", []string{"/a", "/b/*"}, "/b/c", "", true},
		{"dot segments removed", []string{"/admin*"}, "/public/../admin/x", "", true},
		{"dot segments removed, no escape above /", []string{"/admin*"}, "/../../admin", "", true},
		{"single dots removed", []string{"/a/b"}, "/a/./b", "", true},
		{"unreserved escapes decoded", []string{"/admin*"}, "/%61dmin", "", true},
		{"encoded dots are dot segments", []string{"/admin"}, "/x/%2e%2E/admin", "", true},
		{"%2F stays encoded", []string{"/a/b"}, "/a%2Fb", "", false},
		{"%2F can be matched by *", []string{"/a*b"}, "/a%2fb", "", true},
		{"slashes are not merged", []string{"/a/b"}, "/a//b", "", false},
		{"three dots are a name", []string{"/.../x"}, "/.../x", "", true},
		{"empty path", []string{"/*"}, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matchesOne(t, path(tt.pattern...), get("example.com", tt.path, tt.query)); got != tt.want {
				t.Errorf("path %q against %q: got %v, want %v", tt.path, tt.pattern, got, tt.want)
			}
		})
	}
}

func TestMatch_HTTPHeader(t *testing.T) {
	tests := []struct {
		name   string
		cond   Condition
		header http.Header
		want   bool
	}{
		{"exact", header("X-Env", "prod"), http.Header{"X-Env": {"prod"}}, true},
		{"name not case-sensitive", header("x-env", "prod"), http.Header{"X-Env": {"prod"}}, true},
		{"value not case-sensitive", header("X-Env", "PROD"), http.Header{"X-Env": {"Prod"}}, true},
		{"wildcards", header("User-Agent", "*Chrome*", "*Safari*"), http.Header{"User-Agent": {"Mozilla/5.0 Safari/605"}}, true},
		{"any of the header's values", header("X-Env", "prod"), http.Header{"X-Env": {"dev", "prod"}}, true},
		{"a line is one value", header("X-Env", "prod"), http.Header{"X-Env": {"dev, prod"}}, false},
		{"none of the values", header("X-Env", "prod", "staging"), http.Header{"X-Env": {"dev"}}, false},
		{"absent", header("X-Env", "*"), http.Header{}, false},
		{"empty value and *", header("X-Env", "*"), http.Header{"X-Env": {""}}, true},
		{"another header", header("X-Env", "prod"), http.Header{"X-Other": {"prod"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get("example.com", "/", "")
			r.Header = tt.header
			if got := matchesOne(t, tt.cond, r); got != tt.want {
				t.Errorf("header %v against %s %q: got %v, want %v", tt.header, tt.cond.HeaderName, tt.cond.Values, got, tt.want)
			}
		})
	}
}

func TestMatch_HTTPRequestMethod(t *testing.T) {
	tests := []struct {
		methods []string
		method  string
		want    bool
	}{
		{[]string{"POST"}, "POST", true},
		{[]string{"POST"}, "post", false}, // case-sensitive
		{[]string{"GET", "HEAD"}, "HEAD", true},
		{[]string{"GET", "HEAD"}, "GETX", false}, // exact, no prefix
		{[]string{"CUSTOM-METHOD"}, "CUSTOM-METHOD", true},
		{[]string{"GET"}, "", false},
	}
	for _, tt := range tests {
		r := get("example.com", "/", "")
		r.Method = tt.method
		if got := matchesOne(t, method(tt.methods...), r); got != tt.want {
			t.Errorf("method %q against %q: got %v, want %v", tt.method, tt.methods, got, tt.want)
		}
	}
}

func TestMatch_QueryString(t *testing.T) {
	kv := func(k, v string) KeyValue { return KeyValue{Key: k, Value: v} }
	tests := []struct {
		name  string
		pairs []KeyValue
		query string
		want  bool
	}{
		{"key and value", []KeyValue{kv("version", "v1")}, "version=v1", true},
		{"among others", []KeyValue{kv("version", "v1")}, "a=1&version=v1&b=2", true},
		{"not case-sensitive", []KeyValue{kv("Version", "V1")}, "VERSION=v1", true},
		{"another value", []KeyValue{kv("version", "v1")}, "version=v2", false},
		{"the value of another key", []KeyValue{kv("version", "v1")}, "other=v1", false},
		{"any key", []KeyValue{kv("", "*example*")}, "x=an-example-here", true},
		{"any key, no match", []KeyValue{kv("", "*example*")}, "x=nothing", false},
		{"any of the pairs", []KeyValue{kv("version", "v1"), kv("", "*example*")}, "q=example", true},
		{"wildcard key", []KeyValue{kv("utm_*", "*")}, "utm_source=mail", true},
		{"? in the value", []KeyValue{kv("v", "?")}, "v=1", true},
		{"? is one character", []KeyValue{kv("v", "?")}, "v=12", false},
		{"percent-decoded", []KeyValue{kv("path", "/a/b")}, "path=%2Fa%2fb", true},
		{"percent-decoded key", []KeyValue{kv("a-b", "1")}, "a%2Db=1", true},
		{"+ is not a space", []KeyValue{kv("q", "a+b")}, "q=a+b", true},
		{"escaped * is literal", []KeyValue{kv("q", `\*`)}, "q=*", true},
		{"escaped * is not a wildcard", []KeyValue{kv("q", `\*`)}, "q=abc", false},
		{"encoded * meets a literal *", []KeyValue{kv("q", `a\*`)}, "q=a%2A", true},
		{"no = is an empty value", []KeyValue{kv("debug", "*")}, "debug", true},
		{"no = is not a value", []KeyValue{kv("", "debug")}, "debug", false},
		{"first = splits", []KeyValue{kv("a", "b=c")}, "a=b=c", true},
		{"empty parameters skipped", []KeyValue{kv("a", "1")}, "&&a=1&", true},
		{"no query", []KeyValue{kv("", "*")}, "", false},
		{"; does not split", []KeyValue{kv("a", "1")}, "a=1;b=2", false},
		{"a long encoded value", []KeyValue{kv("q", "*end")}, "q=" + repeat("%41", 200) + "end", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matchesOne(t, query(tt.pairs...), get("example.com", "/", tt.query)); got != tt.want {
				t.Errorf("query %q against %v: got %v, want %v", tt.query, tt.pairs, got, tt.want)
			}
		})
	}
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

func TestMatch_SourceIP(t *testing.T) {
	tests := []struct {
		name  string
		cidrs []string
		src   string
		want  bool
	}{
		{"in", []string{"192.0.2.0/24"}, "192.0.2.7", true},
		{"out", []string{"192.0.2.0/24"}, "198.51.100.7", false},
		{"any of them", []string{"10.0.0.0/8", "198.51.100.10/32"}, "198.51.100.10", true},
		{"IPv6", []string{"2001:db8::/32"}, "2001:db8::1", true},
		{"IPv4-mapped IPv6 peer", []string{"192.0.2.0/24"}, "::ffff:192.0.2.7", true},
		{"IPv4-mapped IPv6 network", []string{"::ffff:192.0.2.0/120"}, "192.0.2.7", true},
		{"IPv4 network, IPv6 peer", []string{"0.0.0.0/0"}, "2001:db8::1", false},
		{"a zone is ignored", []string{"fe80::/10"}, "fe80::1%eth0", true},
		{"host bits in the CIDR", []string{"192.0.2.99/24"}, "192.0.2.7", true},
		{"no source", []string{"0.0.0.0/0"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get("example.com", "/", "")
			r.Source = netip.Addr{}
			if tt.src != "" {
				r.Source = netip.MustParseAddr(tt.src)
			}
			if got := matchesOne(t, source(tt.cidrs...), r); got != tt.want {
				t.Errorf("source %s against %v: got %v, want %v", tt.src, tt.cidrs, got, tt.want)
			}
		})
	}
}

func TestMatch_PriorityOrderAndDefault(t *testing.T) {
	tab := mustCompile(t,
		ruleAt(20, forward("api-any"), host("*.example.com"), path("/api/*")),
		ruleAt(10, forward("api-v2"), path("/api/v2/*")),
		ruleAt(30, fixedAction(403), path("/admin*")),
	)
	tests := []struct {
		path string
		host string
		want int
		to   string
	}{
		{"/api/v2/users", "a.example.com", 10, "api-v2"}, // lowest priority first, whatever the order given
		{"/api/v1/users", "a.example.com", 20, "api-any"},
		{"/api/v1/users", "example.org", 0, "default"}, // AND: the host fails
		{"/admin/x", "example.org", 30, ""},
		{"/", "a.example.com", 0, "default"},
	}
	for _, tt := range tests {
		a, p := tab.Match(get(tt.host, tt.path, ""))
		if p != tt.want {
			t.Errorf("Match %s%s: got rule %d, want %d", tt.host, tt.path, p, tt.want)
			continue
		}
		if tt.to != "" && (a.Type != Forward || a.Forward.Groups[0].Name != tt.to) {
			t.Errorf("Match %s%s: got %+v, want a forward to %s", tt.host, tt.path, a, tt.to)
		}
	}
}

func TestMatch_SeveralConditionsOfAType(t *testing.T) {
	// Two http-header conditions: both must match (AND), each any of its
	// values (OR).
	tab := mustCompile(t, ruleAt(1, forward("both"), header("X-A", "1", "2"), header("X-B", "x")))
	for _, tt := range []struct {
		h    http.Header
		want int
	}{
		{http.Header{"X-A": {"2"}, "X-B": {"x"}}, 1},
		{http.Header{"X-A": {"2"}}, 0},
		{http.Header{"X-B": {"x"}}, 0},
	} {
		r := get("example.com", "/", "")
		r.Header = tt.h
		if _, p := tab.Match(r); p != tt.want {
			t.Errorf("Match %v: got rule %d, want %d", tt.h, p, tt.want)
		}
	}
}

func TestMatch_NilRequest(t *testing.T) {
	tab := mustCompile(t, ruleAt(1, forward("a"), path("*")))
	if a, p := tab.Match(nil); p != 0 || a.Forward.Groups[0].Name != "default" {
		t.Errorf("Match(nil): got rule %d, want the default action", p)
	}
}
