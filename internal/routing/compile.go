package routing

import (
	"fmt"
	"net/netip"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ALB's limits (see the package documentation for where AWS states them).
const (
	minPriority, maxPriority = 1, 50000
	maxValuesPerCondition    = 3   // "match evaluations per condition"
	maxValuesPerRule         = 5   // "match evaluations per rule", "condition values per rule"
	maxWildcardsPerRule      = 5   // "condition wildcards per rule"
	maxPatternLen            = 128 // host, path, header value, query key and value
	maxTokenLen              = 40  // header name, method
	maxGroups                = 5   // "target groups per action"
	maxWeight                = 999 // target group weight
	maxStickiness            = 7 * 24 * time.Hour
	maxRedirectPartLen       = 128 // redirect host, path and query
	maxBodyLen               = 1024
)

// The characters each pattern may hold, besides letters and digits.
const (
	hostChars   = "-._*?"
	pathChars   = "_-.$/~\"'@:+&*?"
	queryChars  = "_-.$/~\"'@:+&()!,;=*?\\"
	methodChars = "-_"
	// redirectHostChars are what a redirect's host may hold: AWS's list
	// (alphanumerics, hyphens, * and ?) forgets the dots and makes no
	// sense of wildcards in a URL; this is a host name's.
	redirectHostChars = "-._"
	// tokenChars are RFC 7230's tchar: what a header name may hold.
	tokenChars = "!#$%&'*+-.^_`|~"
)

// contentTypes are the content types of a fixed response.
var contentTypes = []string{"text/plain", "text/css", "text/html", "application/javascript", "application/json"}

// compiler collects what ALB would refuse while it compiles.
type compiler struct {
	scheme string
	errs   []error
}

func (c *compiler) fail(index, priority int, field, format string, args ...any) {
	c.errs = append(c.errs, &Error{Rule: index, Priority: priority, Field: field, Problem: fmt.Sprintf(format, args...)})
}

func (c *compiler) priority(i, p int, seen map[int]int) {
	switch first, dup := seen[p]; {
	case p < minPriority || p > maxPriority:
		c.fail(i, p, "priority", "%d is outside %d-%d", p, minPriority, maxPriority)
	case dup:
		c.fail(i, p, "priority", "%d is also the priority of rule #%d: priorities are unique in a listener", p, first+1)
	default:
		seen[p] = i
	}
}

// conditions compiles a rule's conditions and checks ALB's limits on them.
func (c *compiler) conditions(i int, r Rule) []cond {
	fail := func(field, format string, args ...any) { c.fail(i, r.Priority, field, format, args...) }
	if len(r.Conditions) == 0 {
		fail("conditions", "none: a rule has at least one condition (only the default action has none)")
	}
	var out []cond
	values, wild := 0, 0
	once := map[Field]bool{}
	for _, cd := range r.Conditions {
		field := string(cd.Field)
		switch cd.Field {
		case HostHeader, PathPattern, HTTPRequestMethod, SourceIP:
			if once[cd.Field] {
				fail(field, "more than one: a rule has at most one %s condition (put the values in one)", cd.Field)
			}
			once[cd.Field] = true
		case HTTPHeader, QueryString:
		default:
			fail("conditions", "unknown condition field %q (host-header, path-pattern, http-header, http-request-method, query-string or source-ip)", cd.Field)
			continue
		}
		if cd.Field == HTTPHeader {
			field += " " + cd.HeaderName
		}
		n := conditionValues(cd)
		switch {
		case n == 0:
			fail(field, "no value: a condition has one to %d", maxValuesPerCondition)
		case n > maxValuesPerCondition:
			fail(field, "%d values: a condition has at most %d", n, maxValuesPerCondition)
		}
		values += n
		for _, p := range misplaced(cd) {
			fail(field, "%s are not for a %s condition", p, cd.Field)
		}
		comp, w := condition(cd, func(format string, args ...any) { fail(field, format, args...) })
		wild += w
		out = append(out, comp)
	}
	if values > maxValuesPerRule {
		fail("conditions", "%d values in all: a rule has at most %d", values, maxValuesPerRule)
	}
	if wild > maxWildcardsPerRule {
		fail("conditions", "%d wildcards (* and ?) in all: a rule has at most %d", wild, maxWildcardsPerRule)
	}
	return out
}

// conditionValues counts a condition's match evaluations.
func conditionValues(cd Condition) int {
	switch cd.Field {
	case QueryString:
		return len(cd.Query)
	case SourceIP:
		return len(cd.CIDRs)
	}
	return len(cd.Values)
}

// misplaced names the fields of cd set for another condition type.
func misplaced(cd Condition) []string {
	var out []string
	if len(cd.Values) > 0 && (cd.Field == QueryString || cd.Field == SourceIP) {
		out = append(out, "values")
	}
	if cd.HeaderName != "" && cd.Field != HTTPHeader {
		out = append(out, "header names")
	}
	if len(cd.Query) > 0 && cd.Field != QueryString {
		out = append(out, "query pairs")
	}
	if len(cd.CIDRs) > 0 && cd.Field != SourceIP {
		out = append(out, "CIDRs")
	}
	return out
}

// condition compiles one condition, reporting what is wrong with its
// values through fail, and returns its wildcards.
func condition(cd Condition, fail func(format string, args ...any)) (cond, int) {
	out := cond{field: cd.Field}
	wild := 0
	switch cd.Field {
	case HostHeader:
		for _, v := range cd.Values {
			checkHost(v, fail)
			out.globs = append(out.globs, compileGlob(v, true, false))
			wild += wildcards(v, false)
		}
	case PathPattern:
		for _, v := range cd.Values {
			checkChars(v, maxPatternLen, pathChars, "", fail)
			out.globs = append(out.globs, compileGlob(v, false, false))
			wild += wildcards(v, false)
		}
	case HTTPHeader:
		name := cd.HeaderName
		switch {
		case name == "":
			fail("no header name")
		case strings.EqualFold(name, "Host"):
			fail("the Host header is matched by a host-header condition")
		default:
			checkChars(name, maxTokenLen, tokenChars, " (the header name is an RFC 7230 token)", fail)
		}
		out.header = textproto.CanonicalMIMEHeaderKey(name)
		for _, v := range cd.Values {
			checkHeaderValue(v, fail)
			out.globs = append(out.globs, compileGlob(v, true, false))
			wild += wildcards(v, false)
		}
	case HTTPRequestMethod:
		for _, m := range cd.Values {
			checkMethod(m, fail)
			out.methods = append(out.methods, m)
		}
	case QueryString:
		for _, kv := range cd.Query {
			if kv.Value == "" {
				fail("pair %q=%q has no value (the key may be left out, not the value)", kv.Key, kv.Value)
			}
			for _, s := range []string{kv.Key, kv.Value} {
				checkQuery(s, fail)
				wild += wildcards(s, true)
			}
			out.query = append(out.query, queryPair{
				key: compileGlob(kv.Key, true, true), value: compileGlob(kv.Value, true, true), anyKey: kv.Key == "",
			})
		}
	case SourceIP:
		for _, p := range cd.CIDRs {
			if p, ok := checkCIDR(p, fail); ok {
				out.cidrs = append(out.cidrs, p)
			}
		}
	}
	return out, wild
}

// checkChars reports a pattern that is empty, longer than max, or holds a
// byte that is neither a letter, a digit nor one of extra, and whether it
// is fine.
func checkChars(s string, max int, extra, hint string, fail func(string, ...any)) bool {
	switch {
	case s == "":
		fail("an empty value")
		return false
	case len(s) > max:
		fail("%q is %d characters long: at most %d", s, len(s), max)
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && strings.IndexByte(extra, c) < 0 {
			fail("%q holds %q, which ALB does not take: letters, digits and %s%s", s, c, extra, hint)
			return false
		}
	}
	return true
}

func checkHost(s string, fail func(string, ...any)) {
	if !checkChars(s, maxPatternLen, hostChars, "", fail) {
		return
	}
	dot := strings.LastIndexByte(s, '.')
	if dot < 0 {
		fail("%q has no '.': a host name has at least one", s)
		return
	}
	for _, c := range []byte(s[dot+1:]) {
		if !isAlpha(c) {
			fail("%q has %q after its last '.': only letters may follow it", s, c)
			return
		}
	}
}

func checkHeaderValue(s string, fail func(string, ...any)) {
	switch {
	case s == "":
		fail("an empty value")
		return
	case len(s) > maxPatternLen:
		fail("%q is %d characters long: at most %d", s, len(s), maxPatternLen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == '\\' {
			fail("%q holds %q, which ALB does not take: visible ASCII and spaces, but \\", s, c)
			return
		}
	}
}

func checkMethod(m string, fail func(string, ...any)) {
	switch {
	case m == "":
		fail("an empty method")
		return
	case len(m) > maxTokenLen:
		fail("%q is %d characters long: at most %d", m, len(m), maxTokenLen)
	}
	for i := 0; i < len(m); i++ {
		if c := m[i]; !('A' <= c && c <= 'Z') && strings.IndexByte(methodChars, c) < 0 {
			fail("%q holds %q: a method is A-Z, - and _ (upper case: methods are case-sensitive)", m, c)
			return
		}
	}
}

// checkQuery checks a query key or value; an empty key is for any key.
func checkQuery(s string, fail func(string, ...any)) {
	if s == "" {
		return
	}
	if !checkChars(s, maxPatternLen, queryChars, "", fail) {
		return
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			if i+1 == len(s) || (s[i+1] != '*' && s[i+1] != '?') {
				fail(`%q holds a \ that is not \* or \? (a literal * or ?)`, s)
				return
			}
			i++
		}
	}
}

// checkCIDR checks a source-ip network, and returns it as it is matched:
// an IPv4-mapped IPv6 network (in ::ffff:0:0/96) as the IPv4 network.
func checkCIDR(p netip.Prefix, fail func(string, ...any)) (netip.Prefix, bool) {
	if !p.IsValid() {
		fail("an invalid CIDR")
		return p, false
	}
	if p == netip.PrefixFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), 32) {
		fail("255.255.255.255/32 is not taken by ALB")
		return p, false
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96), true
	}
	return p, true
}

