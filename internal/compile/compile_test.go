package compile

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoalhq/shoal/internal/sched"
	"github.com/shoalhq/shoal/internal/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fullStack is spec's stack with every field set to a value other than its
// default, read as if from /stacks/full.yaml so that paths are the same on
// every machine.
const fullStack = "../spec/testdata/valid/full.yaml"

func parseFull(t *testing.T) (*spec.Stack, []byte) {
	t.Helper()
	data, err := os.ReadFile(fullStack)
	if err != nil {
		t.Fatal(err)
	}
	s, err := spec.Parse("/stacks/full.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	return s, data
}

// render is the compiled output as indented JSON, without the source
// bytes (the store's business, checked apart).
func render(t *testing.T, out Output) string {
	t.Helper()
	st := *out.Stack
	st.Source = nil
	b, err := json.MarshalIndent(struct {
		Stack     any
		HostPorts PortRange
		AWSAPI    AWSAPI
		Metrics   Metrics
		Dashboard Dashboard
		Isolation Isolation
		Registry  string
	}{st, out.HostPorts, out.AWSAPI, out.Metrics, out.Dashboard, out.Isolation, out.Registry}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

func TestStack_Golden(t *testing.T) {
	s, data := parseFull(t)
	out, err := Stack(s, data)
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Stack.Source) != string(data) {
		t.Errorf("the compiled stack does not carry the file's bytes for the store")
	}
	got := render(t, out)
	const golden = "testdata/full.json"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("compiled stack (-%s +got):\n%s", golden, diff)
	}
}

// notCompiled lists the stack fields that rightly reach no part yet, with
// the reason. Every other field must change the compiled output when its
// value changes: a field added to spec and forgotten here fails the test.
var notCompiled = map[string]string{
	"ecs_task_definition": "spec reads the file into containers when it loads the stack (its own tests check the mapping)",
	"description":         "security groups' and rules' descriptions are for people reading the file",
	"protocol":            "http is the only protocol so far",
	"algorithm":           "round_robin is the only algorithm so far",
	"allow_remote":        "validation's: it lets dashboard.address be an address other than loopback",
}

// TestStack_EveryFieldReachesAPart changes each field of the full stack in
// turn and checks that the compiled output changes.
func TestStack_EveryFieldReachesAPart(t *testing.T) {
	s, data := parseFull(t)
	base, err := Stack(s, data)
	if err != nil {
		t.Fatal(err)
	}
	want := render(t, base)
	var paths []string
	walk(reflect.ValueOf(s).Elem(), "", func(path string, _ reflect.Value) { paths = append(paths, path) })
	if len(paths) < 30 {
		t.Fatalf("walked %d fields of the full stack, want every one (30 or more)", len(paths))
	}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			if why, ok := notCompiled[lastName(path)]; ok {
				t.Skip(why)
			}
			if group, _, ok := strings.Cut(strings.TrimPrefix(path, "target_groups."), ".stickiness."); ok && group != "web" && !strings.HasSuffix(path, ".enabled") {
				t.Skip("stickiness is off in this group, and its settings are read only when it is on (web's are, and are checked)")
			}
			if strings.HasPrefix(path, "services.") && !strings.HasPrefix(path, "services.store.") && isStrategyField(path) {
				t.Skip("this service deploys rolling, and the strategy's settings are read only with blue_green, canary or linear (store's are, and are checked)")
			}
			if why, ok := notOfThisKind(path); ok {
				t.Skip(why)
			}
			s, data := parseFull(t)
			walk(reflect.ValueOf(s).Elem(), "", func(p string, v reflect.Value) {
				if p == path {
					mutate(t, p, v)
				}
			})
			out, err := Stack(s, data)
			if err != nil {
				t.Fatalf("compile after changing %s: %v", path, err)
			}
			if render(t, out) == want {
				t.Errorf("changing %s changes nothing compiled: give it to the part that uses it in compile.go, or list it in notCompiled with the reason", path)
			}
		})
	}
}

// walk visits every leaf field of v that the stack file sets, with its
// path as written in YAML ("target_groups.web.health_check.path").
func walk(v reflect.Value, path string, visit func(string, reflect.Value)) {
	switch {
	case isLeaf(v.Type()):
		visit(path, v)
	case v.Kind() == reflect.Pointer:
		if !v.IsNil() {
			walk(v.Elem(), path, visit)
		}
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" || name == "" {
				continue
			}
			walk(v.Field(i), join(path, name), visit)
		}
	case v.Kind() == reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			walk(v.MapIndex(k), join(path, k.String()), visit)
		}
	case v.Kind() == reflect.Slice:
		for i := range v.Len() {
			walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i), visit)
		}
	}
}

// isLeaf: values changed as a whole.
func isLeaf(t reflect.Type) bool {
	switch t {
	case reflect.TypeFor[spec.Matcher](), reflect.TypeFor[spec.Command](), reflect.TypeFor[[]string](),
		reflect.TypeFor[map[string]string](), reflect.TypeFor[spec.Duration]():
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Int, reflect.Bool, reflect.Float64:
		return true
	}
	return false
}

