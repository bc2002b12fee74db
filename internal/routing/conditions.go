package routing

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// cond is a compiled Condition.
type cond struct {
	field   Field
	globs   []glob // host-header, path-pattern and http-header values
	header  string // http-header: the canonical name, to look up
	methods []string
	query   []queryPair
	cidrs   []netip.Prefix
}

// queryPair is a compiled KeyValue; anyKey when it has no key.
type queryPair struct {
	key, value glob
	anyKey     bool
}

// matches reports whether the request meets c.
func (c *cond) matches(v *view) bool {
	switch c.field {
	case HostHeader:
		return anyGlob(c.globs, v.hostName())
	case PathPattern:
		return anyGlob(c.globs, v.normalPath())
	case HTTPHeader:
		for _, h := range v.r.Header[c.header] {
			if anyGlob(c.globs, h) {
				return true
			}
		}
		return false
	case HTTPRequestMethod:
		return slices.Contains(c.methods, v.r.Method)
	case QueryString:
		return c.matchQuery(v.r.RawQuery) != nil
	case SourceIP:
		return c.matchSource(v.source()) != nil
	}
	return false
}

func anyGlob(gs []glob, s string) bool {
	for i := range gs {
		if matchGlob(&gs[i], s) {
			return true
		}
	}
	return false
}

// matchQuery is the first of c's pairs that a parameter of the query
// string q matches, or nil.
func (c *cond) matchQuery(q string) *queryPair {
	var kb, vb decodeBuf
	for key, value, rest, ok := nextParam(q); ok; key, value, rest, ok = nextParam(rest) {
		for i := range c.query {
			p := &c.query[i]
			if (p.anyKey || matchDecoded(&p.key, key, &kb)) && matchDecoded(&p.value, value, &vb) {
				return p
			}
		}
	}
	return nil
}

// matchSource is the first of c's networks that holds a, or nil.
func (c *cond) matchSource(a netip.Addr) *netip.Prefix {
	for i := range c.cidrs {
		if c.cidrs[i].Contains(a) {
			return &c.cidrs[i]
		}
	}
	return nil
}

// explain evaluates c as matches does, and says why it matched or not.
func (c *cond) explain(v *view) ConditionResult {
	res := ConditionResult{Field: c.field}
	switch c.field {
	case HostHeader:
		host := "host " + show(v.hostName())
		if v.hostName() != v.r.Host {
			host = "host " + show(v.r.Host) + " (name " + show(v.hostName()) + ")"
		}
		res.Matched, res.Why = explainGlobs(host, v.hostName(), c.globs)
	case PathPattern:
		path := "path " + show(v.r.Path)
		if v.normalPath() != v.r.Path {
			path += " (normalized " + show(v.normalPath()) + ")"
		}
		res.Matched, res.Why = explainGlobs(path, v.normalPath(), c.globs)
	case HTTPHeader:
		res.Matched, res.Why = c.explainHeader(v.r)
	case HTTPRequestMethod:
		res.Matched = slices.Contains(c.methods, v.r.Method)
		if res.Matched {
			res.Why = fmt.Sprintf("method %s matches %s", v.r.Method, v.r.Method)
		} else {
			res.Why = fmt.Sprintf("method %s %s %s", show(v.r.Method), noMatch(true, len(c.methods)), strings.Join(c.methods, ", "))
		}
	case QueryString:
		if p := c.matchQuery(v.r.RawQuery); p != nil {
			res.Matched = true
			res.Why = fmt.Sprintf("query %s has a parameter matching %s", show(v.r.RawQuery), p)
		} else {
			res.Why = fmt.Sprintf("query %s has no parameter matching %s", show(v.r.RawQuery), joinPairs(c.query))
		}
	case SourceIP:
		src := "(none)"
		if a := v.source(); a.IsValid() {
			src = a.String()
		}
		if p := c.matchSource(v.source()); p != nil {
			res.Matched = true
			res.Why = fmt.Sprintf("source %s is in %s", src, p)
		} else {
			res.Why = fmt.Sprintf("source %s is in none of %s", src, joinStrings(c.cidrs))
		}
	}
	return res
}

func (c *cond) explainHeader(r *Request) (bool, string) {
	values, ok := r.Header[c.header]
	if !ok {
		return false, fmt.Sprintf("header %s is absent", c.header)
	}
	for _, h := range values {
		for i := range c.globs {
			if matchGlob(&c.globs[i], h) {
				return true, fmt.Sprintf("header %s: %s matches %s", c.header, show(h), c.globs[i].src)
			}
		}
	}
	shown := make([]string, len(values))
	for i, h := range values {
		shown[i] = show(h)
	}
	return false, fmt.Sprintf("header %s: %s %s %s", c.header, strings.Join(shown, ", "),
		noMatch(len(values) == 1, len(c.globs)), joinGlobs(c.globs))
}

// explainGlobs says whether s matches one of gs; label names s
// ("path /a").
func explainGlobs(label, s string, gs []glob) (bool, string) {
	for i := range gs {
		if matchGlob(&gs[i], s) {
			return true, fmt.Sprintf("%s matches %s", label, gs[i].src)
		}
	}
	return false, fmt.Sprintf("%s %s %s", label, noMatch(true, len(gs)), joinGlobs(gs))
}

// noMatch is the verb of a failed match of one or more values against one
// or more patterns.
func noMatch(oneValue bool, patterns int) string {
	switch {
	case oneValue && patterns == 1:
		return "does not match"
	case oneValue:
		return "matches none of"
	case patterns == 1:
		return "do not match"
	}
	return "match none of"
}

func (p *queryPair) String() string {
	if p.anyKey {
		return "any key=" + p.value.src
	}
	return p.key.src + "=" + p.value.src
}

func joinPairs(ps []queryPair) string {
	s := make([]string, len(ps))
	for i := range ps {
		s[i] = ps[i].String()
	}
	return strings.Join(s, " or ")
}

func joinGlobs(gs []glob) string {
	s := make([]string, len(gs))
	for i := range gs {
		s[i] = gs[i].src
	}
	return strings.Join(s, ", ")
}

func joinStrings[T fmt.Stringer](ts []T) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return strings.Join(s, ", ")
}

// show is s for an explanation: quoted when empty or when it holds
// spaces or bytes that are not visible ASCII.
func show(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return fmt.Sprintf("%q", s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}
