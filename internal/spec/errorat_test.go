package spec

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStack_ErrorAt(t *testing.T) {
	s, err := Parse("shoal.yaml", []byte(`task_definitions:
  app:
    command: [bin/app]
    working_dir: app
  web:
    command: ./web
services:
  app: {task_definition: app}
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want Error
	}{
		{"task_definitions.app.command", Error{File: "shoal.yaml", Line: 3, Column: 5, Path: "task_definitions.app.command", Msg: "m"}},
		{"task_definitions.app.working_dir", Error{File: "shoal.yaml", Line: 4, Column: 5, Path: "task_definitions.app.working_dir", Msg: "m"}},
		// Left out: at the task definition.
		{"task_definitions.web.working_dir", Error{File: "shoal.yaml", Line: 5, Column: 3, Path: "task_definitions.web.working_dir", Msg: "m"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(&tt.want, s.ErrorAt(tt.path, "m")); diff != "" {
			t.Errorf("ErrorAt(%q) mismatch (-want +got):\n%s", tt.path, diff)
		}
	}
	built := &Stack{}
	if got, want := built.ErrorAt("services.api", "m").Error(), "services.api: m"; got != want {
		t.Errorf("a stack built in code: got %q, want %q", got, want)
	}
}
