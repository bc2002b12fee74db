package spec

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Matcher is the set of HTTP status codes a health check accepts as a pass,
// written as in ALB: "200", "200,202", "200-299".
type Matcher struct {
	text   string
	ranges []codeRange
}

type codeRange struct{ lo, hi int }

// matcherHint ends every matcher error: it says how to write one.
const matcherHint = "write codes like 200, 200,202 or 200-299"

// ParseMatcher parses a matcher. Codes must be within 200-499, as in ALB.
func ParseMatcher(s string) (Matcher, error) {
	m := Matcher{text: s}
	if strings.TrimSpace(s) == "" {
		return Matcher{}, fmt.Errorf("empty matcher: %s", matcherHint)
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		r, err := parseCodeRange(strings.TrimSpace(lo), strings.TrimSpace(hi), isRange)
		if err != nil {
			return Matcher{}, fmt.Errorf("matcher %q: %v", s, err)
		}
		m.ranges = append(m.ranges, r)
	}
	return m, nil
}

// MustMatcher is ParseMatcher for constants; it panics on a bad matcher.
func MustMatcher(s string) Matcher {
	m, err := ParseMatcher(s)
	if err != nil {
		panic(err)
	}
	return m
}

func parseCodeRange(lo, hi string, isRange bool) (codeRange, error) {
	l, err := parseCode(lo)
	if err != nil {
		return codeRange{}, err
	}
	h := l
	if isRange {
		if h, err = parseCode(hi); err != nil {
			return codeRange{}, err
		}
		if h < l {
			return codeRange{}, fmt.Errorf("range %s-%s ends before it starts: write the lower code first", lo, hi)
		}
	}
	return codeRange{l, h}, nil
}

func parseCode(s string) (int, error) {
	c, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not an HTTP status code: %s", s, matcherHint)
	}
	if c < 200 || c > 499 {
		return 0, fmt.Errorf("code %d is outside 200-499: a check can only pass on 2xx, 3xx or 4xx", c)
	}
	return c, nil
}

// Ranges returns the codes that pass, as ranges of first and last code.
func (m Matcher) Ranges() [][2]int {
	out := make([][2]int, len(m.ranges))
	for i, r := range m.ranges {
		out[i] = [2]int{r.lo, r.hi}
	}
	return out
}

// String returns the matcher as written.
func (m Matcher) String() string { return m.text }

// Equal reports whether two matchers were written the same. go-cmp uses it,
// so that health checks and target groups compare without options.
func (m Matcher) Equal(o Matcher) bool {
	return m.text == o.text && slices.Equal(m.ranges, o.ranges)
}

// IsZero reports whether the matcher is unset.
func (m Matcher) IsZero() bool { return len(m.ranges) == 0 }

// MarshalText writes the matcher as written.
func (m Matcher) MarshalText() ([]byte, error) { return []byte(m.text), nil }
