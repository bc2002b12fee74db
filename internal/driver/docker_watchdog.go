package driver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	cerrdefs "github.com/containerd/errdefs"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
)

// The Docker watchdog guarantees that no container outlives shoal, however
// shoal dies. Containers are the engine's children, not shoal's, so
// nothing of the kernel's ties them to shoal; the task shim's trick does
// it instead (see shim.go): the Docker driver runs its own executable
// (shimExe) once, as a small process that outlives shoal long enough to
// stop what shoal left running. It needs only pipes and the engine's API,
// and so works the same on Linux and macOS:
//
//	argv:  shoal-docker-watchdog <state-dir>
//	fd 3:  lifeline, the read end of a pipe whose only write end shoal
//	       holds. Shoal writes "q" and closes it when it closes the driver
//	       (its tasks are stopped already): the watchdog exits, stopping
//	       nothing. EOF without "q" means shoal is gone (exited, crashed or
//	       SIGKILLed): the watchdog lists the containers labelled
//	       shoal.state-dir=<state-dir>, stops them all in parallel, each
//	       with its stop timeout but at most watchdogStopTimeout, removes
//	       them, and exits.
//	fd 4:  report, the write end of a pipe shoal reads: one line, "ready"
//	       once the watchdog has reached the engine, or "failed <reason>";
//	       then it is closed.
//
// The watchdog leads a process group of its own (the driver sets
// Setpgid), so that a signal to shoal's group (Ctrl-C in a terminal) does
// not reach it; it catches SIGTERM, SIGINT and SIGHUP and does nothing with
// them, as only the lifeline tells it when to act. It writes to its stderr,
// shoal's, only when it acts after shoal died, or fails.
const dockerWatchdogName = "shoal-docker-watchdog"

// watchdogStopTimeout is the most a container gets between SIGTERM and
// SIGKILL once shoal is gone: all are stopped in parallel, so within about
// this long of shoal's death.
const watchdogStopTimeout = 5 * time.Second

// watchdogCleanupTimeout bounds the whole cleanup after shoal's death, for
// an engine that hangs.
const watchdogCleanupTimeout = time.Minute

// watchdogQuitTimeout is how long Close waits for the watchdog to exit
// after "q" before it kills it.
const watchdogQuitTimeout = 5 * time.Second

// watchdog is the driver's side of the watchdog process.
type watchdog struct {
	cmd      *exec.Cmd
	lifeline *os.File // write end; open while the driver lives
	log      *slog.Logger
	// quiet is set while the watchdog's exit is expected (before it is
	// ready, once close was called): then wait logs nothing.
	quiet    atomic.Bool
	exited   chan struct{} // closed once the process has exited
	waitErr  error         // written before exited is closed
	once     sync.Once
	closeErr error
}

// startWatchdog starts the watchdog for stateDir and returns once it has
// reached the engine.
func startWatchdog(ctx context.Context, stateDir string, log *slog.Logger) (*watchdog, error) {
	lifeR, lifeW, err := os.Pipe() // O_CLOEXEC: no other child inherits lifeW
	if err != nil {
		return nil, fmt.Errorf("docker watchdog: %w", err)
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		lifeR.Close()
		lifeW.Close()
		return nil, fmt.Errorf("docker watchdog: %w", err)
	}
	w := &watchdog{lifeline: lifeW, log: log, exited: make(chan struct{})}
	w.quiet.Store(true)
	w.cmd = &exec.Cmd{
		Path:        shimExe, // this very binary (exe_linux.go, exe_darwin.go)
		Args:        []string{dockerWatchdogName, stateDir},
		Dir:         "/",                                 // it must not keep shoal's working directory busy
		Stderr:      os.Stderr,                           // read by someone only after shoal died
		ExtraFiles:  []*os.File{lifeR, repW},             // fds 3 and 4
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true}, // out of reach of signals to shoal's group
	}
	err = w.cmd.Start()
	lifeR.Close() // the watchdog has its copies now
	repW.Close()
	if err != nil {
		lifeW.Close()
		repR.Close()
		return nil, fmt.Errorf("start the docker watchdog: %w", err)
	}
	go w.wait()
	if err := w.awaitReady(ctx, repR); err != nil {
		w.close()
		return nil, err
	}
	w.quiet.Store(false)
	return w, nil
}

// wait is the goroutine that reaps the watchdog; it ends when the
// watchdog exits, which close brings about. An exit close did not ask for
// is logged: from then on a death of shoal would leave its containers
// running.
func (w *watchdog) wait() {
	w.waitErr = w.cmd.Wait()
	close(w.exited)
	if !w.quiet.Load() {
		w.log.Error("the docker watchdog exited: if shoal dies now, its containers keep running (they are removed at its next start)",
			"err", w.waitErr)
	}
}

