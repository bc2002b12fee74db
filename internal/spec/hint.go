package spec

import (
	"fmt"
	"slices"
	"strings"
)

// closest returns the candidate nearest to s, if it is near enough to be
// what the user meant: within about a third of the length of s, compared
// without case, and never a complete rewrite.
func closest(s string, candidates []string) (string, bool) {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := distance(strings.ToLower(s), strings.ToLower(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	n := len([]rune(s))
	if bestDist < 0 || bestDist > 1+n/3 || bestDist >= n {
		return "", false
	}
	return best, true
}

// suggestion returns the field among names that an unknown key most likely
// means: shoal's name for a word other tools use, or the nearest name.
func suggestion(key string, names []string) (string, bool) {
	if field, ok := synonym(key, names); ok {
		return field, true
	}
	return closest(key, names)
}

// synonym returns the field shoal has for a name used by other tools
// (Kubernetes, the ECS APIs), if that field is among names.
func synonym(key string, names []string) (string, bool) {
	var field string
	switch strings.ToLower(strings.ReplaceAll(key, "_", "")) {
	case "replicas", "desiredcount", "count":
		field = "desired"
	case "entrypoint", "args", "cmd":
		field = "command"
	case "env":
		field = "environment"
	}
	return field, field != "" && slices.Contains(names, field)
}

// distance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of two neighbours each count one, so
// that the common typos (tagret, intervall, timout) are all one away.
func distance(a, b string) int {
	x, y := []rune(a), []rune(b)
	rows := make([][]int, len(x)+1)
	for i := range rows {
		rows[i] = make([]int, len(y)+1)
		rows[i][0] = i
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(x); i++ {
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			d := min(rows[i-1][j]+1, rows[i][j-1]+1, rows[i-1][j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				d = min(d, rows[i-2][j-2]+1)
			}
			rows[i][j] = d
		}
	}
	return rows[len(x)][len(y)]
}

// noSuch says that a name refers to nothing, and how to fix it: the
// likely intended name, or the names there are, or where to define one.
func noSuch(kind, section, name string, names []string) string {
	msg := fmt.Sprintf("no %s named %q", kind, name)
	if c, ok := closest(name, names); ok {
		return fmt.Sprintf("%s (did you mean %q?)", msg, c)
	}
	if len(names) == 0 {
		return fmt.Sprintf("%s: define it under %s", msg, section)
	}
	return fmt.Sprintf("%s: use one of %s", msg, strings.Join(names, ", "))
}
