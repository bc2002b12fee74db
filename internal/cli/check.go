package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shoalhq/shoal/internal/agent"
)

// checks are the subcommands of `shoal check`.
var checks = []command{
	{"consistency", "send the same request to every healthy task of a service, directly, and compare the answers", runCheckConsistency},
}

func runCheck(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		checkUsage(e.stdout)
		return nil
	}
	for _, c := range checks {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "shoal: unknown check %q\n", args[0])
	checkUsage(e.stderr)
	return exitError(2)
}

func checkUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: shoal check <check> [flags]\n\nChecks:\n")
	for _, c := range checks {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nA check exits 0 when it passes and 1 when it fails or cannot run.\n"+
		"Run 'shoal check <check> -h' for a check's flags.\n")
}

// checkList is a flag that may be given more than once.
type checkList []string

func (l *checkList) String() string { return strings.Join(*l, ", ") }

func (l *checkList) Set(s string) error {
	*l = append(*l, s)
	return nil
}

const (
	// checkParallel bounds the requests `shoal check consistency` has in
	// flight at once.
	checkParallel = 8
	// checkMaxBody is the most of an answer's body that is read; a longer
	// one is a failed request.
	checkMaxBody = 16 << 20
	// checkUserAgent is the User-Agent of a check's requests, so that the
	// app's logs tell them from real traffic.
	checkUserAgent = "shoal-check/1"
)

// consistencyReport is what `shoal check consistency --json` prints.
type consistencyReport struct {
	Service     string               `json:"service"`
	Path        string               `json:"path"`
	Agree       bool                 `json:"agree"`
	Tasks       []consistencyTask    `json:"tasks"`
	Differences []consistencyDiff    `json:"differences"`
	Skipped     []consistencySkipped `json:"skipped,omitempty"`
}

// consistencyTask is one task's answer: Answer is a letter, the same for
// tasks whose answers are the same; A is the majority's (or, with no
// majority, the one compared with).
type consistencyTask struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Status  int    `json:"status,omitempty"`
	Answer  string `json:"answer"`
	Agrees  bool   `json:"agrees"`
	Error   string `json:"error,omitempty"`
}

