package driver

import (
	"context"
	"fmt"
	cerrdefs "github.com/containerd/errdefs"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
)

// oomReason is ECS's stopped reason for a container the kernel killed for
// going past its memory limit.
const oomReason = "OutOfMemoryError: Container killed due to memory usage"

// dockerContainer is one container of a docker task.
type dockerContainer struct {
	spec        ContainerSpec
	name        string // the engine's name: shoal-<task id>-<container name>
	bindings    []binding
	stopTimeout time.Duration
	id          string // set once created
	pid         int    // set once started

	// stopSent is set before shoal stops or kills the container, so that
	// an exit code of 128+n then reads as killed by signal n.
	stopSent atomic.Bool
	exited   chan struct{} // closed by its waiter once it has exited
	exit     Exit          // written before exited is closed
	cpu      time.Duration // the most CPUTime measured; guarded by the task's mu
}

// dockerTask is one task started by Docker: its containers, the goroutines
// that follow their output and wait for their exits, and run, which ends
// the task once an essential container exits or Stop is called.
type dockerTask struct {
	d          *Docker
	spec       TaskSpec
	containers []*dockerContainer // in start order
	main       *dockerContainer   // the target's container, else the first essential
	addr       string             // "": the task maps no port
	allocated  []int              // host ports from the allocator, released at the end
	logs       *LogBuffer
	sink       *logSink

	ctx          context.Context // the task's engine calls and goroutines; cancelled once done
	cancel       context.CancelFunc
	logsCtx      context.Context // the log streams; cancelled when they outlast the containers
	cancelLogs   context.CancelFunc
	healthCtx    context.Context // the health poll; cancelled once the task is ending
	cancelHealth context.CancelFunc
	waiters      sync.WaitGroup // one per started container: waits for its exit
	followers    sync.WaitGroup // one per started container: copies its output
	poller       sync.WaitGroup // the health poll

	stopReq  chan struct{} // closed by Stop
	stopOnce sync.Once
	killReq  chan struct{} // closed when Stop's ctx is done: kill, do not wait
	killOnce sync.Once
	ending   chan struct{} // closed once an essential container has exited
	endOnce  sync.Once
	endedBy  *dockerContainer // written before ending is closed

	paused atomic.Bool // set between Pause and Resume

	mu      sync.Mutex
	health  ContainerHealth
	failure string

	done chan struct{}
	exit Exit // written before done is closed
}

var (
	_ Task     = (*dockerTask)(nil)
	_ Signaler = (*dockerTask)(nil)
)

// Kill has the engine send SIGKILL to every container of the task still
// running: the task ends as when an essential container is killed.
func (t *dockerTask) Kill() error {
	return t.eachRunning(func(ctx context.Context, c *dockerContainer) error {
		c.stopSent.Store(true) // its 137 reads as killed by signal 9
		return t.d.cli.ContainerKill(ctx, c.id, "KILL")
	})
}

// Pause has the engine pause every container of the task still running
// (docker pause: the cgroup freezer); Resume or Stop unpause them.
func (t *dockerTask) Pause() error {
	t.paused.Store(true)
	return t.eachRunning(func(ctx context.Context, c *dockerContainer) error {
		return t.d.cli.ContainerPause(ctx, c.id)
	})
}

// Resume unpauses the task's containers.
func (t *dockerTask) Resume() error {
	t.paused.Store(false)
	return t.eachRunning(func(ctx context.Context, c *dockerContainer) error {
		return t.d.cli.ContainerUnpause(ctx, c.id)
	})
}

// eachRunning calls f for every container not yet exited, and returns
// the first error; errExited when the task is over.
func (t *dockerTask) eachRunning(f func(context.Context, *dockerContainer) error) error {
	select {
	case <-t.done:
		return errExited
	default:
	}
	var first error
	for _, c := range t.containers {
		if c.hasExited() {
			continue
		}
		ctx, cancel := context.WithTimeout(t.ctx, engineTimeout)
		err := f(ctx, c)
		cancel()
		if err != nil && first == nil && !c.hasExited() {
			first = fmt.Errorf("container %s: %w", c.spec.Name, err)
		}
	}
	return first
}

// Addr is the address:port of the task's target mapping, or "" when the
// task maps no port.
func (t *dockerTask) Addr() string { return t.addr }

// Pid is the host pid of the main container's first process, as the
// engine gave it when the container started.
func (t *dockerTask) Pid() int {
	if t.main == nil {
		return 0
	}
	return t.main.pid
}

// Done is closed once every container of the task has exited and been
// removed, and its ports are released.
func (t *dockerTask) Done() <-chan struct{} { return t.done }

// Exit is how the task ended, or the zero Exit while it runs: the exit of
// the essential container that ended it, or when Stop ended it, of the
// first essential container.
func (t *dockerTask) Exit() Exit {
	select {
	case <-t.done:
		return t.exit
	default:
		return Exit{}
	}
}

