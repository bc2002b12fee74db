package driver

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The task shim guarantees that no task outlives shoal, however shoal dies.
//
// Pdeathsig is not enough, where it exists at all (Linux only): it reaches
// only the direct child, and commands like `sh -c "npm start"` fork
// grandchildren. So, like moby's pkg/reexec, the driver runs its own
// executable (shimExe) as a small supervisor between itself and each task.
// It needs only pipes, process groups and signals, and so works the same on
// Linux and macOS:
//
//	argv:  shoal-task-shim <stop-timeout> <path> <argv0> [args...]
//	fd 3:  lifeline, the read end of a pipe whose only write end shoal holds;
//	       EOF means shoal is gone (exited, crashed or SIGKILLed)
//	fd 4:  report, the write end of a pipe shoal reads, one line per event:
//	         "started <pid>"     the task runs as <pid>
//	         "failed <reason>"   the task could not be started
//	         "exited <code>"     the task exited by itself with <code>
//	         "signaled <signo>"  the task was killed by signal <signo>
//
// The shim leads a new process group (the driver sets Setpgid) and the task
// joins it, so one kill(-pgid) reaches the task, its children and the shim.
// The shim catches SIGTERM, SIGINT and SIGHUP and does nothing with them:
// the group signal reaches the task directly, and the shim must live on to
// report the task's exit. On lifeline EOF it sends SIGTERM to the group,
// waits up to the stop timeout for the task, then sends SIGKILL to the group,
// itself included.
//
// The shim's own exit status mirrors the task's the way shells do: the
// task's exit code, or 128+signo when the task was killed by a signal; 127
// when the task could not be started, 125 when the shim was misused. The
// driver trusts the report line first, which is exact (a task that itself
// exits 137 is "exit code 137", not SIGKILL); it decodes the exit status
// only when there is no report, which happens when the shim itself was
// killed (by the driver's SIGKILL to the group: then the task got the same
// SIGKILL, and the driver reports Code -1, Signal "SIGKILL").
const shimName = "shoal-task-shim"

// Exit statuses of the shim that do not come from the task.
const (
	shimUsage     = 125 // bad arguments: a bug in the driver
	shimNoCommand = 127 // the task's command could not be started
)

// The shim's inherited descriptors (ExtraFiles[0] and [1] of the driver).
const (
	lifelineFD = 3
	reportFD   = 4
)

// RunShimIfInvoked runs the task shim and exits when this process was started
// as one (os.Args[0] is "shoal-task-shim"); otherwise it returns at once. Call
// it first thing in main, and in TestMain of every test package that starts
// tasks, before anything else runs: the driver starts tasks through the
// running executable.
func RunShimIfInvoked() {
	switch filepath.Base(os.Args[0]) {
	case shimName:
		os.Exit(runShim(os.Args[1:]))
	case netnsExecName:
		os.Exit(runNetnsExec(os.Args[1:])) // returns only when it failed
	case dockerWatchdogName:
		os.Exit(runDockerWatchdog(os.Args[1:]))
	}
}

// runShim supervises one task and returns the shim's exit status. Its two
// goroutines end with the process: both are blocked in reads or waits that
// nothing else needs to stop, and os.Exit follows.
func runShim(args []string) int {
	// Caught rather than ignored: an ignored signal stays ignored across
	// exec, so the task would inherit SIG_IGN; a caught one is reset to the
	// default in the child.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	// Neither pipe may leak into the task: the lifeline must reach EOF when
	// shoal dies, and the report when the shim does.
	syscall.CloseOnExec(lifelineFD)
	syscall.CloseOnExec(reportFD)
	report := os.NewFile(reportFD, "shoal-report")
	stopTimeout, cmd, err := parseShimArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", shimName, err)
		return shimUsage
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(report, "failed %s\n", startReason(err))
		return shimNoCommand
	}
	fmt.Fprintf(report, "started %d\n", cmd.Process.Pid)
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	shoalGone := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.NewFile(lifelineFD, "shoal-lifeline")); close(shoalGone) }()
	select {
	case <-exited:
		if cmd.ProcessState == nil { // wait itself failed; cannot happen for a child
			return shimUsage
		}
		return reportExit(report, cmd.ProcessState.Sys().(syscall.WaitStatus))
	case <-shoalGone:
		return terminateGroup(exited, stopTimeout)
	}
}

