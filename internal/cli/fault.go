package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/shoalhq/shoal/internal/fault"
)

// faultCommand is one `shoal fault` subcommand that injects a fault.
type faultCommand struct {
	name string
	kind fault.Kind
	args []string // the positional arguments' names
	// Which flags it takes besides --for (which every one but kill takes).
	delay, status, fraction bool
	summary                 string
}

var faultCommands = []faultCommand{
	{name: "kill", kind: fault.KillTask, args: []string{"TASK"}, summary: "SIGKILL a task: it exits at once, undrained, and is replaced"},
	{name: "pause", kind: fault.PauseTask, args: []string{"TASK"}, summary: "SIGSTOP a task (docker pause) --for a while: its health checks time out"},
	{name: "stop-instance", kind: fault.StopInstance, args: []string{"NAME"}, summary: "stop an instance as a failed host; with --for, activate it again after"},
	{name: "health", kind: fault.FailHealth, args: []string{"TARGET_GROUP", "TARGET"}, summary: "fail a target's health checks --for a while"},
	{name: "latency", kind: fault.Latency, args: []string{"TARGET_GROUP"}, delay: true, fraction: true, summary: "delay a fraction of a target group's requests --for a while"},
	{name: "errors", kind: fault.Errors, args: []string{"TARGET_GROUP"}, status: true, fraction: true, summary: "answer a fraction of a target group's requests with a 5xx --for a while"},
}

func runFault(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		faultUsage(e)
		if len(args) == 0 {
			return fmt.Errorf("%w: shoal fault takes a subcommand: %s", errUsage, faultNames())
		}
		return nil
	}
	switch args[0] {
	case "ls":
		return runFaultList(ctx, e, args[1:])
	case "rm":
		return runFaultRemove(ctx, e, args[1:])
	}
	for _, fc := range faultCommands {
		if fc.name == args[0] {
			return fc.run(ctx, e, args[1:])
		}
	}
	return fmt.Errorf("%w: unknown fault subcommand %q: use %s", errUsage, args[0], faultNames())
}

func faultNames() string {
	var names []string
	for _, fc := range faultCommands {
		names = append(names, fc.name)
	}
	return strings.Join(append(names, "ls", "rm"), ", ")
}

func faultUsage(e *env) {
	fmt.Fprintf(e.stderr, "Usage: shoal fault <subcommand> [flags]\n\nSubcommands:\n")
	for _, fc := range faultCommands {
		fmt.Fprintf(e.stderr, "  %-14s %s\n", fc.name+" "+strings.Join(fc.args, " "), fc.summary)
	}
	fmt.Fprintf(e.stderr, "  %-14s %s\n  %-14s %s\n", "ls", "list the active faults", "rm ID", "end an active fault now")
}

func (fc faultCommand) run(ctx context.Context, e *env, args []string) error {
	fs, client := clientFlags(e, "fault "+fc.name, strings.Join(fc.args, " ")+" [flags]")
	var forD, delay time.Duration
	var fraction float64
	var status int
	if fc.kind != fault.KillTask {
		fs.DurationVar(&forD, "for", 0, "how long the fault lasts, up to 1h (30s, 5m)")
	}
	if fc.delay {
		fs.DurationVar(&delay, "delay", 0, "latency added before a request is forwarded, up to 10m (500ms)")
	}
	if fc.status {
		fs.IntVar(&status, "status", fault.DefaultStatus, "status answered, as if from the target: 500-599")
	}
	if fc.fraction {
		fs.Float64Var(&fraction, "fraction", 1, "share of the requests touched, above 0 up to 1")
	}
	pos, err := parse(fs.FlagSet, args)
	if err != nil {
		return err
	}
	if len(pos) != len(fc.args) {
		return fmt.Errorf("%w: shoal fault %s takes %s, got %d arguments", errUsage, fc.name, strings.Join(fc.args, " "), len(pos))
	}
	req := fault.Request{Kind: fc.kind, For: fault.Duration(forD), Delay: fault.Duration(delay), Status: status, Fraction: fraction}
	switch fc.kind {
	case fault.KillTask, fault.PauseTask:
		req.Task = pos[0]
	case fault.StopInstance:
		req.Instance = pos[0]
	default:
		req.TargetGroup = pos[0]
		if len(pos) > 1 {
			req.Target = pos[1]
		}
	}
	if fc.fraction && fraction == 0 {
		return fmt.Errorf("%w: --fraction 0 touches no request: use a number above 0, up to 1", errUsage)
	}
	c, err := client()
	if err != nil {
		return err
	}
	f, err := c.InjectFault(ctx, req)
	if err != nil {
		return err
	}
	if *fs.json {
		return printJSON(e, f)
	}
	fmt.Fprintln(e.stdout, f.StartMessage())
	if !f.Instant() {
		fmt.Fprintf(e.stdout, "end it sooner with: shoal fault rm %s\n", f.ID)
	}
	return nil
}

func runFaultList(ctx context.Context, e *env, args []string) error {
	fs, client := clientFlags(e, "fault ls", "[--json]")
	pos, err := parse(fs.FlagSet, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("%w: shoal fault ls takes no arguments, got %d", errUsage, len(pos))
	}
	c, err := client()
	if err != nil {
		return err
	}
	faults, err := c.Faults(ctx)
	if err != nil {
		return err
	}
	if *fs.json {
		return printJSON(e, faults)
	}
	tw := table(e, "ID", "KIND", "ON", "WHAT", "UNTIL")
	for _, f := range faults {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.ID, f.Kind, faultOn(f), dash(faultWhat(f)), f.Until.Local().Format(time.TimeOnly))
	}
	return tw.Flush()
}

// faultOn names what f acts on.
func faultOn(f fault.Fault) string {
	switch {
	case f.Task != "":
		return "task " + f.Task
	case f.Instance != "":
		return "instance " + f.Instance
	case f.Target != "":
		return f.TargetGroup + " " + f.Target
	}
	return "target-group " + f.TargetGroup
}

// faultWhat says what a latency or errors fault does.
func faultWhat(f fault.Fault) string {
	pct := fmt.Sprintf("%g%%", f.Fraction*100)
	switch f.Kind {
	case fault.Latency:
		return fmt.Sprintf("+%v on %s", time.Duration(f.Delay), pct)
	case fault.Errors:
		return fmt.Sprintf("%d on %s", f.Status, pct)
	}
	return ""
}

func runFaultRemove(ctx context.Context, e *env, args []string) error {
	fs, client := clientFlags(e, "fault rm", "ID")
	pos, err := parse(fs.FlagSet, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: shoal fault rm takes a fault id (shoal fault ls lists them), like: shoal fault rm f-2", errUsage)
	}
	c, err := client()
	if err != nil {
		return err
	}
	if err := c.RemoveFault(ctx, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "fault %s removed\n", pos[0])
	return nil
}
