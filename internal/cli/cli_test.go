package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/testkit"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/driver"
	"github.com/shoalhq/shoal/internal/store"
)

// TestMain lets the test binary play two more parts: the task shim, and
// (with SHOAL_TEST_APP=1) a tiny web app to run as tasks.
func TestMain(m *testing.M) {
	driver.RunShimIfInvoked()
	if os.Getenv("SHOAL_TEST_APP") == "1" {
		os.Exit(testApp())
	}
	os.Exit(m.Run())
}

// testApp serves GET / with 200 and X-Served-By on HOST:PORT until SIGTERM;
// with 500 instead once a file named for its task id exists in
// $SHOAL_TEST_SICK_DIR.
func testApp() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	addr := net.JoinHostPort(os.Getenv("HOST"), os.Getenv("PORT"))
	srv := &http.Server{Addr: addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Served-By", os.Getenv("SHOAL_TASK_ID"))
		if sick := os.Getenv("SHOAL_TEST_SICK_DIR"); sick != "" {
			if _, err := os.Stat(filepath.Join(sick, os.Getenv("SHOAL_TASK_ID"))); err == nil {
				http.Error(w, "sick", http.StatusInternalServerError)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})}
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	fmt.Println("test app listening on", addr)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("test app stopped")
	return 0
}

