package dashboard

import (
	"fmt"
	"strings"
)

// maxDiffCells bounds the line-by-line comparison (lines changed in one
// file times in the other) of unifiedDiff: past it the changed middle is
// shown as removed, then added, rather than spend memory on a stack file
// rewritten whole.
const maxDiffCells = 4_000_000

// diffContext is how many unchanged lines a hunk shows around a change,
// as diff -u.
const diffContext = 3

// unifiedDiff is the unified diff (diff -u) of two texts, labelled with
// the names a and b; "" when they are equal.
func unifiedDiff(nameA, nameB string, a, b []byte) string {
	if string(a) == string(b) {
		return ""
	}
	x, y := splitLines(a), splitLines(b)
	ops := diffLines(x, y)
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", nameA, nameB)
	for _, h := range hunks(ops) {
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(h.startA, h.lenA), hunkRange(h.startB, h.lenB))
		for _, op := range h.ops {
			out.WriteByte(op.kind)
			out.WriteString(op.line)
			out.WriteByte('\n')
		}
	}
	return out.String()
}

// splitLines splits text into lines without their newlines.
func splitLines(text []byte) []string {
	s := strings.TrimSuffix(string(text), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// diffOp is one line of a diff: ' ' kept, '-' only in a, '+' only in b.
type diffOp struct {
	kind byte
	line string
}

// diffLines is an edit script from x to y: the common prefix and suffix
// kept, and the middle by longest common subsequence.
func diffLines(x, y []string) []diffOp {
	pre := 0
	for pre < len(x) && pre < len(y) && x[pre] == y[pre] {
		pre++
	}
	suf := 0
	for suf < len(x)-pre && suf < len(y)-pre && x[len(x)-1-suf] == y[len(y)-1-suf] {
		suf++
	}
	var ops []diffOp
	for _, l := range x[:pre] {
		ops = append(ops, diffOp{' ', l})
	}
	ops = append(ops, lcsDiff(x[pre:len(x)-suf], y[pre:len(y)-suf])...)
	for _, l := range x[len(x)-suf:] {
		ops = append(ops, diffOp{' ', l})
	}
	return ops
}

// lcsDiff diffs x and y by their longest common subsequence, removals
// before additions; past maxDiffCells, all of x removed and all of y added.
func lcsDiff(x, y []string) []diffOp {
	var ops []diffOp
	if len(x)*len(y) > maxDiffCells {
		for _, l := range x {
			ops = append(ops, diffOp{'-', l})
		}
		for _, l := range y {
			ops = append(ops, diffOp{'+', l})
		}
		return ops
	}
	// lcs[i][j] is the length of the LCS of x[i:] and y[j:].
	w := len(y) + 1
	lcs := make([]int32, (len(x)+1)*w)
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
			} else {
				lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
			}
		}
	}
	i, j := 0, 0
	for i < len(x) && j < len(y) {
		switch {
		case x[i] == y[j]:
			ops = append(ops, diffOp{' ', x[i]})
			i, j = i+1, j+1
		case lcs[(i+1)*w+j] >= lcs[i*w+j+1]:
			ops = append(ops, diffOp{'-', x[i]})
			i++
		default:
			ops = append(ops, diffOp{'+', y[j]})
			j++
		}
	}
	for ; i < len(x); i++ {
		ops = append(ops, diffOp{'-', x[i]})
	}
	for ; j < len(y); j++ {
		ops = append(ops, diffOp{'+', y[j]})
	}
	return ops
}

// hunk is a run of changes with their context; starts are 1-based line
// numbers in a and b.
type hunk struct {
	startA, lenA, startB, lenB int
	ops                        []diffOp
}

// hunks groups an edit script into hunks of changes with diffContext
// lines around them; changes closer than twice that share one.
func hunks(ops []diffOp) []hunk {
	var out []hunk
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		start := max(i-diffContext, 0)
		end := i // one past the last change of the hunk
		for k := i; k < len(ops); k++ {
			if ops[k].kind != ' ' {
				end = k + 1
			} else if k-end >= 2*diffContext {
				break
			}
		}
		stop := min(end+diffContext, len(ops))
		h := hunk{ops: ops[start:stop]}
		h.startA, h.startB = lineAt(ops[:start])
		h.startA++
		h.startB++
		for _, op := range h.ops {
			if op.kind != '+' {
				h.lenA++
			}
			if op.kind != '-' {
				h.lenB++
			}
		}
		out = append(out, h)
		i = stop
	}
	return out
}

// lineAt counts the lines of a and of b that ops cover.
func lineAt(ops []diffOp) (a, b int) {
	for _, op := range ops {
		if op.kind != '+' {
			a++
		}
		if op.kind != '-' {
			b++
		}
	}
	return a, b
}

// hunkRange writes a hunk's start and length as diff -u does: "3,2",
// "3" for one line, "2,0" (the line before) for none.
func hunkRange(start, n int) string {
	switch n {
	case 0:
		return fmt.Sprintf("%d,0", start-1)
	case 1:
		return fmt.Sprintf("%d", start)
	}
	return fmt.Sprintf("%d,%d", start, n)
}