// Logs returns captured output from offset from.
func (t *dockerTask) Logs(from int64) ([]byte, int64) { return t.logs.Read(from) }

// Stop stops the task's containers, dependents first (the reverse of the
// start order), each with the engine's SIGTERM, then SIGKILL after its
// stop timeout; it returns once all have exited and been removed. A done
// ctx kills those still running at once.
func (t *dockerTask) Stop(ctx context.Context) Exit {
	t.stopOnce.Do(func() { close(t.stopReq) })
	select {
	case <-t.done:
		return t.exit
	case <-ctx.Done():
	}
	t.killAll()
	<-t.done
	return t.exit
}

// killAll sends SIGKILL to every container still running, once, and makes
// run kill rather than stop those it has not reached yet.
func (t *dockerTask) killAll() {
	t.killOnce.Do(func() {
		close(t.killReq)
		for _, c := range t.containers {
			if !c.hasExited() {
				t.kill(c)
			}
		}
	})
}

// hasExited reports whether c's waiter has seen it exit.
func (c *dockerContainer) hasExited() bool {
	select {
	case <-c.exited:
		return true
	default:
		return false
	}
}

// run is the task's main goroutine, started by Start and ending once every
// container has exited (which Stop guarantees): when an essential container
// exits or Stop is called, it stops the others, collects the exit, removes
// the containers, releases the ports and closes done.
func (t *dockerTask) run() {
	var cause *dockerContainer // nil: Stop
	select {
	case <-t.stopReq:
	case <-t.ending:
		cause = t.endedBy
	}
	t.cancelHealth() // an ending task is not polled; its status stays
	t.poller.Wait()
	if t.paused.Swap(false) {
		t.Resume() // paused containers cannot take their SIGTERM; best effort
	}
	t.stopContainers()
	t.waiters.Wait()
	t.drainLogs()
	t.exit = t.taskExit(cause)
	t.removeContainers()
	t.cancel()
	t.releasePorts()
	t.d.log.Debug("task exited", "task", t.spec.ID, "exit", t.exit.String())
	close(t.done)
}

// stopContainers stops the containers still running, in the reverse of the
// start order, each once the one before it has exited.
func (t *dockerTask) stopContainers() {
	for i := len(t.containers) - 1; i >= 0; i-- {
		if c := t.containers[i]; !c.hasExited() {
			t.stopContainer(c)
		}
	}
}

// stopContainer has the engine send SIGTERM to c and SIGKILL after its
// stop timeout, and returns once c has stopped; once Stop's ctx is done it
// kills c at once instead.
func (t *dockerTask) stopContainer(c *dockerContainer) {
	select {
	case <-t.killReq:
		t.kill(c)
		return
	default:
	}
	c.stopSent.Store(true)
	timeout := stopSeconds(c.stopTimeout)
	err := t.d.cli.ContainerStop(t.ctx, c.id, container.StopOptions{Timeout: &timeout})
	if err != nil && !cerrdefs.IsNotFound(err) {
		t.d.log.Warn("stopping a container; killing it", "task", t.spec.ID, "container", c.spec.Name, "err", err)
		t.kill(c)
	}
}

// kill sends SIGKILL to c. A container that has exited meanwhile makes the
// engine refuse, which is what was wanted.
func (t *dockerTask) kill(c *dockerContainer) {
	c.stopSent.Store(true)
	ctx, cancel := context.WithTimeout(t.ctx, engineTimeout)
	defer cancel()
	if err := t.d.cli.ContainerKill(ctx, c.id, "KILL"); err != nil && !c.hasExited() {
		t.d.log.Debug("killing a container", "task", t.spec.ID, "container", c.spec.Name, "err", err)
	}
}

// watch starts c's waiter, which records c's exit and, for an essential
// container, ends the task. It ends when c exits, or when the task's
// context is cancelled (a failed start).
func (t *dockerTask) watch(c *dockerContainer) {
	t.waiters.Go(func() {
		c.exit = t.waitExit(c)
		close(c.exited)
		if c.spec.Essential {
			t.endOnce.Do(func() { t.endedBy = c; close(t.ending) })
		}
	})
}

// waitExit waits for c to stop running and says how it ended.
func (t *dockerTask) waitExit(c *dockerContainer) Exit {
	resC, errC := t.d.cli.ContainerWait(t.ctx, c.id, container.WaitConditionNotRunning)
	var res container.WaitResponse
	select {
	case res = <-resC:
	case err := <-errC:
		return Exit{Code: -1, Err: fmt.Errorf("task %s: wait for container %q: %w", t.spec.ID, c.spec.Name, err)}
	}
	if res.Error != nil && res.Error.Message != "" {
		return Exit{Code: -1, Err: fmt.Errorf("task %s: wait for container %q: %s", t.spec.ID, c.spec.Name, res.Error.Message)}
	}
	code := int(res.StatusCode)
	return containerExit(code, t.oomKilled(c, code), c.stopSent.Load())
}

