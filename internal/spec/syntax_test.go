package spec

import (
	"errors"
	"testing"
)

func TestParse_SyntaxErrorPlaceAndHint(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"colon in a command", "task_definitions:\n  app:\n    command: echo a: b\n",
			`shoal.yaml:3:20: invalid YAML: mapping values are not allowed in this context (a value that holds ": " must be quoted: command: "echo a: b")`},
		{"colon after an address", "task_definitions:\n  app:\n    command: python -m http.server --bind 0.0.0.0: 8000\n    port: 8000\n",
			`shoal.yaml:3:50: invalid YAML: mapping values are not allowed in this context (a value that holds ": " must be quoted: command: "python -m http.server --bind 0.0.0.0: 8000")`},
		{"colon at the end of a value", "services:\n  api:\n    task_definition: app:\n",
			`shoal.yaml:3:25: invalid YAML: mapping values are not allowed in this context (a value that holds ": " must be quoted: task_definition: "app:")`},
		{"only the refused colon counts", "command: echo a:b c: d\n",
			`shoal.yaml:1:20: invalid YAML: mapping values are not allowed in this context (a value that holds ": " must be quoted: command: "echo a:b c: d")`},
		{"in a list item, with a comment", "- command: echo a: b # say it\n",
			`shoal.yaml:1:18: invalid YAML: mapping values are not allowed in this context (a value that holds ": " must be quoted: - command: "echo a: b" # say it)`},
		{"a value with double quotes gets single ones", "command: echo \"it's\" a: b\n",
			`shoal.yaml:1:23: invalid YAML: mapping values are not allowed in this context (a value that holds ": " must be quoted: command: 'echo "it''s" a: b')`},
		{"a line indented under a value", "task_definitions:\n  app:\n    command: ./app\n      port: 8080\n",
			`shoal.yaml:4:11: invalid YAML: mapping values are not allowed in this context (check the indentation of this line: it is read as the rest of the value above it)`},
		{"a quoted value goes on", "command: \"echo\" a: b\n",
			`shoal.yaml:1:18: invalid YAML: mapping values are not allowed in this context`},
		{"bad indentation", "services:\n  api:\n    task_definition: app\n   desired: 3\n",
			`shoal.yaml:2:3: invalid YAML: did not find expected key (check the indentation of this line and of those after it)`},
		{"tab", "services:\n  api:\n\t  desired: 3\n",
			`shoal.yaml:3:1: invalid YAML: found character that cannot start any token (YAML does not allow tabs for indentation: use spaces)`},
		{"reserved character", "services:\n  api:\n    task_definition: @app\n",
			`shoal.yaml:3:22: invalid YAML: found character that cannot start any token`},
		{"unclosed list", "task_definitions:\n  app:\n    command: [bin/app, --flag\n    port: 8080\n",
			`shoal.yaml:3:14: invalid YAML: did not find expected ',' or ']' (the list that starts here is not closed: end it with ])`},
		{"unclosed mapping", "services:\n  api: {task_definition: app\n  web: {}\n",
			`shoal.yaml:2:8: invalid YAML: did not find expected ',' or '}' (the mapping that starts here is not closed: end it with })`},
		{"unknown escape", "services:\n  api:\n    task_definition: \"a\\qb\"\n",
			`shoal.yaml:3:24: invalid YAML: found unknown escape character`},
		{"unclosed quote", "services:\n  api:\n    task_definition: \"app\n",
			`shoal.yaml:3:22: invalid YAML: found unexpected end of stream`},
		{"unknown alias", "services:\n  api:\n    task_definition: *app\n",
			`shoal.yaml:3:22: invalid YAML: aliases are not supported: write the value out in full`},
		{"characters are columns", "command: é a: b\n",
			`shoal.yaml:1:13: invalid YAML: mapping values are not allowed in this context (a value that holds ": " must be quoted: command: "é a: b")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("shoal.yaml", []byte(tt.yaml))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want an *Error", err)
			}
			if err.Error() != tt.want {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
		})
	}
}

// TestParse_QuotedHintParses checks that the line the hint proposes is
// valid YAML with the value the user meant.
func TestParse_QuotedHintParses(t *testing.T) {
	for _, value := range []string{"echo a: b", `echo "x" a: b`, `it's: "x"`, `a\b: c`} {
		got, err := decodeCommandString("command: " + quote(value))
		if err != nil || got != value {
			t.Errorf("quote(%q) = %s: parses to %q, %v; want the value back", value, quote(value), got, err)
		}
	}
}

func decodeCommandString(line string) (string, error) {
	s, errs := decode("shoal.yaml", []byte("task_definitions:\n  app:\n    "+line+"\n"))
	if err := errs.err(); err != nil {
		return "", err
	}
	return s.TaskDefinitions["app"].Command[2], nil
}
