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
	tasks := serviceTasks(shoalPS(t, bin, state), "api")
	checkSpread(t, tasks)
	served := get(t, url, 30)
	if len(served) != 3 {
		t.Fatalf("30 requests were served by %d tasks (%v), want 3", len(served), served)
	}
	// A write through the load balancer, then every replica answers the
	// same: they share the database and the Redis cache.
	postItem(t, url, "mocha")
	if code, out := checkConsistency(t, bin, state); code != 0 || !strings.Contains(out, "all 3 tasks agree") {
		t.Errorf("check consistency after a write (exit %d):\n%s", code, out)
	}

	victim := tasks[0]
	killTask(t, victim)
	replacement := waitReplacement(t, up, bin, state, tasks, victim.ID)
	waitServedBy(t, up, url, replacement)

	// The cache stops answering: the replicas' health checks answer 503
	// rather than serve what they cannot check, and their targets turn
	// unhealthy.
	cache := serviceTasks(shoalPS(t, bin, state), "cache")[0]
	if err := syscall.Kill(cache.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, up, 60*time.Second, "an api target unhealthy with 503", func() bool {
		out, err := exec.Command(bin, "events", "--state-dir", state).Output()
		return err == nil && strings.Contains(string(out), "healthy → unhealthy (Target.ResponseCodeMismatch: Health checks failed with these codes: [503])")
	})
	syscall.Kill(cache.Pid, syscall.SIGCONT)

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
		"shoal: stopping: draining 3 targets (up to 5s), then SIGTERM to 4 tasks (up to 10s to exit, then SIGKILL); Ctrl-C again to kill now",
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

// TestEndToEnd_MemoryCachesDisagree runs the tutorial's problem on purpose:
// replicas that cache in their own memory. After a write through the load
// balancer, `shoal check consistency` finds them disagreeing, and exits 1.
func TestEndToEnd_MemoryCachesDisagree(t *testing.T) {
	ex := newExample(t)
	ex.stack = memoryStack(t, filepath.Dir(ex.stack))
	up := ex.up(t)
	st := waitSteady(t, up, ex.bin, ex.state)
	url := "http://" + st.Listeners[0] + "/"
	get(t, url, 6) // every replica has the list in its cache
	postItem(t, url, "latte")
	code, out := checkConsistency(t, ex.bin, ex.state)
	if code != 1 || !strings.Contains(out, "of 3 tasks agree") || !strings.Contains(out, "latte") {
		t.Errorf("check consistency with memory caches (exit %d), want 1 naming the new item:\n%s", code, out)
	}
	up.stop(t)
}

// memoryStack writes examples/catalog/memory.yaml with the changes
// exampleStack makes.
func memoryStack(t *testing.T, dir string) string {
	t.Helper()
	src, err := os.ReadFile("../../examples/catalog/memory.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return writeExample(t, dir, string(src), "memory.yaml")
}

// postItem adds an item through the load balancer.
func postItem(t *testing.T, url, name string) {
	t.Helper()
	resp, err := http.Post(url+"items", "application/json", strings.NewReader(`{"name":"`+name+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /items: %s", resp.Status)
	}
}

// checkConsistency runs `shoal check consistency api /`.
func checkConsistency(t *testing.T, bin, state string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, "check", "consistency", "api", "/", "--state-dir", state)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
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
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("the example runs Redis as its shared cache: install redis-server (apt-get install redis-server) to run this test")
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
	return writeExample(t, dir, string(src), "shoal.yaml")
}

// writeExample writes an example stack into dir as name, with two changes
// that let the test run anywhere: the listener takes a free port (which
// the load balancer's security group admits), and the database lives in
// dir. Everything else is the example as shipped.
func writeExample(t *testing.T, dir, s, name string) string {
	t.Helper()
	exampleDir, err := filepath.Abs("../../examples/catalog")
	if err != nil {
		t.Fatal(err)
	}
	for old, repl := range map[string]string{
		"- port: 8080":                    "- port: 0",
		"DATABASE_URL: sqlite:catalog.db": "DATABASE_URL: sqlite://" + filepath.Join(dir, "catalog.db"),
		"    port: 3000":                  "    port: 3000\n    working_dir: " + exampleDir,
	} {
		if !strings.Contains(s, old) {
			t.Fatalf("example stack %s no longer contains %q; update the test", name, old)
		}
		s = strings.Replace(s, old, repl, 1)
	}
	// The load balancer's group admits the listener's port, which the
	// test leaves to the kernel.
	s = strings.ReplaceAll(s, "{port: 8080, cidr:", "{port: all, cidr:")
	path := filepath.Join(dir, name)
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
	return startShoalIn(t, "", bin, args...)
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

// serviceTasks are the tasks of one service.
func serviceTasks(tasks []agent.TaskStatus, service string) []agent.TaskStatus {
	var out []agent.TaskStatus
	for _, task := range tasks {
		if task.Service == service {
			out = append(out, task)
		}
	}
	return out
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
	if len(tasks) != 3 || per["instance-1"]+per["instance-2"] != 3 || per["instance-1"] == 0 || per["instance-2"] == 0 {
		t.Fatalf("tasks per instance: %v (%d tasks), want 3 spread over instance-1 and instance-2", per, len(tasks))
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
