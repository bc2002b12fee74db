package routing

import (
	"net/url"
	"strings"
	"testing"
)

func TestRedirectURL(t *testing.T) {
	tests := []struct {
		name string
		a    RedirectAction
		r    *Request
		want string
	}{
		{"http to https, port 443 left out",
			RedirectAction{Protocol: "HTTPS", Port: "443"}, get("example.com", "/a/b", "x=1"),
			"https://example.com/a/b?x=1"},
		{"http to https keeping port 80 (ALB keeps it: set the port)",
			RedirectAction{Protocol: "HTTPS"}, get("example.com", "/a", ""),
			"https://example.com:80/a"},
		{"the port of Host is not #{port}",
			RedirectAction{Protocol: "HTTPS", Port: "443"}, get("example.com:8080", "/", ""),
			"https://example.com/"},
		{"AWS's example: https on 40443",
			RedirectAction{Protocol: "HTTPS", Port: "40443"}, get("example.com", "/p", "q=1"),
			"https://example.com:40443/p?q=1"},
		{"AWS's example: /new/#{path}",
			RedirectAction{Path: "/new/#{path}"}, get("example.com", "/old/x", "q=1"),
			"http://example.com/new/old/x?q=1"},
		{"the default of every part",
			RedirectAction{Host: "www.#{host}"}, get("example.com", "/a", "b=c"),
			"http://www.example.com/a?b=c"},
		{"a port that is not the default",
			RedirectAction{Host: "example.net"}, &Request{Host: "example.com", Path: "/", Scheme: "https", Port: "8443"},
			"https://example.net:8443/"},
		{"https 443 left out",
			RedirectAction{Host: "example.net"}, &Request{Host: "example.com", Path: "/", Scheme: "https", Port: "443"},
			"https://example.net/"},
		{"no query, no ?",
			RedirectAction{Path: "/x"}, get("example.com", "/a", ""),
			"http://example.com/x"},
		{"query with placeholders",
			RedirectAction{Path: "/x", Query: "#{query}&from=#{protocol}://#{host}:#{port}/#{path}"}, get("example.com", "/a", "q=1"),
			"http://example.com/x?q=1&from=http://example.com:80/a"},
		{"a query replaced",
			RedirectAction{Host: "example.net", Query: "v=2"}, get("example.com", "/a", "q=1"),
			"http://example.net/a?v=2"},
		{"path with #{host} and #{port}",
			RedirectAction{Path: "/#{host}/#{port}/#{path}"}, get("example.com", "/a", ""),
			"http://example.com/example.com/80/a"},
		{"the root path",
			RedirectAction{Protocol: "HTTPS", Port: "443"}, get("example.com", "/", ""),
			"https://example.com/"},
		{"an empty path",
			RedirectAction{Protocol: "HTTPS", Port: "443"}, get("example.com", "", ""),
			"https://example.com/"},
		{"IPv6 host",
			RedirectAction{Protocol: "HTTPS", Port: "443"}, get("[2001:db8::1]:80", "/", ""),
			"https://[2001:db8::1]/"},
		{"request path escapes kept",
			RedirectAction{Protocol: "HTTPS", Port: "443"}, get("example.com", "/a%20b/%E2%82%AC", "q=a%26b"),
			"https://example.com/a%20b/%E2%82%AC?q=a%26b"},
		{"what a URL cannot hold is escaped",
			RedirectAction{Protocol: "HTTPS", Port: "443"}, get("example.com", "/a b?#%zz", "q=a b#c"),
			"https://example.com/a%20b%3F%23%25zz?q=a%20b%23c"},
		{"no scheme is http",
			RedirectAction{Host: "example.net"}, &Request{Host: "example.com", Path: "/"},
			"http://example.net/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.a.StatusCode = 301
			if got := RedirectURL(&tt.a, tt.r); got != tt.want {
				t.Errorf("RedirectURL: got %s, want %s", got, tt.want)
			}
		})
	}
}

// presets are redirects Compile takes.
var presets = []RedirectAction{
	{Protocol: "HTTPS", Port: "443", StatusCode: 301},
	{Protocol: "HTTPS", StatusCode: 301},
	{Host: "www.#{host}", StatusCode: 301},
	{Path: "/new/#{path}", Query: "#{query}&from=#{protocol}:#{host}:#{port}:#{path}", StatusCode: 302},
	{Protocol: "#{protocol}", Host: "#{host}", Port: "8080", Path: "/#{host}/#{port}/#{path}", StatusCode: 302},
}

// FuzzRedirectURL checks that any redirect Compile takes, for any request,
// gives a URL that url.Parse takes, with an http or https scheme and a
// path from the root.
func FuzzRedirectURL(f *testing.F) {
	f.Add("HTTPS", "", "443", "", "", "example.com:8080", "/a/b", "x=1", "http", "80")
	f.Add("", "www.#{host}", "", "/new/#{path}", "#{query}&a=#{port}", "[::1]:80", "/a b?#", "q=%zz#", "https", "8443")
	f.Add("#{protocol}", "#{host}", "#{port}", "/#{host}/#{path}", "", "a%41b\x00:x", "%", "", "", "x")
	f.Fuzz(func(t *testing.T, proto, host, port, path, query, rHost, rPath, rQuery, scheme, rPort string) {
		a := RedirectAction{Protocol: proto, Host: host, Port: port, Path: path, Query: query, StatusCode: 302}
		if _, err := Compile(Listener{Default: Action{Type: Redirect, Redirect: &a}}); err != nil {
			// Most fuzzed redirects are refused: try the request on one
			// that is not.
			a = presets[len(proto+host+port+path+query)%len(presets)]
		}
		r := &Request{Host: rHost, Path: rPath, RawQuery: rQuery, Scheme: scheme, Port: rPort}
		s := RedirectURL(&a, r)
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("RedirectURL(%+v, %+v) = %q: %v", a, r, s, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			t.Fatalf("RedirectURL = %q: scheme %q", s, u.Scheme)
		}
		if !strings.HasPrefix(u.EscapedPath(), "/") || u.Fragment != "" || u.Opaque != "" {
			t.Fatalf("RedirectURL = %q: path %q, fragment %q, opaque %q", s, u.EscapedPath(), u.Fragment, u.Opaque)
		}
		if strings.HasPrefix(s, u.Scheme+"://") && u.Port() != "" && (u.Port() == "80" && u.Scheme == "http" || u.Port() == "443" && u.Scheme == "https") {
			t.Fatalf("RedirectURL = %q: the default port is written", s)
		}
	})
}
