package driver

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app"), "#!/bin/sh\n", 0o755)
	writeFile(t, filepath.Join(dir, "bin", "tool"), "#!/bin/sh\n", 0o755)
	writeFile(t, filepath.Join(dir, "notexec"), "#!/bin/sh\n", 0o644)
	writeFile(t, filepath.Join(dir, "file"), "", 0o644)
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	sh := func(script string) []string { return []string{"/bin/sh", "-c", script} }
	tests := []struct {
		name       string
		command    []string
		dir        string
		env        map[string]string
		workingDir bool
		cause      error
		want       string
	}{
		{name: "in PATH", command: []string{"sh", "-c", "true"}, dir: dir},
		{name: "relative to the working dir", command: []string{"./app"}, dir: dir},
		{name: "with a slash, relative", command: []string{"bin/tool", "-v"}, dir: dir},
		{name: "absolute", command: []string{filepath.Join(dir, "app")}, dir: "/"},
		{name: "along the task's own PATH", command: []string{"tool"}, dir: dir, env: map[string]string{"PATH": "bin"}},
		{name: "shell script", command: sh("exec ./app --port $PORT"), dir: dir},
		{name: "shell builtin first", command: sh("cd sub && ./missing"), dir: dir},
		{name: "shell variable first", command: sh("$HOME/bin/missing"), dir: dir},
		{name: "shell assignment first", command: sh("FOO=1 missing"), dir: dir},

		{name: "empty", command: nil, dir: dir, cause: exec.ErrNotFound, want: "the command is empty: give the program to run"},
		{name: "missing working dir", command: []string{"sh"}, dir: filepath.Join(dir, "nope"), workingDir: true, cause: fs.ErrNotExist,
			want: "working directory " + dir + "/nope does not exist: create it, or change working_dir"},
		{name: "working dir is a file", command: []string{"sh"}, dir: filepath.Join(dir, "file"), workingDir: true, cause: syscall.ENOTDIR,
			want: "working directory " + dir + "/file is not a directory: point working_dir at a folder"},
		{name: "missing working dir comes first", command: []string{"no-such-program-3f9a"}, dir: filepath.Join(dir, "nope"), workingDir: true, cause: fs.ErrNotExist,
			want: "working directory " + dir + "/nope does not exist: create it, or change working_dir"},
		{name: "not in PATH", command: []string{"no-such-program-3f9a"}, dir: dir, cause: exec.ErrNotFound,
			want: `program "no-such-program-3f9a" is not found in PATH: install it, fix the name, or give its path (like ./no-such-program-3f9a, relative to the working directory ` + dir + `)`},
		{name: "not in the task's PATH", command: []string{"app"}, dir: dir, env: map[string]string{"PATH": "bin"}, cause: exec.ErrNotFound,
			want: `program "app" is not found in the task's PATH (bin): install it, fix the name, or give its path (like ./app, relative to the working directory ` + dir + `)`},
		{name: "missing file", command: []string{"bin/catalog"}, dir: dir, cause: fs.ErrNotExist,
			want: `program "bin/catalog" is not found: ` + dir + `/bin/catalog does not exist; fix the path (relative to the working directory ` + dir + `) or add a build command that makes it`},
		{name: "not executable", command: []string{"./notexec"}, dir: dir, cause: syscall.EACCES,
			want: `program "./notexec" is not executable: run chmod +x ` + dir + `/notexec`},
		{name: "a directory", command: []string{"./sub"}, dir: dir, cause: syscall.EISDIR,
			want: `program "./sub" is a directory: name the program in it`},
		{name: "shell script's program", command: sh("no-such-program-3f9a -m http.server"), dir: dir, cause: exec.ErrNotFound,
			want: `program "no-such-program-3f9a" is not found in PATH: install it, fix the name, or give its path (like ./no-such-program-3f9a, relative to the working directory ` + dir + `)`},
		{name: "shell script's program after exec", command: sh("exec bin/missing"), dir: dir, cause: fs.ErrNotExist,
			want: `program "bin/missing" is not found: ` + dir + `/bin/missing does not exist; fix the path (relative to the working directory ` + dir + `) or add a build command that makes it`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckCommand(TaskSpec{Command: tt.command, Dir: tt.dir, Env: tt.env})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			var ce *CheckError
			if !errors.As(err, &ce) {
				t.Fatalf("got %T %v, want a *CheckError", err, err)
			}
			if ce.WorkingDir != tt.workingDir {
				t.Errorf("WorkingDir: got %v, want %v", ce.WorkingDir, tt.workingDir)
			}
			if !errors.Is(err, tt.cause) {
				t.Errorf("got cause %v, want %v", ce.Err, tt.cause)
			}
			if err.Error() != tt.want {
				t.Errorf("message:\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

// TestCheckCommand_AgreesWithStart: what CheckCommand passes, Start can
// resolve, and the other way round.
func TestCheckCommand_AgreesWithStart(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app"), "#!/bin/sh\n", 0o755)
	for _, name := range []string{"./app", "app", "sh", "./missing", filepath.Join(dir, "app")} {
		spec := TaskSpec{Command: []string{name}, Dir: dir}
		_, resolveErr := resolveCommand(spec)
		if checkErr := CheckCommand(spec); (checkErr == nil) != (resolveErr == nil) {
			t.Errorf("%s: CheckCommand says %v, resolveCommand %v", name, checkErr, resolveErr)
		}
	}
}

func TestCheckCommand_SaysHowToInstallAKnownServer(t *testing.T) {
	spec := TaskSpec{ID: "cache-1", Command: []string{"redis-server", "--port", "0"}, Dir: t.TempDir(),
		Env: map[string]string{"PATH": t.TempDir()}}
	err := CheckCommand(spec)
	if err == nil || !strings.Contains(err.Error(), "apt-get install redis-server") {
		t.Errorf("CheckCommand of a missing redis-server: got %v, want the install command", err)
	}
}
