package routing

import (
	"net/http"
	"net/netip"
	"testing"
)

// fuzzTable has a rule of every condition type, and rules combining them.
var fuzzTable = func() *Table {
	tab, err := Compile(Listener{Default: forward("default"), Rules: []Rule{
		ruleAt(1, fixedAction(403), path("/admin*", "/*/admin")),
		ruleAt(2, forward("api"), host("*.example.com", "api.example.org"), path("/api/*")),
		ruleAt(3, forward("beta"), header("X-Beta", "yes", "on"), method("GET", "HEAD")),
		ruleAt(4, forward("q"), query(KeyValue{Key: "v", Value: "?"}, KeyValue{Value: `\*x`}, KeyValue{Key: "utm_*", Value: "*"})),
		ruleAt(5, forward("office"), source("10.0.0.0/8", "::ffff:192.0.2.0/120", "2001:db8::/32")),
		ruleAt(6, redirectAction(RedirectAction{Protocol: "HTTPS", Port: "443", StatusCode: 301}), host("*.example.net")),
	}})
	if err != nil {
		panic(err)
	}
	return tab
}()

// FuzzMatch feeds arbitrary requests to Match and Explain: they never
// panic, and they agree.
func FuzzMatch(f *testing.F) {
	f.Add("a.example.com:80", "/api/../admin/x", "v=1&utm_a=%zz", "GET", "X-Beta", "yes", []byte{10, 0, 0, 1})
	f.Add("", "", "", "", "", "", []byte{})
	f.Add("[::1", "%", "&&=&=", "post", "x-beta", "\x00", []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, host, path, rawQuery, method, hName, hValue string, src []byte) {
		r := &Request{Host: host, Path: path, RawQuery: rawQuery, Method: method,
			Header: http.Header{http.CanonicalHeaderKey(hName): {hValue}}, Scheme: "http", Port: "80"}
		if a, ok := netip.AddrFromSlice(src); ok {
			r.Source = a
		}
		a, p := fuzzTable.Match(r)
		e := fuzzTable.Explain(r)
		if e.Matched != p || e.Action.Type != a.Type {
			t.Fatalf("Match took rule %d (%s), Explain rule %d (%s)", p, a.Type, e.Matched, e.Action.Type)
		}
		checkSteps(t, fuzzTable, e)
		if a.Type == Redirect {
			_ = RedirectURL(a.Redirect, r)
		}
	})
}
