// Package kubernetes exports a stack as Kubernetes manifests: a Deployment
// (or DaemonSet) per service, a Service per target group (with
// EndpointSlices for its static targets) and per backing service, an
// Ingress per load balancer, a NetworkPolicy per security group that
// guards tasks, and a HorizontalPodAutoscaler per autoscaled service,
// written with the API's own Go types (k8s.io/api) as one multi-document
// YAML file. docs/export-kubernetes.md has the whole mapping.
package kubernetes

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/shoalhq/shoal/internal/export"
	"github.com/shoalhq/shoal/internal/spec"
)

// Labels every object carries; the selectors use the first two.
const (
	labelName      = "app.kubernetes.io/name"
	labelPartOf    = "app.kubernetes.io/part-of"
	labelManagedBy = "app.kubernetes.io/managed-by"
	// labelTargetGroup marks the pods of the services registered in a
	// target group: its Service selects them.
	labelTargetGroup = "shoal/target-group"
)

// ingressClassALB is the class of the AWS Load Balancer Controller.
const ingressClassALB = "alb"

// Export turns a validated stack into Kubernetes manifests. A task
// definition that runs a process (a command without an image) cannot be
// exported: the error lists each at its line and says how to fix it.
func Export(s *spec.Stack, o export.Options) (*export.Document, error) {
	x := &exporter{s: s, o: o, w: export.NewWarnings(s), alb: o.IngressClass == ingressClassALB}
	if err := x.run(); err != nil {
		return nil, err
	}
	data, err := x.render()
	if err != nil {
		return nil, err
	}
	return &export.Document{Name: s.Name + ".kubernetes.yaml", Data: data, Warnings: x.w.List()}, nil
}

// exporter holds one export's state: the stack, the warnings so far and
// the objects made.
type exporter struct {
	s   *spec.Stack
	o   export.Options
	w   *export.Warnings
	alb bool
	// pods are the services' pod templates, by service name, made first:
	// Services, placeholders and policies need their ports.
	pods map[string]*workload
	objs []object
}

// object is one manifest, ordered by kind, then name.
type object struct {
	order int
	name  string
	v     any
}

// The order kinds are written in: what others refer to first.
const (
	orderSecret = iota
	orderService
	orderEndpointSlice
	orderWorkload
	orderHPA
	orderIngress
	orderNetworkPolicy
)

func (x *exporter) add(order int, name string, v any) {
	x.objs = append(x.objs, object{order, name, v})
}

func (x *exporter) run() error {
	x.stackWarnings()
	if err := x.workloads(); err != nil {
		return err
	}
	x.services()
	x.ingresses()
	x.networkPolicies()
	x.autoscalers()
	return nil
}

// render writes the warnings as comments, then each object as a YAML
// document.
func (x *exporter) render() ([]byte, error) {
	slices.SortStableFunc(x.objs, func(a, b object) int {
		return cmp.Or(cmp.Compare(a.order, b.order), strings.Compare(a.name, b.name))
	})
	var b bytes.Buffer
	b.WriteString(export.Comment("#", x.w.List()))
	fmt.Fprintf(&b, "# Kubernetes manifests of stack %s, written by shoal export kubernetes.\n", x.s.Name)
	for _, o := range x.objs {
		data, err := marshal(o.v)
		if err != nil {
			return nil, err
		}
		b.WriteString("---\n")
		b.Write(data)
	}
	return b.Bytes(), nil
}

// marshal writes an API object as YAML without what the API server fills
// in (status, creationTimestamp), with keys sorted: the same object gives
// the same bytes.
func marshal(v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	prune(m)
	return yaml.Marshal(m)
}

// prune removes the null creationTimestamp the Go types write into every
// ObjectMeta.
func prune(v any) {
	switch v := v.(type) {
	case map[string]any:
		if ts, ok := v["creationTimestamp"]; ok && ts == nil {
			delete(v, "creationTimestamp")
		}
		for _, e := range v {
			prune(e)
		}
	case []any:
		for _, e := range v {
			prune(e)
		}
	}
}

// labels are an object's labels: its name in the stack, the stack, and
// who wrote it.
func (x *exporter) labels(name string) map[string]string {
	return map[string]string{labelName: name, labelPartOf: x.s.Name, labelManagedBy: "shoal"}
}

// selector selects the pods of service name.
func (x *exporter) selector(name string) map[string]string {
	return map[string]string{labelName: name, labelPartOf: x.s.Name}
}

// stackWarnings are about the stack as a whole: what places tasks, and
// settings of the cluster.
func (x *exporter) stackWarnings() {
	c := x.s.Cluster
	if c.Instances != spec.DefaultInstances || c.InstanceCPU != spec.DefaultInstanceCPU || c.InstanceMemory != spec.DefaultInstanceMemory {
		x.w.Add("cluster", "not carried over: pods are placed on the Kubernetes cluster's nodes; the stack's instances, instance_cpu and instance_memory describe shoal's local cluster only")
	}
	if c.HostPortRange != "" {
		x.w.Add("cluster.host_port_range", "not carried over: every pod has an IP address of its own and takes traffic on its container port; there are no dynamic host ports")
	}
	if c.Isolation != spec.DefaultIsolation {
		x.w.Add("cluster.isolation", "not carried over: how shoal keeps instances apart on one machine; the cluster's network plugin enforces the NetworkPolicies")
	}
	if x.s.Metrics.Address != "" {
		x.w.Add("metrics.address", "not carried over: shoal's Prometheus endpoint of the load balancer's metrics; on Kubernetes they are the ingress controller's")
	}
	if x.s.Registry.Address != "" {
		x.w.Add("registry.address", "not carried over: shoal's local registry; push the images to a registry the cluster pulls from")
	}
	for _, name := range sortedKeys(x.s.TaskDefinitions) {
		if !x.used(name) {
			x.w.Add("task_definitions."+name, "not exported: no service runs this task definition")
		}
	}
}

// used reports whether a service runs task definition td.
func (x *exporter) used(td string) bool {
	for _, sv := range x.s.Services {
		if sv.TaskDefinition == td {
			return true
		}
	}
	return false
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// dnsLabel turns a shoal name (letters, digits, - and _) into a Kubernetes
// name (lower-case letters, digits and -, starting with a letter, as a
// Service's must).
func dnsLabel(name string) string {
	k := strings.Trim(strings.ReplaceAll(strings.ToLower(name), "_", "-"), "-")
	if k != "" && k[0] >= '0' && k[0] <= '9' {
		k = "s-" + k
	}
	return k
}

// kname is the Kubernetes name of the stack entry at path named name,
// with a warning when it differs.
func (x *exporter) kname(path, name string) string {
	k := dnsLabel(name)
	if k != name {
		x.w.Add(path, "named %s in Kubernetes: names there are lower-case letters, digits and -, starting with a letter", k)
	}
	return k
}
