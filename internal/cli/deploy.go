package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shoalhq/shoal/internal/admin"
	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/compile"
	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/spec"
)

// backend is the agent as the admin API serves it, plus the one thing the
// agent does not do: read a stack file.
type backend struct {
	*agent.Agent
	lb *proxy.Balancer
	// hostPorts is the host port range shoal up started with: the
	// process driver's ports come from it for as long as shoal runs.
	hostPorts compile.PortRange
	// aws is the AWS API endpoint (nil: off), and awsCfg the settings it
	// started with, which a running shoal keeps.
	aws    *awsEndpoint
	awsCfg compile.AWSAPI
	// metrics is the Prometheus endpoint (nil: off), and metricsCfg the
	// settings it started with, which a running shoal keeps.
	metrics    *metricsEndpoint
	metricsCfg compile.Metrics
	// dashboard is the web dashboard (nil: off), and dashboardCfg the
	// stack's settings shoal up started with, which a running shoal keeps.
	dashboard    *dashboardEndpoint
	dashboardCfg compile.Dashboard
	// isolation is how shoal up set up the instances, and registry the
	// address of its image registry: a running shoal keeps both.
	isolation compile.Isolation
	registry  string
	// containers says the Docker driver runs: shoal up started with a
	// stack that has containers or a registry.
	containers bool
}

// Rules lists every listener's rules.
func (b backend) Rules() []proxy.ListenerRules { return b.lb.Rules() }

// Explain says where a request would go, and why.
func (b backend) Explain(req proxy.ExplainRequest) (proxy.Explanation, error) {
	return b.lb.Explain(req)
}

// DeployStack parses and compiles a stack file's content and applies it.
func (b backend) DeployStack(ctx context.Context, req admin.StackRequest) ([]agent.Started, error) {
	file, source := req.File, req.Source
	s, err := spec.Parse(file, source)
	var list spec.ErrorList
	if errors.As(err, &list) {
		lines := make([]string, len(list))
		for i, e := range list {
			lines[i] = e.Error()
		}
		return nil, fmt.Errorf("%w: %s has %d %s; nothing was changed:\n%s", admin.ErrBadRequest, file,
			len(list), plural(len(list), "problem", "problems"), strings.Join(lines, "\n"))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", admin.ErrBadRequest, err)
	}
	out, err := compile.Stack(s, source)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", admin.ErrBadRequest, err)
	}
	if out.HostPorts != b.hostPorts {
		return nil, fmt.Errorf("%w: %s: cluster.host_port_range changed; a running shoal keeps the range it started with: stop shoal up and start it again with this file (nothing was changed)", admin.ErrBadRequest, file)
	}
	if out.AWSAPI != b.awsCfg {
		return nil, fmt.Errorf("%w: %s: aws_api changed; a running shoal keeps the AWS API endpoint it started with: stop shoal up and start it again with this file (nothing was changed)", admin.ErrBadRequest, file)
	}
	if out.Metrics != b.metricsCfg {
		return nil, fmt.Errorf("%w: %s: metrics changed; a running shoal keeps the metrics address it started with: stop shoal up and start it again with this file (nothing was changed)", admin.ErrBadRequest, file)
	}
	if out.Dashboard != b.dashboardCfg {
		return nil, fmt.Errorf("%w: %s: dashboard changed; a running shoal keeps the dashboard it started with: stop shoal up and start it again with this file (nothing was changed)", admin.ErrBadRequest, file)
	}
	if usesContainers(out.Stack) && !b.containers {
		return nil, fmt.Errorf("%w: %s: this stack runs containers, and shoal up started without the Docker driver (its stack had neither containers nor a registry): stop shoal up and start it again with this file (nothing was changed)", admin.ErrBadRequest, file)
	}
	if out.Registry != b.registry {
		return nil, fmt.Errorf("%w: %s: registry changed; a running shoal keeps the registry it started with: stop shoal up and start it again with this file (nothing was changed)", admin.ErrBadRequest, file)
	}
	if out.Isolation != b.isolation {
		return nil, fmt.Errorf("%w: %s: cluster.isolation or cluster.network changed; a running shoal keeps the instances' network it started with: stop shoal up and start it again with this file (nothing was changed)", admin.ErrBadRequest, file)
	}
	out.Stack.TimeScale = req.TimeScale
	return b.Deploy(ctx, out.Stack)
}

// deployPoll is how often `shoal deploy` asks for progress.
const deployPoll = 250 * time.Millisecond

