package routing

import "strings"

// In a compiled pattern, the wildcards are these two bytes, which no
// pattern may hold (ALB takes visible ASCII only), so that a query-string
// pattern's \* and \? can stay a literal * and ?.
const (
	anyRun byte = 0x01 // *: zero or more bytes, / included
	anyOne byte = 0x02 // ?: exactly one byte
)

// globKind picks the fastest way to match a pattern.
type globKind uint8

const (
	globExact  globKind = iota // no wildcard
	globPrefix                 // one * at the end, no other wildcard
	globSuffix                 // one * at the start, no other wildcard
	globAny                    // "*": everything
	globOther                  // anything else
)

// A glob is a compiled ALB match pattern: * matches any run of bytes
// (including none, and including /), ? exactly one byte, and every other
// byte itself, ASCII letters in either case when fold is set.
type glob struct {
	src string // as configured: for explanations
	pat string // wildcards as anyRun and anyOne; lower case when fold
	// head and tail are the literal bytes before the first wildcard and
	// after the last: a match starts with head and ends with tail, which
	// is quick to check first.
	head, tail string
	kind       globKind
	fold       bool
}

// compileGlob compiles src; with escapes, \* and \? are a literal * and ?
// (query strings). It does not validate src: the callers do.
func compileGlob(src string, fold, escapes bool) glob {
	var b strings.Builder
	wild := 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case escapes && c == '\\' && i+1 < len(src) && (src[i+1] == '*' || src[i+1] == '?'):
			i++
			b.WriteByte(src[i])
		case c == '*':
			b.WriteByte(anyRun)
			wild++
		case c == '?':
			b.WriteByte(anyOne)
			wild++
		case fold:
			b.WriteByte(lower(c))
		default:
			b.WriteByte(c)
		}
	}
	g := glob{src: src, pat: b.String(), fold: fold, kind: globOther}
	first := strings.IndexAny(g.pat, string([]byte{anyRun, anyOne}))
	last := strings.LastIndexAny(g.pat, string([]byte{anyRun, anyOne}))
	switch {
	case wild == 0:
		g.kind, g.head = globExact, g.pat
		return g
	case g.pat == string(anyRun):
		g.kind = globAny
	case wild == 1 && g.pat[last] == anyRun && last == len(g.pat)-1:
		g.kind = globPrefix
	case wild == 1 && g.pat[first] == anyRun && first == 0:
		g.kind = globSuffix
	}
	g.head, g.tail = g.pat[:first], g.pat[last+1:]
	return g
}

// wildcards counts the wildcards of a pattern, as ALB's quota does: \* and
// \? in a query string are not wildcards.
func wildcards(src string, escapes bool) int {
	n := 0
	for i := 0; i < len(src); i++ {
		switch c := src[i]; {
		case escapes && c == '\\' && i+1 < len(src):
			i++
		case c == '*' || c == '?':
			n++
		}
	}
	return n
}

// bytestring is what a glob matches: request parts as they come (string),
// or decoded into a buffer ([]byte) without allocating.
type bytestring interface{ ~string | ~[]byte }

// matchGlob reports whether g matches all of s.
func matchGlob[S bytestring](g *glob, s S) bool {
	switch g.kind {
	case globAny:
		return true
	case globExact:
		return len(s) == len(g.head) && hasPrefix(s, g.head, g.fold)
	case globPrefix:
		return hasPrefix(s, g.head, g.fold)
	case globSuffix:
		return hasSuffix(s, g.tail, g.fold)
	}
	if len(s) < len(g.head)+len(g.tail) || !hasPrefix(s, g.head, g.fold) || !hasSuffix(s, g.tail, g.fold) {
		return false
	}
	return wildMatch(g.pat[len(g.head):len(g.pat)-len(g.tail)], s[len(g.head):len(s)-len(g.tail)], g.fold)
}

// hasPrefix reports whether s starts with lit (lower case when fold).
func hasPrefix[S bytestring](s S, lit string, fold bool) bool {
	if len(s) < len(lit) {
		return false
	}
	for i := 0; i < len(lit); i++ {
		c := s[i]
		if fold {
			c = lower(c)
		}
		if c != lit[i] {
			return false
		}
	}
	return true
}

// hasSuffix reports whether s ends with lit (lower case when fold).
func hasSuffix[S bytestring](s S, lit string, fold bool) bool {
	if len(s) < len(lit) {
		return false
	}
	off := len(s) - len(lit)
	for i := 0; i < len(lit); i++ {
		c := s[off+i]
		if fold {
			c = lower(c)
		}
		if c != lit[i] {
			return false
		}
	}
	return true
}

// wildMatch matches s against a compiled pattern: on a mismatch it goes
// back to the last anyRun and lets it take one more byte. That is enough,
// and linear in len(s) for each anyRun: a later anyRun can take whatever
// an earlier one would have.
func wildMatch[S bytestring](pat string, s S, fold bool) bool {
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(pat) {
			c := s[i]
			if fold {
				c = lower(c)
			}
			switch pc := pat[p]; {
			case pc == anyRun:
				starP, starI = p, i
				p++
				continue
			case pc == anyOne || pc == c:
				p++
				i++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		p = starP + 1
		starI++
		i = starI
	}
	for p < len(pat) && pat[p] == anyRun {
		p++
	}
	return p == len(pat)
}

// lower is c in lower case, for ASCII letters.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
