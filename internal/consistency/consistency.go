// Package consistency compares the answers that the tasks of one service
// give to the same request: the replica-consistency check. Replicas that
// cache in their own memory answer differently after a write; this says
// which tasks agree with the majority and where the others differ (JSON
// compared as data, the first differing path with both values). It decides
// only: the caller sends the requests and prints the report.
package consistency

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Report is how the answers of a service's tasks compare.
type Report struct {
	Service     string `json:"service"`
	Path        string `json:"path"`
	Agree       bool   `json:"agree"`
	Tasks       []Task `json:"tasks"`
	Differences []Diff `json:"differences"`
}

// Task is one task's answer: Answer is a letter, the same for
// tasks whose answers are the same; A is the majority's (or, with no
// majority, the one compared with).
type Task struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Status  int    `json:"status,omitempty"`
	Answer  string `json:"answer"`
	Agrees  bool   `json:"agrees"`
	Error   string `json:"error,omitempty"`
}

// Diff is how the tasks giving one answer differ from answer A:
// Kind is "status", "json" (the first differing Path, in A's and their
// data after the ignored fields are removed), "body" (the first differing
// bytes) or "error" (the request failed).
type Diff struct {
	Tasks          []string `json:"tasks"`
	Answer         string   `json:"answer"`
	Reference      string   `json:"reference,omitempty"`
	Kind           string   `json:"kind"`
	Path           string   `json:"path,omitempty"`
	Value          string   `json:"value,omitempty"`
	ReferenceValue string   `json:"reference_value,omitempty"`
	Error          string   `json:"error,omitempty"`
	Description    string   `json:"description"`
}

// Answer is what one task answered.
type Answer struct {
	// ID and Address name the task.
	ID, Address string
	// Status and Body are its answer; Err, when set, says why the request
	// failed instead.
	Status int
	Body   []byte
	Err    string

	data   any // the body's JSON data, ignored fields removed, when isJSON
	isJSON bool
}

// Compare groups the tasks by the same answer and tells how the
// others differ from the largest group's.
func Compare(service, path string, answers []Answer, rules Ignore) Report {
	for i := range answers {
		a := &answers[i]
		if a.Err == "" {
			a.data, a.isJSON = parseJSON(a.Body)
			if a.isJSON {
				a.data = rules.strip(a.data)
			}
		}
	}
	// Groups of tasks with the same answer, in the order they first come;
	// a failed request is an answer of its own.
	var groups [][]int
	for i, a := range answers {
		g := -1
		if a.Err == "" {
			g = slices.IndexFunc(groups, func(g []int) bool {
				b := answers[g[0]]
				return b.Err == "" && sameAnswer(a, b)
			})
		}
		if g < 0 {
			groups = append(groups, []int{i})
		} else {
			groups[g] = append(groups[g], i)
		}
	}
	// The reference is the largest group that answered (the first of
	// those as large); it is a majority when no other is as large.
	ref := -1
	for g, members := range groups {
		if answers[members[0]].Err == "" && (ref < 0 || len(members) > len(groups[ref])) {
			ref = g
		}
	}
	majority := ref >= 0
	for g, members := range groups {
		if g != ref && ref >= 0 && answers[members[0]].Err == "" && len(members) == len(groups[ref]) {
			majority = false
		}
	}
	// Letters: A for the reference, then in the order the answers come.
	if ref > 0 {
		first := groups[ref]
		groups = slices.Insert(slices.Delete(groups, ref, ref+1), 0, first)
		ref = 0
	}
	letter := make([]string, len(answers))
	for g, members := range groups {
		for _, i := range members {
			letter[i] = answerLetter(g)
		}
	}
	r := Report{Service: service, Path: path, Differences: []Diff{}}
	for i, a := range answers {
		r.Tasks = append(r.Tasks, Task{
			ID: a.ID, Address: a.Address, Status: a.Status, Answer: letter[i],
			Agrees: majority && slices.Contains(groups[0], i), Error: a.Err,
		})
	}
	r.Agree = majority && len(groups) == 1
	for g, members := range groups {
		if g == ref {
			continue
		}
		d := Diff{Answer: answerLetter(g)}
		for _, i := range members {
			d.Tasks = append(d.Tasks, answers[i].ID)
		}
		a := answers[members[0]]
		if a.Err != "" {
			d.Kind, d.Error, d.Description = "error", a.Err, a.Err
		} else {
			d.Reference = answerLetter(ref)
			diffAnswers(&d, a, answers[groups[ref][0]])
		}
		r.Differences = append(r.Differences, d)
	}
	return r
}

