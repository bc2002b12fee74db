package driver

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// taskEnv is shoal's environment, then the spec's (sorted, so the order is
// stable), then SHOAL_CONTAINER_PORT if set, PORT and HOST; later entries
// win. PWD is set to the working directory as a shell's cd would (os/exec
// does so only when Env is nil).
func taskEnv(spec TaskSpec, port int) []string {
	env := os.Environ()
	for _, k := range slices.Sorted(maps.Keys(spec.Env)) {
		env = append(env, k+"="+spec.Env[k])
	}
	if spec.Dir != "" {
		env = append(env, "PWD="+spec.Dir)
	}
	if spec.ContainerPort != 0 {
		env = append(env, "SHOAL_CONTAINER_PORT="+strconv.Itoa(spec.ContainerPort))
	}
	return append(env, "PORT="+strconv.Itoa(port), "HOST="+spec.Address)
}

// resolveCommand finds the executable for spec.Command[0] so that a missing
// or non-executable command is reported before anything starts, in words
// that name the command and the directory it was looked for in.
func resolveCommand(spec TaskSpec) (string, error) {
	dir := workDir(spec)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("task %s: working dir %s: %w", spec.ID, dir, statErr(err, syscall.ENOTDIR))
	}
	name := spec.Command[0]
	path, err := LookCommand(name, dir, taskPath(spec))
	if err != nil {
		return "", fmt.Errorf("task %s: start %q: %w (working dir %s)", spec.ID, name, err, dir)
	}
	// Absolute, because the shim starts it from inside dir.
	return filepath.Abs(path)
}

// workDir is the directory the task starts in: spec.Dir, or shoal's own.
func workDir(spec TaskSpec) string {
	if spec.Dir != "" {
		return spec.Dir
	}
	dir, _ := os.Getwd()
	return dir
}

// LookCommand resolves name the way the task's own shell would: a name with
// a slash against dir, a bare name along PATH.
func LookCommand(name, dir, pathList string) (string, error) {
	if strings.Contains(name, "/") {
		path := name
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		return path, checkExecutable(path)
	}
	for _, d := range filepath.SplitList(pathList) {
		if !filepath.IsAbs(d) {
			d = filepath.Join(dir, d) // "" and "." mean the working dir
		}
		path := filepath.Join(d, name)
		if checkExecutable(path) == nil {
			return path, nil
		}
	}
	return "", exec.ErrNotFound
}

// taskPath is the PATH the task will see.
func taskPath(spec TaskSpec) string {
	if p, ok := spec.Env["PATH"]; ok {
		return p
	}
	return os.Getenv("PATH")
}

func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return statErr(err, nil)
	case fi.IsDir():
		return syscall.EISDIR
	case fi.Mode().Perm()&0o111 == 0:
		return syscall.EACCES
	}
	return nil
}

// statErr keeps the errno of a failed stat ("no such file or directory")
// without repeating the path, which the caller words itself.
func statErr(err, otherwise error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	if err != nil {
		return err
	}
	return otherwise
}
