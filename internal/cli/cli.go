// Package cli is shoal's command line. Main runs one command with the given
// arguments and streams, so that tests drive it exactly as a user does.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
)

// Version is set at build time with -ldflags "-X ...cli.Version=v1.2.3"
// (`make build` sets it from `git describe --always --dirty`).
var Version = "dev"

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// env is what a command runs with: its streams and the process environment.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

func commands() []command {
	return []command{
		{"up", "run a stack in the foreground: tasks, load balancer, health checks", runUp},
		{"validate", "check a stack file and print every problem with its line", runValidate},
		{"status", "show the running stack: listeners and services", runStatus},
		{"ps", "list tasks: service, instance, address, pid, state, health; -a with stopped ones", runPs},
		{"targets", "list targets with their health state and reason", runTargets},
		{"sg", "explain who can reach what through the security groups", runSG},
		{"rules", "list the listeners' rules in evaluation order", runRules},
		{"explain", "say which rule, action, target group and target a request would get, and why", runExplain},
		{"logs", "print a task's output, or a service's tasks' merged; -f follows", runLogs},
		{"events", "print the service events (of one service), as up does; -f follows them", runEvents},
		{"deploy", "send a changed stack to the running shoal and watch its rollout", runDeploy},
		{"scale", "set a service's desired count", runScale},
		{"services", "list services with their deployments", runServices},
		{"deployments", "show a service's deployments, with the stages and timeline of blue/green, canary and linear ones", runDeployments},
		{"instances", "list the cluster's instances", runInstances},
		{"instance", "drain, activate or stop (simulate the failure of) an instance", runInstance},
		{"fault", "inject a failure: kill, pause, stop-instance, health, latency, errors; ls and rm the active ones", runFault},
		{"export", "write the stack for another engine: kubernetes, cloudformation or nomad", runExport},
		{"aws-env", "print the environment the AWS CLI and SDKs need to drive the running stack", runAWSEnv},
		{"check", "check a running service: consistency asks each task the same and compares", runCheck},
		{"version", "print shoal's version", runVersion},
	}
}

// errUsage marks a mistake in the command line; its message is printed with
// a pointer to help.
var errUsage = errors.New("usage")

// exitError carries an exit code without another message (the command has
// already printed what went wrong).
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// Main runs the command in args and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	stdout, stderr = &syncWriter{w: stdout}, &syncWriter{w: stderr}
	e := &env{stdout: stdout, stderr: stderr, getenv: os.Getenv}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" {
		args = append([]string{"version"}, args[1:]...)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return exitCode(c.run(ctx, e, args[1:]), stderr)
		}
	}
	fmt.Fprintf(stderr, "shoal: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func exitCode(err error, stderr io.Writer) int {
	var code exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &code):
		return int(code)
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "shoal: %v\nRun 'shoal help' for the commands.\n", strings.TrimPrefix(err.Error(), "usage: "))
		return 2
	}
	fmt.Fprintf(stderr, "shoal: %v\n", err)
	return 1
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "shoal runs replicas of an app behind a load balancer, the way AWS ECS and ALB do, on this machine.\n\n")
	fmt.Fprintf(w, "Usage: shoal <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'shoal <command> -h' for a command's flags. Start with:\n  shoal up -f examples/catalog/shoal.yaml\n")
}

// newFlags returns a flag set that prints to stderr and reports errors
// instead of exiting.
func newFlags(e *env, name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: shoal %s %s\n\nFlags:\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags before and after positional arguments, so that both
// `shoal logs -f TASK` and `shoal logs TASK -f` work.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, exitError(2)
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// stateDirFlag adds --state-dir to a command.
func stateDirFlag(fs *flag.FlagSet, e *env) *string {
	return fs.String("state-dir", defaultStateDir(e.getenv), "`folder` for shoal's state and admin socket (env SHOAL_STATE_DIR)")
}

// defaultStateDir: $SHOAL_STATE_DIR, else $XDG_STATE_HOME/shoal, else
// ~/.local/state/shoal.
func defaultStateDir(getenv func(string) string) string {
	if d := getenv("SHOAL_STATE_DIR"); d != "" {
		return d
	}
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "shoal")
	}
	home := getenv("HOME")
	if home == "" {
		home = os.TempDir()
	}
	return filepath.Join(home, ".local", "state", "shoal")
}

func runVersion(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "version", "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("%w: shoal version takes no arguments, got %d", errUsage, len(pos))
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprintln(e.stdout, versionLine(Version, bi))
	return nil
}

// versionLine is what `shoal version` prints: "shoal VERSION (GOVERSION)".
// VERSION is the one the build stamped (`make build`: git describe). A dev
// build says what it was built from instead: the Go module's version (a
// release tag, as `go install ...@v1.2.0` records), and the VCS revision Go
// recorded from a checkout ("-dirty" when the tree had changes), as in
// "shoal dev (go1.26.8, vcs 1acaa5a-dirty)". A pseudo-version, which only
// repeats the revision, is left out when the revision is there.
func versionLine(version string, bi *debug.BuildInfo) string {
	if bi == nil {
		return "shoal " + version
	}
	details := []string{bi.GoVersion}
	if version == "dev" {
		var rev, dirty string
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision":
				rev = s.Value[:min(len(s.Value), 7)]
			case s.Key == "vcs.modified" && s.Value == "true":
				dirty = "-dirty"
			}
		}
		if v := bi.Main.Version; v != "" && v != "(devel)" && (rev == "" || !pseudoVersion.MatchString(v)) {
			version = v
		}
		if rev != "" {
			details = append(details, "vcs "+rev+dirty)
		}
	}
	return fmt.Sprintf("shoal %s (%s)", version, strings.Join(details, ", "))
}

// pseudoVersion matches the end of a Go pseudo-version, such as
// v0.0.0-20261201202113-1acaa5a32246+dirty: a time and a revision.
var pseudoVersion = regexp.MustCompile(`\d{14}-[0-9a-f]{12}(\+[a-z.]+)?$`)

// syncWriter serialises writes: progress lines come from several goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