// action checks and copies an action; i is the rule's index, -1 for the
// default action.
func (c *compiler) action(i, priority int, a Action) Action {
	fail := func(field, format string, args ...any) { c.fail(i, priority, field, format, args...) }
	set := 0
	for _, p := range []bool{a.Forward != nil, a.Redirect != nil, a.Fixed != nil} {
		if p {
			set++
		}
	}
	want := map[ActionType]bool{Forward: a.Forward != nil, Redirect: a.Redirect != nil, FixedResponse: a.Fixed != nil}
	switch ok, known := want[a.Type]; {
	case a.Type == "":
		fail("action", "none: forward, redirect or fixed-response")
	case !known:
		fail("action", "unknown type %q: forward, redirect or fixed-response", a.Type)
	case !ok:
		fail("action", "%s without its configuration", a.Type)
	case set > 1:
		fail("action", "%s with the configuration of another action as well", a.Type)
	case a.Type == Forward:
		c.forward(a.Forward, fail)
	case a.Type == Redirect:
		c.redirect(a.Redirect, fail)
	case a.Type == FixedResponse:
		fixed(a.Fixed, fail)
	}
	return cloneAction(a)
}

func (c *compiler) forward(f *ForwardAction, fail func(string, string, ...any)) {
	switch n := len(f.Groups); {
	case n == 0:
		fail("forward", "no target group")
	case n > maxGroups:
		fail("forward", "%d target groups: at most %d", n, maxGroups)
	}
	seen, weighs := map[string]bool{}, false
	for _, g := range f.Groups {
		switch {
		case g.Name == "":
			fail("forward", "a target group without a name")
		case seen[g.Name]:
			fail("forward", "target group %s twice", g.Name)
		}
		seen[g.Name] = true
		if g.Weight < 0 || g.Weight > maxWeight {
			fail("forward weight", "%s weighs %d: weights are 0-%d", g.Name, g.Weight, maxWeight)
		}
		weighs = weighs || g.Weight > 0
	}
	if len(f.Groups) > 1 && !weighs {
		fail("forward weight", "every target group weighs 0: no request could be forwarded")
	}
	if s := f.Stickiness; s != 0 && (s < time.Second || s > maxStickiness || s%time.Second != 0) {
		fail("forward stickiness", "%v: whole seconds, 1s to 7 days (604800s)", s)
	}
}