// mutate gives the leaf v at path another valid value.
func mutate(t *testing.T, path string, v reflect.Value) {
	switch x := v.Addr().Interface().(type) {
	case *spec.Matcher:
		*x = spec.MustMatcher("201")
	case *spec.Duration:
		*x += spec.Duration(time.Second)
	case *spec.Command:
		*x = append(*x, "--more")
	case *[]string:
		if lastName(path) == "source_ip" {
			*x = append(*x, "192.0.2.0/24")
			break
		}
		*x = append(*x, "127.0.0.1:9999")
	case *map[string]string:
		*x = map[string]string{"ADDED": "1"}
	case *int:
		*x++
	case *bool:
		*x = !*x
	case *float64:
		*x++
	case *string:
		switch name := lastName(path); {
		case strings.HasPrefix(path, "security_groups.") && *x == "" && name != "protocol":
			t.Skip("this rule has no " + name + " (its source is the other kind, or its protocol takes no port); rules that have one check it")
		case name == "cidr":
			*x = "203.0.113.0/24"
		case name == "source_group":
			*x = other(*x, "alb", "instances")
		case name == "isolation":
			*x = other(*x, "none", "netns")
		case name == "network":
			*x = "10.9.0.0/16"
		case name == "port":
			*x = "8082"
		case name == "host_port_range":
			*x = "21000-21999"
		case name == "address":
			*x = "127.0.0.9"
		case name == "task_definition":
			*x = other(*x, "web", "worker")
		case name == "target_group":
			*x = other(*x, "web", "legacy")
		case name == "scheduling_strategy":
			*x = other(*x, "replica", "daemon")
		default:
			*x += "x"
		}
	default:
		t.Fatalf("no way to change %s (%s)", path, v.Type())
	}
}

// other is whichever of a and b is not x.
func other(x, a, b string) string {
	if x == a {
		return b
	}
	return a
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// lastName is the last field name of a path, without an index.
func lastName(path string) string {
	path, _, _ = strings.Cut(path[strings.LastIndex(path, ".")+1:], "[")
	return path
}

// TestRouteProblems_AtTheirLines: what routing refuses beyond spec is
// reported at the field that holds it.
func TestRouteProblems_AtTheirLines(t *testing.T) {
	src := []byte(`load_balancers:
  web:
    listeners:
      - port: 0
        rules:
          - priority: 1
            conditions: {host_header: [localhost]}
            transforms:
              - {type: url_rewrite, regex: "^/a(?=b)(.*)$", replace: "/$1"}
            action: {fixed_response: {status_code: 200}}
        default_action: {fixed_response: {status_code: 404}}
`)
	s, err := spec.Parse("shoal.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range RouteProblems(s) {
		got = append(got, fmt.Sprintf("%d:%d %s", e.Line, e.Column, e.Path))
	}
	want := []string{
		"6:13 load_balancers.web.listeners[0].rules[0]",                     // the host pattern localhost: no dot
		"9:37 load_balancers.web.listeners[0].rules[0].transforms[0].regex", // the lookahead
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// isStrategyField reports whether path is a blue/green, canary or linear
// setting of a service's deployment.
func isStrategyField(path string) bool {
	for _, f := range []string{".alternate_target_group", ".bake_time", ".canary.", ".linear."} {
		if strings.Contains(path, ".deployment"+f) {
			return true
		}
	}
	return false
}

// oneContainerFields are the task definition's fields that describe its
// one container: a process has none of them, and a task definition with
// containers sets them on each container.
var oneContainerFields = []string{"image", "command", "entry_point", "working_directory", "user", "memory_reservation", "port_mappings"}

// notOfThisKind says why a task definition's field is left unchanged:
// the full stack's process task definitions (web, worker) take no
// container fields, and its task definition of several containers (pod)
// none of those of one container.
func notOfThisKind(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "task_definitions.")
	if !ok {
		return "", false
	}
	td, field, _ := strings.Cut(rest, ".")
	field, _, _ = strings.Cut(field, "[")
	field, _, _ = strings.Cut(field, ".")
	switch {
	case (td == "web" || td == "worker") && field != "command" && slices.Contains(oneContainerFields, field):
		return "a process task definition takes no container fields (validation refuses them); image's are checked", true
	case td == "pod" && slices.Contains(oneContainerFields, field):
		return "a task definition with containers sets these on each container; image's and the containers' are checked", true
	}
	return "", false
}

// TestCircuitBreakerThreshold_AgreesWithScheduler keeps the exporters'
// threshold (spec, which sched may not import) equal to the one the
// scheduler trips at.
func TestCircuitBreakerThreshold_AgreesWithScheduler(t *testing.T) {
	for desired := 0; desired <= 500; desired++ {
		if got, want := (spec.CircuitBreaker{}).Threshold(desired), sched.FailureThreshold(desired); got != want {
			t.Errorf("desired %d: spec.CircuitBreaker.Threshold = %d, sched.FailureThreshold = %d", desired, got, want)
		}
	}
}
