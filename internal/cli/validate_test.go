package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoalhq/shoal/internal/store"
)

// TestValidate_ChecksWorkingDirAndProgram: validate finds what would make
// up retry a task forever, at the place of the field, like any other
// problem; a command that a build makes is left for after the build.
func TestValidate_ChecksWorkingDirAndProgram(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	stack := writeStack(t, `task_definitions:
  ok:
    command: [sh, -c, "true"]
  typo:
    command: [no-such-program-3f9a, --port, "8080"]
  shell:
    command: no-such-program-3f9a -m http.server
  nodir:
    working_dir: `+filepath.Join(dir, "nope")+`
    command: [sh]
  notdir:
    working_dir: `+filepath.Join(dir, "file")+`
    command: [sh]
  built:
    build: go build -o bin/app .
    command: [bin/app]
  built_nodir:
    build: go build -o bin/app .
    working_dir: missing
    command: [bin/app]
services:
  ok: {task_definition: ok}
`)
	code, stdout, stderr := run(t, context.Background(), "validate", "-f", stack)
	stackDir := filepath.Dir(stack)
	want := stack + `:5:5: task_definitions.typo.command: program "no-such-program-3f9a" is not found in PATH: install it, fix the name, or give its path (like ./no-such-program-3f9a, relative to the working directory ` + stackDir + `)
` + stack + `:7:5: task_definitions.shell.command: program "no-such-program-3f9a" is not found in PATH: install it, fix the name, or give its path (like ./no-such-program-3f9a, relative to the working directory ` + stackDir + `)
` + stack + `:9:5: task_definitions.nodir.working_dir: working directory ` + dir + `/nope does not exist: create it, or change working_dir
` + stack + `:12:5: task_definitions.notdir.working_dir: working directory ` + dir + `/file is not a directory: point working_dir at a folder
` + stack + `:19:5: task_definitions.built_nodir.working_dir: working directory ` + stackDir + `/missing does not exist: create it, or change working_dir
shoal: ` + stack + ` has 5 problems
`
	if code != 1 || stderr != want || stdout != "" {
		t.Errorf("got exit %d, stdout %q, stderr:\n%s\nwant exit 1, no stdout, stderr:\n%s", code, stdout, stderr, want)
	}
}

// TestUp_MissingProgramStartsNothing: up checks the same before it starts
// anything, instead of retrying the task forever.
func TestUp_MissingProgramStartsNothing(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	stack := writeStack(t, "task_definitions:\n  app:\n    command: [./app]\nservices:\n  app: {task_definition: app}\n")
	code, stdout, stderr := run(t, context.Background(), "up", "-f", stack, "--state-dir", state)
	want := stack + `:3:5: task_definitions.app.command: program "./app" is not found: ` + filepath.Dir(stack) + `/app does not exist`
	if code != 1 || !strings.HasPrefix(stderr, want) || !strings.HasSuffix(stderr, "has 1 problem; nothing was started\n") || stdout != "" {
		t.Errorf("got exit %d, stdout %q, stderr:\n%s\nwant exit 1, stderr starting with %q, ending with nothing was started", code, stdout, stderr, want)
	}
	if _, err := os.Stat(state); err == nil {
		t.Error("state directory created although the stack was rejected")
	}
}

// TestValidate_OneTypoOneError: a misspelled field gives its "did you
// mean" and nothing more, not also "command is required".
func TestValidate_OneTypoOneError(t *testing.T) {
	stack := writeStack(t, `task_definitions:
  app:
    comand: [sh]
services:
  app:
    task_defintion: app
load_balancers:
  web:
    listeners:
      - port: 0
        default_action:
          forward:
            tagret_group: app
target_groups:
  app: {}
`)
	code, _, stderr := run(t, context.Background(), "validate", "-f", stack)
	want := stack + `:3:5: task_definitions.app.comand: unknown field "comand" (did you mean "command"?)
` + stack + `:6:5: services.app.task_defintion: unknown field "task_defintion" (did you mean "task_definition"?)
` + stack + `:13:13: load_balancers.web.listeners[0].default_action.forward.tagret_group: unknown field "tagret_group" (did you mean "target_group"?)
shoal: ` + stack + ` has 3 problems
`
	if code != 1 || stderr != want {
		t.Errorf("got exit %d, stderr:\n%s\nwant exit 1, stderr:\n%s", code, stderr, want)
	}
}

// TestValidate_SyntaxErrorHasColumnAndHint: an unquoted ": " in a command
// is found at its column, with the line to write instead.
func TestValidate_SyntaxErrorHasColumnAndHint(t *testing.T) {
	stack := writeStack(t, `task_definitions:
  web:
    command: python3 -m http.server --bind 127.0.0.1: 8000
services:
  web: {task_definition: web}
`)
	code, _, stderr := run(t, context.Background(), "validate", "-f", stack)
	want := stack + `:3:53: invalid YAML: mapping values are not allowed in this context (a value that holds ": " must be quoted: command: "python3 -m http.server --bind 127.0.0.1: 8000")
shoal: ` + stack + ` has 1 problem
`
	if code != 1 || stderr != want {
		t.Errorf("got exit %d, stderr:\n%s\nwant exit 1, stderr:\n%s", code, stderr, want)
	}
}

// TestValidate_WithoutStackFileSaysHowToStart: validate with no -f and no
// ./shoal.yaml says what up says.
func TestValidate_WithoutStackFileSaysHowToStart(t *testing.T) {
	t.Chdir(t.TempDir())
	state := t.TempDir()
	t.Setenv("SHOAL_STATE_DIR", state)
	st, err := store.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	st.SaveDesired(store.Desired{File: "/srv/app/shoal.yaml"})
	st.Close()

	code, stdout, stderr := run(t, context.Background(), "validate")
	_, _, upStderr := run(t, context.Background(), "up")
	if code != 1 || stdout != "" || stderr != upStderr {
		t.Errorf("got exit %d, stdout %q, stderr:\n%s\nwant exit 1 and what up says:\n%s", code, stdout, stderr, upStderr)
	}
	for _, want := range []string{"shoal: no shoal.yaml in this folder; pass one with -f.", "shoal up -f /srv/app/shoal.yaml", "shoal up -f examples/catalog/shoal.yaml"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// TestValidate_Warnings: a valid stack whose instances' group admits the
// whole internet is valid, with a warning at the rule.
func TestValidate_Warnings(t *testing.T) {
	stack := writeStack(t, `security_groups:
  instances:
    ingress:
      - {port: all, cidr: 0.0.0.0/0}
cluster:
  security_groups: [instances]
task_definitions:
  app:
    command: [sh]
services:
  app: {task_definition: app}
`)
	code, stdout, stderr := run(t, context.Background(), "validate", "-f", stack)
	want := "warning: " + stack + ":4:21: security_groups.instances.ingress[0].cidr: this rule opens the instances' task ports to the whole internet (0.0.0.0/0): let only the load balancer in, with source_group naming its group\n"
	if code != 0 || !strings.Contains(stdout, "is valid") || stderr != want {
		t.Errorf("got exit %d, stdout %q, stderr:\n%s\nwant exit 0, valid, and the warning:\n%s", code, stdout, stderr, want)
	}
}
