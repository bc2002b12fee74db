package spec

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestECSTaskDefinition_Golden parses each testdata/ecs/NAME.json and
// compares with NAME.golden: the task definition as indented JSON when it
// parsed, then its warnings and errors as Error.Error prints them.
func TestECSTaskDefinition_Golden(t *testing.T) {
	for _, file := range glob(t, "testdata/ecs/*.json") {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			def, warnings, err := ParseECSTaskDefinition(name, readFile(t, file))
			var b strings.Builder
			if err == nil {
				out, jerr := json.MarshalIndent(def, "", "  ")
				if jerr != nil {
					t.Fatal(jerr)
				}
				b.Write(out)
				b.WriteString("\n")
			}
			writeErrors(&b, "warnings", warnings)
			var errs ErrorList
			if err != nil && !errors.As(err, &errs) {
				t.Fatalf("got error %T, want an ErrorList", err)
			}
			writeErrors(&b, "errors", errs)
			checkPlaced(t, warnings)
			checkPlaced(t, errs)
			golden(t, strings.TrimSuffix(file, ".json")+".golden", b.String())
		})
	}
}

func writeErrors(b *strings.Builder, title string, list ErrorList) {
	if len(list) == 0 {
		return
	}
	b.WriteString("-- " + title + " --\n")
	for _, e := range list {
		b.WriteString(e.Error() + "\n")
	}
}

// checkPlaced checks that every problem has a line and a column.
func checkPlaced(t *testing.T, list ErrorList) {
	t.Helper()
	for _, e := range list {
		if e.Line == 0 || e.Column == 0 {
			t.Errorf("got %q at line %d column %d, want a place", e.Error(), e.Line, e.Column)
		}
	}
}

