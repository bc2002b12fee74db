package driver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/shoalhq/shoal/internal/clock/clocktest"
)

// Generous bounds for things that take milliseconds on an idle machine.
const (
	startTimeout = 30 * time.Second
	exitTimeout  = 30 * time.Second
)

// shTask is a spec that runs script with sh in a fresh directory.
func shTask(t *testing.T, script string) TaskSpec {
	return TaskSpec{
		ID:          "api-1",
		Command:     []string{"sh", "-c", script},
		Dir:         t.TempDir(),
		Address:     "127.0.0.1",
		StopTimeout: 30 * time.Second,
	}
}

// startTask starts spec and makes sure the task is gone when the test ends.
func startTask(t *testing.T, p *Process, spec TaskSpec) Task {
	t.Helper()
	task, err := p.Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // kill at once
		task.Stop(ctx)
	})
	return task
}

func waitLogs(t *testing.T, task Task, want string) {
	t.Helper()
	waitFor(t, startTimeout, fmt.Sprintf("%q in the task's output", want), func() bool {
		out, _ := task.Logs(0)
		return strings.Contains(string(out), want)
	})
}

func waitDone(t *testing.T, task Task) Exit {
	t.Helper()
	select {
	case <-task.Done():
		return task.Exit()
	case <-time.After(exitTimeout):
		t.Fatalf("task did not exit within %v", exitTimeout)
		return Exit{}
	}
}

// pgidOf is the task's process group, which its shim leads.
func pgidOf(task Task) int { return task.(*processTask).pgid }

// onePortAllocator hands out a single port on 127.0.0.1, so tests can see
// when it is free again.
func onePortAllocator(t *testing.T) (*PortAllocator, int) {
	port := freeRange(t, 1, "127.0.0.1")
	return NewPortAllocator(port, port, nil), port
}

func checkPortFreeAgain(t *testing.T, ports *PortAllocator, port int) {
	t.Helper()
	got, err := ports.Allocate("127.0.0.1")
	if err != nil || got != port {
		t.Fatalf("Allocate after the task = %d, %v; want %d", got, err, port)
	}
	ports.Release("127.0.0.1", got)
}

var exitCmp = cmpopts.EquateErrors()

func TestProcess_TaskGetsPortHostEnvAndIsReachable(t *testing.T) {
	linuxOnly(t, "uses 127.0.0.2")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := NewProcess(ProcessOptions{})
	task := startTask(t, p, TaskSpec{
		ID: "api-1", Command: []string{exe}, Dir: dir, Address: "127.0.0.2",
		Env: map[string]string{testRoleEnv: "http", "GREETING": "hello"},
	})
	host, port, _ := net.SplitHostPort(task.Addr())
	if host != "127.0.0.2" {
		t.Errorf("Addr() = %s, want host 127.0.0.2", task.Addr())
	}
	body := getBody(t, "http://"+task.Addr()+"/")
	if want := fmt.Sprintf("greeting=hello host=127.0.0.2 port=%s dir=%s", port, dir); body != want {
		t.Errorf("task answered %q, want %q", body, want)
	}
	waitLogs(t, task, "listening on "+task.Addr())
	// Pid is the task's own process, in the group its shim leads.
	if pgid, err := syscall.Getpgid(task.Pid()); err != nil || pgid != pgidOf(task) || task.Pid() == pgidOf(task) {
		t.Errorf("Pid() = %d in group %d (%v); want the task, not the shim %d, in the shim's group", task.Pid(), pgid, err, pgidOf(task))
	}
}

// getBody polls url until the task answers.
func getBody(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	var body string
	waitFor(t, startTimeout, "the task to answer on "+url, func() bool {
		resp, err := client.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		body = string(b)
		return err == nil
	})
	return body
}

func TestProcess_StopTrappedTermExitsWithOwnCode(t *testing.T) {
	fake := clocktest.NewFake(time.Unix(0, 0)) // never advanced: no SIGKILL
	p := NewProcess(ProcessOptions{Clock: fake})
	task := startTask(t, p, shTask(t, `trap 'echo got TERM; exit 7' TERM; echo ready; sleep 1000 & wait`))
	waitLogs(t, task, "ready")
	if diff := cmp.Diff(Exit{Code: 7}, task.Stop(context.Background()), exitCmp); diff != "" {
		t.Errorf("Stop() exit (-want +got):\n%s", diff)
	}
	waitLogs(t, task, "got TERM")
}

