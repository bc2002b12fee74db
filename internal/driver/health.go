package driver

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shoalhq/shoal/internal/clock"
)

// healthOutputBytes is how much of a health check's output is kept: its
// end, as much as Docker keeps of each check.
const healthOutputBytes = 4 << 10

// checkRun is the outcome of one run of a health check.
type checkRun struct {
	at      time.Time // when the run started, on the driver's clock
	passed  bool
	failure string // why it failed and the end of its output
}

// healthState is the state machine of a task's container health. It does
// no I/O and reads no clock: the checker feeds it runs. Its methods return
// the next value and leave the receiver alone.
type healthState struct {
	status  ContainerHealth
	fails   int    // consecutive failures that count toward Retries
	failure string // what the last failed run said
}

func newHealthState() healthState { return healthState{status: HealthUnknown} }

// observe feeds one run of hc, for a task started at started, to the state
// machine. As Docker does, a failure that starts within the start period
// while the task has not yet been healthy does not count.
func (s healthState) observe(r checkRun, hc *HealthCheck, started time.Time) healthState {
	if r.passed {
		s.status, s.fails = HealthHealthy, 0
		return s
	}
	s.failure = r.failure
	if s.status == HealthUnknown && r.at.Sub(started) < hc.StartPeriod {
		return s
	}
	s.fails++
	if s.fails >= hc.Retries {
		s.status = HealthUnhealthy
	}
	return s
}

// healthChecker runs one task's health check and keeps its status. Its run
// goroutine is owned by the task (see processTask.startChecks).
type healthChecker struct {
	id       string
	check    HealthCheck
	dir      string   // the task's working directory
	env      []string // the task's environment
	path     string   // the task's PATH, along which Command[0] is looked up
	netns    string   // the network namespace the checks run in ("": this host's)
	clock    clock.Clock
	onHealth func(ContainerHealth)
	log      *slog.Logger

	mu    sync.Mutex
	state healthState
}

// newHealthChecker is the checker of spec's health check for a task on port,
// or nil when spec has none.
func newHealthChecker(spec TaskSpec, port int, clk clock.Clock, log *slog.Logger) *healthChecker {
	if spec.HealthCheck == nil {
		return nil
	}
	hc := *spec.HealthCheck
	hc.Command = append([]string(nil), hc.Command...)
	return &healthChecker{
		id:       spec.ID,
		check:    hc,
		dir:      workDir(spec),
		env:      taskEnv(spec, port),
		path:     taskPath(spec),
		netns:    spec.Namespace,
		clock:    clk,
		onHealth: spec.OnHealth,
		log:      log,
		state:    newHealthState(),
	}
}

// status is the current status and the last failure.
func (c *healthChecker) status() (ContainerHealth, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state.status, c.state.failure
}

// run checks every Interval, timed by the injected clock, from the start of
// a task started at started until ctx is done.
func (c *healthChecker) run(ctx context.Context, started time.Time) {
	timer := c.clock.NewTimer(c.check.Interval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C():
		}
		r := c.runOnce(ctx)
		if ctx.Err() != nil {
			return // cut short by the task stopping: it says nothing
		}
		c.observe(r, started)
		timer.Reset(c.check.Interval)
	}
}

// observe records r and reports a change of status.
func (c *healthChecker) observe(r checkRun, started time.Time) {
	c.mu.Lock()
	from := c.state.status
	c.state = c.state.observe(r, &c.check, started)
	to, failure := c.state.status, c.state.failure
	c.mu.Unlock()
	if to == from {
		return
	}
	c.log.Debug("task health changed", "task", c.id, "health", to, "last_failure", failure)
	if c.onHealth != nil {
		c.onHealth(to)
	}
}

// runOnce runs the check command once and says how it went.
func (c *healthChecker) runOnce(ctx context.Context) checkRun {
	r := checkRun{at: c.clock.Now()}
	out := NewLogBuffer(healthOutputBytes)
	reason := c.exec(ctx, out)
	if reason == "" {
		r.passed = true
		return r
	}
	r.failure = reason
	if text, _ := out.Read(0); len(strings.TrimSpace(string(text))) > 0 {
		r.failure += ": " + strings.TrimSpace(string(text))
	}
	return r
}

// exec runs the check command in a process group of its own, with its
// output going to out, and returns why it failed, or "" when it passed.
// The whole group is killed when the run ends: at once when it outlasts
// the timeout (real time: it bounds a real process) or ctx is done, and
// what the command left behind once it exited.
func (c *healthChecker) exec(ctx context.Context, out io.Writer) string {
	name := c.check.Command[0]
	path, err := LookCommand(name, c.dir, c.path)
	if err != nil {
		return fmt.Sprintf("start %q: %v", name, err)
	}
	cmd := &exec.Cmd{
		Path:        path,
		Args:        c.check.Command,
		Dir:         c.dir,
		Env:         c.env,
		Stdout:      out,
		Stderr:      out,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
		WaitDelay:   outputDrainDelay,
	}
	inNamespace(cmd, c.netns)
	if err := cmd.Start(); err != nil {
		return fmt.Sprintf("start %q: %s", name, startReason(err))
	}
	pgid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() { _ = WaitExited(pgid); close(exited) }()
	runCtx, cancel := context.WithTimeout(ctx, c.check.Timeout)
	defer cancel()
	timedOut := false
	select {
	case <-exited:
	case <-runCtx.Done():
		timedOut = ctx.Err() == nil
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-exited
	}
	// The leader is a zombie, not yet reaped: the group id is still its.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	_ = cmd.Wait()
	if timedOut {
		return fmt.Sprintf("timed out after %v", c.check.Timeout)
	}
	return failureReason(cmd.ProcessState)
}

// failureReason says why a check command that ran failed, or "" when it
// exited 0.
func failureReason(ps *os.ProcessState) string {
	if ps == nil {
		return "not waited for"
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	switch {
	case ok && ws.Signaled():
		return "killed by " + SignalName(ws.Signal())
	case ps.ExitCode() != 0:
		return fmt.Sprintf("exit status %d", ps.ExitCode())
	}
	return ""
}

// startChecks starts the health checks, if the task has any, once it runs.
// They start no more once stopChecks has been called.
func (t *processTask) startChecks() {
	if t.health == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.checksCtx.Err() != nil {
		return // stopped already
	}
	started := t.clock.Now()
	t.checkers.Go(func() { t.health.run(t.checksCtx, started) })
}

// stopChecks stops the health checks and waits for them to end, so that no
// check runs, and OnHealth is not called, once the task is done. The lock
// orders it after any startChecks that saw the checks still on.
func (t *processTask) stopChecks() {
	t.mu.Lock()
	t.cancelChecks()
	t.mu.Unlock()
	t.checkers.Wait()
}

// Health is the task's container health status and the last failure.
func (t *processTask) Health() (ContainerHealth, string) {
	if t.health == nil {
		return HealthUnknown, ""
	}
	return t.health.status()
}
