package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shoalhq/shoal/internal/admin"
	"github.com/shoalhq/shoal/internal/store"
)

func runValidate(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "validate", "[-f FILE]")
	file := fs.String("f", "", "stack `file` (default ./shoal.yaml)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	s, _, err := loadStack(e, *file, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s is valid: stack %s with %s, %s, %s, %s, %s\n", s.File, s.Name,
		count(len(s.LoadBalancers), "load balancer"), count(len(s.TargetGroups), "target group"),
		count(s.Cluster.Instances, "instance"), count(len(s.TaskDefinitions), "task definition"),
		count(len(s.Services), "service"))
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
	for _, l := range st.Listeners {
		fmt.Fprintf(e.stdout, "listener http://%s/\n", l)
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
	tw := table(e, "TASK", "SERVICE", "INSTANCE", "ADDRESS", "STATUS", "HEALTH", "AGE", "STOPPED REASON")
	for _, t := range tasks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Service, t.Instance, dash(t.Address),
			t.LastStatus, dash(t.Health), age(t.CreatedAt), dash(t.StoppedReason))
	}
	return tw.Flush()
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
	tw := table(e, "TARGET GROUP", "TARGET", "STATE", "REASON", "DESCRIPTION", "IN FLIGHT")
	for _, t := range targets {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", t.Group, t.Target, t.State, dash(string(t.Reason)), dash(t.Description), t.InFlight)
	}
	return tw.Flush()
}

// logPoll is how often `shoal logs -f` asks for more output.
const logPoll = 250 * time.Millisecond

func runLogs(ctx context.Context, e *env, args []string) error {
	fs, client := clientFlags(e, "logs", "[-f] TASK")
	follow := fs.Bool("f", false, "keep printing new output until the task stops or Ctrl-C")
	pos, err := parse(fs.FlagSet, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: shoal logs takes one task id (see `shoal ps`), got %d arguments", errUsage, len(pos))
	}
	c, err := client()
	if err != nil {
		return err
	}
	var from int64
	for {
		data, next, err := c.Logs(ctx, pos[0], from)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		e.stdout.Write(data)
		from = next
		if !*follow || (len(data) == 0 && taskStopped(ctx, c, pos[0])) {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(logPoll):
		}
	}
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
	fs, client := clientFlags(e, "events", "[-f] [--json]")
	follow := fs.Bool("f", false, "keep printing new events until Ctrl-C or shoal stops")
	pos, err := parse(fs.FlagSet, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("%w: shoal events takes no arguments, got %d", errUsage, len(pos))
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
		return printJSON(e, events)
	}
	// Followed events stream: as lines "HH:MM:SS message" like `shoal up`
	// prints them, or with --json one JSON object per line.
	var seq int64
	for {
		for _, ev := range events {
			seq = ev.Seq
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