// awaitReady reads the watchdog's report. Its reading goroutine ends at
// the report's first line or EOF, which the watchdog's exit brings about
// at the latest.
func (w *watchdog) awaitReady(ctx context.Context, report *os.File) error {
	lines := make(chan string, 1)
	go func() { lines <- readLine(bufio.NewReader(report)); report.Close() }()
	var line string
	select {
	case line = <-lines:
	case <-ctx.Done():
		_ = w.cmd.Process.Kill()
		<-lines
		return fmt.Errorf("start the docker watchdog: %w", ctx.Err())
	}
	verb, reason, _ := strings.Cut(line, " ")
	switch verb {
	case "ready":
		return nil
	case "failed":
		return fmt.Errorf("the docker watchdog failed: %s", reason)
	}
	<-w.exited
	return fmt.Errorf("the docker watchdog did not start (%v; does main call driver.RunShimIfInvoked first?)", w.waitErr)
}

// close tells the watchdog to exit without stopping anything and waits for
// it; a watchdog that does not exit in time is killed. It is safe to call
// more than once.
func (w *watchdog) close() error {
	w.once.Do(func() {
		w.quiet.Store(true)
		_, err := w.lifeline.Write([]byte("q"))
		w.lifeline.Close()
		timer := time.NewTimer(watchdogQuitTimeout)
		defer timer.Stop()
		select {
		case <-w.exited:
		case <-timer.C:
			_ = w.cmd.Process.Kill()
			<-w.exited
		}
		if err != nil {
			w.closeErr = fmt.Errorf("the docker watchdog had exited already (%v)", w.waitErr)
		}
	})
	return w.closeErr
}

// runDockerWatchdog is the watchdog's main; it returns its exit status:
// 0 once told to quit or once it cleaned up, 1 when it could not reach the
// engine or clean up, shimUsage when misused.
func runDockerWatchdog(args []string) int {
	// Caught, not ignored, as the shim does; only the lifeline counts.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	// stderr may be a pipe whose reader died with shoal: a write must fail,
	// not kill the watchdog before it has cleaned up.
	signal.Ignore(syscall.SIGPIPE)
	report := os.NewFile(reportFD, "shoal-report")
	if len(args) != 1 || args[0] == "" {
		fmt.Fprintf(report, "failed usage: %s <state-dir>\n", dockerWatchdogName)
		return shimUsage
	}
	cli, err := connectEngine(context.Background())
	if err != nil {
		fmt.Fprintf(report, "failed %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		return 1
	}
	defer cli.Close()
	fmt.Fprintln(report, "ready")
	report.Close()
	if awaitLifeline(os.NewFile(lifelineFD, "shoal-lifeline")) {
		return 0
	}
	if err := cleanUpAfterShoal(cli, args[0]); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", dockerWatchdogName, err)
		return 1
	}
	return 0
}

// awaitLifeline blocks until shoal says "q" (quit is true) or the lifeline
// reaches EOF without it: shoal is gone.
func awaitLifeline(r io.Reader) (quit bool) {
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n > 0 && buf[0] == 'q' {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// cleanUpAfterShoal stops and removes the containers of stateDir. It
// lists them twice: a container whose creation was under way when shoal
// died shows up only in the second list.
func cleanUpAfterShoal(cli *client.Client, stateDir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), watchdogCleanupTimeout)
	defer cancel()
	var errs []error
	for range 2 {
		list, err := listOwned(ctx, cli, stateDir)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			break
		}
		fmt.Fprintf(os.Stderr, "%s: shoal is gone; stopping and removing its %d containers\n", dockerWatchdogName, len(list))
		errs = append(errs, stopAndRemove(ctx, cli, list)...)
	}
	return errors.Join(errs...)
}

// stopAndRemove stops the listed containers in parallel, each with its
// stop timeout but at most watchdogStopTimeout, and removes them. Its
// goroutines end before it returns.
func stopAndRemove(ctx context.Context, cli *client.Client, list []container.Summary) []error {
	var wg sync.WaitGroup
	errs := make([]error, len(list))
	for i, c := range list {
		wg.Go(func() { errs[i] = stopAndRemoveOne(ctx, cli, c) })
	}
	wg.Wait()
	return errs
}

// stopAndRemoveOne stops and removes one container.
func stopAndRemoveOne(ctx context.Context, cli *client.Client, c container.Summary) error {
	timeout := int(watchdogStopTimeout / time.Second)
	if ins, err := cli.ContainerInspect(ctx, c.ID); err == nil && ins.Config != nil && ins.Config.StopTimeout != nil {
		timeout = max(min(timeout, *ins.Config.StopTimeout), 0)
	}
	if err := cli.ContainerStop(ctx, c.ID, container.StopOptions{Timeout: &timeout}); err != nil && !cerrdefs.IsNotFound(err) {
		fmt.Fprintf(os.Stderr, "%s: stop %s: %v (removing it by force)\n", dockerWatchdogName, summaryName(c), err)
	}
	err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove %s: %w", summaryName(c), err)
	}
	return nil
}
