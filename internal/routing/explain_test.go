package routing

import (
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExplain(t *testing.T) {
	tab := mustCompile(t,
		ruleAt(10, fixedAction(403), path("/admin*")),
		ruleAt(20, forward("api"), host("*.example.com"), path("/api/*", "/v2/*"), method("GET", "HEAD")),
		ruleAt(30, forward("beta"), header("X-Beta", "yes"), query(KeyValue{Key: "beta", Value: "1"}, KeyValue{Value: "*beta*"})),
		ruleAt(40, forward("office"), source("10.0.0.0/8")),
	)
	r := get("shop.example.org:8080", "/api/../api/x", "a=1")
	r.Method = http.MethodPost
	r.Header = http.Header{"X-Beta": {"no", "maybe"}}
	got := tab.Explain(r)
	want := Explanation{
		Steps: []Step{
			{Priority: 10, Conditions: []ConditionResult{
				{PathPattern, false, "path /api/../api/x (normalized /api/x) does not match /admin*"},
			}},
			{Priority: 20, Conditions: []ConditionResult{
				{HostHeader, false, "host shop.example.org:8080 (name shop.example.org) does not match *.example.com"},
				{PathPattern, true, "path /api/../api/x (normalized /api/x) matches /api/*"},
				{HTTPRequestMethod, false, "method POST matches none of GET, HEAD"},
			}},
			{Priority: 30, Conditions: []ConditionResult{
				{HTTPHeader, false, "header X-Beta: no, maybe do not match yes"},
				{QueryString, false, "query a=1 has no parameter matching beta=1 or any key=*beta*"},
			}},
			{Priority: 40, Conditions: []ConditionResult{
				{SourceIP, false, "source 192.0.2.10 is in none of 10.0.0.0/8"},
			}},
		},
		Matched: 0,
		Action:  forward("default"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Explain (-want +got):\n%s", diff)
	}

	r = get("shop.example.com", "/v2/x", "")
	got = tab.Explain(r)
	want = Explanation{
		Steps: []Step{
			{Priority: 10, Conditions: []ConditionResult{{PathPattern, false, "path /v2/x does not match /admin*"}}},
			{Priority: 20, Matched: true, Conditions: []ConditionResult{
				{HostHeader, true, "host shop.example.com matches *.example.com"},
				{PathPattern, true, "path /v2/x matches /v2/*"},
				{HTTPRequestMethod, true, "method GET matches GET"},
			}},
		},
		Matched: 20,
		Action:  forward("api"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Explain (-want +got):\n%s", diff)
	}
}

func TestExplain_Why(t *testing.T) {
	tests := []struct {
		name string
		cond Condition
		req  func(*Request)
		want ConditionResult
	}{
		{"header absent", header("x-env", "prod"), func(*Request) {},
			ConditionResult{HTTPHeader, false, "header X-Env is absent"}},
		{"header matches", header("X-Env", "prod", "staging"), func(r *Request) { r.Header.Set("X-Env", "Staging") },
			ConditionResult{HTTPHeader, true, "header X-Env: Staging matches staging"}},
		{"header value with spaces", header("X-Env", "prod"), func(r *Request) { r.Header.Set("X-Env", "dev box") },
			ConditionResult{HTTPHeader, false, `header X-Env: "dev box" does not match prod`}},
		{"query matches", query(KeyValue{Value: "*beta*"}), func(r *Request) { r.RawQuery = "x=betamax" },
			ConditionResult{QueryString, true, "query x=betamax has a parameter matching any key=*beta*"}},
		{"empty query", query(KeyValue{Key: "a", Value: "1"}), func(*Request) {},
			ConditionResult{QueryString, false, `query "" has no parameter matching a=1`}},
		{"source matches", source("10.0.0.0/8", "192.0.2.0/24"), func(*Request) {},
			ConditionResult{SourceIP, true, "source 192.0.2.10 is in 192.0.2.0/24"}},
		{"no source", source("10.0.0.0/8"), func(r *Request) { r.Source = netip.Addr{} },
			ConditionResult{SourceIP, false, "source (none) is in none of 10.0.0.0/8"}},
		{"method", method("PUT"), func(*Request) {},
			ConditionResult{HTTPRequestMethod, false, "method GET does not match PUT"}},
		{"no host", host("*.example.com", "example.com"), func(r *Request) { r.Host = "" },
			ConditionResult{HostHeader, false, `host "" matches none of *.example.com, example.com`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := mustCompile(t, ruleAt(1, forward("a"), tt.cond))
			r := get("example.com", "/", "")
			tt.req(r)
			got := tab.Explain(r).Steps[0].Conditions[0]
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Explain (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMatchAndExplainAgree checks, on random tables and requests, that
// Explain takes the rule Match takes, and that its steps say so.
func TestMatchAndExplainAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		tab := randomTable(t, rng)
		for range 30 {
			r := randomRequest(rng)
			a, p := tab.Match(r)
			e := tab.Explain(r)
			if e.Matched != p {
				t.Fatalf("request %+v: Match took rule %d, Explain %d", r, p, e.Matched)
			}
			if diff := cmp.Diff(*a, e.Action); diff != "" {
				t.Fatalf("request %+v: actions differ (-Match +Explain):\n%s", r, diff)
			}
			checkSteps(t, tab, e)
		}
	}
}

// checkSteps checks that e's steps are the rules in order up to the one
// that matched, each Matched exactly when all its conditions are.
func checkSteps(t *testing.T, tab *Table, e Explanation) {
	t.Helper()
	rules := tab.Rules()
	for i, s := range e.Steps {
		if s.Priority != rules[i].Priority {
			t.Fatalf("step %d: rule %d, want %d", i, s.Priority, rules[i].Priority)
		}
		all := true
		for _, c := range s.Conditions {
			all = all && c.Matched
		}
		if s.Matched != all || s.Matched != (i == len(e.Steps)-1 && e.Matched != 0) {
			t.Fatalf("step %d (rule %d): Matched %v, conditions %+v, explanation matched %d", i, s.Priority, s.Matched, s.Conditions, e.Matched)
		}
	}
	if e.Matched == 0 && len(e.Steps) != len(rules) {
		t.Fatalf("default action after %d steps, want %d", len(e.Steps), len(rules))
	}
}

// The vocabulary random tables and requests are made of: small, so that
// rules often match.
var (
	hosts   = []string{"example.com", "a.example.com", "b.example.org", "EXAMPLE.COM:8080", ""}
	hostPat = []string{"example.com", "*.example.com", "?.example.com", "*.org"}
	paths   = []string{"/", "/api/v1/x", "/api/../admin", "/img/a.png", "/%61pi/x", "/admin"}
	pathPat = []string{"/api/*", "/admin*", "/img/*.png", "*", "/?dmin", "/api/v?/*"}
	queries = []string{"", "a=1", "beta=yes&a=2", "x=%2A", "flag", "v=1&v=2"}
	qPairs  = []KeyValue{{"a", "1"}, {"", "yes"}, {"v", "?"}, {"x", `\*`}, {"flag", "*"}, {"", "*"}}
	methods = []string{"GET", "POST", "HEAD", "get"}
	sources = []string{"192.0.2.10", "10.1.2.3", "::ffff:10.0.0.1", "2001:db8::5"}
	cidrs   = []string{"10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32"}
)

func pick[T any](rng *rand.Rand, ts []T) T { return ts[rng.IntN(len(ts))] }

func picks[T any](rng *rand.Rand, ts []T) []T {
	out := make([]T, 1+rng.IntN(2))
	for i := range out {
		out[i] = pick(rng, ts)
	}
	return out
}

func randomTable(t *testing.T, rng *rand.Rand) *Table {
	var rules []Rule
	for i := range rng.IntN(8) {
		var conds []Condition
		for _, f := range rng.Perm(6)[:1+rng.IntN(2)] {
			switch f {
			case 0:
				conds = append(conds, host(picks(rng, hostPat)...))
			case 1:
				conds = append(conds, path(picks(rng, pathPat)...))
			case 2:
				conds = append(conds, header("X-Beta", picks(rng, []string{"yes", "*", "n?"})...))
			case 3:
				conds = append(conds, method(picks(rng, methods[:3])...))
			case 4:
				conds = append(conds, query(picks(rng, qPairs)...))
			case 5:
				conds = append(conds, source(picks(rng, cidrs)...))
			}
		}
		rules = append(rules, ruleAt(1+i*10+rng.IntN(10), forward(string(rune('a'+i))), conds...))
	}
	tab, err := Compile(Listener{Default: forward("default"), Rules: rules})
	if err != nil {
		if strings.Contains(err.Error(), "wildcards") {
			return mustCompile(t) // too many wildcards: a table of none will do
		}
		t.Fatalf("Compile: %v", err)
	}
	return tab
}

func randomRequest(rng *rand.Rand) *Request {
	r := get(pick(rng, hosts), pick(rng, paths), pick(rng, queries))
	r.Method = pick(rng, methods)
	r.Source = netip.MustParseAddr(pick(rng, sources))
	if rng.IntN(2) == 0 {
		r.Header.Set("X-Beta", pick(rng, []string{"yes", "no", "Yes"}))
	}
	return r
}