// The task survives SIGTERM (it traps it and carries on) until the fake clock
// passes the stop timeout; then it is killed.
func TestProcess_StopKillsTaskIgnoringTermAfterTimeout(t *testing.T) {
	fake := clocktest.NewFake(time.Unix(0, 0))
	p := NewProcess(ProcessOptions{Clock: fake})
	spec := shTask(t, `trap 'echo got TERM' TERM; echo ready; while :; do sleep 1; done`)
	spec.StopTimeout = 10 * time.Second
	task := startTask(t, p, spec)
	waitLogs(t, task, "ready")
	stopped := make(chan Exit, 1)
	go func() { stopped <- task.Stop(context.Background()) }()
	waitLogs(t, task, "got TERM")
	waitFor(t, startTimeout, "Stop to arm its timer", func() bool { return fake.Timers() == 1 })
	fake.Advance(spec.StopTimeout - time.Millisecond)
	select {
	case <-task.Done():
		t.Fatalf("task exited before the stop timeout: %v", task.Exit())
	default:
	}
	fake.Advance(time.Millisecond)
	select {
	case got := <-stopped:
		if diff := cmp.Diff(Exit{Code: -1, Signal: "SIGKILL"}, got, exitCmp); diff != "" {
			t.Errorf("Stop() exit (-want +got):\n%s", diff)
		}
	case <-time.After(exitTimeout):
		t.Fatal("Stop did not return after the stop timeout")
	}
}

// The same with the real clock and a short timeout, and a task that ignores
// SIGTERM outright (as do its children, which inherit SIG_IGN).
func TestProcess_StopKillsTaskIgnoringTermWithRealClock(t *testing.T) {
	p := NewProcess(ProcessOptions{})
	spec := shTask(t, `trap '' TERM; echo ready; sleep 1000`)
	spec.StopTimeout = 300 * time.Millisecond
	task := startTask(t, p, spec)
	waitLogs(t, task, "ready")
	start := time.Now()
	got := task.Stop(context.Background())
	if elapsed := time.Since(start); elapsed < spec.StopTimeout {
		t.Errorf("Stop returned after %v, before the stop timeout %v", elapsed, spec.StopTimeout)
	}
	if diff := cmp.Diff(Exit{Code: -1, Signal: "SIGKILL"}, got, exitCmp); diff != "" {
		t.Errorf("Stop() exit (-want +got):\n%s", diff)
	}
}

func TestProcess_StopWithCancelledContextKillsAtOnce(t *testing.T) {
	p := NewProcess(ProcessOptions{}) // real clock, and an hour to stop
	spec := shTask(t, `trap '' TERM; echo ready; sleep 1000`)
	spec.StopTimeout = time.Hour
	task := startTask(t, p, spec)
	waitLogs(t, task, "ready")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if diff := cmp.Diff(Exit{Code: -1, Signal: "SIGKILL"}, task.Stop(ctx), exitCmp); diff != "" {
		t.Errorf("Stop() exit (-want +got):\n%s", diff)
	}
}

func TestProcess_StopIsIdempotentAndConcurrent(t *testing.T) {
	p := NewProcess(ProcessOptions{})
	task := startTask(t, p, shTask(t, `sleep 1000`))
	exits := make(chan Exit, 4)
	for range 4 {
		go func() { exits <- task.Stop(context.Background()) }()
	}
	want := Exit{Code: -1, Signal: "SIGTERM"}
	for range 4 {
		if diff := cmp.Diff(want, <-exits, exitCmp); diff != "" {
			t.Errorf("Stop() exit (-want +got):\n%s", diff)
		}
	}
	if diff := cmp.Diff(want, task.Stop(context.Background()), exitCmp); diff != "" {
		t.Errorf("Stop() after exit (-want +got):\n%s", diff)
	}
}

func TestProcess_StopLeavesNoProcessInGroup(t *testing.T) {
	tests := []struct {
		name, script string
	}{
		{"grandchild", `sleep 1000 & sleep 1000`},
		{"grandchild ignoring SIGTERM", `sh -c "trap '' TERM; sleep 1000" & sleep 1000`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewProcess(ProcessOptions{})
			task := startTask(t, p, shTask(t, tt.script))
			pgid := pgidOf(task)
			waitFor(t, startTimeout, "two sleeps in the task's group", func() bool {
				return countComm(groupProcs(t, pgid), "sleep") == 2
			})
			task.Stop(context.Background())
			waitFor(t, exitTimeout, "the task's group to be empty", func() bool {
				return len(groupProcs(t, pgid)) == 0
			})
		})
	}
}

