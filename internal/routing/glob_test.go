package routing

import (
	"regexp"
	"strings"
	"testing"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern string
		fold    bool
		in      string
		want    bool
	}{
		{"/img/*", false, "/img/a.png", true},
		{"/img/*", false, "/img/", true},
		{"/img/*", false, "/img", false},
		{"/img/*", false, "/img/a/b/c", true}, // * crosses /
		{"/img/*/pics", false, "/img/x/y/pics", true},
		{"/img/*/pics", false, "/img/pics", false},
		{"/a?c", false, "/abc", true},
		{"/a?c", false, "/ac", false},
		{"/a?c", false, "/abbc", false},
		{"/API/*", false, "/api/x", false}, // paths are case-sensitive
		{"*", false, "", true},
		{"?", false, "", false},
		{"*.example.com", true, "test.EXAMPLE.com", true},
		{"*.example.com", true, "example.com", false},
		{"*.example.com", true, "a.b.example.com", true},
		{"Example.COM", true, "example.com", true},
		{"*a*a*a*", false, "aaa", true},
		{"*a*a*a*", false, "aa", false},
		{"*ab", false, "aab", true},
		{"a*b*c", false, "abbbc", true},
		{"a*b*c", false, "acb", false},
		{"*?", false, "", false},
		{"*?", false, "x", true},
	}
	for _, tt := range tests {
		g := compileGlob(tt.pattern, tt.fold, false)
		if got := matchGlob(&g, tt.in); got != tt.want {
			t.Errorf("%q matches %q: got %v, want %v", tt.pattern, tt.in, got, tt.want)
		}
		if got := matchGlob(&g, []byte(tt.in)); got != tt.want {
			t.Errorf("%q matches []byte %q: got %v, want %v", tt.pattern, tt.in, got, tt.want)
		}
	}
}

func TestGlob_Escapes(t *testing.T) {
	g := compileGlob(`a\*b\?*`, true, true)
	for in, want := range map[string]bool{"a*b?": true, "A*B?xyz": true, "axb?": false, "a*bx": false} {
		if got := matchGlob(&g, in); got != want {
			t.Errorf("a\\*b\\?* matches %q: got %v, want %v", in, got, want)
		}
	}
	if n := wildcards(`a\*b\?*`, true); n != 1 {
		t.Errorf("wildcards: got %d, want 1", n)
	}
}

// reference matches pattern against s with a regular expression: a
// different way to the same answer.
func reference(pattern, s string, fold bool) bool {
	var re strings.Builder
	re.WriteString(`(?s)^`)
	if fold {
		re.WriteString(`(?i)`)
	}
	for _, c := range []byte(pattern) {
		switch c {
		case '*':
			re.WriteString(`.*`)
		case '?':
			re.WriteString(`.`)
		default:
			re.WriteString(regexp.QuoteMeta(string([]byte{c})))
		}
	}
	re.WriteString(`$`)
	// Byte semantics, as the matcher: a Latin-1 view of both sides makes
	// each byte one rune.
	return regexp.MustCompile(latin1(re.String())).MatchString(latin1(s))
}

func latin1(s string) string {
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

// FuzzPathPattern compares the compiled matcher with the regexp reference,
// for any pattern and path (and host patterns, folded).
func FuzzPathPattern(f *testing.F) {
	for _, s := range [][2]string{
		{"/img/*", "/img/a"}, {"/a?c*", "/abcdef"}, {"*a*b?", "xaab!"}, {"/x/*/y", "/x/1/2/y"},
		{"*.example.com", "A.Example.com"}, {"", ""}, {"**?*", "ab"},
	} {
		f.Add(s[0], s[1], false)
		f.Add(s[0], s[1], true)
	}
	f.Fuzz(func(t *testing.T, pattern, s string, fold bool) {
		if strings.ContainsAny(pattern, string([]byte{anyRun, anyOne})) || len(pattern) > 256 || len(s) > 1024 {
			t.Skip() // bytes no pattern holds; sizes ALB never sees
		}
		if fold && strings.ContainsFunc(pattern+s, func(r rune) bool { return r >= 0x80 }) {
			t.Skip() // ALB folds ASCII only; (?i) folds Unicode
		}
		g := compileGlob(pattern, fold, false)
		want := reference(pattern, s, fold)
		if got := matchGlob(&g, s); got != want {
			t.Fatalf("%q matches %q (fold %v): got %v, reference %v", pattern, s, fold, got, want)
		}
	})
}
