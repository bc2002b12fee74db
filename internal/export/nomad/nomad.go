// Package nomad exports a stack as a HashiCorp Nomad job: the JSON that
// `nomad job run -json` takes ({"Job": job}), in the types of
// github.com/hashicorp/nomad/api. docs/export-nomad.md has the mapping, field
// by field, and every difference.
//
// One job per stack, of type service (and one of type system for its daemon
// services, in a second document): a task group per service, one per
// load balancer (an nginx task fed by Nomad's service discovery: Nomad has
// no L7 load balancer), each with its own update stanza. JSON has no
// comments, so the warnings are also beside the job, under the top-level
// key ShoalExportWarnings, which `nomad job run -json` and Nomad's HTTP API
// ignore. Not in the job's Meta: Nomad hands job Meta to every task
// (NOMAD_META_*), so a change to it, such as a warning's line moving,
// would replace every allocation of the job.
package nomad

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/nomad/api"

	"github.com/shoalhq/shoal/internal/export"
	"github.com/shoalhq/shoal/internal/spec"
)

// Output is the exported document: the job as `nomad job run -json` takes
// it, and the warnings beside it.
type Output struct {
	Job *api.Job
	// ShoalExportWarnings are the export's warnings, one a line, as on
	// standard error.
	ShoalExportWarnings []string `json:",omitempty"`
}

// exporter holds what one export builds.
type exporter struct {
	s    *spec.Stack
	warn *export.Warnings
}

// Export turns a validated stack into a Nomad job.
func Export(s *spec.Stack, _ export.Options) (*export.Document, error) {
	if s == nil {
		return nil, fmt.Errorf("nomad export: no stack")
	}
	e := &exporter{s: s, warn: export.NewWarnings(s)}
	job, daemons := e.jobs()
	ws := e.warn.List()
	var lines []string
	for _, w := range ws {
		lines = append(lines, strings.ReplaceAll(w.Error(), "\n", " "))
	}
	data, err := marshal(Output{Job: job, ShoalExportWarnings: lines})
	if err != nil {
		return nil, err
	}
	doc := &export.Document{Name: s.Name + ".nomad.json", Data: data, Warnings: ws}
	if daemons != nil {
		data, err := marshal(Output{Job: daemons, ShoalExportWarnings: lines})
		if err != nil {
			return nil, err
		}
		doc.More = []*export.Document{{Name: *daemons.ID + ".nomad.json", Data: data, Warnings: ws}}
	}
	return doc, nil
}

// marshal writes the output indented, with a final newline. encoding/json
// sorts map keys, and the exporter builds every slice in a sorted order,
// so the same job gives the same bytes.
func marshal(out Output) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// jobs builds the stack's job: its groups in name order, services first,
// then load balancers; and, when the stack has daemon services, the job
// that runs them, of type system (one allocation on every client), which
// Nomad cannot mix with a service job's groups.
func (e *exporter) jobs() (job, daemons *api.Job) {
	name := e.s.Name
	newJob := func(id, typ string) *api.Job {
		return &api.Job{
			ID:          new(id),
			Name:        new(id),
			Type:        new(typ),
			Datacenters: []string{"*"},
			Meta:        map[string]string{"shoal_stack": name},
		}
	}
	job = newJob(name, api.JobTypeService)
	e.cluster()
	e.securityGroups()
	for _, svc := range sortedKeys(e.s.Services) {
		g := e.serviceGroup(svc, e.s.Services[svc])
		if e.s.Services[svc].SchedulingStrategy != spec.StrategyDaemon {
			job.TaskGroups = append(job.TaskGroups, g)
			continue
		}
		if daemons == nil {
			daemons = newJob(name+"-daemons", api.JobTypeSystem)
		}
		daemons.TaskGroups = append(daemons.TaskGroups, g)
	}
	for _, lb := range sortedKeys(e.s.LoadBalancers) {
		job.TaskGroups = append(job.TaskGroups, e.balancerGroup(lb, e.s.LoadBalancers[lb]))
	}
	for _, tg := range sortedKeys(e.s.TargetGroups) {
		if !e.targetGroupUsed(tg) {
			e.warn.Add("target_groups."+tg, "no service registers in this target group and no listener forwards to it: it is not exported")
		}
	}
	return job, daemons
}

// cluster warns about the cluster's fields: Nomad's clients are the
// instances, and they are not described by a job.
func (e *exporter) cluster() {
	c := e.s.Cluster
	const clients = "Nomad's clients are the instances; a job does not describe them"
	if c.Instances != spec.DefaultInstances {
		e.warn.Add("cluster.instances", "not carried over: %s (run %d clients)", clients, c.Instances)
	}
	if c.InstanceCPU != spec.DefaultInstanceCPU || c.InstanceMemory != spec.DefaultInstanceMemory {
		e.warn.Add("cluster", "instance_cpu and instance_memory are not carried over: %s, and fingerprint their own CPU and memory", clients)
	}
	if c.HostPortRange != "" {
		e.warn.Add("cluster.host_port_range", "not carried over: dynamic ports come from the clients' min_dynamic_port-max_dynamic_port (client configuration, default 20000-32000)")
	}
	if c.Isolation != "" && c.Isolation != spec.DefaultIsolation {
		e.warn.Add("cluster.isolation", "not carried over: Nomad has no security groups to enforce; tasks are reachable on their host ports")
	}
	if c.Network != "" && c.Network != spec.DefaultNetwork {
		e.warn.Add("cluster.network", "not carried over: the clients' addresses are their own")
	}
}

// securityGroups warns about every security group's use: Nomad has none.
func (e *exporter) securityGroups() {
	if len(e.s.Cluster.SecurityGroups) > 0 {
		e.warn.Add("cluster.security_groups", "not carried over: Nomad has no security groups; only the clients' firewall (or Consul service mesh intentions) can keep the tasks' host ports from anyone but the load balancer")
	}
	for _, name := range sortedKeys(e.s.Services) {
		if len(e.s.Services[name].SecurityGroups) > 0 {
			e.warn.Add("services."+name+".security_groups", "not carried over: Nomad has no security groups; use the clients' firewall")
		}
	}
}

// targetGroupUsed reports whether a service registers in the target group
// or a listener forwards to it.
func (e *exporter) targetGroupUsed(tg string) bool {
	if len(e.registrants(tg)) > 0 {
		return true
	}
	for _, lb := range e.s.LoadBalancers {
		for _, l := range lb.Listeners {
			if slices.Contains(forwardGroups(&l.DefaultAction), tg) {
				return true
			}
			for _, r := range l.Rules {
				if slices.Contains(forwardGroups(&r.Action), tg) {
					return true
				}
			}
		}
	}
	return false
}

// registrants lists the services that register in target group tg (as
// their target group or as a blue/green alternate), by name.
func (e *exporter) registrants(tg string) []string {
	var out []string
	for _, name := range sortedKeys(e.s.Services) {
		svc := e.s.Services[name]
		if svc.TargetGroup == tg || svc.Deployment.AlternateTargetGroup == tg {
			out = append(out, name)
		}
	}
	return out
}

// serviceName is the Nomad service a shoal service's tasks register as:
// the stack's name and the service's, lower case, in the characters Nomad
// takes (RFC 1123 labels).
func (e *exporter) serviceName(svc string) string {
	return dnsLabel(e.s.Name + "-" + svc)
}

// dnsLabel lowers s and turns what a DNS label cannot hold into '-'.
func dnsLabel(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			b[i] = '-'
		}
	}
	out := strings.Trim(string(b), "-")
	if len(out) > 63 {
		out = strings.TrimRight(out[:63], "-")
	}
	return out
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
