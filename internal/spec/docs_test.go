package spec

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// docSections maps each section heading of docs/stack.md to the type whose
// fields it documents.
var docSections = map[string]reflect.Type{
	"Top level":                            reflect.TypeFor[Stack](),
	"`load_balancers.NAME`":                reflect.TypeFor[LoadBalancer](),
	"`listeners[]`":                        reflect.TypeFor[Listener](),
	"`access_log`":                         reflect.TypeFor[AccessLog](),
	"`target_groups.NAME`":                 reflect.TypeFor[TargetGroup](),
	"`health_check`":                       reflect.TypeFor[HealthCheck](),
	"`cluster`":                            reflect.TypeFor[Cluster](),
	"`aws_api`":                            reflect.TypeFor[AWSAPI](),
	"`metrics`":                            reflect.TypeFor[Metrics](),
	"`dashboard`":                          reflect.TypeFor[Dashboard](),
	"`task_definitions.NAME`":              reflect.TypeFor[TaskDefinition](),
	"`services.NAME`":                      reflect.TypeFor[Service](),
	"`task_definitions.NAME.health_check`": reflect.TypeFor[ContainerHealthCheck](),
	"`deployment`":                         reflect.TypeFor[Deployment](),
	"`circuit_breaker`":                    reflect.TypeFor[CircuitBreaker](),
	"`production_listener_rule`, `test_listener_rule`": reflect.TypeFor[ListenerRuleRef](),
	"`canary`":                  reflect.TypeFor[CanaryStep](),
	"`linear`":                  reflect.TypeFor[LinearSteps](),
	"`lifecycle_hooks[]`":       reflect.TypeFor[LifecycleHook](),
	"`alarms[]`":                reflect.TypeFor[Alarm](),
	"`placement_strategy[]`":    reflect.TypeFor[PlacementStrategy](),
	"`placement_constraints[]`": reflect.TypeFor[PlacementConstraint](),
	"`autoscaling`":             reflect.TypeFor[Autoscaling](),
	"`target_tracking[]`":       reflect.TypeFor[TargetTracking](),
	"`security_groups.NAME`":    reflect.TypeFor[SecurityGroup](),
	"`ingress[]`":               reflect.TypeFor[IngressRule](),
}

// docRow is one field row of a table in docs/stack.md.
type docRow struct{ field, defaultCell string }

// readDocTables returns the field rows of docs/stack.md by section heading.
func readDocTables(t *testing.T) map[string][]docRow {
	t.Helper()
	data, err := os.ReadFile("../../docs/stack.md")
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string][]docRow{}
	section := ""
	for _, line := range strings.Split(string(data), "\n") {
		if h, ok := strings.CutPrefix(line, "#"); ok {
			section = strings.TrimSpace(strings.TrimLeft(h, "#"))
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) != 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		field := strings.Trim(strings.TrimSpace(cells[1]), "`")
		tables[section] = append(tables[section], docRow{field, strings.TrimSpace(cells[3])})
	}
	return tables
}

// TestDocs_StackPageListsEveryFieldAndDefault fails when docs/stack.md
// misses a field of the stack, lists one that does not exist, or gives a
// default other than the one setDefaults fills in.
func TestDocs_StackPageListsEveryFieldAndDefault(t *testing.T) {
	tables := readDocTables(t)
	for section, typ := range docSections {
		rows, ok := tables[section]
		if !ok {
			t.Errorf("docs/stack.md has no section %q for %s", section, typ.Name())
			continue
		}
		defaults := defaultsOf(typ)
		documented := map[string]bool{}
		for _, r := range rows {
			name, _, _ := strings.Cut(r.field, ".") // default_action.forward.target_group
			if _, ok := yamlField(typ, name); !ok {
				t.Errorf("docs/stack.md, section %s: field %q is not a field of %s", section, r.field, typ.Name())
				continue
			}
			documented[name] = true
			if want, ok := defaults[name]; ok && !strings.Contains(r.defaultCell, want) {
				t.Errorf("docs/stack.md, section %s: default of %s is %q, want it to say %s", section, name, r.defaultCell, want)
			}
		}
		for _, name := range yamlFields(typ) {
			if !documented[name] {
				t.Errorf("docs/stack.md, section %s: field %s of %s is not documented", section, name, typ.Name())
			}
		}
	}
}

// TestDocs_FieldCommentsGiveTheDefaults fails when the doc comment of a
// field in stack.go, the user documentation of the field, does not say the
// default setDefaults fills in.
func TestDocs_FieldCommentsGiveTheDefaults(t *testing.T) {
	comments := fieldComments(t)
	for _, typ := range docSections {
		for name, want := range defaultsOf(typ) {
			want = strings.Trim(want, "`")
			c := comments[typ.Name()+"."+goField(typ, name)]
			if !strings.Contains(c, "Default: "+want) {
				t.Errorf("stack.go: the comment of %s.%s does not say %q", typ.Name(), goField(typ, name), "Default: "+want)
			}
		}
	}
}

// defaultsOf returns the non-zero defaults of typ's leaf fields, by YAML
// name, written as docs/stack.md writes them.
func defaultsOf(typ reflect.Type) map[string]string {
	v := reflect.New(typ)
	if d, ok := v.Interface().(defaulter); ok {
		d.setDefaults()
	}
	out := map[string]string{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, ok := yamlName(f)
		fv := v.Elem().Field(i)
		if !ok || fv.IsZero() || f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[Matcher]() {
			continue
		}
		out[name] = docValue(fv.Interface())
	}
	return out
}

func docValue(v any) string {
	switch x := v.(type) {
	case Duration:
		return fmt.Sprintf("%d s", x.D()/time.Second)
	case Matcher:
		return "`" + x.String() + "`"
	case string:
		return "`" + x + "`"
	case int:
		return strconv.Itoa(x)
	}
	return fmt.Sprint(v)
}

func yamlName(f reflect.StructField) (string, bool) {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name, f.IsExported() && name != "" && name != "-"
}

func yamlFields(typ reflect.Type) []string {
	var out []string
	for i := range typ.NumField() {
		if name, ok := yamlName(typ.Field(i)); ok {
			out = append(out, name)
		}
	}
	return out
}

func yamlField(typ reflect.Type, name string) (reflect.StructField, bool) {
	for i := range typ.NumField() {
		if n, ok := yamlName(typ.Field(i)); ok && n == name {
			return typ.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

func goField(typ reflect.Type, name string) string {
	f, _ := yamlField(typ, name)
	return f.Name
}

// fieldComments reads the doc comments of the struct fields in stack.go,
// by "Type.Field".
func fieldComments(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "stack.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return false
		}
		for _, fld := range st.Fields.List {
			for _, id := range fld.Names {
				out[ts.Name.Name+"."+id.Name] = strings.Join(strings.Fields(fld.Doc.Text()), " ")
			}
		}
		return false
	})
	return out
}