// consistencyDiff is how the tasks giving one answer differ from answer A:
// Kind is "status", "json" (the first differing Path, in A's and their
// data after the ignored fields are removed), "body" (the first differing
// bytes) or "error" (the request failed).
type consistencyDiff struct {
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

// consistencySkipped is a task of the service that was not asked: not
// running, or not healthy.
type consistencySkipped struct {
	ID         string `json:"id"`
	LastStatus string `json:"last_status"`
	Health     string `json:"health,omitempty"`
}

func runCheckConsistency(ctx context.Context, e *env, args []string) error {
	fs, client := clientFlags(e, "check consistency", "[--json] [--ignore FIELD]... [-H 'Name: value']... [--method GET|HEAD] [--timeout 5s] SERVICE [PATH]")
	var ignore, headers checkList
	fs.Var(&ignore, "ignore", "a JSON `field` to leave out of the comparison: a name, matched in objects at any depth, or a dotted path from the top, like items.updated_at (repeatable)")
	fs.Var(&headers, "H", "an extra request `header`, like 'Authorization: Bearer abc' (repeatable)")
	method := fs.String("method", http.MethodGet, "the request `method`: GET or HEAD (the check must not change data)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long each task has to answer")
	pos, err := parse(fs.FlagSet, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return fmt.Errorf("%w: shoal check consistency takes a service and, optionally, the path to request (default /), got %d arguments", errUsage, len(pos))
	}
	service, path := pos[0], "/"
	if len(pos) == 2 {
		if path, err = checkPath(pos[1]); err != nil {
			return err
		}
	}
	m := strings.ToUpper(*method)
	if m != http.MethodGet && m != http.MethodHead {
		return fmt.Errorf("%w: shoal check consistency sends GET or HEAD only, not %s: the check asks every task, and must not change data", errUsage, *method)
	}
	if *timeout <= 0 {
		return fmt.Errorf("%w: --timeout must be more than 0, got %v", errUsage, *timeout)
	}
	rules, err := newIgnoreRules(ignore)
	if err != nil {
		return err
	}
	header, err := checkHeaders(headers)
	if err != nil {
		return err
	}

	c, err := client()
	if err != nil {
		return err
	}
	tasks, err := c.Tasks(ctx, false)
	if err != nil {
		return err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(st.Services, func(s agent.ServiceStatus) bool { return s.Name == service })
	if i < 0 && !slices.ContainsFunc(tasks, func(t agent.TaskStatus) bool { return t.Service == service }) {
		var names []string
		for _, s := range st.Services {
			names = append(names, s.Name)
		}
		if len(names) == 0 {
			return fmt.Errorf("no service %q: stack %s has no services", service, st.Stack)
		}
		return fmt.Errorf("no service %q in stack %s; its services: %s", service, st.Stack, strings.Join(names, ", "))
	}
	noTargetGroup := i >= 0 && st.Services[i].TargetGroup == ""
	var asked []agent.TaskStatus
	var skipped []consistencySkipped
	for _, t := range tasks {
		if t.Service != service {
			continue
		}
		healthy := t.Health == "healthy" || (t.Health == "" && noTargetGroup && t.TargetGroup == "")
		if t.LastStatus == "RUNNING" && healthy && t.Address != "" {
			asked = append(asked, t)
		} else {
			skipped = append(skipped, consistencySkipped{ID: t.ID, LastStatus: t.LastStatus, Health: t.Health})
		}
	}
	if len(asked) == 0 {
		if len(skipped) == 0 {
			return fmt.Errorf("service %s has no running task to check", service)
		}
		return fmt.Errorf("service %s has no healthy running task to check: %s", service, describeSkipped(skipped))
	}

	answers := askTasks(ctx, asked, m, path, header, *timeout)
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted")
	}
	report := compareAnswers(service, path, answers, rules)
	report.Skipped = skipped
	if *fs.json {
		if err := printJSON(e, report); err != nil {
			return err
		}
	} else if err := printConsistency(e, report); err != nil {
		return err
	}
	if !report.Agree {
		return exitError(1)
	}
	return nil
}

// checkPath returns the path (and query) to request of each task: it
// starts with a slash; a URL is refused, since the check goes to the tasks
// and not to where the URL points.
func checkPath(p string) (string, error) {
	if strings.Contains(p, "://") {
		return "", fmt.Errorf("%w: PATH is the path to request of each task, like /items?limit=5, not a URL: the check goes to every task directly, not through the load balancer", errUsage)
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if _, err := url.ParseRequestURI(p); err != nil {
		return "", fmt.Errorf("%w: bad PATH %q: %v", errUsage, p, err)
	}
	return p, nil
}

var checkHeaderName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// checkHeaders parses the -H flags, each "Name: value".
func checkHeaders(hs []string) (http.Header, error) {
	h := http.Header{}
	for _, s := range hs {
		name, value, ok := strings.Cut(s, ":")
		name = strings.TrimSpace(name)
		if !ok || !checkHeaderName.MatchString(name) || strings.ContainsAny(value, "\r\n") {
			return nil, fmt.Errorf("%w: -H %q: a header is 'Name: value', like -H 'Authorization: Bearer abc'", errUsage, s)
		}
		h.Add(name, strings.TrimSpace(value))
	}
	if h.Get("User-Agent") == "" {
		h.Set("User-Agent", checkUserAgent)
	}
	return h, nil
}

func describeSkipped(skipped []consistencySkipped) string {
	var parts []string
	for _, s := range skipped {
		if s.Health != "" {
			parts = append(parts, fmt.Sprintf("%s is %s (%s)", s.ID, s.LastStatus, s.Health))
		} else {
			parts = append(parts, fmt.Sprintf("%s is %s", s.ID, s.LastStatus))
		}
	}
	return strings.Join(parts, ", ")
}

// checkAnswer is what one task answered.
type checkAnswer struct {
	task   agent.TaskStatus
	status int
	body   []byte
	data   any // the body's JSON data, ignored fields removed, when isJSON
	isJSON bool
	err    string // why the request failed
}

// askTasks sends the request to every task at once (at most checkParallel
// at a time) and returns their answers, in the tasks' order.
func askTasks(ctx context.Context, tasks []agent.TaskStatus, method, path string, header http.Header, timeout time.Duration) []checkAnswer {
	// Straight to each task: no proxy from the environment, no
	// connection kept, no redirect followed (its Location may well point
	// at the load balancer).
	tr := &http.Transport{
		DialContext:       (&net.Dialer{}).DialContext,
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	answers := make([]checkAnswer, len(tasks))
	sem := make(chan struct{}, checkParallel)
	var wg sync.WaitGroup
	for i, t := range tasks {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			answers[i] = askTask(ctx, hc, t, method, path, header, timeout)
		})
	}
	wg.Wait()
	return answers
}

func askTask(ctx context.Context, hc *http.Client, t agent.TaskStatus, method, path string, header http.Header, timeout time.Duration) checkAnswer {
	a := checkAnswer{task: t}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+t.Address+path, nil)
	if err != nil {
		a.err = err.Error()
		return a
	}
	req.Header = header.Clone()
	if host := header.Get("Host"); host != "" {
		req.Host = host
	}
	resp, err := hc.Do(req)
	if err != nil {
		a.err = checkRequestError(err, timeout)
		return a
	}
	defer resp.Body.Close()
	a.status = resp.StatusCode
	body, err := io.ReadAll(io.LimitReader(resp.Body, checkMaxBody+1))
	switch {
	case err != nil:
		a.err = "reading the body: " + checkRequestError(err, timeout)
	case len(body) > checkMaxBody:
		a.err = fmt.Sprintf("the body is longer than %d MiB", checkMaxBody>>20)
	default:
		a.body = body
	}
	return a
}

