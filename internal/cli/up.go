package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/shoalhq/shoal/internal/admin"
	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/compile"
	"github.com/shoalhq/shoal/internal/driver"
	"github.com/shoalhq/shoal/internal/instance"
	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/spec"
	"github.com/shoalhq/shoal/internal/store"
)

const defaultStackFile = "shoal.yaml"

func runUp(ctx context.Context, e *env, args []string) error {
	flags := newFlags(e, "up", "[-f FILE] [--state-dir DIR]")
	file := flags.String("f", "", "stack `file` (default ./shoal.yaml)")
	stateDir := stateDirFlag(flags, e)
	if _, err := parse(flags, args); err != nil {
		return err
	}
	if *file == "" && !exists(defaultStackFile) {
		noStackFile(e, *stateDir)
		return exitError(1)
	}
	s, source, err := loadStack(e, *file, "; nothing was started")
	if err != nil {
		return err
	}
	st, err := store.Open(*stateDir)
	if err != nil {
		return err
	}
	defer st.Close()
	return serve(ctx, e, s, source, st)
}

// loadStack reads and validates the stack file. On problems it prints every
// one of them, then a summary ending in outcome, and returns exitError(1).
func loadStack(e *env, file, outcome string) (*spec.Stack, []byte, error) {
	if file == "" {
		file = defaultStackFile
	}
	source, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, err
	}
	s, err := spec.Parse(file, source)
	var list spec.ErrorList
	if errors.As(err, &list) {
		for _, e2 := range list {
			fmt.Fprintln(e.stderr, e2.Error())
		}
		fmt.Fprintf(e.stderr, "shoal: %s has %d %s%s\n", file, len(list), plural(len(list), "problem", "problems"), outcome)
		return nil, nil, exitError(1)
	}
	if err != nil {
		return nil, nil, err
	}
	return s, source, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// noStackFile says how to start: with the stack last run from this state
// directory, if any, or with the bundled example.
func noStackFile(e *env, stateDir string) {
	fmt.Fprintf(e.stderr, "shoal: no %s in this folder; pass one with -f.\n", defaultStackFile)
	if d, ok, err := store.LoadDesired(stateDir); err == nil && ok && d.File != "" {
		fmt.Fprintf(e.stderr, "The last stack run with state directory %s was:\n  shoal up -f %s\n", stateDir, d.File)
	}
	fmt.Fprintf(e.stderr, "To try the bundled example, from a clone of shoal:\n  shoal up -f examples/catalog/shoal.yaml\n")
}

// serve runs the stack until ctx is done, then stops it the proper way.
func serve(ctx context.Context, e *env, s *spec.Stack, source []byte, st *store.Store) error {
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	out, err := compile.Stack(s, source)
	if err != nil {
		return err
	}
	instances := instance.NewLoopback(log)
	ports, err := hostPorts(out.HostPorts, instances.PortFree)
	if err != nil {
		return err
	}
	var ag *agent.Agent
	lb := proxy.New(proxy.Options{Logger: log, Dial: instances.DialContext, OnHealthChange: func(c proxy.HealthChange) { ag.HealthChanged(c) }})
	printer := newProgress(e.stdout)
	ag = agent.New(agent.Config{
		Runners:   map[string]agent.Runner{agent.KindProcess: driver.NewProcess(driver.ProcessOptions{Ports: ports, Logger: log})},
		Instances: instances,
		Balancer:  lb, Store: st, Logger: log, OnEvent: printer.notify, BuildOutput: e.stdout,
	})
	api, err := admin.Listen(st.SocketPath(), ag, log)
	if err != nil {
		return err
	}
	defer api.Close(context.Background())
	defer lb.Close(context.Background())
	fmt.Fprintf(e.stdout, "shoal: starting stack %s from %s (state in %s)\n", s.Name, s.File, st.Dir())
	if err := ag.Apply(ctx, out.Stack); err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%w\nanother program is using that address: stop it, or change the listener's port in %s (0 picks a free one)", err, s.File)
		}
		return err
	}
	printer.start(ag, lb.ListenerAddrs())
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		ag.Run(ctx)
	}()
	<-loopDone // Run returns once ctx is done: Ctrl-C or SIGTERM
	shutdown(e, ag)
	printer.stop()
	fmt.Fprintln(e.stdout, "shoal: stopped")
	return nil
}

// shutdown stops every task the proper way; a second interrupt kills them
// at once.
func shutdown(e *env, ag *agent.Agent) {
	fmt.Fprintln(e.stdout, "shoal: stopping: draining targets, then stopping tasks (interrupt again to kill them at once)")
	force, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-done:
		}
	}()
	ag.Shutdown(force)
}

// hostPorts builds the allocator for dynamic host ports: the stack's range,
// else the kernel's ephemeral range, as ECS; free is the instance
// provider's check.
func hostPorts(r compile.PortRange, free driver.PortCheck) (*driver.PortAllocator, error) {
	if r.Lo != 0 {
		return driver.NewPortAllocator(r.Lo, r.Hi, free), nil
	}
	lo, hi, err := driver.KernelEphemeralRange()
	if err != nil {
		return nil, err
	}
	return driver.NewPortAllocator(lo, hi, free), nil
}

// progress prints events as they happen and, once every service is steady,
// where the stack can be reached.
type progress struct {
	out     io.Writer
	wake    chan struct{}
	done    chan struct{}
	stopped chan struct{}
}

func newProgress(w io.Writer) *progress {
	return &progress{out: w, wake: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
}

// notify is agent.Config.OnEvent: it must not block, so it only wakes the
// printer, which reads the events from the agent's log.
func (p *progress) notify(agent.Event) {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *progress) start(ag *agent.Agent, listeners []string) {
	go p.run(ag, listeners)
}

func (p *progress) run(ag *agent.Agent, listeners []string) {
	defer close(p.stopped)
	var seq int64
	announced := false
	for {
		for _, ev := range ag.Events(seq) {
			seq = ev.Seq
			fmt.Fprintf(p.out, "%s %s\n", ev.Time.Format(time.TimeOnly), ev.Message)
		}
		if !announced && allSteady(ag.Status()) {
			announced = true
			p.announce(ag.Status(), listeners)
		}
		select {
		case <-p.wake:
		case <-p.done:
			for _, ev := range ag.Events(seq) {
				fmt.Fprintf(p.out, "%s %s\n", ev.Time.Format(time.TimeOnly), ev.Message)
			}
			return
		}
	}
}

func (p *progress) stop() {
	close(p.done)
	<-p.stopped
}

func (p *progress) announce(st agent.Status, listeners []string) {
	var services []string
	for _, s := range st.Services {
		services = append(services, fmt.Sprintf("%s %d/%d", s.Name, s.Running, s.Desired))
	}
	fmt.Fprintf(p.out, "shoal: stack %s is up (%s)\n", st.Stack, strings.Join(services, ", "))
	for _, l := range listeners {
		fmt.Fprintf(p.out, "shoal: open http://%s/\n", l)
	}
	fmt.Fprintf(p.out, "shoal: see the tasks with `shoal ps`, their health with `shoal targets`; press Ctrl-C to stop\n")
}

func allSteady(st agent.Status) bool {
	for _, s := range st.Services {
		if !s.SteadyState {
			return false
		}
	}
	return true
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
