package routing

import (
	"bufio"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func hostRewrite(regex, replace string) Transform {
	return Transform{Type: HostHeaderRewrite, Regex: regex, Replace: replace}
}

func urlRewrite(regex, replace string) Transform {
	return Transform{Type: URLRewrite, Regex: regex, Replace: replace}
}

// transformed is a listener of one rule matching every path, with ts.
func transformed(ts ...Transform) Listener {
	r := ruleAt(7, forward("api"), path("/*"))
	r.Transforms = ts
	return Listener{Default: forward("web"), Rules: []Rule{r}}
}

func TestCompile_TransformErrors(t *testing.T) {
	long := strings.Repeat("a", 1025)
	tests := []struct {
		name string
		ts   []Transform
		want string // the error's text, in full
	}{
		{"unknown type", []Transform{{Type: "path-rewrite", Regex: "a", Replace: "b"}},
			`rule 7: transforms: unknown type "path-rewrite" (host-header-rewrite or url-rewrite)`},
		{"two host rewrites", []Transform{hostRewrite("a", "b"), hostRewrite("c", "d")},
			"rule 7: transform host-header-rewrite: more than one: a rule has at most one host-header-rewrite transform"},
		{"two url rewrites", []Transform{urlRewrite("a", "b"), urlRewrite("c", "d")},
			"rule 7: transform url-rewrite: more than one: a rule has at most one url-rewrite transform"},
		{"empty regex", []Transform{urlRewrite("", "/")},
			"rule 7: transform url-rewrite: an empty regex"},
		{"regex too long", []Transform{urlRewrite(long, "/")},
			"rule 7: transform url-rewrite: regex is 1025 characters long: at most 1024"},
		{"replace too long", []Transform{urlRewrite("a", long)},
			"rule 7: transform url-rewrite: replace is 1025 characters long: at most 1024"},
		{"lookahead", []Transform{urlRewrite("^/api(?=/v2)", "/")},
			`rule 7: transform url-rewrite: regex "^/api(?=/v2)": (?= is a lookahead, ` + unsupported},
		{"negative lookahead", []Transform{urlRewrite("^/(?!admin)", "/")},
			`rule 7: transform url-rewrite: regex "^/(?!admin)": (?! is a lookahead, ` + unsupported},
		{"lookbehind", []Transform{hostRewrite(`(?<=www\.)example`, "x")},
			`rule 7: transform host-header-rewrite: regex "(?<=www\\.)example": (?<= is a lookbehind, ` + unsupported},
		{"negative lookbehind", []Transform{hostRewrite(`(?<!www\.)example`, "x")},
			`rule 7: transform host-header-rewrite: regex "(?<!www\\.)example": (?<! is a lookbehind, ` + unsupported},
		{"backreference", []Transform{urlRewrite(`^/(\w+)/\1$`, "/$1")},
			`rule 7: transform url-rewrite: regex "^/(\\w+)/\\1$": \1 is a backreference (for a character by its code, write \x{..}), ` + unsupported},
		{"named backreference", []Transform{urlRewrite(`^/(?P<a>\w+)/\k<a>$`, "/")},
			`rule 7: transform url-rewrite: regex "^/(?P<a>\\w+)/\\k<a>$": \k is a backreference or subroutine, ` + unsupported},
		{"python backreference", []Transform{urlRewrite(`^/(?P<a>\w+)/(?P=a)$`, "/")},
			`rule 7: transform url-rewrite: regex "^/(?P<a>\\w+)/(?P=a)$": (?P= is a backreference, ` + unsupported},
		{"atomic group", []Transform{urlRewrite(`^/(?>a+)b`, "/")},
			`rule 7: transform url-rewrite: regex "^/(?>a+)b": (?> is an atomic group, ` + unsupported},
		{"possessive quantifier", []Transform{urlRewrite(`^/a++b`, "/")},
			`rule 7: transform url-rewrite: regex "^/a++b": ++ is a possessive quantifier, ` + unsupported},
		{"possessive counted", []Transform{urlRewrite(`^/a{2}+`, "/")},
			`rule 7: transform url-rewrite: regex "^/a{2}+": {2}+ is a possessive quantifier, ` + unsupported},
		{"recursion", []Transform{urlRewrite(`\((?R)?\)`, "/")},
			`rule 7: transform url-rewrite: regex "\\((?R)?\\)": (?R) is recursion, ` + unsupported},
		{"numbered subroutine", []Transform{urlRewrite(`(a)(?1)`, "/")},
			`rule 7: transform url-rewrite: regex "(a)(?1)": (?1 is a subroutine or recursion, ` + unsupported},
		{"relative subroutine", []Transform{urlRewrite(`(a)(?-1)`, "/")},
			`rule 7: transform url-rewrite: regex "(a)(?-1)": (?-1 is a subroutine or recursion, ` + unsupported},
		{"named subroutine", []Transform{urlRewrite(`(?<a>x)(?&a)`, "/")},
			`rule 7: transform url-rewrite: regex "(?<a>x)(?&a)": (?& is a subroutine, ` + unsupported},
		{"unicode class", []Transform{hostRewrite(`^\p{L}+`, "x")},
			`rule 7: transform host-header-rewrite: regex "^\\p{L}+": \p is a Unicode character class, ` + unsupported},
		{"negated unicode class in a class", []Transform{hostRewrite(`^[\PL]+`, "x")},
			`rule 7: transform host-header-rewrite: regex "^[\\PL]+": \P is a Unicode character class, ` + unsupported},
		{"broken regex", []Transform{urlRewrite(`^/(api`, "/")},
			`rule 7: transform url-rewrite: regex "^/(api": it does not compile: missing closing ): ` + "`^/(api`"},
		{"missing group", []Transform{urlRewrite(`^/api/(.*)$`, "/$2")},
			`rule 7: transform url-rewrite: replace "/$2" refers to $2, but the regex has 1 capture group(s)`},
		{"missing group in braces", []Transform{urlRewrite(`^/api/.*$`, "/${1}")},
			`rule 7: transform url-rewrite: replace "/${1}" refers to $1, but the regex has 0 capture group(s)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(transformed(tt.ts...))
			if err == nil {
				t.Fatalf("Compile accepted %+v", tt.ts)
			}
			if err.Error() != tt.want {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Priority != 7 || e.Rule != 0 {
				t.Errorf("got %#v, want an *Error for rule 7", e)
			}
		})
	}
}

// TestCompile_TransformsAccepted are regexes of ALB's dialect that look like
// what it lacks.
func TestCompile_TransformsAccepted(t *testing.T) {
	for _, re := range []string{
		`^/[(?=]x`,    // a class, not a lookahead
		`^/\(?=`,      // an optional literal (, then "="
		`^/(?i)api`,   // flags
		`^/(?-i:API)`, // flags off
		`^/(?P<v>v\d+)/(?<rest>.*)$`,
		`^/a+?b*?c??`, // lazy quantifiers
		`\\1`,         // an escaped backslash, then 1
		`^/\x{31}`,
		`[]a]`, `[^]a]`,
	} {
		if _, err := Compile(transformed(urlRewrite(re, "/"))); err != nil {
			t.Errorf("%s: %v", re, err)
		}
	}
	if _, err := Compile(transformed(urlRewrite(`^/[[:alpha:]]+(?=x)`, "/"))); err == nil {
		t.Error("a lookahead after a POSIX class was accepted")
	}
	// Both types at once, and the longest regex and replacement.
	full := strings.Repeat("a", 1024)
	if _, err := Compile(transformed(hostRewrite(full, full), urlRewrite("^/$", ""))); err != nil {
		t.Error(err)
	}
}

func TestExpandTemplate(t *testing.T) {
	tests := []struct {
		replace, template string
		highest           int
	}{
		{"", "", -1},
		{"/v2/$1", "/v2/${1}", 1},
		{"$1x", "${1}x", 1}, // Go alone would read $1x as a group named "1x"
		{"${2}0", "${2}0", 2},
		{"$10", "${10}", 10},
		{"$0", "${0}", 0},
		{"$", "$$", -1},
		{"$$1", "$$${1}", 1},
		{"a$b", "a$$b", -1},
		{"${x}", "$${x}", -1},
		{"${1", "$${1", -1},
		{"${}", "$${}", -1},
	}
	for _, tt := range tests {
		template, highest := expandTemplate(tt.replace)
		if template != tt.template || highest != tt.highest {
			t.Errorf("%q: got %q (group %d), want %q (group %d)", tt.replace, template, highest, tt.template, tt.highest)
		}
	}
}

func TestRewrite(t *testing.T) {
	tests := []struct {
		name       string
		ts         []Transform
		host, path string
		query      string
		wantHost   string
		wantURI    string // the URL's RequestURI; "" for unchanged
		fails      bool
	}{
		{name: "ALB's host example", ts: []Transform{hostRewrite(`^mywebsite-(.+).com$`, "internal.dev.$1.myweb.com")},
			host: "mywebsite-example.com", path: "/project-a", wantHost: "internal.dev.example.myweb.com"},
		{name: "host with a port does not meet an anchored pattern", ts: []Transform{hostRewrite(`^mywebsite-(.+).com$`, "x.com")},
			host: "mywebsite-example.com:8443", path: "/", wantHost: "mywebsite-example.com:8443"},
		{name: "host keeps its port when the pattern leaves it", ts: []Transform{hostRewrite(`^www\.`, "")},
			host: "www.example.com:8080", path: "/", wantHost: "example.com:8080"},
		{name: "no match: unchanged", ts: []Transform{hostRewrite(`^api\.`, "internal."), urlRewrite(`^/v1/`, "/v2/")},
			host: "www.example.com", path: "/v2/items", query: "a=1", wantHost: "www.example.com"},
		{name: "strip a path prefix", ts: []Transform{urlRewrite(`^/api/(.*)$`, "/$1")},
			host: "h", path: "/api/items/42", wantHost: "h", wantURI: "/items/42"},
		{name: "the query is part of the URL", ts: []Transform{urlRewrite(`^/api/(.*)$`, "/$1")},
			host: "h", path: "/api/items", query: "sort=name&x=%20", wantHost: "h", wantURI: "/items?sort=name&x=%20"},
		{name: "path into the query", ts: []Transform{urlRewrite(`^/dp/([A-Za-z0-9]+)/?$`, "/product.php?id=$1")},
			host: "h", path: "/dp/B09G3HRMVB", wantHost: "h", wantURI: "/product.php?id=B09G3HRMVB"},
		{name: "change the query only", ts: []Transform{urlRewrite(`lang=en`, "lang=en-GB")},
			host: "h", path: "/a", query: "q=1&lang=en", wantHost: "h", wantURI: "/a?q=1&lang=en-GB"},
		{name: "first match only", ts: []Transform{urlRewrite(`v1`, "v2")},
			host: "h", path: "/v1/v1", wantHost: "h", wantURI: "/v2/v1"},
		{name: "group 0 and a literal dollar", ts: []Transform{urlRewrite(`items`, "$0$")},
			host: "h", path: "/items", wantHost: "h", wantURI: "/items$"},
		{name: "escapes stay as sent", ts: []Transform{urlRewrite(`^/old(/.*)$`, "/new$1")},
			host: "h", path: "/old/a%2Fb", wantHost: "h", wantURI: "/new/a%2Fb"},
		{name: "both", ts: []Transform{hostRewrite(`^.*$`, "backend.internal"), urlRewrite(`^/`, "/app/")},
			host: "shop.example.com", path: "/cart", wantHost: "backend.internal", wantURI: "/app/cart"},
		{name: "IPv6 host", ts: []Transform{hostRewrite(`^.*$`, "[2001:db8::1]:8080")},
			host: "a", path: "/", wantHost: "[2001:db8::1]:8080"},
		{name: "empty host fails", ts: []Transform{hostRewrite(`^.*$`, "")},
			host: "a.example.com", path: "/", fails: true},
		{name: "host with a space fails", ts: []Transform{hostRewrite(`^a`, "a b")},
			host: "a.example.com", path: "/", fails: true},
		{name: "host with a bad port fails", ts: []Transform{hostRewrite(`$`, ":99999")},
			host: "a.example.com", path: "/", fails: true},
		{name: "host with a slash fails", ts: []Transform{hostRewrite(`$`, "/x")},
			host: "a.example.com", path: "/", fails: true},
		{name: "URL not starting with / fails", ts: []Transform{urlRewrite(`^/`, "")},
			host: "h", path: "/a", fails: true},
		{name: "URL with a space fails", ts: []Transform{urlRewrite(`a`, "a b")},
			host: "h", path: "/a", fails: true},
		{name: "URL with a fragment fails", ts: []Transform{urlRewrite(`$`, "#top")},
			host: "h", path: "/a", fails: true},
		{name: "URL with a bad escape fails", ts: []Transform{urlRewrite(`a`, "%zz")},
			host: "h", path: "/a", fails: true},
		{name: "URL with non-ASCII fails", ts: []Transform{urlRewrite(`a`, "é")},
			host: "h", path: "/a", fails: true},
		{name: "a rewrite to the same URL is no change", ts: []Transform{urlRewrite(`^/(a)`, "/$1")},
			host: "h", path: "/a", wantHost: "h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, err := Compile(transformed(tt.ts...))
			if err != nil {
				t.Fatal(err)
			}
			r := get(tt.host, tt.path, tt.query)
			_, p := tab.Match(r)
			got, err := Rewrite(tab.Transforms(p), r)
			if tt.fails {
				if !errors.Is(err, ErrTransformFailed) {
					t.Fatalf("got %+v, %v; want ErrTransformFailed", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			uri := ""
			if got.URL != nil {
				uri = got.URL.RequestURI()
			}
			if got.Host != tt.wantHost || uri != tt.wantURI {
				t.Errorf("got Host %q, URL %q; want %q, %q", got.Host, uri, tt.wantHost, tt.wantURI)
			}
		})
	}
}

func TestTable_Transforms(t *testing.T) {
	plain := ruleAt(3, forward("a"), path("/a"))
	with := ruleAt(9, forward("b"), path("/b"))
	with.Transforms = []Transform{urlRewrite("^/b", "/")}
	tab, err := Compile(Listener{Default: forward("web"), Rules: []Rule{with, plain}})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[int]int{0: 0, 3: 0, 9: 1, 4: 0, 50000: 0} {
		if got := len(tab.Transforms(p)); got != want {
			t.Errorf("Transforms(%d): got %d, want %d", p, got, want)
		}
	}
	if rs := tab.Rules(); len(rs[1].Transforms) != 1 || rs[1].Transforms[0] != with.Transforms[0] {
		t.Errorf("Rules: got %+v, want the rule's transforms", rs[1].Transforms)
	}
	none, _ := Compile(Listener{Default: forward("web"), Rules: []Rule{plain}})
	if got := none.Transforms(3); got != nil {
		t.Errorf("got %v, want nil", got)
	}
	r := get("h", "/b/x", "")
	if n := testing.AllocsPerRun(100, func() { _, p := tab.Match(r); tab.Transforms(p) }); n != 0 {
		t.Errorf("Match and Transforms allocate %v times", n)
	}
}

// FuzzRewrite applies arbitrary transforms to arbitrary requests: Rewrite
// never panics, and what it does not refuse as ErrTransformFailed is a
// request Go's own HTTP server reads back as such.
func FuzzRewrite(f *testing.F) {
	f.Add(`^mywebsite-(.+).com$`, "internal.dev.$1.myweb.com", `^/api/(.*)$`, "/$1", "mywebsite-x.com", "/api/a%2Fb", "q=1")
	f.Add(`.`, "$0$0", `(\?)`, "#$1", "", "*", "")
	f.Add(`^(.*)$`, "[::1]:$1", `$`, "?x y", "80", "/", "a=%zz")
	f.Fuzz(func(t *testing.T, hostRe, hostRepl, urlRe, urlRepl, host, path, query string) {
		tab, err := Compile(transformed(hostRewrite(hostRe, hostRepl), urlRewrite(urlRe, urlRepl)))
		if err != nil {
			return
		}
		r := get(host, path, query)
		got, err := Rewrite(tab.Transforms(7), r)
		if err != nil {
			if !errors.Is(err, ErrTransformFailed) {
				t.Fatalf("got %v, want ErrTransformFailed", err)
			}
			return
		}
		if got.Host != host && !validHost(got.Host) {
			t.Fatalf("Host %q", got.Host)
		}
		if got.URL == nil || got.Host != strings.TrimSpace(got.Host) || got.Host == "" {
			return // the request as sent: not the rewrite's to judge
		}
		uri := got.URL.RequestURI()
		raw := "GET " + uri + " HTTP/1.1\r\nHost: " + got.Host + "\r\n\r\n"
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			t.Fatalf("%q %q: %v", got.Host, uri, err)
		}
		if req.URL.RequestURI() != uri || req.Host != got.Host {
			t.Fatalf("read back %q %q, want %q %q", req.Host, req.URL.RequestURI(), got.Host, uri)
		}
	})
}
