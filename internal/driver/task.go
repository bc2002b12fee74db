package driver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/shoalhq/shoal/internal/clock"
)

// processTask is one task started by Process: a shim leading a process group
// that the task's command and its children share (see shim.go).
type processTask struct {
	id          string
	address     string
	port        int
	ports       *PortAllocator
	stopTimeout time.Duration
	clock       clock.Clock
	log         *slog.Logger
	logs        *LogBuffer
	lifeline    *os.File // write end; open while the task lives, so the shim knows shoal is alive
	report      *os.File // read end of the shim's reports
	cmd         *exec.Cmd
	pgid        int         // the shim's pid, which leads the group
	started     chan string // the shim's first report, for Start
	pid         int         // the task's own pid; set before Start returns

	health       *healthChecker     // nil: no health check
	checksCtx    context.Context    // done once the health checks must stop
	cancelChecks context.CancelFunc // stops them, without waiting
	checkers     sync.WaitGroup     // the health check goroutine

	// paused is set between Pause and Resume (or Stop).
	paused atomic.Bool

	mu         sync.Mutex
	shimExited bool          // from then on pgid is not signalled: it may be reused
	cpuSeen    time.Duration // the most CPUTime has measured

	termOnce sync.Once
	done     chan struct{}
	exit     Exit // written before done is closed
}

var (
	_ Task     = (*processTask)(nil)
	_ Signaler = (*processTask)(nil)
)

// errExited is returned by the Signaler methods of a task that has exited.
var errExited = errors.New("task has exited")

// Addr is the host address:port the task takes traffic on.
func (t *processTask) Addr() string { return hostPort(t.address, t.port) }

// Pid is the task command's pid (not the shim's).
func (t *processTask) Pid() int { return t.pid }

// Done is closed once the task has exited, the rest of its process group
// has been killed and its port released.
func (t *processTask) Done() <-chan struct{} { return t.done }

// Exit is how the task ended, or the zero Exit while it runs.
func (t *processTask) Exit() Exit {
	select {
	case <-t.done:
		return t.exit
	default:
		return Exit{}
	}
}

// output is where the task's stdout and stderr go: the capture, and
// spec.Output too when it is set. One writer for both, so that os/exec
// copies them through one pipe and their lines stay in order.
func (t *processTask) output(spec TaskSpec) io.Writer {
	if spec.Output == nil {
		return t.logs
	}
	return io.MultiWriter(t.logs, spec.Output)
}

// Logs returns captured output from offset from.
func (t *processTask) Logs(from int64) ([]byte, int64) { return t.logs.Read(from) }

// Stop ends the health checks, sends SIGTERM to the task's process group,
// waits up to the stop timeout (on the driver's clock) or until ctx is
// done, then sends SIGKILL to the group, and returns once the task has
// exited. SIGTERM is sent once however many callers stop the task.
func (t *processTask) Stop(ctx context.Context) Exit {
	select {
	case <-t.done:
		return t.exit
	default:
	}
	t.cancelChecks() // a stopping task is not checked
	if t.paused.Swap(false) {
		t.signal(syscall.SIGCONT) // a paused task must be able to take its SIGTERM
	}
	t.termOnce.Do(func() { t.signal(syscall.SIGTERM) })
	timer := t.clock.NewTimer(t.stopTimeout)
	defer timer.Stop()
	select {
	case <-t.done:
		return t.exit
	case <-timer.C():
		t.log.Debug("task did not stop in time; killing it", "task", t.id, "stop_timeout", t.stopTimeout)
	case <-ctx.Done():
	}
	t.signal(syscall.SIGKILL)
	<-t.done
	return t.exit
}

// signal sends sig to the task's process group. Once the shim has exited
// (and may have been reaped) it does nothing: the group id could by then name
// someone else's processes.
func (t *processTask) signal(sig syscall.Signal) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.shimExited {
		_ = syscall.Kill(-t.pgid, sig)
	}
}

// signalErr is signal, failing with errExited once the shim has exited.
func (t *processTask) signalErr(sig syscall.Signal) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.shimExited {
		return errExited
	}
	return syscall.Kill(-t.pgid, sig)
}

// Kill sends SIGKILL to the task's process group: the task exits at once,
// killed by signal 9.
func (t *processTask) Kill() error { return t.signalErr(syscall.SIGKILL) }

// Pause sends SIGSTOP to the task's process group, the shim with it; Stop
// and Resume send SIGCONT.
func (t *processTask) Pause() error {
	if err := t.signalErr(syscall.SIGSTOP); err != nil {
		return err
	}
	t.paused.Store(true)
	return nil
}

// Resume sends SIGCONT to the task's process group.
func (t *processTask) Resume() error {
	t.paused.Store(false)
	return t.signalErr(syscall.SIGCONT)
}

// run is the task's main goroutine, started by launch and ending when the
// shim exits (which Stop guarantees): it hands the shim's first report to
// Start, then, once the shim has exited, kills what is left of the group,
// ends the health checks, collects the exit, releases the port and closes
// done.
func (t *processTask) run() {
	r := bufio.NewReader(t.report)
	t.started <- readLine(r) // buffered: never blocks
	if err := WaitExited(t.pgid); err != nil {
		t.log.Warn("waiting for task shim", "task", t.id, "err", err)
	}
	t.killLeftovers()
	t.stopChecks()
	t.exit = t.reap(lastLine(r))
	t.lifeline.Close()
	t.report.Close()
	t.ports.Release(t.address, t.port)
	t.log.Debug("task exited", "task", t.id, "exit", t.exit.String())
	close(t.done)
}

// killLeftovers kills whatever is still in the task's process group, as
// when a container's main process exits. It runs while the exited shim is
// a zombie, not yet reaped, so its pid (the group id) cannot have been
// reused. If shoal dies in the instant between the task's own exit and this
// kill, such leftovers survive: the shim has already gone.
func (t *processTask) killLeftovers() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.shimExited = true
	_ = syscall.Kill(-t.pgid, syscall.SIGKILL)
}

// reap waits for the shim and its output, and works out how the task ended:
// from the shim's exit report when there is one, else from the shim's own
// status (see shim.go).
func (t *processTask) reap(report string) Exit {
	err := t.cmd.Wait()
	var ee *exec.ExitError
	switch {
	case errors.Is(err, exec.ErrWaitDelay):
		t.log.Warn("task output still open after its process group was killed; a process that left the group may still run",
			"task", t.id)
	case err != nil && !errors.As(err, &ee):
		return Exit{Code: -1, Err: fmt.Errorf("task %s: wait: %w", t.id, err)}
	}
	if e, ok := exitFromReport(report); ok {
		return e
	}
	return exitFromShim(t.cmd.ProcessState.Sys().(syscall.WaitStatus))
}
