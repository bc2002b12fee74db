package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/testkit"

	"github.com/shoalhq/shoal/internal/agent"
)

// TestEndToEnd_CatalogExample runs the real binary on the bundled example,
// as a user would: three replicas on two instances behind the load balancer;
// one replica killed with SIGKILL is replaced and the replacement takes
// traffic; stopping shoal leaves no task process and no port behind.
func TestEndToEnd_CatalogExample(t *testing.T) {
	ex := newExample(t)
	bin, state := ex.bin, ex.state
	up := ex.up(t)

	st := waitSteady(t, up, bin, state)
	url := "http://" + st.Listeners[0] + "/"
	tasks := shoalPS(t, bin, state)
	checkSpread(t, tasks)
	served := get(t, url, 30)
	if len(served) != 3 {
		t.Fatalf("30 requests were served by %d tasks (%v), want 3", len(served), served)
	}

	victim := tasks[0]
	killTask(t, victim)
	replacement := waitReplacement(t, up, bin, state, tasks, victim.ID)
	waitServedBy(t, up, url, replacement)

	all := shoalPS(t, bin, state)
	up.stop(t)
	for _, task := range all {
		checkGone(t, task)
	}
}

// TestEndToEnd_KilledShoalLeavesNoTask kills shoal itself with SIGKILL: its
// tasks must go too (each task's shim sees shoal's end), and a new shoal must
// start on the same state directory. That one is stopped by SIGHUP (a
// closed terminal), the same orderly way as Ctrl-C: it says what it waits
// for, and leaves no socket behind.
func TestEndToEnd_KilledShoalLeavesNoTask(t *testing.T) {
	ex := newExample(t)
	bin, state := ex.bin, ex.state
	up := ex.up(t)
	waitSteady(t, up, bin, state)
	tasks := shoalPS(t, bin, state)

	up.cmd.Process.Kill()
	<-up.done
	up.done <- nil
	testkit.WaitFor(t, 30*time.Second, "every task process gone and port free", func() bool {
		for _, task := range tasks {
			if syscall.Kill(task.Pid, 0) == nil || !portFree(task.Address) {
				return false
			}
		}
		return true
	})

	again := ex.up(t)
	waitSteady(t, again, bin, state)
	again.stopWith(t, syscall.SIGHUP)
	out := again.out.String()
	for _, want := range []string{
		"shoal: stopping: draining 3 targets (up to 5s), then SIGTERM to 3 tasks (up to 10s to exit, then SIGKILL); Ctrl-C again to kill now",
		"shoal: stopped",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output after SIGHUP lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Lstat(filepath.Join(state, "shoal.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("admin socket left behind after SIGHUP: %v", err)
	}
}

func portFree(addr string) bool {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// example is the bundled example, ready to run with a freshly built shoal.
type example struct{ bin, stack, state string }

func newExample(t *testing.T) example {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test builds binaries; skipped with -short")
	}
	dir := t.TempDir()
	return example{bin: buildShoal(t, dir), stack: exampleStack(t, dir), state: filepath.Join(dir, "state")}
}

// up starts `shoal up` on the example.
func (ex example) up(t *testing.T) *shoalProc {
	t.Helper()
	return startShoal(t, ex.bin, "up", "-f", ex.stack, "--state-dir", ex.state)
}

// buildShoal builds the binary under test.
func buildShoal(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "shoal")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// exampleStack writes the bundled example with two changes that let the
// test run anywhere: the listener takes a free port, and the database lives
// in the test's temporary folder. Everything else is the example as shipped.
func exampleStack(t *testing.T, dir string) string {
	t.Helper()
	src, err := os.ReadFile("../../examples/catalog/shoal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	exampleDir, err := filepath.Abs("../../examples/catalog")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	for old, repl := range map[string]string{
		"- port: 8080":                    "- port: 0",
		"DATABASE_URL: sqlite:catalog.db": "DATABASE_URL: sqlite://" + filepath.Join(dir, "catalog.db"),
		"    port: 3000":                  "    port: 3000\n    working_dir: " + exampleDir,
	} {
		if !strings.Contains(s, old) {
			t.Fatalf("example stack no longer contains %q; update the test", old)
		}
		s = strings.Replace(s, old, repl, 1)
	}
	path := filepath.Join(dir, "shoal.yaml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// shoalProc is a running `shoal up`.
type shoalProc struct {
	cmd  *exec.Cmd
	out  *testkit.Buffer
	done chan error
}

func startShoal(t *testing.T, bin string, args ...string) *shoalProc {
	t.Helper()
	p := &shoalProc{cmd: exec.Command(bin, args...), out: &testkit.Buffer{}, done: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *shoalProc) stop(t *testing.T) {
	t.Helper()
	p.stopWith(t, syscall.SIGTERM)
}

// stopWith sends sig and waits for a clean exit.
func (p *shoalProc) stopWith(t *testing.T, sig syscall.Signal) {
	t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("shoal exited with %v; output:\n%s", err, p.out)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("shoal did not stop within 60s of %v; output:\n%s", sig, p.out)
	}
}

// exited reports a premature exit of shoal.
func (p *shoalProc) exited() error {
	select {
	case err := <-p.done:
		p.done <- err
		return fmt.Errorf("shoal exited early (%v)", err)
	default:
		return nil
	}
}

func waitSteady(t *testing.T, p *shoalProc, bin, state string) agent.Status {
	t.Helper()
	var st agent.Status
	waitFor(t, p, 120*time.Second, "every service steady", func() bool {
		out, err := exec.Command(bin, "status", "--json", "--state-dir", state).Output()
		if err != nil || json.Unmarshal(out, &st) != nil || len(st.Services) == 0 {
			return false
		}
		for _, s := range st.Services {
			if !s.SteadyState {
				return false
			}
		}
		return true
	})
	return st
}

func shoalPS(t *testing.T, bin, state string, flags ...string) []agent.TaskStatus {
	t.Helper()
	out, err := exec.Command(bin, append([]string{"ps", "--json", "--state-dir", state}, flags...)...).Output()
	if err != nil {
		t.Fatalf("shoal ps: %v", err)
	}
	var tasks []agent.TaskStatus
	if err := json.Unmarshal(out, &tasks); err != nil {
		t.Fatalf("shoal ps --json: %v\n%s", err, out)
	}
	return tasks
}

func checkSpread(t *testing.T, tasks []agent.TaskStatus) {
	t.Helper()
	per := map[string]int{}
	for _, task := range tasks {
		per[task.Instance]++
		if task.LastStatus != "RUNNING" || task.Health != "healthy" {
			t.Errorf("task %s: %s/%s, want RUNNING/healthy", task.ID, task.LastStatus, task.Health)
		}
	}
	if len(tasks) != 3 || per["instance-1"] != 2 || per["instance-2"] != 1 {
		t.Fatalf("tasks per instance: %v (%d tasks), want instance-1: 2, instance-2: 1", per, len(tasks))
	}
}

// get makes n requests and counts them by the task that served each.
func get(t *testing.T, url string, n int) map[string]int {
	t.Helper()
	served := map[string]int{}
	for range n {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", url, resp.Status)
		}
		served[resp.Header.Get("X-Served-By")]++
	}
	return served
}

// killTask kills a task's application process with SIGKILL, as a crash
// would.
func killTask(t *testing.T, task agent.TaskStatus) {
	t.Helper()
	if task.Pid == 0 {
		t.Fatalf("task %s has no pid", task.ID)
	}
	if err := syscall.Kill(task.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill task %s (pid %d): %v", task.ID, task.Pid, err)
	}
}

func waitReplacement(t *testing.T, p *shoalProc, bin, state string, before []agent.TaskStatus, victim string) string {
	t.Helper()
	old := map[string]bool{}
	for _, task := range before {
		old[task.ID] = true
	}
	var replacement string
	waitFor(t, p, 60*time.Second, "a healthy replacement and the victim STOPPED", func() bool {
		replacement = ""
		victimStopped := false
		for _, task := range shoalPS(t, bin, state, "-a") {
			if !old[task.ID] && task.LastStatus == "RUNNING" && task.Health == "healthy" {
				replacement = task.ID
			}
			if task.ID == victim && task.LastStatus == "STOPPED" {
				victimStopped = strings.Contains(task.StoppedReason, "Essential container in task exited")
			}
		}
		return replacement != "" && victimStopped
	})
	return replacement
}

func waitServedBy(t *testing.T, p *shoalProc, url, task string) {
	t.Helper()
	waitFor(t, p, 30*time.Second, "a request served by "+task, func() bool {
		return get(t, url, 3)[task] > 0
	})
}

// checkGone: the task's process group has no process left, and its host
// port can be bound again.
func checkGone(t *testing.T, task agent.TaskStatus) {
	t.Helper()
	if task.Pid != 0 {
		if err := syscall.Kill(task.Pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("task %s: process %d still exists after shoal stopped (kill 0: %v)", task.ID, task.Pid, err)
		}
	}
	if task.Address == "" {
		return
	}
	if !portFree(task.Address) {
		t.Errorf("task %s: port %s still held after shoal stopped", task.ID, task.Address)
	}
}

// waitFor polls cond until it holds, failing with shoal's output after the
// deadline or if shoal exits.
func waitFor(t *testing.T, p *shoalProc, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testkit.Poll(t, timeout, what, func() (bool, error) {
		if cond() {
			return true, nil
		}
		return false, p.exited()
	}, func() string { return "output:\n" + p.out.String() })
}