func runDeploy(ctx context.Context, e *env, args []string) error {
	fs, client := clientFlags(e, "deploy", "[-f FILE] [--state-dir DIR] [--no-wait] [--time-scale N]")
	file := fs.String("f", defaultStackFile, "stack `file`")
	noWait := fs.Bool("no-wait", false, "return once the deployments started, without watching them")
	timeScale := fs.Float64("time-scale", 0, "divide the bake and wait times of blue/green, canary and linear deployments by `N` (default: as shoal up was told)")
	if _, err := parse(fs.FlagSet, args); err != nil {
		return err
	}
	if *timeScale != 0 && (*timeScale < 1 || *timeScale > 100000) {
		return fmt.Errorf("%w: --time-scale %g: use 1-100000 (60 makes a minute a second)", errUsage, *timeScale)
	}
	_, source, err := loadStack(e, *file, "; nothing was deployed")
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(*file)
	if err != nil {
		return err
	}
	c, err := client()
	if err != nil {
		return err
	}
	before, err := c.Events(ctx, 0)
	if err != nil {
		return err
	}
	started, err := c.Deploy(ctx, admin.StackRequest{File: abs, Source: source, TimeScale: *timeScale})
	if err != nil {
		return err
	}
	if *fs.json && *noWait {
		return printJSON(e, started)
	}
	if len(started) == 0 {
		fmt.Fprintln(e.stdout, "shoal: nothing to roll out: no service's task definition or target group changed (other changes are applied).")
		return nil
	}
	for _, st := range started {
		from := "new service"
		if st.Replaces != "" {
			from = st.Replaces + " →"
		}
		fmt.Fprintf(e.stdout, "shoal: deploying service %s: %s %s (deployment %s)\n", st.Service, from, st.TaskDefinition, st.Deployment)
	}
	if *noWait {
		return nil
	}
	var seq int64
	if len(before) > 0 {
		seq = before[len(before)-1].Seq
	}
	return watchDeployments(ctx, e, c, started, seq)
}

// watchDeployments prints the events of the services being deployed until
// every deployment is COMPLETED or FAILED (and a rollback it caused is
// over). A failed one makes it return exitError(1).
func watchDeployments(ctx context.Context, e *env, c *admin.Client, started []agent.Started, seq int64) error {
	services := map[string]bool{}
	for _, st := range started {
		services[st.Service] = true
	}
	for {
		events, err := c.Events(ctx, seq)
		if err != nil {
			return watchError(ctx, err)
		}
		for _, ev := range events {
			seq = ev.Seq
			if services[ev.Service] {
				fmt.Fprintf(e.stdout, "%s %s\n", ev.Time.Format(time.TimeOnly), ev.Message)
			}
		}
		svcs, err := c.Services(ctx)
		if err != nil {
			return watchError(ctx, err)
		}
		if done, failed := rolloutsOver(started, svcs); done {
			return summarise(e, started, svcs, failed)
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(e.stdout, "shoal: stopped watching; the deployments go on (see shoal services).")
			return nil
		case <-time.After(deployPoll):
		}
	}
}

func watchError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	if errors.Is(err, admin.ErrNotRunning) {
		return fmt.Errorf("shoal stopped before the deployments ended; `shoal up` resumes them: %w", err)
	}
	return err
}

// rolloutsOver reports whether every started deployment ended, and which
// failed. A deployment that left the service's list was replaced; one
// that failed is over once its service's rollback, if any, is.
func rolloutsOver(started []agent.Started, svcs []agent.ServiceStatus) (done bool, failed []string) {
	for _, st := range started {
		i := slices.IndexFunc(svcs, func(s agent.ServiceStatus) bool { return s.Name == st.Service })
		if i < 0 {
			continue // the service is gone
		}
		svc := svcs[i]
		j := slices.IndexFunc(svc.Deployments, func(d agent.DeploymentStatus) bool { return d.ID == st.Deployment })
		if j < 0 {
			// INACTIVE now: rolled back from (it failed), or replaced by a
			// later deployment.
			if p := svc.Deployments[0]; p.RollbackOf == st.Deployment {
				failed = append(failed, st.Service)
				if p.Rollout == "IN_PROGRESS" {
					return false, nil
				}
			}
			continue
		}
		d := svc.Deployments[j]
		switch d.Rollout {
		case "COMPLETED":
		case "FAILED":
			failed = append(failed, st.Service)
			if p := svc.Deployments[0]; p.ID != d.ID && p.Rollout == "IN_PROGRESS" {
				return false, nil // rolling back
			}
		default:
			return false, nil
		}
	}
	return true, failed
}

