package dashboard

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestUnifiedDiff(t *testing.T) {
	lines := func(n int) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "line %d\n", i)
		}
		return b.String()
	}
	tests := []struct{ name, a, b, want string }{
		{"same", "a\nb\n", "a\nb\n", ""},
		{"from nothing", "", "a\nb\n", "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+a\n+b\n"},
		{"to nothing", "a\n", "", "--- a\n+++ b\n@@ -1 +0,0 @@\n-a\n"},
		{"insert at the end", "a\nb\n", "a\nb\nc\n", "--- a\n+++ b\n@@ -1,2 +1,3 @@\n a\n b\n+c\n"},
		{"two hunks", lines(20), strings.Replace(strings.Replace(lines(20), "line 2\n", "two\n", 1), "line 19\n", "", 1),
			"--- a\n+++ b\n@@ -1,5 +1,5 @@\n line 1\n-line 2\n+two\n line 3\n line 4\n line 5\n" +
				"@@ -16,5 +16,4 @@\n line 16\n line 17\n line 18\n-line 19\n line 20\n"},
		{"changes 6 lines apart share a hunk", lines(10), strings.Replace(strings.Replace(lines(10), "line 2\n", "", 1), "line 9\n", "", 1),
			"--- a\n+++ b\n@@ -1,10 +1,8 @@\n line 1\n-line 2\n line 3\n line 4\n line 5\n line 6\n line 7\n line 8\n-line 9\n line 10\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, unifiedDiff("a", "b", []byte(tt.a), []byte(tt.b))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestUnifiedDiff_PatchRecreatesTheFile applies the diffs of random edits
// with patch(1) where it is installed, and otherwise with a small applier
// of the test's own: either way, a plus the diff gives b.
func TestUnifiedDiff_PatchRecreatesTheFile(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	patch, _ := exec.LookPath("patch")
	for i := range 300 {
		a := randomLines(r, r.IntN(30))
		b := edit(r, a)
		d := unifiedDiff("a", "b", []byte(a), []byte(b))
		if (d == "") != (a == b) {
			t.Fatalf("case %d: empty diff %v for a == b %v", i, d == "", a == b)
		}
		if d == "" {
			continue
		}
		got, err := applyDiff(a, d)
		if err != nil || got != b {
			t.Fatalf("case %d: applying\n%s\nto %q: %q, %v; want %q", i, d, a, got, err, b)
		}
		if patch != "" && i%10 == 0 {
			dir := t.TempDir()
			f := filepath.Join(dir, "f")
			os.WriteFile(f, []byte(a), 0o644)
			cmd := exec.Command(patch, "-s", f)
			cmd.Stdin = strings.NewReader(d)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("case %d: patch: %v\n%s\ndiff:\n%s", i, err, out, d)
			}
			if got, _ := os.ReadFile(f); string(got) != b {
				t.Fatalf("case %d: patch made %q, want %q", i, got, b)
			}
		}
	}
}

func randomLines(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteString(strconv.Itoa(r.IntN(8)) + "\n") // few values: many equal lines
	}
	return b.String()
}

// edit removes, adds and changes a few random lines.
func edit(r *rand.Rand, text string) string {
	ls := splitLines([]byte(text))
	for range r.IntN(5) {
		i := r.IntN(len(ls) + 1)
		switch r.IntN(3) {
		case 0:
			if i < len(ls) {
				ls = append(ls[:i], ls[i+1:]...)
			}
		case 1:
			ls = append(ls[:i], append([]string{"new " + strconv.Itoa(r.IntN(3))}, ls[i:]...)...)
		default:
			if i < len(ls) {
				ls[i] = "changed"
			}
		}
	}
	if len(ls) == 0 {
		return ""
	}
	return strings.Join(ls, "\n") + "\n"
}

// applyDiff applies a unified diff to text, checking every context and
// removed line and every hunk header's counts.
func applyDiff(text, diff string) (string, error) {
	src := splitLines([]byte(text))
	var out []string
	pos := 0 // next line of src, 0-based
	lines := strings.Split(strings.TrimSuffix(diff, "\n"), "\n")[2:]
	for i := 0; i < len(lines); {
		var sa, la, sb, lb int
		h := lines[i]
		if _, err := fmt.Sscanf(strings.NewReplacer(",", " ").Replace(h), "@@ -%d %d +%d %d @@", &sa, &la, &sb, &lb); err != nil {
			la, lb = -1, -1 // counts of 1 are left out; checked below by what follows
			var a, b string
			fmt.Sscanf(h, "@@ -%s +%s @@", &a, &b)
			sa, la = parseRange(a)
			sb, lb = parseRange(b)
		}
		start := sa - 1
		if la == 0 {
			start = sa
		}
		out = append(out, src[pos:start]...)
		pos = start
		i++
		na, nb := 0, 0
		for ; i < len(lines) && !strings.HasPrefix(lines[i], "@@"); i++ {
			l := lines[i]
			switch l[0] {
			case ' ', '-':
				if pos >= len(src) || src[pos] != l[1:] {
					return "", fmt.Errorf("line %d is not %q", pos+1, l[1:])
				}
				pos++
				na++
				if l[0] == ' ' {
					out = append(out, l[1:])
					nb++
				}
			case '+':
				out = append(out, l[1:])
				nb++
			}
		}
		if na != la || nb != lb {
			return "", fmt.Errorf("hunk %q has %d and %d lines", h, na, nb)
		}
	}
	out = append(out, src[pos:]...)
	if len(out) == 0 {
		return "", nil
	}
	return strings.Join(out, "\n") + "\n", nil
}

func parseRange(s string) (start, n int) {
	a, b, ok := strings.Cut(s, ",")
	start, _ = strconv.Atoi(a)
	if !ok {
		return start, 1
	}
	n, _ = strconv.Atoi(b)
	return start, n
}
