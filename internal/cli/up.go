package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shoalhq/shoal/internal/admin"
	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/compile"
	"github.com/shoalhq/shoal/internal/driver"
	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/registry"
	"github.com/shoalhq/shoal/internal/spec"
	"github.com/shoalhq/shoal/internal/store"
)

const defaultStackFile = "shoal.yaml"

func runUp(ctx context.Context, e *env, args []string) error {
	flags := newFlags(e, "up", "[-f FILE] [--state-dir DIR] [-q]")
	file := flags.String("f", "", "stack `file` (default ./shoal.yaml)")
	stateDir := stateDirFlag(flags, e)
	var quiet bool
	flags.BoolVar(&quiet, "q", false, "don't print the tasks' output (`shoal logs` still has it)")
	flags.BoolVar(&quiet, "quiet", false, "the same as -q")
	timeScale := flags.Float64("time-scale", 0, "divide the bake and wait times of blue/green, canary and linear deployments by `N`, to rehearse them fast")
	noDashboard := flags.Bool("no-dashboard", false, "serve no web dashboard, whatever the stack file's dashboard section says")
	pprofAddr := flags.String("pprof", "", "serve Go's profiles (net/http/pprof) on this loopback `host:port`, to see where shoal's time goes")
	if _, err := parse(flags, args); err != nil {
		return err
	}
	if *pprofAddr != "" {
		bound, stop, err := startPprof(*pprofAddr, slog.New(slog.NewTextHandler(e.stderr, nil)))
		if err != nil {
			return err
		}
		defer stop()
		fmt.Fprintf(e.stdout, "shoal: profiles at http://%s/debug/pprof/\n", bound)
	}
	if *timeScale != 0 && (*timeScale < 1 || *timeScale > 100000) {
		return fmt.Errorf("%w: --time-scale %g: use 1-100000 (60 makes a minute a second)", errUsage, *timeScale)
	}
	if *file == "" && !exists(defaultStackFile) {
		d, ok, err := store.LoadDesired(*stateDir)
		if err != nil || !ok || d.File == "" || !parses(d) {
			noStackFile(e, *stateDir)
			return exitError(1)
		}
		// Resume: the stack last deployed, as recorded, even if its file
		// has changed since.
		fmt.Fprintf(e.stdout, "shoal: no %s here: resuming the stack recorded in %s (%s, deployed %s)\n",
			defaultStackFile, *stateDir, d.File, d.AppliedAt.Local().Format(time.DateTime))
		return upRecorded(ctx, e, d, *stateDir, upOptions{taskOutput: !quiet, timeScale: *timeScale, noDashboard: *noDashboard})
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
	return serve(ctx, e, s, source, st, upOptions{taskOutput: !quiet, timeScale: *timeScale, noDashboard: *noDashboard})
}

// parses reports whether a recorded stack can be run again.
func parses(d store.Desired) bool {
	_, err := spec.Parse(d.File, d.Source)
	return len(d.Source) > 0 && err == nil
}

// upRecorded runs the stack recorded in the state directory.
func upRecorded(ctx context.Context, e *env, d store.Desired, stateDir string, opts upOptions) error {
	s, err := spec.Parse(d.File, d.Source)
	if err != nil {
		return fmt.Errorf("the stack recorded in %s no longer parses (%v): run shoal up -f FILE", stateDir, err)
	}
	st, err := store.Open(stateDir)
	if err != nil {
		return err
	}
	defer st.Close()
	return serve(ctx, e, s, d.Source, st, opts)
}

// loadStack reads and validates the stack file, then checks what spec cannot
// see: that each task definition's working_dir is a folder and its command's
// program is there (unless a build command makes it, which is checked after
// the build). On problems it prints every one of them at its place in the
// file, then a summary ending in outcome, and returns exitError(1).
func loadStack(e *env, file, outcome string) (*spec.Stack, []byte, error) {
	if file == "" {
		file = defaultStackFile
	}
	source, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, err
	}
	s, err := spec.Parse(file, source)
	if err == nil {
		out, cerr := compile.Stack(s, source)
		if cerr != nil {
			return nil, nil, cerr
		}
		problems := compile.RouteProblems(s)
		problems = append(problems, certificateProblems(s, out.Stack.LoadBalancer)...)
		for name, td := range out.Stack.TaskDefinitions {
			var ce *driver.CheckError
			if td.Kind != agent.KindProcess || !errors.As(driver.CheckCommand(td.Task), &ce) {
				continue
			}
			field := "command"
			if ce.WorkingDir {
				field = "working_dir"
			} else if td.Build != "" {
				continue
			}
			problems = append(problems, s.ErrorAt("task_definitions."+name+"."+field, ce.Msg))
		}
		err = problems.Err()
	}
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

// certificateProblems checks the certificates of every https listener,
// each at its line: readable, matching its key, valid now.
func certificateProblems(s *spec.Stack, cfg proxy.Config) spec.ErrorList {
	var out spec.ErrorList
	i := 0
	for _, name := range slices.Sorted(maps.Keys(s.LoadBalancers)) {
		for li, l := range s.LoadBalancers[name].Listeners {
			lc := cfg.Listeners[i] // compiled in the same order
			i++
			for ci := range l.Certificates {
				if err := proxy.CheckCertificate(lc.Certificates[ci], time.Now()); err != nil {
					out = append(out, s.ErrorAt(fmt.Sprintf("load_balancers.%s.listeners[%d].certificates[%d]", name, li, ci), err.Error()))
				}
			}
		}
	}
	return out
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

// upOptions are shoal up's settings beyond the stack.
type upOptions struct {
	// taskOutput prints every task's output as it comes, each line
	// prefixed with the task's id.
	taskOutput bool
	// timeScale divides the bake and wait times of blue/green, canary and
	// linear deployments (0: as configured).
	timeScale float64
	// noDashboard serves no dashboard, whatever the stack says.
	noDashboard bool
}

// serve runs the stack until ctx is done, then stops it the proper way.
func serve(ctx context.Context, e *env, s *spec.Stack, source []byte, st *store.Store, opts upOptions) error {
	taskOutput := opts.taskOutput
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	out, err := compile.Stack(s, source)
	if err != nil {
		return err
	}
	for _, w := range s.Warnings() {
		fmt.Fprintf(e.stderr, "shoal: warning: %v\n", w)
	}
	cl, err := openCluster(ctx, e, s, out.Isolation, log)
	if err != nil {
		return err
	}
	defer func() { // last: once every task has stopped
		if err := cl.close(); err != nil {
			fmt.Fprintf(e.stderr, "shoal: remove the isolated network: %v\n", err)
		}
	}()
	instances := cl.instances
	ports, err := hostPorts(out.HostPorts, instances.PortFree)
	if err != nil {
		return err
	}
	runners := map[string]agent.Runner{agent.KindProcess: driver.NewProcess(driver.ProcessOptions{Ports: ports, Logger: log})}
	if usesContainers(out.Stack) || out.Registry != "" { // a registry is there for containers to come
		dk, err := openDocker(ctx, e, s.Name, st.Dir(), ports, log)
		if err != nil {
			return err
		}
		defer dk.Close() // after every task has stopped: the watchdog goes quietly
		runners[agent.KindDocker] = dk
		if cl.endpointHost == "" {
			cl.endpointHost = dk.gateway
		}
	}
	var ag *agent.Agent
	printer := newProgress(e.stdout)
	// Access log lines to "-" go through the printer, whole lines at a
	// time, between its own lines.
	lb := proxy.New(proxy.Options{Logger: log, Dial: instances.DialContext, OnHealthChange: func(c proxy.HealthChange) { ag.HealthChanged(c) },
		AccessLogStdout: printer})
	ag = agent.New(agent.Config{
		Runners:   runners,
		Instances: instances, Dial: instances.DialContext,
		Firewall: cl.firewall, BalancerAddrs: cl.balancer, HostAddr: cl.host, EndpointHost: cl.endpointHost,
		Balancer: lb, Store: st, Logger: log, OnEvent: printer.notify, BuildOutput: e.stdout,
		TaskOutput: taskOutputTo(printer, taskOutput), TimeScale: opts.timeScale,
	})
	if err := restore(ag, st); err != nil {
		return fmt.Errorf("%w; move %s away to start afresh", err, st.Dir())
	}
	printer.skipRecorded(ag)
	b := backend{Agent: ag, lb: lb, hostPorts: out.HostPorts, awsCfg: out.AWSAPI, metricsCfg: out.Metrics, dashboardCfg: out.Dashboard,
		isolation: out.Isolation, registry: out.Registry, containers: runners[agent.KindDocker] != nil}
	if out.Registry != "" {
		reg, err := registry.Serve(registry.Options{Address: out.Registry, Dir: filepath.Join(st.Dir(), "registry"), Log: log})
		if err != nil {
			return fmt.Errorf("registry: %w", err)
		}
		defer reg.Close(context.Background())
		fmt.Fprintf(e.stdout, "shoal: image registry at %s: docker push %s/NAME:TAG, then name that image in a task definition\n", reg.Addr(), reg.Addr())
	}
	if out.Metrics.Address != "" {
		if b.metrics, err = listenMetrics(out.Metrics, b, log); err != nil {
			return err
		}
		defer b.metrics.Close(context.Background())
	}
	if out.AWSAPI.Enabled {
		if b.aws, err = listenAWS(out.AWSAPI, st.Dir(), b, log); err != nil {
			return err
		}
		defer b.aws.Close(context.Background())
	}
	if out.Dashboard.Enabled && !opts.noDashboard {
		if b.dashboard, err = listenDashboard(out.Dashboard, b, log); err != nil {
			return err
		}
		defer b.dashboard.Close(context.Background())
	}
	api, err := admin.Listen(st.SocketPath(), b, log)
	if err != nil {
		return err
	}
	defer api.Close(context.Background())
	defer lb.Close(context.Background())
	fmt.Fprintf(e.stdout, "shoal: starting stack %s from %s (state in %s)\n", s.Name, s.File, st.Dir())
	if err := ag.Apply(ctx, out.Stack); err != nil {
		return withHint(err, s.File)
	}
	if b.aws != nil {
		fmt.Fprintf(e.stdout, "shoal: AWS API (ECS, ELBv2) at %s, region %s: eval \"$(shoal aws-env)\", then aws --endpoint-url %s ecs describe-services --cluster %s --services …\n",
			b.aws.URL, b.aws.Region, b.aws.URL, s.Name)
	}
	if b.metrics != nil {
		fmt.Fprintf(e.stdout, "shoal: metrics at %s\n", b.metrics.URL)
	}
	if b.dashboard != nil {
		fmt.Fprintf(e.stdout, "shoal: dashboard at %s\n", b.dashboard.URL)
	}
	printer.start(ag, lb.ListenerURLs())
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		ag.Run(ctx)
	}()
	<-loopDone // Run returns once ctx is done: Ctrl-C, SIGTERM or SIGHUP
	shutdown(e, ag)
	printer.stop()
	fmt.Fprintln(e.stdout, "shoal: stopped")
	return nil
}

// restore gives the agent what the state directory recorded: the state
// of the last stack (revisions, deployments, counts, instances) and the
// events.
func restore(ag *agent.Agent, st *store.Store) error {
	if d, ok, err := store.LoadDesired(st.Dir()); err != nil {
		return err
	} else if ok {
		if err := ag.Restore(d.State); err != nil {
			return err
		}
	}
	events, err := st.LoadEvents()
	if err != nil {
		return err
	}
	return ag.RestoreEvents(events)
}

// taskOutputTo is where tasks' output goes: w, or nowhere (nil) when off.
func taskOutputTo(w io.Writer, on bool) io.Writer {
	if !on {
		return nil
	}
	return w
}

// withHint adds to an error of starting the stack what to do about it.
func withHint(err error, file string) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%w\nanother program is using that address: stop it, or change the listener's port in %s (0 picks a free one)", err, file)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("%w\nports below 1024 need privileges: use a port above 1023 in %s, or let every user bind them with `sudo sysctl net.ipv4.ip_unprivileged_port_start=80` (Linux)", err, file)
	}
	return err
}

