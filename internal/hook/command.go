//go:build linux || darwin

package hook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/shoalhq/shoal/internal/driver"
)

const (
	// outputBytes is how much of a command's output is kept: the end of
	// its standard output (where the verdict is) and of both together.
	outputBytes = 64 << 10
	// reasonLines is how many of the last output lines a failure shows.
	reasonLines = 5
	// drainDelay bounds how long Run waits for the output pipes to close
	// once the group is dead: only a process that left the group holds them.
	drainDelay = 2 * time.Second
)

// runCommand runs h.Command once, in a process group of its own.
func runCommand(ctx context.Context, h Hook, req Request) Result {
	body := Payload(req)
	env := commandEnv(h, req, body)
	dir := h.Dir
	if dir == "" {
		dir, _ = os.Getwd()
	} else if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		why := "not a directory"
		var pe *os.PathError
		if errors.As(err, &pe) {
			why = pe.Err.Error() // the errno: the path is in the message already
		}
		return failed(fmt.Sprintf("start %q: dir %q: %s", h.Command[0], h.Dir, why))
	}
	name := h.Command[0]
	path, err := driver.LookCommand(name, dir, envPath(env))
	if err != nil {
		return failed(fmt.Sprintf("start %q: %v", name, err))
	}
	stdout, all := newTail(outputBytes), newTail(outputBytes)
	cmd := &exec.Cmd{
		Path:        path,
		Args:        slices.Clone(h.Command),
		Dir:         dir,
		Env:         env,
		Stdin:       bytes.NewReader(body),
		Stdout:      io.MultiWriter(stdout, all),
		Stderr:      all,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
		WaitDelay:   drainDelay,
	}
	if err := cmd.Start(); err != nil {
		return failed(fmt.Sprintf("start %q: %s", name, startReason(err)))
	}
	pgid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() { _ = driver.WaitExited(pgid); close(exited) }()
	var expired <-chan time.Time
	if h.Timeout > 0 {
		t := time.NewTimer(h.Timeout)
		defer t.Stop()
		expired = t.C
	}
	var cut string // why the run was cut short, if it was
	select {
	case <-exited:
	case <-expired:
		cut = timedOut(h.Timeout)
	case <-ctx.Done():
		cut = reasonCancelled
	}
	if cut != "" {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-exited
	}
	// The leader is a zombie, not yet reaped: the group id is still its, so
	// what the command left running can be killed without hitting another.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	_ = cmd.Wait()

	switch {
	case cut == reasonCancelled:
		return failed(cut)
	case cut != "":
		return failed(withOutput(cut, all.bytes()))
	}
	if r, ok := parseAnswer(lastLine(stdout.bytes())); ok {
		return r
	}
	if why := exitReason(cmd.ProcessState); why != "" {
		return failed(withOutput(why, all.bytes()))
	}
	return Result{Status: Succeeded}
}

// commandEnv is shoal's environment, then h.Env (sorted, so the result is
// the same every time), then the SHOAL_ variables; exec keeps the last of
// a name given twice.
func commandEnv(h Hook, req Request, body []byte) []string {
	env := os.Environ()
	names := make([]string, 0, len(h.Env))
	for name := range h.Env {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		env = append(env, name+"="+h.Env[name])
	}
	return append(env,
		"SHOAL_HOOK_PAYLOAD="+string(body),
		"SHOAL_HOOK_STAGE="+req.LifecycleStage,
		"SHOAL_TEST_URL="+req.TestURL,
		"SHOAL_PRODUCTION_URL="+req.ProductionURL,
	)
}

// envPath is the last PATH in env: the one the command sees.
func envPath(env []string) string {
	for _, kv := range slices.Backward(env) {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			return v
		}
	}
	return ""
}

// startReason is the errno text of a failed start, without the
// "fork/exec <path>:" that the reason words itself.
func startReason(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return oneLine(err.Error(), snippetBytes)
}

// exitReason says why a command that ran failed, or "" when it exited 0.
func exitReason(ps *os.ProcessState) string {
	if ps == nil {
		return "not waited for"
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "killed by " + driver.SignalName(ws.Signal())
	}
	if code := ps.ExitCode(); code != 0 {
		return fmt.Sprintf("exit status %d", code)
	}
	return ""
}

// withOutput is why, followed by the last reasonLines non-empty lines of
// out, each on one line and cut, joined with " | ".
func withOutput(why string, out []byte) string {
	var lines []string
	for _, l := range slices.Backward(strings.Split(string(out), "\n")) {
		if len(lines) == reasonLines {
			break
		}
		if l = oneLine(l, snippetBytes); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return why
	}
	slices.Reverse(lines)
	return why + ": " + strings.Join(lines, " | ")
}

// lastLine is the last line of out that is not blank, trimmed.
func lastLine(out []byte) []byte {
	out = bytes.TrimRight(out, " \t\r\n")
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	return bytes.TrimSpace(out)
}