// checkRequestError says shortly why a request failed.
func checkRequestError(err error, timeout time.Duration) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: nothing listens there"
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return fmt.Sprintf("no answer within %v (--timeout)", timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// compareAnswers groups the tasks by the same answer and tells how the
// others differ from the largest group's.
func compareAnswers(service, path string, answers []checkAnswer, rules ignoreRules) consistencyReport {
	for i := range answers {
		a := &answers[i]
		if a.err == "" {
			a.data, a.isJSON = checkParseJSON(a.body)
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
		if a.err == "" {
			g = slices.IndexFunc(groups, func(g []int) bool {
				b := answers[g[0]]
				return b.err == "" && sameAnswer(a, b)
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
		if answers[members[0]].err == "" && (ref < 0 || len(members) > len(groups[ref])) {
			ref = g
		}
	}
	majority := ref >= 0
	for g, members := range groups {
		if g != ref && ref >= 0 && answers[members[0]].err == "" && len(members) == len(groups[ref]) {
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
	r := consistencyReport{Service: service, Path: path, Differences: []consistencyDiff{}}
	for i, a := range answers {
		r.Tasks = append(r.Tasks, consistencyTask{
			ID: a.task.ID, Address: a.task.Address, Status: a.status, Answer: letter[i],
			Agrees: majority && slices.Contains(groups[0], i), Error: a.err,
		})
	}
	r.Agree = majority && len(groups) == 1
	for g, members := range groups {
		if g == ref {
			continue
		}
		d := consistencyDiff{Answer: answerLetter(g)}
		for _, i := range members {
			d.Tasks = append(d.Tasks, answers[i].task.ID)
		}
		a := answers[members[0]]
		if a.err != "" {
			d.Kind, d.Error, d.Description = "error", a.err, a.err
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

// checkParseJSON decodes a body that holds one JSON value, numbers kept as
// json.Number.
func checkParseJSON(body []byte) (any, bool) {
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

func sameAnswer(a, b checkAnswer) bool {
	if a.status != b.status {
		return false
	}
	if a.isJSON && b.isJSON {
		_, differ := firstJSONDiff(a.data, b.data, nil)
		return !differ
	}
	return bytes.Equal(a.body, b.body)
}

// diffAnswers fills in how answer a differs from ref.
func diffAnswers(d *consistencyDiff, a, ref checkAnswer) {
	switch {
	case a.status != ref.status:
		d.Kind, d.Value, d.ReferenceValue = "status", strconv.Itoa(a.status), strconv.Itoa(ref.status)
		d.Description = fmt.Sprintf("status %d vs %d", a.status, ref.status)
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
		d.Value, d.ReferenceValue, d.Description = checkBytesDiff(a.body, ref.body)
	}
}

// checkBytesDiff shows where two bodies first differ: the bytes from there, or
// their lengths when one is the start of the other.
func checkBytesDiff(a, b []byte) (string, string, string) {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	if n == len(a) || n == len(b) {
		va, vb := fmt.Sprintf("%d bytes", len(a)), fmt.Sprintf("%d bytes", len(b))
		return va, vb, fmt.Sprintf("body: %s vs %s, the same up to there", va, vb)
	}
	va, vb := checkSnippet(a[n:]), checkSnippet(b[n:])
	return va, vb, fmt.Sprintf("body at byte %d: %s vs %s", n, va, vb)
}

// checkSnippet quotes the first bytes of b.
func checkSnippet(b []byte) string {
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
			sub := append(slices.Clip(path), checkPathKey(k, len(path) == 0))
			switch {
			case !inA:
				return jsonDiff{path: strings.Join(sub, ""), value: "absent", ref: checkShortJSON(vr)}, true
			case !inR:
				return jsonDiff{path: strings.Join(sub, ""), value: checkShortJSON(va), ref: "absent"}, true
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
			value: "absent", ref: "absent", note: fmt.Sprintf("%s vs %d", count(len(a), "element"), len(r))}
		if len(a) > len(r) {
			d.value = checkShortJSON(a[len(r)])
		} else {
			d.ref = checkShortJSON(r[len(a)])
		}
		return d, true
	case json.Number:
		if r, ok := ref.(json.Number); ok && checkSameNumber(a, r) {
			return jsonDiff{}, false
		}
	default: // string, bool, nil
		if a == ref {
			return jsonDiff{}, false
		}
	}
	return here(checkShortJSON(a), checkShortJSON(ref))
}

var checkPlainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// checkPathKey is a key's part of a JSON path: .key, or ["key"] for one with
// dots, spaces and such.
func checkPathKey(k string, first bool) string {
	switch {
	case !checkPlainKey.MatchString(k):
		return "[" + strconv.Quote(k) + "]"
	case first:
		return k
	}
	return "." + k
}

func checkSameNumber(a, b json.Number) bool {
	if a == b {
		return true
	}
	fa, _, errA := big.ParseFloat(string(a), 10, 256, big.ToNearestEven)
	fb, _, errB := big.ParseFloat(string(b), 10, 256, big.ToNearestEven)
	return errA == nil && errB == nil && fa.Cmp(fb) == 0
}

// checkShortJSON is v as compact JSON, cut after 40 characters.
func checkShortJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if r := []rune(string(b)); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return string(b)
}

// ignoreRules are the --ignore fields: names removed from objects at any
// depth, and dotted paths from the top (arrays on the way are crossed:
// items.updated_at is the updated_at of every element of items).
type ignoreRules struct {
	anywhere map[string]bool
	paths    [][]string
}

func newIgnoreRules(fields []string) (ignoreRules, error) {
	r := ignoreRules{anywhere: map[string]bool{}}
	for _, f := range fields {
		parts := strings.Split(f, ".")
		if slices.Contains(parts, "") {
			return r, fmt.Errorf("%w: --ignore %q: give a field name, like updated_at, or a dotted path, like items.updated_at", errUsage, f)
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
func (r ignoreRules) strip(v any) any {
	if len(r.anywhere) == 0 && len(r.paths) == 0 {
		return v
	}
	r.stripAt(v, nil)
	return v
}

func (r ignoreRules) stripAt(v any, path []string) {
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

// printConsistency prints the table of answers and a line that says
// whether the tasks agree, and how the others differ.
func printConsistency(e *env, r consistencyReport) error {
	failed := slices.ContainsFunc(r.Tasks, func(t consistencyTask) bool { return t.Error != "" })
	headers := []string{"TASK", "ADDRESS", "STATUS", "ANSWER", "AGREES"}
	if failed {
		headers = append(headers, "ERROR")
	}
	tw := table(e, headers...)
	for _, t := range r.Tasks {
		status, agrees := "-", "no"
		if t.Status != 0 {
			status = strconv.Itoa(t.Status)
		}
		if t.Agrees {
			agrees = "yes"
		}
		row := []string{t.ID, t.Address, status, t.Answer, agrees}
		if failed {
			row = append(row, dash(t.Error))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintf(e.stdout, "not asked, not healthy: %s\n", describeSkipped(r.Skipped))
	}
	_, err := fmt.Fprintln(e.stdout, consistencySummary(r))
	return err
}

// consistencySummary is the line under the table: "all 3 tasks agree", or
// "2 of 3 tasks agree; api-77b0e1c4 differs: count: 4 vs 3".
func consistencySummary(r consistencyReport) string {
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
		head = fmt.Sprintf("none of the %s answered", count(n, "task"))
	case len(agreeing) == 0:
		head = fmt.Sprintf("the %d tasks disagree, with no majority", n)
		from = " from " + checkJoinAnd(reference)
	default:
		head = fmt.Sprintf("%d of %s agree", len(agreeing), count(n, "task"))
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
			parts = append(parts, fmt.Sprintf("%s %s: %s", checkJoinAnd(d.Tasks), verb, d.Description))
		} else {
			parts = append(parts, fmt.Sprintf("%s %s%s: %s", checkJoinAnd(d.Tasks), verb, from, d.Description))
		}
	}
	return strings.Join(parts, "; ")
}

// checkJoinAnd is "a", "a and b", "a, b and c".
func checkJoinAnd(s []string) string {
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
