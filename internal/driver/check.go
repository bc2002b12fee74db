package driver

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// CheckError is why a task's command cannot start, said with how to fix it.
type CheckError struct {
	// WorkingDir is true when the working directory is what is wrong, false
	// when the program is.
	WorkingDir bool
	// Msg says what is wrong and how to fix it; it does not name the task.
	Msg string
	// Err is the cause: fs.ErrNotExist, exec.ErrNotFound, syscall.ENOTDIR,
	// syscall.EACCES or syscall.EISDIR, or another error of the file system.
	Err error
}

func (e *CheckError) Error() string { return e.Msg }

func (e *CheckError) Unwrap() error { return e.Err }

// CheckCommand reports what would keep spec's command from starting, before
// anything starts: a working directory that is missing or not a directory,
// or a program that is not found (a bare name along the task's PATH, a name
// with a slash relative to the working directory), is a directory or is not
// executable. It resolves the command as Start does. A command run by a
// shell (/bin/sh -c SCRIPT, which a command written as a string becomes) has
// the first word of its script checked too, when that plainly names a
// program (not a builtin, a variable or an assignment). The error is a
// *CheckError.
func CheckCommand(spec TaskSpec) error {
	dir := workDir(spec)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return dirError(dir, statErr(err, syscall.ENOTDIR))
	}
	if len(spec.Command) == 0 {
		return &CheckError{Msg: "the command is empty: give the program to run", Err: exec.ErrNotFound}
	}
	if _, err := resolveCommand(spec); err != nil {
		return programError(spec, spec.Command[0], dir, err)
	}
	if word, ok := shellProgram(spec.Command); ok {
		first := spec
		first.Command = []string{word}
		if _, err := resolveCommand(first); err != nil {
			return programError(spec, word, dir, err)
		}
	}
	return nil
}

func dirError(dir string, err error) *CheckError {
	e := &CheckError{WorkingDir: true, Err: err}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		e.Msg = fmt.Sprintf("working directory %s does not exist: create it, or change working_dir", dir)
	case errors.Is(err, syscall.ENOTDIR):
		e.Msg = fmt.Sprintf("working directory %s is not a directory: point working_dir at a folder", dir)
	default:
		e.Msg = fmt.Sprintf("working directory %s: %v", dir, err)
	}
	return e
}

// programError words why the program name cannot be started; err is
// resolveCommand's.
// installHints say how to install the servers stacks commonly run as
// backing services.
var installHints = map[string]string{
	"redis-server": "`sudo apt-get install redis-server` (Debian, Ubuntu) or `brew install redis` (macOS)",
	"postgres":     "`sudo apt-get install postgresql` (Debian, Ubuntu; the program is in /usr/lib/postgresql/VERSION/bin) or `brew install postgresql` (macOS)",
	"memcached":    "`sudo apt-get install memcached` (Debian, Ubuntu) or `brew install memcached` (macOS)",
	"nginx":        "`sudo apt-get install nginx` (Debian, Ubuntu) or `brew install nginx` (macOS)",
}

func programError(spec TaskSpec, name, dir string, err error) *CheckError {
	e := &CheckError{Err: err}
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	switch {
	case errors.Is(err, exec.ErrNotFound):
		where := "PATH"
		if p, ok := spec.Env["PATH"]; ok {
			where = fmt.Sprintf("the task's PATH (%s)", p)
		}
		if install, ok := installHints[name]; ok {
			e.Msg = fmt.Sprintf("program %q is not found in %s: install it with %s", name, where, install)
			break
		}
		e.Msg = fmt.Sprintf("program %q is not found in %s: install it, fix the name, or give its path (like ./%s, relative to the working directory %s)",
			name, where, name, dir)
	case errors.Is(err, fs.ErrNotExist):
		e.Msg = fmt.Sprintf("program %q is not found: %s does not exist; fix the path (relative to the working directory %s) or add a build command that makes it",
			name, path, dir)
	case errors.Is(err, syscall.EACCES):
		e.Msg = fmt.Sprintf("program %q is not executable: run chmod +x %s", name, path)
	case errors.Is(err, syscall.EISDIR):
		e.Msg = fmt.Sprintf("program %q is a directory: name the program in it", name)
	default:
		e.Msg = fmt.Sprintf("program %q cannot be started: %v", name, errors.Unwrap(err))
	}
	return e
}

// shellProgram returns the program a shell command (/bin/sh -c SCRIPT)
// starts first, when the script's first word (after exec) plainly names
// one.
func shellProgram(argv []string) (string, bool) {
	if len(argv) != 3 || (argv[0] != "/bin/sh" && argv[0] != "sh") || argv[1] != "-c" {
		return "", false
	}
	words := strings.Fields(argv[2])
	if len(words) > 1 && words[0] == "exec" {
		words = words[1:]
	}
	if len(words) == 0 || shellBuiltins[words[0]] || !plainWord(words[0]) {
		return "", false
	}
	return words[0], true
}

// plainWord reports whether a shell reads w as the name of a program as
// written: no variable, quote, glob, operator or assignment in it.
func plainWord(w string) bool {
	for _, r := range w {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._/+-", r)) {
			return false
		}
	}
	return true
}

// shellBuiltins are the words a POSIX shell (or bash) runs itself rather
// than as a program.
var shellBuiltins = map[string]bool{
	".": true, "alias": true, "bg": true, "break": true, "case": true, "cd": true, "command": true,
	"continue": true, "do": true, "done": true, "echo": true, "elif": true, "else": true, "esac": true,
	"eval": true, "exec": true, "exit": true, "export": true, "false": true, "fc": true, "fg": true,
	"fi": true, "for": true, "function": true, "getopts": true, "hash": true, "if": true, "in": true,
	"jobs": true, "kill": true, "local": true, "printf": true, "pwd": true, "read": true,
	"readonly": true, "return": true, "select": true, "set": true, "shift": true, "source": true,
	"test": true, "then": true, "time": true, "times": true, "trap": true, "true": true, "type": true,
	"ulimit": true, "umask": true, "unalias": true, "unset": true, "until": true, "wait": true,
	"while": true,
}