// When the task's main process exits by itself, what it left behind in its
// group is killed, as when a container's main process exits.
func TestProcess_SelfExitKillsLeftoverGroup(t *testing.T) {
	p := NewProcess(ProcessOptions{})
	spec := shTask(t, `sleep 1000 & echo ready; while [ ! -e go ]; do sleep 0.05; done; exit 3`)
	task := startTask(t, p, spec)
	pgid := pgidOf(task)
	waitLogs(t, task, "ready")
	waitFor(t, startTimeout, "the grandchild", func() bool { return countComm(groupProcs(t, pgid), "sleep") >= 1 })
	if err := os.WriteFile(filepath.Join(spec.Dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Exit{Code: 3}, waitDone(t, task), exitCmp); diff != "" {
		t.Errorf("exit (-want +got):\n%s", diff)
	}
	waitFor(t, exitTimeout, "the task's group to be empty", func() bool { return len(groupProcs(t, pgid)) == 0 })
}

func TestProcess_ReleasesPort(t *testing.T) {
	tests := []struct {
		name   string
		script string
		stop   bool
	}{
		{"after Stop", `sleep 1000`, true},
		{"after the task exits by itself", `exit 0`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ports, port := onePortAllocator(t)
			p := NewProcess(ProcessOptions{Ports: ports})
			task := startTask(t, p, shTask(t, tt.script))
			if task.Addr() != net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) {
				t.Fatalf("Addr() = %s, want port %d", task.Addr(), port)
			}
			if tt.stop {
				task.Stop(context.Background())
			}
			waitDone(t, task)
			checkPortFreeAgain(t, ports, port)
		})
	}
}

