package routing

// Rule transforms, as ALB has them since October 2025: a host-header-rewrite
// and a url-rewrite per rule, each a regular expression and its
// replacement, applied to a request the rule matched before it goes to a
// target.
//
// What AWS says (rule-transforms, listener-rules, RewriteConfig):
//
//   - "Rewriting a request does not change the routing decision made when
//     evaluating the rule conditions": conditions see the request as sent.
//   - "You can add one host header rewrite transform and one URL rewrite
//     transform per rule. You can't add a transform to a default rule."
//     (Listener.Default is an Action, which has no transforms.)
//   - "If there is no pattern match, the original request is sent to the
//     target. If there is a pattern match but the transform fails, we return
//     an HTTP 500 error."
//   - The regular expressions "do not support the following features:
//     lookaheads, lookbehinds, backreferences, atomic groups, possessive
//     quantifiers, subroutines, recursion, and Unicode character classes
//     (such as \p{L})". Compile refuses each with its name: Go's RE2 lacks
//     most of them too, but says so cryptically, and it has \p{L}.
//   - Regex and Replace are each at most 1,024 characters; Replace names
//     capture groups "$1 and $2".
//   - host-header-rewrite "uses a regular expression to match a pattern in
//     the host header"; the example rewrites mywebsite-example.com with
//     ^mywebsite-(.+).com$ → internal.dev.$1.myweb.com. url-rewrite matches
//     "a pattern in the request URL", modifying "the path or query string".
//
// Where shoal decides what AWS does not write down:
//
//   - The host rewrite sees the Host header as sent, a port included; the
//     URL rewrite sees the request target's path, as sent (not decoded),
//     and its query: "/a/b?x=1". A replacement holding "?" moves what
//     follows into the query.
//   - The first match is replaced, and only it: "match a pattern ... and
//     then replace it". Anchor the pattern (^…$) to rewrite the whole.
//   - In Replace, $N and ${N} are capture group N ($0 the whole match),
//     digits taken greedily as in Perl and Go ($10 is group 10); any other
//     $ is a literal $. A group the regex does not have is refused by
//     Compile rather than left to fail on every request.
//   - Replace may be empty (the match is removed).
//   - "The transform fails" when it makes what no request can carry: a Host
//     that is not a host name or IP address with an optional port, or a
//     request target that is not "/" followed by visible ASCII (no '#'),
//     with valid percent escapes in its path.
//   - A transform on a redirect or fixed-response rule changes nothing: no
//     target sees that request (a redirect's #{host} and #{path} are the
//     request's as sent).
//
// Sources:
//
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-transforms.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-rules.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_RewriteConfig.html
//   - https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_UrlRewriteConfig.html
//   - https://aws.amazon.com/blogs/networking-and-content-delivery/introducing-url-and-host-header-rewrite-with-aws-application-load-balancers

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxTransformLen is the longest Regex or Replace, in characters.
const maxTransformLen = 1024

// ErrTransformFailed is returned by Rewrite when a transform matched but
// made a host or URL no request can carry: ALB answers 500.
var ErrTransformFailed = errors.New("rule transform made an invalid request")

// CompiledTransform is a Transform checked and compiled by Compile.
type CompiledTransform struct {
	Type TransformType
	re   *regexp.Regexp
	// template is Replace in regexp.Expand's syntax: groups as ${N}, a
	// literal $ as $$.
	template string
}

// Replace rewrites the first match of the transform's regex in s. It
// reports whether the regex matched; s comes back unchanged when not.
func (t *CompiledTransform) Replace(s string) (string, bool) {
	m := t.re.FindStringSubmatchIndex(s)
	if m == nil {
		return s, false
	}
	dst := make([]byte, 0, len(s)+len(t.template))
	dst = append(dst, s[:m[0]]...)
	dst = t.re.ExpandString(dst, t.template, s, m)
	dst = append(dst, s[m[1]:]...)
	return string(dst), true
}

// Rewritten is a request after its rule's transforms.
type Rewritten struct {
	// Host is the Host header to send, rewritten or not.
	Host string
	// URL is the rewritten request URL (path, raw path and query), nil
	// when the URL is unchanged.
	URL *url.URL
}

