package routing

import (
	"fmt"
	"net/http"
	"testing"
)

// benchTable has n rules of the usual kind, a host and a path each, and a
// forward by default.
func benchTable(b *testing.B, n int) *Table {
	var rules []Rule
	for i := range n {
		rules = append(rules, ruleAt(i+1, forward(fmt.Sprint("svc", i)),
			host(fmt.Sprintf("svc%d.example.com", i), "*.svc.example.com"),
			path(fmt.Sprintf("/api/v%d/*", i))))
	}
	tab, err := Compile(Listener{Default: forward("web"), Rules: rules})
	if err != nil {
		b.Fatal(err)
	}
	return tab
}

// BenchmarkMatch: the default forward with no rules, and tables of 10 and
// 100 rules with a request that the last rule takes, or that none does.
func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{0, 10, 100} {
		tab := benchTable(b, n)
		last := max(n-1, 0)
		cases := []struct {
			name string
			r    *Request
		}{
			{"default", get("www.example.com", "/index.html", "a=1")},
			{"last", get(fmt.Sprintf("svc%d.example.com:8080", last), fmt.Sprintf("/api/v%d/users/42", last), "")},
		}
		for _, c := range cases {
			if n == 0 && c.name == "last" {
				continue
			}
			b.Run(fmt.Sprintf("rules=%d/%s", n, c.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					tab.Match(c.r)
				}
			})
		}
	}
	// Every condition type, in a rule the request reaches last.
	tab := mustCompile(b,
		ruleAt(1, fixedAction(403), path("/admin*")),
		ruleAt(2, forward("beta"), header("X-Beta", "yes"), query(KeyValue{Key: "q", Value: "*beta*"})),
		ruleAt(3, forward("office"), method("GET"), source("192.0.2.0/24")),
	)
	r := get("www.example.com", "/%61pi/../search", "q=some%20beta%20test&x=1")
	r.Header = http.Header{"X-Beta": {"yes"}}
	b.Run("all-types", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tab.Match(r)
		}
	})
	r2 := get("www.example.com", "/api/search", "q=some%20beta%20test&x=1")
	r2.Header = r.Header
	b.Run("all-types-normal-path", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tab.Match(r2)
		}
	})
}

func BenchmarkExplain(b *testing.B) {
	tab := benchTable(b, 10)
	r := get("svc9.example.com", "/api/v9/x", "")
	b.ReportAllocs()
	for b.Loop() {
		tab.Explain(r)
	}
}

func TestMatch_DoesNotAllocate(t *testing.T) {
	tab := mustCompile(t,
		ruleAt(1, fixedAction(403), path("/admin*"), host("*.example.com")),
		ruleAt(2, forward("beta"), header("X-Beta", "yes"), query(KeyValue{Key: "q", Value: "*beta*"}, KeyValue{Value: `\*`})),
		ruleAt(3, forward("office"), method("GET"), source("192.0.2.0/24", "::ffff:10.0.0.0/104")),
	)
	r := get("www.example.com:8080", "/api/search", "q=some%20beta%20"+repeat("%41", 200)+"&x=1") // decoded in 256 bytes: a longer value allocates
	r.Header = http.Header{"X-Beta": {"yes"}}
	if n := testing.AllocsPerRun(100, func() { tab.Match(r) }); n != 0 {
		t.Errorf("Match: got %v allocations, want 0", n)
	}
	r.Path = "/a%20b/../c"
	if n := testing.AllocsPerRun(100, func() { tab.Match(r) }); n > 3 {
		t.Errorf("Match of a path to normalize: got %v allocations, want 3 at most", n)
	}
}