func TestProcess_StartFailsClearly(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "notexec"), "#!/bin/sh\n", 0o644)
	writeFile(t, filepath.Join(dir, "badinterp"), "#!/nonexistent/interpreter\n", 0o755)
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		command string
		dir     string
		want    string
	}{
		{"missing", "bin/catalog", dir, `task api-1: start "bin/catalog": no such file or directory (working dir ` + dir + `)`},
		{"not executable", "./notexec", dir, `task api-1: start "./notexec": permission denied (working dir ` + dir + `)`},
		{"a directory", "./sub", dir, `task api-1: start "./sub": is a directory (working dir ` + dir + `)`},
		{"not in PATH", "no-such-command-3f9a", dir, `task api-1: start "no-such-command-3f9a": executable file not found in $PATH (working dir ` + dir + `)`},
		// Found and executable, but exec fails: reported by the shim.
		{"bad interpreter", "./badinterp", dir, `task api-1: start "./badinterp": no such file or directory (working dir ` + dir + `)`},
		{"missing working dir", "sh", dir + "/nope", `task api-1: working dir ` + dir + `/nope: no such file or directory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ports, port := onePortAllocator(t)
			p := NewProcess(ProcessOptions{Ports: ports})
			spec := TaskSpec{ID: "api-1", Command: []string{tt.command}, Dir: tt.dir, Address: "127.0.0.1"}
			task, err := p.Start(context.Background(), spec)
			if err == nil {
				task.Stop(context.Background())
				t.Fatalf("Start succeeded, want error %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Start error:\n got %s\nwant %s", err, tt.want)
			}
			checkPortFreeAgain(t, ports, port)
		})
	}
}

func TestProcess_StartMissingCommandIsNotExist(t *testing.T) {
	p := NewProcess(ProcessOptions{})
	_, err := p.Start(context.Background(), TaskSpec{ID: "api-1", Command: []string{"bin/catalog"}, Dir: t.TempDir(), Address: "127.0.0.1"})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Start error %v; want one that is os.ErrNotExist", err)
	}
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func TestProcess_ExitReporting(t *testing.T) {
	tests := []struct {
		name   string
		script string
		want   Exit
	}{
		{"success", `exit 0`, Exit{Code: 0}},
		{"exit code", `exit 3`, Exit{Code: 3}},
		// Exact, not decoded as 128+9: the shim reports the real status.
		{"exit code that looks like a signal", `exit 137`, Exit{Code: 137}},
		{"killed by SIGKILL", `kill -9 $$`, Exit{Code: -1, Signal: "SIGKILL"}},
		{"killed by SIGTERM", `kill -TERM $$`, Exit{Code: -1, Signal: "SIGTERM"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewProcess(ProcessOptions{})
			task := startTask(t, p, shTask(t, tt.script))
			if diff := cmp.Diff(tt.want, waitDone(t, task), exitCmp); diff != "" {
				t.Errorf("exit (-want +got):\n%s", diff)
			}
		})
	}
}

// The headline guarantee: a fake shoal (this test binary, in another role)
// starts a task that forks a grandchild and is then killed with SIGKILL,
// which it cannot catch. The task's shim notices and stops the whole group.
func TestProcess_NoTaskOutlivesShoalKilledWithSIGKILL(t *testing.T) {
	shoal, pgid := startFakeShoal(t)
	waitFor(t, startTimeout, "the task and its grandchild", func() bool {
		return countComm(groupProcs(t, pgid), "sleep") == 2
	})
	if err := shoal.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = shoal.Wait()
	waitFor(t, exitTimeout, "the task's group to be gone", func() bool {
		return len(groupProcs(t, pgid)) == 0
	})
}

// startFakeShoal runs the test binary as a fake shoal and returns it with the
// process group of the task it started.
func startFakeShoal(t *testing.T) (*exec.Cmd, int) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), testRoleEnv+"=fake-shoal")
	stderr := NewLogBuffer(0)
	cmd.Stderr = stderr
	stdin, _ := cmd.StdinPipe() // held open: the fake shoal runs until it closes
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	pgid, err := readPgid(stdout)
	if err != nil {
		out, _ := stderr.Read(0)
		t.Fatalf("fake shoal: %v; stderr:\n%s", err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
	})
	return cmd, pgid
}

// readPgid reads "pgid <n>" from the fake shoal, which either prints it or
// exits (and so closes stdout); the test binary's timeout covers a hang.
func readPgid(r io.Reader) (int, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("reading its output: %w", err)
	}
	var pgid int
	if _, err := fmt.Sscanf(line, "pgid %d", &pgid); err != nil {
		return 0, fmt.Errorf("output %q: %w", line, err)
	}
	return pgid, nil
}

func TestProcess_ResolvesCommand(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "bin", "hello"), "#!/bin/sh\necho hello from $0 in $PWD\n", 0o755)
	tests := []struct {
		name    string
		command string
		env     map[string]string
	}{
		{"relative to the working dir", "bin/hello", nil},
		{"along the task's own PATH", "hello", map[string]string{"PATH": filepath.Join(dir, "bin") + ":/usr/bin:/bin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewProcess(ProcessOptions{})
			task := startTask(t, p, TaskSpec{ID: "api-1", Command: []string{tt.command}, Dir: dir, Address: "127.0.0.1", Env: tt.env})
			if diff := cmp.Diff(Exit{Code: 0}, waitDone(t, task), exitCmp); diff != "" {
				t.Errorf("exit (-want +got):\n%s", diff)
			}
			waitLogs(t, task, "hello from "+filepath.Join(dir, "bin", "hello")+" in "+dir)
		})
	}
}

// The write end of a task's lifeline stays with shoal alone: were it
// inherited by another task, that task would keep the first one's shim from
// noticing shoal's death. The read end stays with the shim.
func TestProcess_LifelineIsNotInherited(t *testing.T) {
	linuxOnly(t, "reads /proc/PID/fd")
	p := NewProcess(ProcessOptions{})
	first := startTask(t, p, shTask(t, `sleep 1000`))
	second := startTask(t, p, shTask(t, `sleep 1000`))
	var st syscall.Stat_t
	if err := syscall.Fstat(int(first.(*processTask).lifeline.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	pipe := fmt.Sprintf("pipe:[%d]", st.Ino)
	for _, pid := range []int{first.Pid(), second.Pid(), pgidOf(second)} {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			if link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); link == pipe {
				t.Errorf("process %d holds the first task's lifeline as fd %s", pid, fd.Name())
			}
		}
	}
}

// A stop timeout of 0 (valid in ECS and in the stack) means SIGKILL right
// after SIGTERM, not a default: the fake clock never moves here.
func TestProcess_ZeroStopTimeoutKillsRightAfterTerm(t *testing.T) {
	p := NewProcess(ProcessOptions{Clock: clocktest.NewFake(time.Unix(0, 0))})
	spec := shTask(t, `trap '' TERM; echo ready; sleep 1000`)
	spec.StopTimeout = 0
	task := startTask(t, p, spec)
	waitLogs(t, task, "ready")
	stopped := make(chan Exit, 1)
	go func() { stopped <- task.Stop(context.Background()) }()
	select {
	case got := <-stopped:
		if diff := cmp.Diff(Exit{Code: -1, Signal: "SIGKILL"}, got, exitCmp); diff != "" {
			t.Errorf("Stop() exit (-want +got):\n%s", diff)
		}
	case <-time.After(exitTimeout):
		t.Fatal("Stop with a zero stop timeout waited for the clock")
	}
}

// The task definition's container port reaches the task.
func TestProcess_ContainerPortInEnvironment(t *testing.T) {
	p := NewProcess(ProcessOptions{})
	spec := shTask(t, `echo "container port=$SHOAL_CONTAINER_PORT"; sleep 1000`)
	spec.ContainerPort = 3000
	task := startTask(t, p, spec)
	waitLogs(t, task, "container port=3000")
}