// answerLetter is A, B, …, Z, AA, AB, … for the answers 0, 1, ….
func answerLetter(n int) string {
	s := ""
	for n++; n > 0; n = (n - 1) / 26 {
		s = string(rune('A'+(n-1)%26)) + s
	}
	return s
}

// parseJSON decodes a body that holds one JSON value, numbers kept as
// json.Number.
func parseJSON(body []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return v, true
}

func sameAnswer(a, b Answer) bool {
	if a.Status != b.Status {
		return false
	}
	if a.isJSON && b.isJSON {
		_, differ := firstJSONDiff(a.data, b.data, nil)
		return !differ
	}
	return bytes.Equal(a.Body, b.Body)
}

// diffAnswers fills in how answer a differs from ref.
func diffAnswers(d *Diff, a, ref Answer) {
	switch {
	case a.Status != ref.Status:
		d.Kind, d.Value, d.ReferenceValue = "status", strconv.Itoa(a.Status), strconv.Itoa(ref.Status)
		d.Description = fmt.Sprintf("status %d vs %d", a.Status, ref.Status)
	case a.isJSON && ref.isJSON:
		jd, _ := firstJSONDiff(a.data, ref.data, nil)
		d.Kind, d.Path, d.Value, d.ReferenceValue = "json", jd.path, jd.value, jd.ref
		where := jd.path
		if where == "" {
			where = "body"
		}
		d.Description = fmt.Sprintf("%s: %s vs %s", where, jd.value, jd.ref)
		if jd.note != "" {
			d.Description += " (" + jd.note + ")"
		}
	default:
		d.Kind = "body"
		d.Value, d.ReferenceValue, d.Description = bytesDiff(a.Body, ref.Body)
	}
}

// bytesDiff shows where two bodies first differ: the bytes from there, or
// their lengths when one is the start of the other.
func bytesDiff(a, b []byte) (string, string, string) {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	if n == len(a) || n == len(b) {
		va, vb := fmt.Sprintf("%d bytes", len(a)), fmt.Sprintf("%d bytes", len(b))
		return va, vb, fmt.Sprintf("body: %s vs %s, the same up to there", va, vb)
	}
	va, vb := snippet(a[n:]), snippet(b[n:])
	return va, vb, fmt.Sprintf("body at byte %d: %s vs %s", n, va, vb)
}

// snippet quotes the first bytes of b.
func snippet(b []byte) string {
	const shown = 24
	if len(b) > shown {
		return strconv.Quote(string(b[:shown])) + "…"
	}
	return strconv.Quote(string(b))
}

// jsonDiff is the first place two JSON values differ, and what each has
// there (its JSON, shortened, or "absent").
type jsonDiff struct {
	path       string
	value, ref string
	note       string // for arrays of different lengths, the lengths
}

// firstJSONDiff walks a and ref together, objects key by key in sorted
// order, and returns the first place they differ. Numbers are compared as
// numbers: 1, 1.0 and 1e0 are the same.
func firstJSONDiff(a, ref any, path []string) (jsonDiff, bool) {
	here := func(va, vr string) (jsonDiff, bool) {
		return jsonDiff{path: strings.Join(path, ""), value: va, ref: vr}, true
	}
	switch a := a.(type) {
	case map[string]any:
		r, ok := ref.(map[string]any)
		if !ok {
			break
		}
		keys := make([]string, 0, len(a)+len(r))
		for k := range a {
			keys = append(keys, k)
		}
		for k := range r {
			if _, ok := a[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			va, inA := a[k]
			vr, inR := r[k]
			sub := append(slices.Clip(path), pathKey(k, len(path) == 0))
			switch {
			case !inA:
				return jsonDiff{path: strings.Join(sub, ""), value: "absent", ref: shortJSON(vr)}, true
			case !inR:
				return jsonDiff{path: strings.Join(sub, ""), value: shortJSON(va), ref: "absent"}, true
			}
			if d, differ := firstJSONDiff(va, vr, sub); differ {
				return d, true
			}
		}
		return jsonDiff{}, false
	case []any:
		r, ok := ref.([]any)
		if !ok {
			break
		}
		for i := range min(len(a), len(r)) {
			if d, differ := firstJSONDiff(a[i], r[i], append(slices.Clip(path), "["+strconv.Itoa(i)+"]")); differ {
				return d, true
			}
		}
		if len(a) == len(r) {
			return jsonDiff{}, false
		}
		// The first element only one has, and both lengths.
		d := jsonDiff{path: strings.Join(append(slices.Clip(path), "["+strconv.Itoa(min(len(a), len(r)))+"]"), ""),
			value: "absent", ref: "absent", note: fmt.Sprintf("%s vs %d", plural(len(a), "element"), len(r))}
		if len(a) > len(r) {
			d.value = shortJSON(a[len(r)])
		} else {
			d.ref = shortJSON(r[len(a)])
		}
		return d, true
	case json.Number:
		if r, ok := ref.(json.Number); ok && sameNumber(a, r) {
			return jsonDiff{}, false
		}
	default: // string, bool, nil
		if a == ref {
			return jsonDiff{}, false
		}
	}
	return here(shortJSON(a), shortJSON(ref))
}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// pathKey is a key's part of a JSON path: .key, or ["key"] for one with
// dots, spaces and such.
func pathKey(k string, first bool) string {
	switch {
	case !plainKey.MatchString(k):
		return "[" + strconv.Quote(k) + "]"
	case first:
		return k
	}
	return "." + k
}

func sameNumber(a, b json.Number) bool {
	if a == b {
		return true
	}
	fa, _, errA := big.ParseFloat(string(a), 10, 256, big.ToNearestEven)
	fb, _, errB := big.ParseFloat(string(b), 10, 256, big.ToNearestEven)
	return errA == nil && errB == nil && fa.Cmp(fb) == 0
}

// shortJSON is v as compact JSON, cut after 40 characters.
func shortJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if r := []rune(string(b)); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return string(b)
}