// Rewrite applies ts (from Table.Transforms) to r: the Host header and
// the request URL, as r holds them. It fails with ErrTransformFailed when
// a transform matched but made an invalid Host or URL.
func Rewrite(ts []CompiledTransform, r *Request) (Rewritten, error) {
	out := Rewritten{Host: r.Host}
	for i := range ts {
		t := &ts[i]
		switch t.Type {
		case HostHeaderRewrite:
			h, ok := t.Replace(r.Host)
			if !ok {
				continue
			}
			if !validHost(h) {
				return Rewritten{}, fmt.Errorf("%w: %s made Host %q", ErrTransformFailed, t.Type, h)
			}
			out.Host = h
		case URLRewrite:
			target := r.Path
			if r.RawQuery != "" {
				target += "?" + r.RawQuery
			}
			s, ok := t.Replace(target)
			if !ok || s == target {
				continue
			}
			u, err := parseTarget(s)
			if err != nil {
				return Rewritten{}, fmt.Errorf("%w: %s made URL %q: %v", ErrTransformFailed, t.Type, s, err)
			}
			out.URL = u
		}
	}
	return out, nil
}

// parseTarget parses a request target in origin form: "/", then visible
// ASCII but '#'.
func parseTarget(s string) (*url.URL, error) {
	if s == "" || s[0] != '/' {
		return nil, errors.New("it does not start with /")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '#' {
			return nil, fmt.Errorf("it holds %q", c)
		}
	}
	return url.ParseRequestURI(s) // checks the path's percent escapes
}

// validHost reports whether h is a Host header a request can carry: a host
// name (letters, digits, '-', '_' and '.'), an IPv4 address or a bracketed
// IPv6 address, with an optional port.
func validHost(h string) bool {
	name, port := h, ""
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		name, port = h[:i], h[i+1:]
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || port[0] == '+' || port[0] == '-' {
			return false
		}
	}
	if strings.HasPrefix(name, "[") {
		a, err := netip.ParseAddr(strings.TrimSuffix(name[1:], "]"))
		return err == nil && strings.HasSuffix(name, "]") && a.Is6()
	}
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// transforms checks and compiles a rule's transforms.
func (c *compiler) transforms(i int, r Rule) []CompiledTransform {
	var out []CompiledTransform
	seen := map[TransformType]bool{}
	for _, t := range r.Transforms {
		field := "transform " + string(t.Type)
		fail := func(format string, args ...any) { c.fail(i, r.Priority, field, format, args...) }
		switch t.Type {
		case HostHeaderRewrite, URLRewrite:
		default:
			c.fail(i, r.Priority, "transforms", "unknown type %q (host-header-rewrite or url-rewrite)", t.Type)
			continue
		}
		if seen[t.Type] {
			fail("more than one: a rule has at most one %s transform", t.Type)
			continue
		}
		seen[t.Type] = true
		if ct, ok := compileTransform(t, fail); ok {
			out = append(out, ct)
		}
	}
	return out
}

// compileTransform checks one transform as ALB would.
func compileTransform(t Transform, fail func(string, ...any)) (CompiledTransform, bool) {
	ok := true
	switch n := utf8.RuneCountInString(t.Regex); {
	case n == 0:
		fail("an empty regex")
		return CompiledTransform{}, false
	case n > maxTransformLen:
		fail("regex is %d characters long: at most %d", n, maxTransformLen)
		ok = false
	}
	if n := utf8.RuneCountInString(t.Replace); n > maxTransformLen {
		fail("replace is %d characters long: at most %d", n, maxTransformLen)
		ok = false
	}
	re, problem := compileRegex(t.Regex)
	if problem != "" {
		fail("regex %q: %s", t.Regex, problem)
		return CompiledTransform{}, false
	}
	template, group := expandTemplate(t.Replace)
	if group > re.NumSubexp() {
		fail("replace %q refers to $%d, but the regex has %d capture group(s)", t.Replace, group, re.NumSubexp())
		ok = false
	}
	return CompiledTransform{Type: t.Type, re: re, template: template}, ok
}

// unsupported is how ALB names what its regex dialect lacks, for messages.
const unsupported = "which ALB's regular expressions do not support (nor lookaheads, lookbehinds, " +
	"backreferences, atomic groups, possessive quantifiers, subroutines, recursion or Unicode character classes)"

