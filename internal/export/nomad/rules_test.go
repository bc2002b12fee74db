package nomad

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/shoalhq/shoal/internal/export"
)

// serviceNameRE is the name a Nomad service may have (RFC 1123 label), as
// nomad/structs/services.go of Nomad 1.6.3 checks it.
var serviceNameRE = regexp.MustCompile(`^(?i:[a-z0-9]|[a-z0-9][a-z0-9\-]{0,61}[a-z0-9])$`)

// nomadRules lists what in a canonicalized job the checks of Nomad's
// servers refuse (Job.Validate and its parts in nomad/structs of Nomad
// 1.6.3, the last release under the MPL): not all of them, the ones an
// export can get wrong. Their messages are Nomad's, where it has one.
func nomadRules(job *api.Job) []string {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	system := *job.Type == api.JobTypeSystem
	groups := map[string]bool{}
	for _, g := range job.TaskGroups {
		if system && (g.Spreads != nil || g.Affinities != nil || g.ReschedulePolicy != nil || g.Migrate != nil || g.Scaling != nil) {
			bad("%s: System jobs may not have a spread, affinity, reschedule, migrate or scaling block", *g.Name)
		}
		name := *g.Name
		if groups[name] {
			bad("job task group %s is duplicate", name)
		}
		groups[name] = true
		ports := map[string]bool{}
		static := map[int]bool{}
		for _, n := range g.Networks {
			for _, p := range append(append([]api.Port{}, n.DynamicPorts...), n.ReservedPorts...) {
				if ports[p.Label] {
					bad("%s: Port label %s already in use", name, p.Label)
				}
				ports[p.Label] = true
				if p.Value != 0 && static[p.Value] {
					bad("%s: Static port %d already reserved", name, p.Value)
				}
				static[p.Value] = p.Value != 0
			}
		}
		tasks, leaders := map[string]bool{}, 0
		for _, task := range g.Tasks {
			if tasks[task.Name] {
				bad("%s: task %s is duplicate", name, task.Name)
			}
			tasks[task.Name] = true
			if task.Leader {
				leaders++
			}
			for _, label := range toLabels(task.Config["ports"]) {
				if !ports[label] {
					bad("%s: task %s publishes port %s, which the group's network does not have", name, task.Name, label)
				}
			}
			dests := map[string]bool{}
			for _, tmpl := range task.Templates {
				if dests[*tmpl.DestPath] {
					bad("%s: Template has same destination %s", name, *tmpl.DestPath)
				}
				dests[*tmpl.DestPath] = true
				if *tmpl.ChangeMode == "signal" && (*tmpl.ChangeSignal == "" || *tmpl.Envvars) {
					bad("%s: Must specify signal value when change mode is signal (and not with env templates)", name)
				}
			}
			if u := g.Update; u != nil && *u.ProgressDeadline > 0 && *task.KillTimeout > *u.ProgressDeadline {
				bad("%s: KillTimout (%s) longer than the group's ProgressDeadline (%s)", name, *task.KillTimeout, *u.ProgressDeadline)
			}
		}
		if leaders > 1 {
			bad("%s: Only one task may be marked as leader", name)
		}
		for _, s := range g.Services {
			if !serviceNameRE.MatchString(s.Name) {
				bad("%s: Service name %q must be valid per RFC 1123", name, s.Name)
			}
			if !ports[s.PortLabel] {
				bad("%s: port label %q referenced by services does not exist", name, s.PortLabel)
			}
			for _, c := range s.Checks {
				if c.Interval < time.Second || c.Timeout < time.Second {
					bad("%s: check %s: interval (%v) or timeout (%v) lower than 1s", name, c.Name, c.Interval, c.Timeout)
				}
				if !ports[c.PortLabel] {
					bad("%s: check %q is missing a port", name, c.Name)
				}
			}
		}
		if u := g.Update; u != nil {
			if *u.Canary == 0 && *u.AutoPromote {
				bad("%s: Auto Promote requires a Canary count greater than zero", name)
			}
			if *u.MinHealthyTime >= *u.HealthyDeadline {
				bad("%s: Minimum healthy time must be less than healthy deadline: %v > %v", name, *u.MinHealthyTime, *u.HealthyDeadline)
			}
			if *u.ProgressDeadline != 0 && *u.HealthyDeadline >= *u.ProgressDeadline {
				bad("%s: Healthy deadline must be less than progress deadline: %v > %v", name, *u.HealthyDeadline, *u.ProgressDeadline)
			}
			if *u.MaxParallel < 0 || *u.Canary < 0 || *u.Stagger <= 0 {
				bad("%s: max parallel, canary or stagger out of range: %+v", name, u)
			}
			if *g.Count > 1 && *u.MaxParallel > *g.Count {
				bad("%s: Update max parallel count is greater than task group count (%d > %d)", name, *u.MaxParallel, *g.Count)
			}
		}
		if s := g.Scaling; s != nil {
			if s.Type == "" || *s.Min < 0 || *s.Max < *s.Min {
				bad("%s: Scaling policy invalid: %+v", name, s)
			}
			if int64(*g.Count) > *s.Max || int64(*g.Count) < *s.Min {
				bad("%s: Scaling policy invalid: task group count %d out of %d-%d", name, *g.Count, *s.Min, *s.Max)
			}
		}
		for _, c := range g.Constraints {
			if c.Operand != api.ConstraintDistinctHosts {
				bad("%s: unexpected constraint %+v", name, c)
			}
		}
	}
	return errs
}

func toLabels(v any) []string {
	switch v := v.(type) {
	case []string:
		return v
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

// TestExport_PassesNomadsChecks: every exported job, canonicalized as
// Nomad's HTTP API does before it registers a job, passes the checks of
// Nomad's servers that an export can break.
func TestExport_PassesNomadsChecks(t *testing.T) {
	for _, file := range stacks(t) {
		doc := exportFile(t, file)
		for _, d := range append([]*export.Document{doc}, doc.More...) {
			job := decode(t, d.Data)
			job.Canonicalize()
			if errs := nomadRules(job); len(errs) > 0 {
				t.Errorf("%s: Nomad would refuse the job %s:\n%s", file, *job.ID, strings.Join(errs, "\n"))
			}
		}
	}
}

// TestNomadRules_CatchThemselves: the checks above find what they are for.
func TestNomadRules_CatchThemselves(t *testing.T) {
	job := decode(t, exportFile(t, "internal/export/nomad/testdata/everything.yaml").Data)
	job.Canonicalize()
	g := job.LookupTaskGroup("pods")
	g.Tasks[1].Leader = true
	g.Update.Canary = new(0)
	g.Services[0].Checks[0].Interval = 500 * time.Millisecond
	api1 := job.LookupTaskGroup("api")
	api1.Count = new(11)
	got := strings.Join(nomadRules(job), "\n")
	for _, want := range []string{"Only one task may be marked as leader", "Auto Promote requires", "lower than 1s", "task group count 11 out of 2-10"} {
		if !strings.Contains(got, want) {
			t.Errorf("got:\n%s\nwant a line with %q", got, want)
		}
	}
}