// oomSettle is how long a container that died of SIGKILL unasked is looked
// at again for the engine's OOM flag: the engine may record the exit before
// the kernel's OOM event, so that the first inspect says no.
const oomSettle = 2 * time.Second

// oomKilled reports whether the kernel killed c for its memory. Only an
// exit of 137 that shoal did not cause can be one; for it the engine's
// flag is polled for up to oomSettle, so that a container killed from
// outside (docker kill) is seen to have ended up to oomSettle late.
func (t *dockerTask) oomKilled(c *dockerContainer, code int) bool {
	deadline := time.Now().Add(oomSettle)
	for {
		ins, err := t.d.cli.ContainerInspect(t.ctx, c.id)
		if err == nil && ins.State != nil && ins.State.OOMKilled {
			return true
		}
		if code != 128+int(syscall.SIGKILL) || c.stopSent.Load() || err != nil || time.Now().After(deadline) {
			return false
		}
		select {
		case <-t.ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// containerExit reads a container's exit code. The engine gives only a
// number, as a shell does: 128+n may be signal n or a plain exit code. It
// is read as signal n (Code -1, Signal named) only when shoal had sent the
// container a signal (stopSent) and n is one of the 31 classic signals,
// numbered as Linux does inside the engine. A container the kernel killed
// for its memory keeps its code (137) and gets ECS's reason.
func containerExit(code int, oomKilled, stopSent bool) Exit {
	switch {
	case oomKilled:
		return Exit{Code: code, Reason: oomReason}
	case stopSent && code > 128 && code < 128+32:
		return Exit{Code: -1, Signal: SignalName(syscall.Signal(code - 128))}
	}
	return Exit{Code: code}
}

// taskExit is the exit of cause, the essential container whose exit ended
// the task, or when Stop did (cause is nil), of the first essential
// container.
func (t *dockerTask) taskExit(cause *dockerContainer) Exit {
	if cause != nil {
		return cause.exit
	}
	for _, cs := range t.spec.Containers {
		if cs.Essential {
			return t.container(cs.Name).exit
		}
	}
	return Exit{} // not reached: Check wants an essential container
}

// drainLogs waits for the log streams to deliver the end of the output,
// which they do as the containers exit; streams that outlast
// outputDrainDelay (an engine slow to close them) are cut.
func (t *dockerTask) drainLogs() {
	drained := make(chan struct{})
	go func() { t.followers.Wait(); close(drained) }() // ends with the last follower, which cancelLogs ends
	timer := time.NewTimer(outputDrainDelay)
	defer timer.Stop()
	select {
	case <-drained:
	case <-timer.C:
		t.d.log.Warn("container output still open after the containers exited; cutting it", "task", t.spec.ID)
		t.cancelLogs()
		<-drained
	}
}

// removeContainers removes the task's containers, which have all exited.
func (t *dockerTask) removeContainers() {
	ctx, cancel := context.WithTimeout(t.ctx, engineTimeout)
	defer cancel()
	for _, c := range t.containers {
		err := t.d.cli.ContainerRemove(ctx, c.id, container.RemoveOptions{RemoveVolumes: true, Force: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			t.d.log.Warn("removing an exited container", "task", t.spec.ID, "container", c.spec.Name, "err", err)
		}
	}
}

// CPUTime is the CPU time the task's containers have used, as the engine's
// cgroup counters say: the sum over the containers of the most measured
// for each, so that it never decreases (a container that exited reads 0).
// Once the task is done it stays at the last value measured while it ran.
func (t *dockerTask) CPUTime() (time.Duration, error) {
	select {
	case <-t.done:
		return t.cpuTotal(), nil
	default:
	}
	ctx, cancel := context.WithTimeout(t.ctx, engineTimeout)
	defer cancel()
	for _, c := range t.containers {
		used, err := t.d.containerCPU(ctx, c.id)
		if err != nil && t.ctx.Err() == nil {
			return 0, fmt.Errorf("task %s: cpu time of container %q: %w", t.spec.ID, c.spec.Name, err)
		}
		t.mu.Lock()
		c.cpu = max(c.cpu, used)
		t.mu.Unlock()
	}
	return t.cpuTotal(), nil
}

// cpuTotal sums the most measured for each container.
func (t *dockerTask) cpuTotal() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var sum time.Duration
	for _, c := range t.containers {
		sum += c.cpu
	}
	return sum
}

// containerCPU is the CPU time container id has used (0 once it is gone).
func (d *Docker) containerCPU(ctx context.Context, id string) (time.Duration, error) {
	st, err := d.cli.ContainerStatsOneShot(ctx, id)
	if cerrdefs.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer st.Body.Close()
	var stats container.StatsResponse
	if err := decodeJSON(st.Body, &stats); err != nil {
		return 0, err
	}
	return time.Duration(stats.CPUStats.CPUUsage.TotalUsage), nil // nanoseconds on Linux
}