func (c *compiler) redirect(r *RedirectAction, fail func(string, string, ...any)) {
	if r.StatusCode != 301 && r.StatusCode != 302 {
		fail("redirect status", "%d: 301 (permanent) or 302 (temporary)", r.StatusCode)
	}
	switch r.Protocol {
	case "", "#{protocol}", "HTTP", "HTTPS":
	default:
		fail("redirect protocol", "%q: HTTP, HTTPS or #{protocol}", r.Protocol)
	}
	if c.scheme == "https" && r.Protocol == "HTTP" {
		fail("redirect protocol", "HTTP on an https listener: ALB does not redirect HTTPS to HTTP")
	}
	if p := r.Port; p != "" && p != "#{port}" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || p[0] == '+' {
			fail("redirect port", "%q: 1-65535 or #{port}", p)
		}
	}
	checkRedirectPart("redirect host", r.Host, []string{"#{host}"}, redirectHostChars, fail)
	checkRedirectPart("redirect path", r.Path, []string{"#{host}", "#{path}", "#{port}"}, pathChars, fail)
	if r.Path != "" && r.Path[0] != '/' {
		fail("redirect path", "%q does not start with /", r.Path)
	}
	checkRedirectPart("redirect query", r.Query, placeholders, queryRedirectChars, fail)
	if strings.HasPrefix(r.Query, "?") {
		fail("redirect query", "%q starts with ?: ALB adds it", r.Query)
	}
	kept := func(s string, dflt ...string) bool { return slices.Contains(dflt, s) }
	if kept(r.Protocol, "", "#{protocol}", strings.ToUpper(c.scheme)) && kept(r.Host, "", "#{host}") &&
		kept(r.Port, "", "#{port}") && kept(r.Path, "", "/#{path}") {
		fail("redirect", "it keeps the protocol, host, port and path: a redirect to the same URL loops (change at least one)")
	}
}