// run calls Main and returns its exit code and output.
func run(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(ctx, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

const testStack = `name: test
load_balancers:
  web:
    listeners:
      - port: 0
        default_action:
          forward:
            target_group: app
target_groups:
  app:
    health_check:
      interval: 300ms
      timeout: 250ms
      healthy_threshold: 2
    deregistration_delay: 1s
cluster:
  instances: 2
task_definitions:
  app:
    command: [%q]
    environment:
      SHOAL_TEST_APP: "1"
    stop_timeout: 5s
services:
  web:
    task_definition: app
    desired: 2
    target_group: app
    # A race-enabled test binary on a busy machine can take a while to
    # listen: its first failed checks must not get it replaced.
    health_check_grace_period: 5s
`

func writeStack(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "shoal.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUp_ServesAndCommandsReportIt(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	stack := writeStack(t, fmt.Sprintf(testStack, exe))
	state := filepath.Join(t.TempDir(), "state")
	// up's shutdown starts os/signal's loop, a goroutine that lives as long
	// as the process; start it now so that it is in the baseline.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGWINCH)
	baseGoroutines := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var upOut, upErr testkit.Buffer
	upDone := make(chan int, 1)
	go func() { upDone <- Main(ctx, []string{"up", "-f", stack, "--state-dir", state}, &upOut, &upErr) }()

	st := waitSteady(t, state, upDone, &upErr)
	checkServedByBoth(t, "http://"+st.Listeners[0]+"/")
	tasks := checkPs(t, state)
	checkTargets(t, state)
	checkLogs(t, state, tasks[0].ID)
	streamEnded := openDashboard(t, st)

	cancel()
	select {
	case <-streamEnded:
	case <-time.After(30 * time.Second):
		t.Fatal("the dashboard's event stream did not end within 30s of cancel")
	}
	select {
	case code := <-upDone:
		if code != 0 {
			t.Fatalf("up exit code: got %d, want 0; stderr:\n%s", code, upErr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("up did not return within 30s of cancel")
	}
	http.DefaultClient.CloseIdleConnections()
	testkit.WaitFor(t, 10*time.Second, "every goroutine of up to exit", func() bool {
		return runtime.NumGoroutine() <= baseGoroutines
	})
	out := upOut.String()
	for _, want := range []string{"service web has reached a steady state.", "shoal: open http://", "shoal: stopped", "shoal: dashboard at " + st.Dashboard, "service web deregistered ",
		tasks[0].ID + " | test app listening on 127.0.0.", // each task's output, prefixed with its id
		"shoal: stopping: draining 2 targets (up to 1s), then SIGTERM to 2 tasks (up to 5s to exit, then SIGKILL)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("up output lacks %q:\n%s", want, out)
		}
	}
}

// openDashboard checks the dashboard status gives: refused without its
// token, served with it. It opens its event stream and returns a channel
// closed when the stream ends.
func openDashboard(t *testing.T, st agent.Status) <-chan struct{} {
	t.Helper()
	u, err := url.Parse(st.Dashboard)
	if err != nil || u.Query().Get("token") == "" {
		t.Fatalf("status: dashboard %q, want a URL with a token", st.Dashboard)
	}
	bare := *u
	bare.RawQuery = ""
	for _, c := range []struct {
		url  string
		want int
	}{{bare.String(), http.StatusUnauthorized}, {u.String(), http.StatusOK}} {
		resp, err := http.Get(c.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("GET %s: got %d, want %d", c.url, resp.StatusCode, c.want)
		}
	}
	events := *u
	events.Path = "/events"
	resp, err := http.Get(events.String())
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
	}()
	return ended
}

// TestUp_ReplacesTaskThatTurnsUnhealthy: real health checks find a task
// failing, the target turns unhealthy, and the service replaces the task.
func TestUp_ReplacesTaskThatTurnsUnhealthy(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sick := t.TempDir()
	body := strings.Replace(fmt.Sprintf(testStack, exe), `SHOAL_TEST_APP: "1"`, `SHOAL_TEST_APP: "1"
      SHOAL_TEST_SICK_DIR: `+sick, 1)
	stack := writeStack(t, body)
	state := filepath.Join(t.TempDir(), "state")
	ctx, cancel := context.WithCancel(context.Background())
	var upOut, upErr testkit.Buffer
	upDone := make(chan int, 1)
	go func() { upDone <- Main(ctx, []string{"up", "-q", "-f", stack, "--state-dir", state}, &upOut, &upErr) }()
	defer func() {
		cancel()
		<-upDone
	}()

	waitSteady(t, state, upDone, &upErr)
	victim := checkPs(t, state)[0]
	if err := os.WriteFile(filepath.Join(sick, victim.ID), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 60*time.Second, "the sick task replaced", func() bool {
		code, out, _ := run(t, context.Background(), "ps", "-a", "--json", "--state-dir", state)
		var tasks []agent.TaskStatus
		if code != 0 || json.Unmarshal([]byte(out), &tasks) != nil {
			return false
		}
		healthy, victimStopped := 0, false
		for _, task := range tasks {
			if task.ID == victim.ID {
				victimStopped = task.LastStatus == "STOPPED" && task.StoppedReason == "Task failed ELB health checks in (target-group app)"
			} else if task.LastStatus == "RUNNING" && task.Health == "healthy" {
				healthy++
			}
		}
		return victimStopped && healthy == 2
	})
	if out := upOut.String(); strings.Contains(out, victim.ID+" | ") {
		t.Errorf("up -q printed a task's output:\n%s", out)
	}
	if out := upOut.String(); !strings.Contains(out, "healthy → unhealthy (Target.ResponseCodeMismatch: Health checks failed with these codes: [500])") {
		t.Errorf("up output does not show the target turning unhealthy with its reason:\n%s", out)
	}
}

func waitSteady(t *testing.T, state string, upDone chan int, upErr *testkit.Buffer) agent.Status {
	t.Helper()
	var st agent.Status
	var out string
	testkit.Poll(t, 90*time.Second, "the stack to be steady", func() (bool, error) {
		select {
		case code := <-upDone:
			return false, fmt.Errorf("up exited early with %d; stderr:\n%s", code, upErr.String())
		default:
		}
		var code int
		code, out, _ = run(t, context.Background(), "status", "--json", "--state-dir", state)
		st = agent.Status{}
		return code == 0 && json.Unmarshal([]byte(out), &st) == nil && len(st.Services) == 1 && st.Services[0].SteadyState, nil
	}, func() string { return "last status: " + out })
	return st
}

func checkServedByBoth(t *testing.T, url string) {
	t.Helper()
	served := map[string]bool{}
	for range 10 {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", url, resp.Status)
		}
		served[resp.Header.Get("X-Served-By")] = true
	}
	if len(served) != 2 {
		t.Errorf("10 requests served by %v, want 2 tasks", served)
	}
}

func checkPs(t *testing.T, state string) []agent.TaskStatus {
	t.Helper()
	code, out, errOut := run(t, context.Background(), "ps", "--json", "--state-dir", state)
	if code != 0 {
		t.Fatalf("ps --json: exit %d: %s", code, errOut)
	}
	var tasks []agent.TaskStatus
	if err := json.Unmarshal([]byte(out), &tasks); err != nil {
		t.Fatal(err)
	}
	instances := map[string]bool{}
	for _, task := range tasks {
		instances[task.Instance] = true
	}
	if len(tasks) != 2 || len(instances) != 2 {
		t.Fatalf("ps: got %d tasks on %v, want 2 tasks on 2 instances", len(tasks), instances)
	}
	code, table, _ := run(t, context.Background(), "ps", "--state-dir", state)
	if code != 0 || !strings.Contains(table, "TASK") || !strings.Contains(table, tasks[0].ID) || !strings.Contains(table, "RUNNING") {
		t.Errorf("ps table (exit %d):\n%s", code, table)
	}
	return tasks
}

func checkTargets(t *testing.T, state string) {
	t.Helper()
	code, out, _ := run(t, context.Background(), "targets", "--state-dir", state)
	if code != 0 || strings.Count(out, "healthy") != 2 {
		t.Errorf("targets (exit %d): want 2 healthy targets:\n%s", code, out)
	}
}

func checkLogs(t *testing.T, state, id string) {
	t.Helper()
	code, out, errOut := run(t, context.Background(), "logs", id, "--state-dir", state)
	if code != 0 || !strings.Contains(out, "test app listening on 127.0.0.") {
		t.Errorf("logs %s (exit %d): got %q, stderr %q", id, code, out, errOut)
	}
	code, _, errOut = run(t, context.Background(), "logs", "web-nope", "--state-dir", state)
	if code != 1 || !strings.Contains(errOut, `"web-nope"`) {
		t.Errorf("logs of an unknown task: got exit %d, stderr %q; want 1 naming the task", code, errOut)
	}
}

func TestUp_BrokenStackPrintsEveryProblemAndStartsNothing(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "started")
	port := freePort(t)
	stack := writeStack(t, fmt.Sprintf(`load_balancers:
  web:
    listeners:
      - port: %d
        default_action:
          forward:
            target_group: app
target_groups:
  app:
    health_check:
      interval: 1s
      timeout: 2s
task_definitions:
  app:
    command: touch %s
services:
  web:
    task_definition: app
    desired: 1
    target_grup: app
`, port, marker))
	code, stdout, stderr := run(t, context.Background(), "up", "-f", stack, "--state-dir", filepath.Join(dir, "state"))
	if code != 1 {
		t.Fatalf("exit code: got %d, want 1", code)
	}
	for _, want := range []string{"shoal.yaml:12:7:", "timeout", "shoal.yaml:20:5:", "target_grup", "did you mean", "nothing was started"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if stdout != "" {
		t.Errorf("stdout: got %q, want nothing", stdout)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a task ran although the stack was rejected")
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Errorf("listener port %d was taken although the stack was rejected: %v", port, err)
	} else {
		ln.Close()
	}
	if _, err := os.Stat(filepath.Join(dir, "state")); err == nil {
		t.Error("state directory created although the stack was rejected")
	}
}

func TestUp_WithoutStackFileSaysHowToStart(t *testing.T) {
	t.Chdir(t.TempDir())
	state := t.TempDir()
	code, _, stderr := run(t, context.Background(), "up", "--state-dir", state)
	if code != 1 || !strings.Contains(stderr, "shoal up -f examples/catalog/shoal.yaml") {
		t.Errorf("got exit %d, stderr:\n%s\nwant 1 and a pointer to the example", code, stderr)
	}

	st, err := store.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	st.SaveDesired(store.Desired{File: "/srv/app/shoal.yaml"})
	st.Close()
	_, _, stderr = run(t, context.Background(), "up", "--state-dir", state)
	if !strings.Contains(stderr, "The last stack run with state directory "+state+" was:\n  shoal up -f /srv/app/shoal.yaml") {
		t.Errorf("stderr does not point at the last stack:\n%s", stderr)
	}
}

func TestValidate(t *testing.T) {
	good := writeStack(t, fmt.Sprintf(testStack, "/bin/true"))
	code, out, _ := run(t, context.Background(), "validate", "-f", good)
	if code != 0 || !strings.Contains(out, "is valid: stack test with 1 load balancer, 1 target group, 2 instances, 1 task definition, 1 service") {
		t.Errorf("valid stack: exit %d, stdout %q", code, out)
	}
	bad := writeStack(t, "services:\n  web:\n    desired: -1\n")
	code, _, stderr := run(t, context.Background(), "validate", "-f", bad)
	if code != 1 || !strings.Contains(stderr, "shoal.yaml:") {
		t.Errorf("invalid stack: exit %d, stderr %q", code, stderr)
	}
}

func TestClientCommands_WhenNothingRuns(t *testing.T) {
	state := t.TempDir()
	for _, cmd := range []string{"ps", "status", "targets"} {
		code, _, stderr := run(t, context.Background(), cmd, "--state-dir", state)
		if code != 1 || !strings.Contains(stderr, "shoal is not running") {
			t.Errorf("%s: got exit %d, stderr %q; want 1 and 'shoal is not running'", cmd, code, stderr)
		}
	}
}

func TestMain_UnknownCommand(t *testing.T) {
	code, _, stderr := run(t, context.Background(), "upp")
	if code != 2 || !strings.Contains(stderr, `unknown command "upp"`) {
		t.Errorf("got exit %d, stderr %q", code, stderr)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
