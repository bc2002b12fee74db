package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shoalhq/shoal/internal/admin"
	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/store"
)

func runValidate(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "validate", "[-f FILE]")
	file := fs.String("f", "", "stack `file` (default ./shoal.yaml)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *file == "" && !exists(defaultStackFile) {
		noStackFile(e, defaultStateDir(e.getenv))
		return exitError(1)
	}
	s, _, err := loadStack(e, *file, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s is valid: stack %s with %s, %s, %s, %s, %s\n", s.File, s.Name,
		count(len(s.LoadBalancers), "load balancer"), count(len(s.TargetGroups), "target group"),
		count(s.Cluster.Instances, "instance"), count(len(s.TaskDefinitions), "task definition"),
		count(len(s.Services), "service"))
	for _, w := range s.Warnings() {
		fmt.Fprintf(e.stderr, "warning: %v\n", w)
	}
	return nil
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// clientFlags adds the flags every command that talks to a running shoal
// takes, and returns a function that makes its client. It refuses a state
// directory that fails store.CheckDir: another user could have put their own
// socket in it. A missing one is left for the client to report as not running.
func clientFlags(e *env, name, args string) (*flagSet, func() (*admin.Client, error)) {
	fs := newFlags(e, name, args)
	dir := stateDirFlag(fs, e)
	jsonOut := fs.Bool("json", false, "print JSON instead of a table")
	return &flagSet{FlagSet: fs, json: jsonOut}, func() (*admin.Client, error) {
		if err := store.CheckDir(*dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		return admin.NewClient(filepath.Join(*dir, store.SocketName)), nil
	}
}

func runStatus(ctx context.Context, e *env, args []string) error {
	fs, client := clientFlags(e, "status", "[--json]")
	if _, err := parse(fs.FlagSet, args); err != nil {
		return err
	}
	c, err := client()
	if err != nil {
		return err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	if *fs.json {
		return printJSON(e, st)
	}
	fmt.Fprintf(e.stdout, "stack %s (%s)\n", st.Stack, st.File)
	for _, u := range st.URLs {
		fmt.Fprintf(e.stdout, "listener %s\n", u)
	}
	tw := table(e, "SERVICE", "DESIRED", "RUNNING", "PENDING", "HEALTHY", "TARGET GROUP", "STEADY")
	for _, s := range st.Services {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%v\n", s.Name, s.Desired, s.Running, s.Pending, s.Healthy, dash(s.TargetGroup), s.SteadyState)
	}
	return tw.Flush()
}

func runPs(ctx context.Context, e *env, args []string) error {
	fs, client := clientFlags(e, "ps", "[-a] [--json]")
	all := fs.Bool("a", false, "show stopped tasks too")
	if _, err := parse(fs.FlagSet, args); err != nil {
		return err
	}
	c, err := client()
	if err != nil {
		return err
	}
	tasks, err := c.Tasks(ctx, *all)
	if err != nil {
		return err
	}
	if *fs.json {
		return printJSON(e, tasks)
	}
	// With -a, an EXIT column: how the stopped tasks ended. A stopped task
	// has no pid, and no health: its target is gone.
	headers := []string{"TASK", "SERVICE", "INSTANCE", "ADDRESS", "PID", "STATUS", "HEALTH", "AGE", "STOPPED REASON"}
	if *all {
		headers = slices.Insert(headers, 7, "EXIT")
	}
	tw := table(e, headers...)
	for _, t := range tasks {
		pid, health := "-", dash(t.Health)
		if t.Pid != 0 {
			pid = strconv.Itoa(t.Pid)
		}
		if t.LastStatus == "STOPPED" {
			health = "-"
		}
		status := t.LastStatus
		if t.PausedBy != "" {
			status += " (paused by " + t.PausedBy + ")"
		}
		row := []string{t.ID, t.Service, t.Instance, dash(t.Address), pid, status, health, age(t.CreatedAt), dash(t.StoppedReason)}
		if *all {
			row = slices.Insert(row, 7, exitOf(t))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// exitOf is how a stopped task ended, for ps: its exit code, or the signal
// that killed it; "-" while it runs, or when it never started.
func exitOf(t agent.TaskStatus) string {
	switch {
	case t.ExitCode != nil:
		return strconv.Itoa(*t.ExitCode)
	case t.ExitSignal != "":
		return t.ExitSignal
	}
	return "-"
}

func runTargets(ctx context.Context, e *env, args []string) error {
	fs, client := clientFlags(e, "targets", "[--json]")
	if _, err := parse(fs.FlagSet, args); err != nil {
		return err
	}
	c, err := client()
	if err != nil {
		return err
	}
	targets, err := c.Targets(ctx)
	if err != nil {
		return err
	}
	if *fs.json {
		return printJSON(e, targets)
	}
	// The description comes last: it is long where it says what to do, and
	// the last column is not padded, so it pushes no other column aside.
	tw := table(e, "TARGET GROUP", "TARGET", "STATE", "REASON", "IN FLIGHT", "DESCRIPTION")
	for _, t := range targets {
		desc := t.Description
		if t.Fault != "" { // first: it explains the rest
			desc = strings.TrimSuffix("FAULT: "+t.Fault+"; "+desc, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", t.Group, t.Target, t.State, dash(string(t.Reason)), t.InFlight, dash(desc))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return printListenerGuards(ctx, e, c)
}

// printListenerGuards lists the listeners that security groups guard,
// with the connections they denied; nothing when none is guarded.
func printListenerGuards(ctx context.Context, e *env, c *admin.Client) error {
	v, err := c.SecurityGroups(ctx)
	if err != nil {
		return err
	}
	var guarded []agent.GuardedPort
	for _, l := range v.Listeners {
		if len(l.Groups) > 0 {
			guarded = append(guarded, l)
		}
	}
	if len(guarded) == 0 {
		return nil
	}
	fmt.Fprintln(e.stdout)
	tw := table(e, "LISTENER", "ADDRESS", "SECURITY GROUPS", "DENIED", "LAST DENIED")
	for _, l := range guarded {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", l.Name, l.Address, strings.Join(l.Groups, ","), l.Denied, dash(l.LastDenied))
	}
	return tw.Flush()
}

// logPoll is how often `shoal logs -f` asks for more output.
const logPoll = 250 * time.Millisecond

func runLogs(ctx context.Context, e *env, args []string) error {
	fs, client := clientFlags(e, "logs", "[-f] [-a] TASK|SERVICE")
	follow := fs.Bool("f", false, "keep printing new output until the task stops (a service's: until Ctrl-C or shoal stops)")
	all := fs.Bool("a", false, "with a service, its stopped tasks' output too")
	pos, err := parse(fs.FlagSet, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: shoal logs takes one task id, a unique prefix of one, or a service name (see `shoal ps`), got %d arguments", errUsage, len(pos))
	}
	c, err := client()
	if err != nil {
		return err
	}
	ref := pos[0]
	tasks, isService, err := serviceTasks(ctx, c, ref)
	if err != nil {
		return err
	}
	if isService {
		return followService(ctx, e, c, ref, tasks, *all, *follow)
	}
	// A task: the agent resolves a prefix once; then its full id is used,
	// so that a task started later with the same prefix changes nothing.
	t, err := c.Task(ctx, ref)
	switch {
	case errors.Is(err, agent.ErrNotFound):
		return fmt.Errorf("no task or service %q: `shoal ps -a` lists the tasks and their services", ref)
	case errors.Is(err, agent.ErrAmbiguous):
		return fmt.Errorf("%w; give more of the id", err)
	case err != nil:
		return err
	}
	var from int64
	stopped := t.LastStatus == "STOPPED"
	for {
		data, next, err := c.Logs(ctx, t.ID, from)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, admin.ErrNotRunning) {
				return nil // Ctrl-C, or shoal has stopped: no more output will come
			}
			return err
		}
		e.stdout.Write(data)
		from = next
		if !*follow || stopped {
			return nil // stopped before that read, which got the rest
		}
		if len(data) == 0 && taskStopped(ctx, c, t.ID) {
			stopped = true
			continue // one more read, for what came between the two
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(logPoll):
		}
	}
}

// serviceTasks says whether name is a service (one with tasks, or one in
// the stack with none yet) and returns every task, stopped ones too.
func serviceTasks(ctx context.Context, c *admin.Client, name string) ([]agent.TaskStatus, bool, error) {
	tasks, err := c.Tasks(ctx, true)
	if err != nil {
		return nil, false, err
	}
	if slices.ContainsFunc(tasks, func(t agent.TaskStatus) bool { return t.Service == name }) {
		return tasks, true, nil
	}
	st, err := c.Status(ctx)
	if err != nil {
		return nil, false, err
	}
	return tasks, slices.ContainsFunc(st.Services, func(s agent.ServiceStatus) bool { return s.Name == name }), nil
}

// logTail is one task whose output `shoal logs SERVICE` prints.
type logTail struct {
	id      string
	from    int64
	partial []byte // the start of a line whose end has not come yet
	stopped bool   // as of the last listing: then one more read gets all
	done    bool
}

// followService prints the output of a service's tasks (its running ones;
// with all, its stopped ones too), oldest task first, each line prefixed
// with its task id as `docker compose logs` does. Following, it reads every
// task on each poll, so lines interleave as they come, and takes in the
// tasks the service starts meanwhile, until Ctrl-C or shoal stops.
func followService(ctx context.Context, e *env, c *admin.Client, service string, tasks []agent.TaskStatus, all, follow bool) error {
	var tails []*logTail
	known := map[string]*logTail{}
	width := 0
	add := func(ts []agent.TaskStatus, pick func(agent.TaskStatus) bool) {
		ts = slices.Clone(ts)
		slices.SortStableFunc(ts, func(a, b agent.TaskStatus) int { return a.CreatedAt.Compare(b.CreatedAt) })
		for _, t := range ts {
			if l := known[t.ID]; l != nil {
				l.stopped = t.LastStatus == "STOPPED"
				continue
			}
			if t.Service != service {
				continue
			}
			l := &logTail{id: t.ID, stopped: t.LastStatus == "STOPPED", done: !pick(t)}
			known[t.ID] = l
			tails = append(tails, l)
			width = max(width, len(t.ID))
		}
	}
	// At first, the running tasks (with all, every one); later, any new task
	// of the service, even one that stopped between two polls.
	add(tasks, func(t agent.TaskStatus) bool { return all || t.LastStatus != "STOPPED" })
	for {
		for _, l := range tails {
			if l.done {
				continue
			}
			data, next, err := c.Logs(ctx, l.id, l.from)
			switch {
			case ctx.Err() != nil:
				return nil
			case errors.Is(err, admin.ErrNotRunning):
				return flushTails(e, tails, width) // shoal has stopped: no more output will come
			case errors.Is(err, agent.ErrNotFound):
				l.done = true
				continue
			case err != nil:
				return err
			}
			l.from = next
			lines := append(l.partial, data...)
			cut := bytes.LastIndexByte(lines, '\n') + 1
			l.partial = slices.Clone(lines[cut:])
			if err := writePrefixed(e, l.id, width, lines[:cut]); err != nil {
				return err
			}
			if !follow || l.stopped {
				l.done = true
				if err := writePrefixed(e, l.id, width, l.partial); err != nil {
					return err
				}
				l.partial = nil
			}
		}
		if !follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(logPoll):
		}
		tasks, err := c.Tasks(ctx, true)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, admin.ErrNotRunning):
			return flushTails(e, tails, width)
		case err != nil:
			return err
		}
		add(tasks, func(agent.TaskStatus) bool { return true })
	}
}

// writePrefixed writes each line of data (the last one completed with a
// newline if it lacks one) as "ID | line".
func writePrefixed(e *env, id string, width int, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	var b bytes.Buffer
	for line := range bytes.Lines(data) {
		fmt.Fprintf(&b, "%-*s | %s", width, id, line)
		if !bytes.HasSuffix(line, []byte("\n")) {
			b.WriteByte('\n')
		}
	}
	_, err := e.stdout.Write(b.Bytes())
	return err
}

// flushTails prints the unfinished last lines of the tasks followed.
func flushTails(e *env, tails []*logTail, width int) error {
	for _, l := range tails {
		if err := writePrefixed(e, l.id, width, l.partial); err != nil {
			return err
		}
		l.partial = nil
	}
	return nil
}

func taskStopped(ctx context.Context, c *admin.Client, id string) bool {
	tasks, err := c.Tasks(ctx, true)
	if err != nil {
		return errors.Is(err, admin.ErrNotRunning)
	}
	for _, t := range tasks {
		if t.ID == id {
			return t.LastStatus == "STOPPED"
		}
	}
	return true
}

// eventPoll is how often `shoal events -f` asks for new events.
const eventPoll = 250 * time.Millisecond

func runEvents(ctx context.Context, e *env, args []string) error {
	fs, client := clientFlags(e, "events", "[SERVICE] [-f] [--json]")
	follow := fs.Bool("f", false, "keep printing new events until Ctrl-C or shoal stops")
	pos, err := parse(fs.FlagSet, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return fmt.Errorf("%w: shoal events takes at most one service, got %d arguments", errUsage, len(pos))
	}
	keep := func(agent.Event) bool { return true }
	if len(pos) == 1 {
		keep = func(ev agent.Event) bool { return ev.Service == pos[0] }
	}
	c, err := client()
	if err != nil {
		return err
	}
	events, err := c.Events(ctx, 0)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if *fs.json && !*follow {
		return printJSON(e, nonNilEvents(filterEvents(events, keep)))
	}
	// Followed events stream: as lines "HH:MM:SS message" like `shoal up`
	// prints them, or with --json one JSON object per line.
	var seq int64
	for {
		for _, ev := range events {
			seq = ev.Seq
			if !keep(ev) {
				continue
			}
			if *fs.json {
				if err := json.NewEncoder(e.stdout).Encode(ev); err != nil {
					return err
				}
				continue
			}
			fmt.Fprintf(e.stdout, "%s %s\n", ev.Time.Format(time.TimeOnly), ev.Message)
		}
		if !*follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(eventPoll):
		}
		events, err = c.Events(ctx, seq)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, admin.ErrNotRunning) {
				return nil // Ctrl-C, or shoal has stopped: no more events will come
			}
			return err
		}
	}
}

func filterEvents(events []agent.Event, keep func(agent.Event) bool) []agent.Event {
	var out []agent.Event
	for _, ev := range events {
		if keep(ev) {
			out = append(out, ev)
		}
	}
	return out
}

func nonNilEvents(events []agent.Event) []agent.Event {
	if events == nil {
		return []agent.Event{}
	}
	return events
}

// flagSet is a command's flags with the --json every listing takes.
type flagSet struct {
	*flag.FlagSet
	json *bool
}

func printJSON(e *env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func table(e *env, headers ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	return tw
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func age(t time.Time) string {
	d := time.Since(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return d.String()
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%dh", int(d.Hours()))
}