// placeholders are those a redirect may hold.
var placeholders = []string{"#{protocol}", "#{host}", "#{port}", "#{path}", "#{query}"}

// queryRedirectChars are what a redirect's query may hold besides letters
// and digits: the visible ASCII characters but '#' (which would end the
// URL's query) and space.
const queryRedirectChars = "!\"$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

// checkRedirectPart checks a redirect's host, path or query: at most 128
// characters of letters, digits and extra, and the placeholders allowed.
// An empty part keeps the request's.
func checkRedirectPart(field, s string, allowed []string, extra string, fail func(string, string, ...any)) {
	if len(s) > maxRedirectPartLen {
		fail(field, "%q is %d characters long: at most %d", s, len(s), maxRedirectPartLen)
	}
	rest := s
	for rest != "" {
		i := strings.Index(rest, "#{")
		lit := rest
		if i >= 0 {
			lit = rest[:i]
		}
		for j := 0; j < len(lit); j++ {
			if c := lit[j]; !isAlnum(c) && strings.IndexByte(extra, c) < 0 {
				fail(field, "%q holds %q, which a redirect does not take here", s, c)
				return
			}
		}
		if i < 0 {
			return
		}
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			fail(field, "%q has an unfinished placeholder", s)
			return
		}
		ph := rest[i : i+end+1]
		if !slices.Contains(allowed, ph) {
			fail(field, "%q holds %s: this part may hold %s", s, ph, strings.Join(allowed, ", "))
			return
		}
		rest = rest[i+end+1:]
	}
}

func fixed(f *FixedResponseAction, fail func(string, string, ...any)) {
	if s := f.StatusCode; !(200 <= s && s <= 299 || 400 <= s && s <= 599) {
		fail("fixed-response status", "%d: 2XX, 4XX or 5XX", s)
	}
	if f.ContentType != "" && !slices.Contains(contentTypes, f.ContentType) {
		fail("fixed-response content type", "%q: %s (or none)", f.ContentType, strings.Join(contentTypes, ", "))
	}
	if len(f.Body) > maxBodyLen {
		fail("fixed-response body", "%d bytes: at most %d", len(f.Body), maxBodyLen)
	}
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isAlnum(c byte) bool { return isAlpha(c) || '0' <= c && c <= '9' }
