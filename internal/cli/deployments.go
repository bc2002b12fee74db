package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/shoalhq/shoal/internal/agent"
)

func runDeployments(ctx context.Context, e *env, args []string) error {
	fs, client := clientFlags(e, "deployments", "SERVICE [--json]")
	pos, err := parse(fs.FlagSet, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: shoal deployments takes a service, like: shoal deployments api", errUsage)
	}
	c, err := client()
	if err != nil {
		return err
	}
	svcs, err := c.Services(ctx)
	if err != nil {
		return err
	}
	var svc *agent.ServiceStatus
	var names []string
	for i := range svcs {
		names = append(names, svcs[i].Name)
		if svcs[i].Name == pos[0] {
			svc = &svcs[i]
		}
	}
	if svc == nil {
		return fmt.Errorf("no service %q: the services are %v", pos[0], names)
	}
	all := make([]agent.Deployment, 0, len(svc.Deployments)+len(svc.Recent))
	for _, d := range svc.Deployments {
		all = append(all, d.Deployment)
	}
	all = append(all, svc.Recent...)
	if *fs.json {
		return printJSON(e, all)
	}
	fmt.Fprintf(e.stdout, "service %s deploys %s.\n", svc.Name, svc.Strategy)
	for _, d := range all {
		fmt.Fprintf(e.stdout, "\n%s %s %s: %s (%s)\n", d.ID, d.Status, d.TaskDefinition, d.Rollout, d.Reason)
		if d.Strategy != nil {
			printTimeline(e, d)
		}
	}
	return nil
}

// findDeployment finds a deployment of a service, PRIMARY, ACTIVE or
// recent.
func findDeployment(svcs []agent.ServiceStatus, service, id string) (agent.Deployment, bool) {
	for _, s := range svcs {
		if s.Name != service {
			continue
		}
		for _, d := range s.Deployments {
			if d.ID == id {
				return d.Deployment, true
			}
		}
		for _, d := range s.Recent {
			if d.ID == id {
				return d, true
			}
		}
	}
	return agent.Deployment{}, false
}

// printTimeline prints a blue/green, canary or linear deployment's stages:
// when each started, how long it took here and what to expect on AWS,
// where every bake time runs at its configured length (here it was
// divided by the time scale) and each stage takes at least as long as
// here.
func printTimeline(e *env, d agent.Deployment) {
	tl := d.Strategy.Timeline
	if len(tl) == 0 {
		return
	}
	start := tl[0].Start
	tw := table(e, "STAGE", "STEP", "START", "TOOK", "ON AWS", "OUTCOME")
	var here, aws time.Duration
	for _, ev := range tl {
		took := time.Duration(0)
		if !ev.End.IsZero() {
			took = ev.End.Sub(ev.Start)
		}
		est := max(took, ev.Wait)
		here, aws = here+took, aws+est
		outcome := ev.Outcome
		if outcome == "" {
			outcome = "running"
		}
		fmt.Fprintf(tw, "%s\t%s\t+%s\t%s\t%s\t%s\n", ev.Stage, dash(ev.Detail), roundD(ev.Start.Sub(start)), roundD(took), roundD(est), outcome)
	}
	fmt.Fprintf(tw, "total\t\t\t%s\t%s\t\n", roundD(here), roundD(aws))
	tw.Flush()
	if d.TimeScale > 1 {
		fmt.Fprintf(e.stdout, "bake and wait times were divided by %g here; ON AWS counts them whole (task launch and registration take longer there too).\n", d.TimeScale)
	}
	if d.Strategy.RolledBack {
		fmt.Fprintf(e.stdout, "rolled back: %s\n", d.Strategy.Reason)
	}
}

func roundD(d time.Duration) time.Duration {
	if d > time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(10 * time.Millisecond)
}