func summarise(e *env, started []agent.Started, svcs []agent.ServiceStatus, failed []string) error {
	for _, st := range started {
		if slices.Contains(failed, st.Service) {
			i := slices.IndexFunc(svcs, func(s agent.ServiceStatus) bool { return s.Name == st.Service })
			fmt.Fprintf(e.stdout, "shoal: deployment %s of service %s FAILED; the service runs %s.\n", st.Deployment, st.Service, svcs[i].TaskDefinition)
			continue
		}
		fmt.Fprintf(e.stdout, "shoal: deployment %s of service %s COMPLETED: %s.\n", st.Deployment, st.Service, st.TaskDefinition)
	}
	for _, st := range started {
		if d, ok := findDeployment(svcs, st.Service, st.Deployment); ok && d.Strategy != nil {
			fmt.Fprintf(e.stdout, "\nservice %s, deployment %s:\n", st.Service, d.ID)
			printTimeline(e, d)
		}
	}
	if len(failed) > 0 {
		return exitError(1)
	}
	return nil
}

func runScale(ctx context.Context, e *env, args []string) error {
	fs, client := clientFlags(e, "scale", "SERVICE COUNT")
	pos, err := parse(fs.FlagSet, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return fmt.Errorf("%w: shoal scale takes a service and a count, like: shoal scale api 4", errUsage)
	}
	n, err := strconv.Atoi(pos[1])
	if err != nil {
		return fmt.Errorf("%w: the count %q is not a whole number", errUsage, pos[1])
	}
	c, err := client()
	if err != nil {
		return err
	}
	if err := c.SetDesired(ctx, pos[0], n); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "service %s: desired count set to %d\n", pos[0], n)
	return nil
}

func runServices(ctx context.Context, e *env, args []string) error {
	fs, client := clientFlags(e, "services", "[--json]")
	if _, err := parse(fs.FlagSet, args); err != nil {
		return err
	}
	c, err := client()
	if err != nil {
		return err
	}
	svcs, err := c.Services(ctx)
	if err != nil {
		return err
	}
	if *fs.json {
		return printJSON(e, svcs)
	}
	tw := table(e, "SERVICE", "STRATEGY", "TASK DEFINITION", "DESIRED", "RUNNING", "PENDING", "HEALTHY", "STEADY")
	for _, s := range svcs {
		desired := strconv.Itoa(s.Desired)
		if s.Autoscaling != nil {
			desired += fmt.Sprintf(" (%d-%d)", s.Autoscaling.Min, s.Autoscaling.Max)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%v\n", s.Name, s.SchedulingStrategy, s.TaskDefinition, desired, s.Running, s.Pending, s.Healthy, s.SteadyState)
	}
	tw.Flush()
	fmt.Fprintln(e.stdout)
	tw = table(e, "SERVICE", "DEPLOYMENT", "STATUS", "TASK DEFINITION", "ROLLOUT", "RUNNING", "PENDING", "FAILED", "REASON")
	for _, s := range svcs {
		for _, d := range s.Deployments {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", s.Name, d.ID, d.Status, d.TaskDefinition, d.Rollout, d.Running, d.Pending, d.FailedTasks, d.Reason)
		}
	}
	return tw.Flush()
}

func runInstances(ctx context.Context, e *env, args []string) error {
	fs, client := clientFlags(e, "instances", "[--json]")
	if _, err := parse(fs.FlagSet, args); err != nil {
		return err
	}
	c, err := client()
	if err != nil {
		return err
	}
	ins, err := c.Instances(ctx)
	if err != nil {
		return err
	}
	if *fs.json {
		return printJSON(e, ins)
	}
	tw := table(e, "INSTANCE", "ADDRESS", "STATUS", "RUNNING", "PENDING", "CPU FREE", "MEMORY FREE")
	for _, in := range ins {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d/%d\t%d/%d\n", in.Name, in.Address, in.Status, in.RunningTasks, in.PendingTasks,
			in.RemainingCPU, in.RegisteredCPU, in.RemainingMemory, in.RegisteredMemory)
	}
	return tw.Flush()
}

func runInstance(ctx context.Context, e *env, args []string) error {
	fs, client := clientFlags(e, "instance", "drain|activate|stop NAME")
	pos, err := parse(fs.FlagSet, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || !slices.Contains([]string{agent.ActionDrain, agent.ActionActivate, agent.ActionStop}, pos[0]) {
		return fmt.Errorf("%w: shoal instance takes drain, activate or stop and an instance name, like: shoal instance drain instance-2", errUsage)
	}
	c, err := client()
	if err != nil {
		return err
	}
	if err := c.InstanceAction(ctx, pos[1], pos[0]); err != nil {
		return err
	}
	done := map[string]string{
		agent.ActionDrain:    "DRAINING: its tasks are replaced elsewhere, then stopped",
		agent.ActionActivate: "ACTIVE: it takes new tasks",
		agent.ActionStop:     "STOPPED: its tasks were killed; the services replace them elsewhere",
	}
	fmt.Fprintf(e.stdout, "instance %s is %s\n", pos[1], done[pos[0]])
	return nil
}