// Ignore are the --ignore fields: names removed from objects at any
// depth, and dotted paths from the top (arrays on the way are crossed:
// items.updated_at is the updated_at of every element of items).
type Ignore struct {
	anywhere map[string]bool
	paths    [][]string
}

func ParseIgnore(fields []string) (Ignore, error) {
	r := Ignore{anywhere: map[string]bool{}}
	for _, f := range fields {
		parts := strings.Split(f, ".")
		if slices.Contains(parts, "") {
			return r, fmt.Errorf("--ignore %q: give a field name, like updated_at, or a dotted path, like items.updated_at", f)
		}
		if len(parts) == 1 {
			r.anywhere[f] = true
		} else {
			r.paths = append(r.paths, parts)
		}
	}
	return r, nil
}

// strip removes the ignored fields from v, in place, and returns it.
func (r Ignore) strip(v any) any {
	if len(r.anywhere) == 0 && len(r.paths) == 0 {
		return v
	}
	r.stripAt(v, nil)
	return v
}

func (r Ignore) stripAt(v any, path []string) {
	switch v := v.(type) {
	case map[string]any:
		for k, sub := range v {
			p := append(slices.Clip(path), k)
			if r.anywhere[k] || slices.ContainsFunc(r.paths, func(q []string) bool { return slices.Equal(q, p) }) {
				delete(v, k)
				continue
			}
			r.stripAt(sub, p)
		}
	case []any:
		for _, sub := range v {
			r.stripAt(sub, path)
		}
	}
}

// Summary is the line under the table: "all 3 tasks agree", or
// "2 of 3 tasks agree; api-77b0e1c4 differs: count: 4 vs 3".
func (r Report) Summary() string {
	n := len(r.Tasks)
	if r.Agree {
		if n == 1 {
			return fmt.Sprintf("the only healthy task, %s, answered: there is no other to compare it with", r.Tasks[0].ID)
		}
		return fmt.Sprintf("all %d tasks agree", n)
	}
	var agreeing, reference []string
	for _, t := range r.Tasks {
		if t.Agrees {
			agreeing = append(agreeing, t.ID)
		}
		if t.Answer == "A" && t.Error == "" {
			reference = append(reference, t.ID)
		}
	}
	var head, from string
	switch {
	case len(reference) == 0:
		head = fmt.Sprintf("none of the %s answered", plural(n, "task"))
	case len(agreeing) == 0:
		head = fmt.Sprintf("the %d tasks disagree, with no majority", n)
		from = " from " + joinAnd(reference)
	default:
		head = fmt.Sprintf("%d of %s agree", len(agreeing), plural(n, "task"))
	}
	parts := []string{head}
	for _, d := range r.Differences {
		verb := "differs"
		switch {
		case d.Kind == "error":
			verb = "failed"
		case len(d.Tasks) > 1:
			verb = "differ"
		}
		if d.Kind == "error" {
			parts = append(parts, fmt.Sprintf("%s %s: %s", joinAnd(d.Tasks), verb, d.Description))
		} else {
			parts = append(parts, fmt.Sprintf("%s %s%s: %s", joinAnd(d.Tasks), verb, from, d.Description))
		}
	}
	return strings.Join(parts, "; ")
}

// joinAnd is "a", "a and b", "a, b and c".
func joinAnd(s []string) string {
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// plural is "1 task", "2 tasks".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