// stopSignals end `shoal up` the orderly way: Ctrl-C, kill, and a closed
// terminal. cmd/shoal's main listens for the same ones.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// shutdown stops every task the proper way; a second signal kills them at
// once.
func shutdown(e *env, ag *agent.Agent) {
	fmt.Fprintf(e.stdout, "shoal: stopping: %s\n", stoppingMessage(ag.Stopping()))
	force, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, stopSignals...)
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

// stoppingMessage says what a shutdown waits for, and how to cut it short.
func stoppingMessage(s agent.Stopping) string {
	var steps []string
	if s.Targets > 0 {
		steps = append(steps, fmt.Sprintf("draining %s (up to %s)", count(s.Targets, "target"), s.Drain))
	}
	if s.Tasks > 0 {
		steps = append(steps, fmt.Sprintf("SIGTERM to %s (up to %s to exit, then SIGKILL)", count(s.Tasks, "task"), s.Timeout))
	}
	if len(steps) == 0 {
		return "nothing is running"
	}
	return strings.Join(steps, ", then ") + "; Ctrl-C again to kill now"
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

	mu  sync.Mutex // orders event lines and task output lines
	ag  *agent.Agent
	seq int64 // the last event printed
}

func newProgress(w io.Writer) *progress {
	return &progress{out: w, wake: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
}

// skipRecorded leaves out the events a previous shoal recorded: `up`
// prints what happens now; `shoal events` has the history.
func (p *progress) skipRecorded(ag *agent.Agent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if evs := ag.Events(0); len(evs) > 0 {
		p.seq = evs[len(evs)-1].Seq
	}
}

// notify is agent.Config.OnEvent: it must not block, so it only wakes the
// printer, which reads the events from the agent's log.
func (p *progress) notify(agent.Event) {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Write prints tasks' output (agent.Config.TaskOutput), after the events
// recorded before it: the terminal shows things in the order they happened.
func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.printEventsLocked()
	return p.out.Write(b)
}

func (p *progress) printEventsLocked() {
	if p.ag == nil {
		return
	}
	for _, ev := range p.ag.Events(p.seq) {
		p.seq = ev.Seq
		fmt.Fprintf(p.out, "%s %s\n", ev.Time.Format(time.TimeOnly), ev.Message)
	}
}

func (p *progress) printEvents() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.printEventsLocked()
}

func (p *progress) start(ag *agent.Agent, listeners []string) {
	p.mu.Lock()
	p.ag = ag
	p.mu.Unlock()
	go p.run(ag, listeners)
}

func (p *progress) run(ag *agent.Agent, listeners []string) {
	defer close(p.stopped)
	announced := false
	for {
		p.printEvents()
		if !announced && allSteady(ag.Status()) {
			announced = true
			p.announce(ag.Status(), listeners)
		}
		select {
		case <-p.wake:
		case <-p.done:
			p.printEvents()
			return
		}
	}
}

func (p *progress) stop() {
	close(p.done)
	<-p.stopped
}

func (p *progress) announce(st agent.Status, listeners []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var services []string
	for _, s := range st.Services {
		services = append(services, fmt.Sprintf("%s %d/%d", s.Name, s.Running, s.Desired))
	}
	fmt.Fprintf(p.out, "shoal: stack %s is up (%s)\n", st.Stack, strings.Join(services, ", "))
	for _, l := range listeners {
		fmt.Fprintf(p.out, "shoal: open %s\n", l)
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
