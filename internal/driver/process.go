package driver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shoalhq/shoal/internal/clock"
)

// outputDrainDelay bounds how long a finished task's output pipe is read
// after its process group is gone: a process that left the group (setsid)
// and kept the pipe open would otherwise hold up the exit forever.
const outputDrainDelay = 2 * time.Second

// ProcessOptions configure a Process driver.
type ProcessOptions struct {
	// Ports hands out host ports. Default: an allocator over the kernel's
	// ephemeral range (KernelEphemeralRange), as ECS uses.
	Ports *PortAllocator
	// LogBytes is how much output is kept per task. Default DefaultLogBytes.
	LogBytes int
	// Clock measures stop timeouts and times health checks (the interval
	// between runs, and the start period; a run's timeout is real time,
	// as it bounds a real process). Default clock.Real{}.
	Clock clock.Clock
	// Logger receives debug lines on task start and exit, and warnings the
	// caller cannot act on. Default: discard.
	Logger *slog.Logger
}

// Process runs tasks as local processes, each under a task shim (see
// RunShimIfInvoked) in its own process group. It is safe for concurrent use.
type Process struct {
	ports    *PortAllocator
	logBytes int
	clock    clock.Clock
	log      *slog.Logger
}

// NewProcess returns a process driver.
func NewProcess(opts ProcessOptions) *Process {
	p := &Process{ports: opts.Ports, logBytes: opts.LogBytes, clock: opts.Clock, log: opts.Logger}
	if p.ports == nil {
		lo, hi, _ := KernelEphemeralRange() // falls back to the platform's default
		p.ports = NewPortAllocator(lo, hi, nil)
	}
	if p.clock == nil {
		p.clock = clock.Real{}
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	return p
}

// Check reports what would keep spec's command from starting (see
// CheckCommand).
func (p *Process) Check(spec TaskSpec) error { return CheckCommand(spec) }

// Start starts spec's command with a host port on spec.Address, in PORT and
// HOST. It returns once the command runs, or with an error (and no process
// left, and the port released) when it cannot be started. A cancelled ctx
// aborts a start in progress.
func (p *Process) Start(ctx context.Context, spec TaskSpec) (Task, error) {
	if len(spec.Command) == 0 || spec.Command[0] == "" {
		return nil, fmt.Errorf("task %s: no command", spec.ID)
	}
	if spec.Address == "" {
		return nil, fmt.Errorf("task %s: no address", spec.ID)
	}
	if spec.HealthCheck != nil {
		if err := spec.HealthCheck.Validate(); err != nil {
			return nil, fmt.Errorf("task %s: %w", spec.ID, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("task %s: start: %w", spec.ID, err)
	}
	path, err := resolveCommand(spec)
	if err != nil {
		return nil, err
	}
	if spec.Namespace != "" {
		if _, err := os.Stat(spec.Namespace); err != nil {
			return nil, fmt.Errorf("task %s: the instance's network namespace is gone (was shoal's network removed by hand?): %w", spec.ID, err)
		}
	}
	port, err := p.ports.Allocate(spec.Address)
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", spec.ID, err)
	}
	t, err := p.launch(spec, path, port)
	if err != nil {
		p.ports.Release(spec.Address, port)
		return nil, err
	}
	if err := t.awaitStart(ctx, spec); err != nil {
		return nil, err
	}
	t.startChecks()
	p.log.Debug("task started", "task", spec.ID, "pid", t.pid, "addr", t.Addr())
	return t, nil
}

// launch starts the shim for spec. The task owns everything launch creates
// from then on; its run goroutine releases it all once the shim has exited.
func (p *Process) launch(spec TaskSpec, path string, port int) (*processTask, error) {
	lifeR, lifeW, err := os.Pipe() // O_CLOEXEC: no other child inherits lifeW
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", spec.ID, err)
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		lifeR.Close()
		lifeW.Close()
		return nil, fmt.Errorf("task %s: %w", spec.ID, err)
	}
	t := p.newTask(spec, port, lifeW, repR)
	cmd := shimCommand(spec, path, port, t, lifeR, repW)
	err = cmd.Start()
	lifeR.Close() // the shim has its copies now
	repW.Close()
	if err != nil {
		lifeW.Close()
		repR.Close()
		return nil, fmt.Errorf("task %s: start task shim: %w", spec.ID, err)
	}
	t.cmd, t.pgid = cmd, cmd.Process.Pid
	go t.run()
	return t, nil
}

// shimCommand runs this very executable as the task's shim (see shim.go),
// with the task's working directory, environment and output.
func shimCommand(spec TaskSpec, path string, port int, t *processTask, lifeline, report *os.File) *exec.Cmd {
	out := t.output(spec)
	cmd := &exec.Cmd{
		Path:       shimExe, // this very binary (exe_linux.go, exe_darwin.go)
		Args:       append([]string{shimName, t.stopTimeout.String(), path}, spec.Command...),
		Dir:        spec.Dir,
		Env:        taskEnv(spec, port),
		Stdout:     out,
		Stderr:     out,                          // the same writer: one copying goroutine, lines in order
		ExtraFiles: []*os.File{lifeline, report}, // fds 3 and 4 of the shim
		// A group the shim leads and the task joins, so one kill reaches
		// all. No Pdeathsig: the shim must outlive shoal to stop the task.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
		WaitDelay:   outputDrainDelay,
	}
	inNamespace(cmd, spec.Namespace)
	return cmd
}

// newTask is a task not started yet; launch fills in cmd and pgid.
func (p *Process) newTask(spec TaskSpec, port int, lifeline, report *os.File) *processTask {
	checksCtx, cancelChecks := context.WithCancel(context.Background())
	return &processTask{
		id:           spec.ID,
		address:      spec.Address,
		port:         port,
		ports:        p.ports,
		stopTimeout:  max(spec.StopTimeout, 0), // 0: SIGKILL right after SIGTERM
		clock:        p.clock,
		log:          p.log,
		logs:         NewLogBuffer(p.logBytes),
		lifeline:     lifeline,
		report:       report,
		started:      make(chan string, 1),
		done:         make(chan struct{}),
		health:       newHealthChecker(spec, port, p.clock, p.log),
		checksCtx:    checksCtx,
		cancelChecks: cancelChecks,
	}
}

// awaitStart waits for the shim's first report. Whatever goes wrong, the
// shim is gone and the port released before it returns an error.
func (t *processTask) awaitStart(ctx context.Context, spec TaskSpec) error {
	var line string
	select {
	case line = <-t.started:
	case <-ctx.Done():
		t.signal(syscall.SIGKILL)
		<-t.done
		return fmt.Errorf("task %s: start: %w", spec.ID, ctx.Err())
	}
	verb, arg, _ := strings.Cut(line, " ")
	if pid, err := strconv.Atoi(arg); verb == "started" && err == nil {
		t.pid = pid
		return nil
	}
	t.signal(syscall.SIGKILL)
	<-t.done
	if verb == "failed" {
		return fmt.Errorf("task %s: start %q: %s (working dir %s)", spec.ID, spec.Command[0], arg, workDir(spec))
	}
	return fmt.Errorf("task %s: task shim did not start (%s; does main call driver.RunShimIfInvoked first?)", spec.ID, t.exit)
}

// readLine reads one report line; it is "" at EOF.
func readLine(r *bufio.Reader) string {
	line, _ := r.ReadString('\n')
	return strings.TrimSpace(line)
}

// lastLine reads what is left of r and returns its last line.
func lastLine(r io.Reader) string {
	var last string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		last = sc.Text()
	}
	return last
}

// hostPort is the task's address:port.
func hostPort(address string, port int) string {
	return net.JoinHostPort(address, strconv.Itoa(port))
}