// parseShimArgs reads "<stop-timeout> <path> <argv0> [args...]" into a
// command that inherits the shim's stdio, working directory, environment
// and process group.
func parseShimArgs(args []string) (time.Duration, *exec.Cmd, error) {
	if len(args) < 3 {
		return 0, nil, errors.New("usage: " + shimName + " <stop-timeout> <path> <argv0> [args...]")
	}
	d, err := time.ParseDuration(args[0])
	if err != nil {
		return 0, nil, err
	}
	cmd := &exec.Cmd{Path: args[1], Args: args[2:], Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	return d, cmd, nil
}

// startReason is the errno text of a failed start ("no such file or
// directory"), without the "fork/exec <path>:" the driver words itself.
func startReason(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

// reportExit tells the driver how the task ended and returns the shell-style
// exit status for the shim.
func reportExit(report io.Writer, ws syscall.WaitStatus) int {
	if ws.Signaled() {
		fmt.Fprintf(report, "signaled %d\n", int(ws.Signal()))
		return 128 + int(ws.Signal())
	}
	fmt.Fprintf(report, "exited %d\n", ws.ExitStatus())
	return ws.ExitStatus()
}

// terminateGroup stops the task the ECS way after shoal died: SIGTERM to the
// group, up to stopTimeout for the task to exit, then SIGKILL to the whole
// group, the shim included, so that no grandchild survives either.
func terminateGroup(exited <-chan struct{}, stopTimeout time.Duration) int {
	pgid := syscall.Getpgrp()
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(stopTimeout)
	select {
	case <-exited:
	case <-t.C:
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	return 128 + int(syscall.SIGKILL) // not reached: the shim is in the group
}

// exitFromReport turns a report line into an Exit; ok is false when the line
// is not an exit report.
func exitFromReport(line string) (e Exit, ok bool) {
	verb, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	n, err := strconv.Atoi(arg)
	switch {
	case err != nil:
		return Exit{}, false
	case verb == "exited":
		return Exit{Code: n}, true
	case verb == "signaled":
		return Exit{Code: -1, Signal: SignalName(syscall.Signal(n))}, true
	}
	return Exit{}, false
}

// exitFromShim decodes the shim's own wait status when it sent no exit
// report: a signal that killed the shim, or the shell-style 128+signo for
// signals 1 to 31 (all of macOS's; Linux's real-time signals above them
// are not told from exit codes).
func exitFromShim(ws syscall.WaitStatus) Exit {
	code := ws.ExitStatus()
	switch {
	case ws.Signaled():
		return Exit{Code: -1, Signal: SignalName(ws.Signal())}
	case code > 128 && code < 128+32:
		return Exit{Code: -1, Signal: SignalName(syscall.Signal(code - 128))}
	}
	return Exit{Code: code}
}

// SignalNames names the signals by their syscall constants, which differ
// between platforms (SIGUSR1 is 10 on Linux, 30 on macOS); it holds the
// signals that Linux and macOS both have, so the table builds on both.
var signalNames = map[syscall.Signal]string{
	syscall.SIGHUP:    "SIGHUP",
	syscall.SIGINT:    "SIGINT",
	syscall.SIGQUIT:   "SIGQUIT",
	syscall.SIGILL:    "SIGILL",
	syscall.SIGTRAP:   "SIGTRAP",
	syscall.SIGABRT:   "SIGABRT",
	syscall.SIGBUS:    "SIGBUS",
	syscall.SIGFPE:    "SIGFPE",
	syscall.SIGKILL:   "SIGKILL",
	syscall.SIGUSR1:   "SIGUSR1",
	syscall.SIGSEGV:   "SIGSEGV",
	syscall.SIGUSR2:   "SIGUSR2",
	syscall.SIGPIPE:   "SIGPIPE",
	syscall.SIGALRM:   "SIGALRM",
	syscall.SIGTERM:   "SIGTERM",
	syscall.SIGCHLD:   "SIGCHLD",
	syscall.SIGCONT:   "SIGCONT",
	syscall.SIGSTOP:   "SIGSTOP",
	syscall.SIGTSTP:   "SIGTSTP",
	syscall.SIGTTIN:   "SIGTTIN",
	syscall.SIGTTOU:   "SIGTTOU",
	syscall.SIGURG:    "SIGURG",
	syscall.SIGXCPU:   "SIGXCPU",
	syscall.SIGXFSZ:   "SIGXFSZ",
	syscall.SIGVTALRM: "SIGVTALRM",
	syscall.SIGPROF:   "SIGPROF",
	syscall.SIGWINCH:  "SIGWINCH",
	syscall.SIGIO:     "SIGIO",
	syscall.SIGSYS:    "SIGSYS",
}

// SignalName returns "SIGKILL" for SIGKILL (syscall.Signal's String says
// "killed", which is not what ECS or docker show), and "SIG<n>" for a
// signal the table does not name.
func SignalName(s syscall.Signal) string {
	if name, ok := signalNames[s]; ok {
		return name
	}
	return "SIG" + strconv.Itoa(int(s))
}