// TestECSTaskDefinition_Defaults checks what a minimal container gets.
func TestECSTaskDefinition_Defaults(t *testing.T) {
	def, warnings, err := ParseECSTaskDefinition("td.json", []byte(`{"family": "f",
		"containerDefinitions": [{"name": "a", "image": "a:1",
			"portMappings": [{"containerPort": 80}],
			"healthCheck": {"command": ["CMD", "true"]}}]}`))
	if err != nil || warnings != nil {
		t.Fatalf("got errors %v and warnings %v, want none", err, warnings)
	}
	hc := &ContainerHealthCheck{Command: Command{"CMD", "true"}, Interval: secs(30), Timeout: secs(5), Retries: 3}
	want := ECSTaskDefinition{Family: "f", NetworkMode: "bridge", Containers: []*Container{{
		Name: "a", Image: "a:1", Essential: true, PortMappings: []*PortMapping{{ContainerPort: 80, Protocol: "tcp"}},
		HealthCheck: hc,
	}}}
	if diff := cmp.Diff(want, def); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

func TestECSOffsets(t *testing.T) {
	data := "{\"a\" : [1, {\"b\":\"x\"}],\n \"c\": null, \"d\": {}}"
	got, err := jsonOffsets([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"": 0, "a": 7, "a[0]": 8, "a[1]": 11, "a[1].b": 16, "c": 29, "d": 40}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

func TestECSLineIndex_Position(t *testing.T) {
	data := []byte("ab\n\"é\": 1\n")
	tests := []struct {
		off, line, col int
	}{
		{0, 1, 1},
		{1, 1, 2},
		{2, 1, 3},  // the newline ends its line
		{3, 2, 1},  // the first byte of a line
		{6, 2, 3},  // é is two bytes, one column
		{10, 2, 7}, // the newline ends its line
		{11, 3, 1}, // the end
		{99, 3, 1}, // past the end: the end
		{-1, 1, 1},
	}
	for _, tt := range tests {
		if line, col := newLineIndex(data).position(tt.off); line != tt.line || col != tt.col {
			t.Errorf("position(%d) = %d:%d, want %d:%d", tt.off, line, col, tt.line, tt.col)
		}
	}
}

func TestECSTaskSize(t *testing.T) {
	tests := []struct {
		s, unit string
		want    int
		ok      bool
	}{
		{"256", "vCPU", 256, true},
		{" 1024 ", "vCPU", 1024, true},
		{"1 vCPU", "vCPU", 1024, true},
		{"0.25 vcpu", "vCPU", 256, true},
		{"2vCPU", "vCPU", 2048, true},
		{"0.5 GB", "GB", 512, true},
		{"3 gb", "GB", 3072, true},
		{"1 GB", "vCPU", 0, false},
		{"0.0001 vCPU", "vCPU", 0, false}, // not a whole number of units
		{"-1", "vCPU", 0, false},
		{"-1 GB", "GB", 0, false},
		{"Inf GB", "GB", 0, false},
		{"NaN GB", "GB", 0, false},
		{"GB", "GB", 0, false},
		{"a lot", "vCPU", 0, false},
	}
	for _, tt := range tests {
		if got, ok := parseTaskSize(tt.s, tt.unit); got != tt.want || ok != tt.ok {
			t.Errorf("parseTaskSize(%q, %q) = %d, %t; want %d, %t", tt.s, tt.unit, got, ok, tt.want, tt.ok)
		}
	}
}

// TestECSTaskDefinition_OddInputs checks that values of unexpected shapes
// give placed errors (one per problem), never a panic or a silent pass.
func TestECSTaskDefinition_OddInputs(t *testing.T) {
	const ok = `{"name": "a", "image": "a:1"}`
	tests := []struct {
		name, json string
		want       []string // the paths of the errors, in order
	}{
		{"empty file", "  \n", []string{""}},
		{"single quotes", `{'family': 'f'}`, []string{""}},
		{"text after", `{"family": "f", "containerDefinitions": [` + ok + `]} x`, []string{""}},
		{"an array", `[]`, []string{""}},
		{"null", `null`, []string{""}},
		{"definitions an object", `{"family": "f", "containerDefinitions": {}}`, []string{"containerDefinitions"}},
		{"container a string", `{"family": "f", "containerDefinitions": ["a", ` + ok + `]}`, []string{"containerDefinitions[0]"}},
		{"null entries", `{"family": "f", "containerDefinitions": [{"name": "a", "image": "a:1",
			"portMappings": [null], "dependsOn": [7], "environment": [null], "healthCheck": "curl"}]}`,
			[]string{"containerDefinitions[0].portMappings[0]", "containerDefinitions[0].dependsOn[0]",
				"containerDefinitions[0].environment[0]", "containerDefinitions[0].healthCheck"}},
		{"command element", `{"family": "f", "containerDefinitions": [{"name": "a", "image": "a:1", "command": ["a", 1]}]}`,
			[]string{"containerDefinitions[0].command[1]"}},
		{"fraction", `{"family": "f", "containerDefinitions": [{"name": "a", "image": "a:1", "cpu": 1.5, "memory": 1e12}]}`,
			[]string{"containerDefinitions[0].cpu", "containerDefinitions[0].memory"}},
		{"env twice", `{"family": "f", "containerDefinitions": [{"name": "a", "image": "a:1",
			"environment": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}, {"name": "PORT", "value": "80"}, {"value": "x"}]}]}`,
			[]string{"containerDefinitions[0].environment[1].name", "containerDefinitions[0].environment[2].name",
				"containerDefinitions[0].environment[3].name"}},
		{"bad family", `{"family": "my.app", "containerDefinitions": [` + ok + `]}`, []string{"family"}},
		{"no family", `{"containerDefinitions": [` + ok + `]}`, []string{"family"}},
		{"task memory", `{"family": "f", "memory": "a lot", "containerDefinitions": [` + ok + `]}`, []string{"memory"}},
		{"network mode", `{"family": "f", "networkMode": "nat", "containerDefinitions": [` + ok + `]}`, []string{"networkMode"}},
		{"reservation over limit", `{"family": "f", "containerDefinitions": [{"name": "a", "image": "a:1", "memory": 256, "memoryReservation": 512}]}`,
			[]string{"containerDefinitions[0].memoryReservation"}},
		{"CMD-SHELL two strings", `{"family": "f", "containerDefinitions": [{"name": "a", "image": "a:1", "healthCheck": {"command": ["CMD-SHELL", "a", "b"]}}]}`,
			[]string{"containerDefinitions[0].healthCheck.command"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def, _, err := ParseECSTaskDefinition("td.json", []byte(tt.json))
			var errs ErrorList
			if !errors.As(err, &errs) {
				t.Fatalf("got error %v, want an ErrorList", err)
			}
			if def.Family != "" || def.Containers != nil {
				t.Errorf("got a task definition with the errors, want the zero value")
			}
			checkPlaced(t, errs)
			var paths []string
			for _, e := range errs {
				paths = append(paths, e.Path)
			}
			if diff := cmp.Diff(tt.want, paths); diff != "" {
				t.Errorf("error paths mismatch (-want +got):\n%s\n%v", diff, err)
			}
		})
	}
}
