package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	"github.com/shoalhq/shoal/internal/consistency"
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

// checkReport is what `shoal check consistency --json` prints: the
// comparison, and the tasks not asked.
type checkReport struct {
	consistency.Report
	Skipped []consistencySkipped `json:"skipped,omitempty"`
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
	rules, err := consistency.ParseIgnore(ignore)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
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
	report := checkReport{Report: consistency.Compare(service, path, answers, rules), Skipped: skipped}
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

// askTasks sends the request to every task at once (at most checkParallel
// at a time) and returns their answers, in the tasks' order.
func askTasks(ctx context.Context, tasks []agent.TaskStatus, method, path string, header http.Header, timeout time.Duration) []consistency.Answer {
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
	answers := make([]consistency.Answer, len(tasks))
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

func askTask(ctx context.Context, hc *http.Client, t agent.TaskStatus, method, path string, header http.Header, timeout time.Duration) consistency.Answer {
	a := consistency.Answer{ID: t.ID, Address: t.Address}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+t.Address+path, nil)
	if err != nil {
		a.Err = err.Error()
		return a
	}
	req.Header = header.Clone()
	if host := header.Get("Host"); host != "" {
		req.Host = host
	}
	resp, err := hc.Do(req)
	if err != nil {
		a.Err = checkRequestError(err, timeout)
		return a
	}
	defer resp.Body.Close()
	a.Status = resp.StatusCode
	body, err := io.ReadAll(io.LimitReader(resp.Body, checkMaxBody+1))
	switch {
	case err != nil:
		a.Err = "reading the body: " + checkRequestError(err, timeout)
	case len(body) > checkMaxBody:
		a.Err = fmt.Sprintf("the body is longer than %d MiB", checkMaxBody>>20)
	default:
		a.Body = body
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

// printConsistency prints the table of answers and a line that says
// whether the tasks agree, and how the others differ.
func printConsistency(e *env, r checkReport) error {
	failed := slices.ContainsFunc(r.Tasks, func(t consistency.Task) bool { return t.Error != "" })
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
	_, err := fmt.Fprintln(e.stdout, r.Summary())
	return err
}