// compileRegex compiles re in ALB's dialect, or says what is wrong with it.
func compileRegex(re string) (*regexp.Regexp, string) {
	if what := dialectProblem(re); what != "" {
		return nil, what + ", " + unsupported
	}
	r, err := regexp.Compile(re)
	if err == nil {
		return r, ""
	}
	var se *syntax.Error
	if errors.As(err, &se) && se.Code == syntax.ErrInvalidRepeatOp && strings.HasSuffix(se.Expr, "+") {
		return nil, fmt.Sprintf("%s is a possessive quantifier, %s", se.Expr, unsupported)
	}
	return nil, "it does not compile: " + strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

// dialectProblem finds in re a construct ALB's dialect lacks, outside
// character classes (and \p anywhere), and names it; "" if none.
func dialectProblem(re string) string {
	inClass := false
	for i := 0; i < len(re); i++ {
		c := re[i]
		switch {
		case c == '\\' && i+1 < len(re):
			n := re[i+1]
			switch {
			case n == 'p' || n == 'P':
				return fmt.Sprintf(`\%c is a Unicode character class`, n)
			case n >= '1' && n <= '9':
				return fmt.Sprintf(`\%c is a backreference (for a character by its code, write \x{..})`, n)
			case (n == 'k' || n == 'g') && !inClass:
				return fmt.Sprintf(`\%c is a backreference or subroutine`, n)
			}
			i++
		case inClass:
			if c == '[' && strings.HasPrefix(re[i:], "[:") { // [:alpha:]
				if end := strings.Index(re[i+2:], ":]"); end >= 0 {
					i += end + 3
				}
			} else if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
			if strings.HasPrefix(re[i:], "[^]") {
				i += 2 // a ']' first in a class is literal
			} else if strings.HasPrefix(re[i:], "[]") {
				i++
			}
		case c == '(' && strings.HasPrefix(re[i:], "(?"):
			if what := groupProblem(re[i+2:]); what != "" {
				return what
			}
		}
	}
	return ""
}

// groupProblem names the unsupported group that rest, what follows "(?",
// starts; "" if none.
func groupProblem(rest string) string {
	prefixes := []struct{ p, what string }{
		{"=", "(?= is a lookahead"}, {"!", "(?! is a lookahead"},
		{"<=", "(?<= is a lookbehind"}, {"<!", "(?<! is a lookbehind"},
		{">", "(?> is an atomic group"},
		{"R)", "(?R) is recursion"}, {"&", "(?& is a subroutine"},
		{"P>", "(?P> is a subroutine"}, {"P=", "(?P= is a backreference"},
	}
	for _, p := range prefixes {
		if strings.HasPrefix(rest, p.p) {
			return p.what
		}
	}
	num := strings.TrimLeft(rest, "+-")
	if len(num) > 0 && num[0] >= '0' && num[0] <= '9' && len(rest)-len(num) <= 1 {
		return "(?" + rest[:len(rest)-len(num)+1] + " is a subroutine or recursion"
	}
	return ""
}

// expandTemplate turns an ALB replacement into regexp.Expand's template,
// and returns the highest group it refers to (-1 for none).
func expandTemplate(replace string) (string, int) {
	var b strings.Builder
	highest := -1
	for i := 0; i < len(replace); i++ {
		c := replace[i]
		if c != '$' {
			b.WriteByte(c)
			continue
		}
		digits, skip := replace[i+1:], 0
		if strings.HasPrefix(digits, "{") {
			digits, skip = digits[1:], 1
		}
		n := 0
		for n < len(digits) && digits[n] >= '0' && digits[n] <= '9' {
			n++
		}
		closed := skip == 0 || strings.HasPrefix(digits[n:], "}")
		if n == 0 || !closed {
			b.WriteString("$$") // a literal $
			continue
		}
		g, err := strconv.Atoi(digits[:n])
		if err != nil { // more digits than an int holds: no such group
			g = 1 << 30
		}
		highest = max(highest, g)
		b.WriteString("${" + digits[:n] + "}")
		i += skip + n + skip // the digits, and the braces if any
	}
	return b.String(), highest
}
