package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoalhq/shoal/internal/admin"
	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/fault"
	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/testkit"
)

// taskBackend is an admin.Backend whose tasks and their output the test
// changes while a command runs.
type taskBackend struct {
	mu    sync.Mutex
	tasks []agent.TaskStatus
	logs  map[string]string
}

// newTaskBackend: service api with two running tasks and two stopped ones
// (one killed, one that never started), service worker with one starting
// and one that exited, and service idle with none.
func newTaskBackend() *taskBackend {
	ago := func(d time.Duration) time.Time { return time.Now().Add(-d) }
	return &taskBackend{
		tasks: []agent.TaskStatus{
			{ID: "api-1f0c9a2e", Service: "api", Instance: "instance-1", Address: "127.0.0.2:40123", Pid: 4242,
				LastStatus: "RUNNING", DesiredStatus: "RUNNING", Health: "healthy", TargetGroup: "api", CreatedAt: ago(150 * time.Minute)},
			{ID: "api-77b0e1c4", Service: "api", Instance: "instance-2", Address: "127.0.0.3:40200", Pid: 4243,
				LastStatus: "ACTIVATING", DesiredStatus: "RUNNING", Health: "initial", TargetGroup: "api", CreatedAt: ago(90 * time.Second)},
			{ID: "worker-0a1b2c3d", Service: "worker", Instance: "instance-1",
				LastStatus: "PROVISIONING", DesiredStatus: "RUNNING", CreatedAt: ago(5 * time.Second)},
			{ID: "api-5e6f7a8b", Service: "api", Instance: "instance-2", Address: "127.0.0.3:40001",
				LastStatus: "STOPPED", DesiredStatus: "STOPPED", Health: "unhealthy", HealthReason: "Target.Timeout", TargetGroup: "api",
				CreatedAt: ago(3 * time.Hour), StopCode: "ServiceSchedulerInitiated",
				StoppedReason: "Task failed ELB health checks in (target-group api)", Exit: "killed by SIGKILL", ExitSignal: "SIGKILL"},
			{ID: "worker-9c8d7e6f", Service: "worker", Instance: "instance-2",
				LastStatus: "STOPPED", DesiredStatus: "STOPPED", CreatedAt: ago(10 * time.Minute), StopCode: "EssentialContainerExited",
				StoppedReason: "Essential container in task exited", Exit: "exit code 1", ExitCode: new(1)},
			{ID: "api-3c4d5e6f", Service: "api", Instance: "instance-1",
				LastStatus: "STOPPED", DesiredStatus: "STOPPED", CreatedAt: ago(4 * time.Hour), StopCode: "TaskFailedToStart",
				StoppedReason: `start "app": no such file or directory`},
		},
		logs: map[string]string{
			"api-1f0c9a2e":    "listening on 127.0.0.2:40123\nGET / 200\nhalf a li", // its last line not finished yet
			"api-77b0e1c4":    "listening on 127.0.0.3:40200\n",
			"api-5e6f7a8b":    "listening on 127.0.0.3:40001\nGET / 500\n",
			"worker-0a1b2c3d": "",
			"worker-9c8d7e6f": "panic: no queue\n",
		},
	}
}

func (b *taskBackend) Status() agent.Status {
	return agent.Status{Stack: "catalog", Services: []agent.ServiceStatus{{Name: "api"}, {Name: "idle"}, {Name: "worker"}}}
}

func (b *taskBackend) Tasks(all bool) []agent.TaskStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []agent.TaskStatus
	for _, t := range b.tasks {
		if all || t.LastStatus != "STOPPED" {
			out = append(out, t)
		}
	}
	return out
}

func (b *taskBackend) TaskLogs(id string, from int64) ([]byte, int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, ok := b.logs[id]
	if !ok {
		return nil, 0, fmt.Errorf("task %q: %w", id, agent.ErrNotFound)
	}
	return []byte(l[min(from, int64(len(l))):]), int64(len(l)), nil
}

func (b *taskBackend) Targets() []proxy.TargetHealth { return nil }
func (b *taskBackend) Events(int64) []agent.Event    { return nil }

// write appends output to a task's logs.
func (b *taskBackend) write(id, out string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.logs[id] += out
}

// start adds a running task to service api.
func (b *taskBackend) start(id, out string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tasks = append(b.tasks, agent.TaskStatus{ID: id, Service: "api", LastStatus: "RUNNING", CreatedAt: time.Now()})
	b.logs[id] = out
}

// stop marks a task STOPPED.
func (b *taskBackend) stop(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range b.tasks {
		if b.tasks[i].ID == id {
			b.tasks[i].LastStatus = "STOPPED"
		}
	}
}

func TestPs_Table(t *testing.T) {
	state, _ := serveAdmin(t, newTaskBackend())
	code, out, errOut := run(t, context.Background(), "ps", "--state-dir", state)
	want := `TASK             SERVICE  INSTANCE    ADDRESS          PID   STATUS        HEALTH   AGE  STOPPED REASON
api-1f0c9a2e     api      instance-1  127.0.0.2:40123  4242  RUNNING       healthy  2h   -
api-77b0e1c4     api      instance-2  127.0.0.3:40200  4243  ACTIVATING    initial  1m   -
worker-0a1b2c3d  worker   instance-1  -                -     PROVISIONING  -        5s   -
`
	if code != 0 || errOut != "" {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("ps (-want +got):\n%s", diff)
	}

	// -a: the stopped tasks, with how they exited (a code, a signal, or
	// nothing for one that never started) and no health.
	code, out, errOut = run(t, context.Background(), "ps", "-a", "--state-dir", state)
	want = `TASK             SERVICE  INSTANCE    ADDRESS          PID   STATUS        HEALTH   EXIT     AGE  STOPPED REASON
api-1f0c9a2e     api      instance-1  127.0.0.2:40123  4242  RUNNING       healthy  -        2h   -
api-77b0e1c4     api      instance-2  127.0.0.3:40200  4243  ACTIVATING    initial  -        1m   -
worker-0a1b2c3d  worker   instance-1  -                -     PROVISIONING  -        -        5s   -
api-5e6f7a8b     api      instance-2  127.0.0.3:40001  -     STOPPED       -        SIGKILL  3h   Task failed ELB health checks in (target-group api)
worker-9c8d7e6f  worker   instance-2  -                -     STOPPED       -        1        10m  Essential container in task exited
api-3c4d5e6f     api      instance-1  -                -     STOPPED       -        -        4h   start "app": no such file or directory
`
	if code != 0 || errOut != "" {
		t.Errorf("-a: exit %d, stderr %q", code, errOut)
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("ps -a (-want +got):\n%s", diff)
	}

	// --json prints the API's bytes, exit_code and exit_signal included.
	code, out, _ = run(t, context.Background(), "ps", "-a", "--json", "--state-dir", state)
	if diff := cmp.Diff(apiGet(t, state, "/v1/tasks?all=1"), out); code != 0 || diff != "" {
		t.Errorf("ps -a --json: exit %d, differs from the API (-api +cli):\n%s", code, diff)
	}
	for _, field := range []string{`"exit_code": 1`, `"exit_signal": "SIGKILL"`} {
		if !strings.Contains(out, field) {
			t.Errorf("ps -a --json lacks %s:\n%s", field, out)
		}
	}
}

func TestLogs_ServiceMergesItsTasks(t *testing.T) {
	state, _ := serveAdmin(t, newTaskBackend())
	// Its running tasks, oldest first, each line prefixed with the task's
	// id; an unfinished last line is printed finished.
	code, out, errOut := run(t, context.Background(), "logs", "api", "--state-dir", state)
	want := `api-1f0c9a2e | listening on 127.0.0.2:40123
api-1f0c9a2e | GET / 200
api-1f0c9a2e | half a li
api-77b0e1c4 | listening on 127.0.0.3:40200
`
	if code != 0 || errOut != "" {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("logs api (-want +got):\n%s", diff)
	}

	// -a: its stopped tasks too (the one that never started has no output).
	code, out, errOut = run(t, context.Background(), "logs", "-a", "api", "--state-dir", state)
	want = `api-5e6f7a8b | listening on 127.0.0.3:40001
api-5e6f7a8b | GET / 500
` + want
	if code != 0 || errOut != "" {
		t.Errorf("-a: exit %d, stderr %q", code, errOut)
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("logs -a api (-want +got):\n%s", diff)
	}

	// A service of the stack with no task yet: nothing, and no error.
	code, out, errOut = run(t, context.Background(), "logs", "idle", "--state-dir", state)
	if code != 0 || out != "" || errOut != "" {
		t.Errorf("logs idle: exit %d, stdout %q, stderr %q; want 0 and nothing", code, out, errOut)
	}
}

func TestLogs_TaskByUniquePrefix(t *testing.T) {
	state, _ := serveAdmin(t, newTaskBackend())
	for _, c := range []struct {
		ref, out, err string
		code          int
	}{
		{"api-1f0c9a2e", "listening on 127.0.0.2:40123\nGET / 200\nhalf a li", "", 0},
		{"api-1", "listening on 127.0.0.2:40123\nGET / 200\nhalf a li", "", 0},
		{"worker-9", "panic: no queue\n", "", 0}, // a stopped task
		{"api-", "", `shoal: ambiguous task id prefix "api-": it matches 4 tasks: api-1f0c9a2e, api-3c4d5e6f, api-5e6f7a8b, api-77b0e1c4; give more of the id` + "\n", 1},
		{"api-zz", "", "shoal: no task or service \"api-zz\": `shoal ps -a` lists the tasks and their services\n", 1},
		{"ap", "", `shoal: ambiguous task id prefix "ap": it matches 4 tasks: api-1f0c9a2e, api-3c4d5e6f, api-5e6f7a8b, api-77b0e1c4; give more of the id` + "\n", 1},
	} {
		code, out, errOut := run(t, context.Background(), "logs", c.ref, "--state-dir", state)
		if code != c.code || out != c.out || errOut != c.err {
			t.Errorf("logs %s: got exit %d, stdout %q, stderr %q\nwant exit %d, stdout %q, stderr %q", c.ref, code, out, errOut, c.code, c.out, c.err)
		}
	}
	code, _, errOut := run(t, context.Background(), "logs", "--state-dir", state)
	if code != 2 || !strings.Contains(errOut, "shoal logs takes one task id, a unique prefix of one, or a service name") {
		t.Errorf("logs without a task: exit %d, stderr %q", code, errOut)
	}
}

// startLogs runs `shoal logs args...` until ctx is cancelled or it returns.
func startLogs(ctx context.Context, args ...string) (*testkit.Buffer, *testkit.Buffer, chan int) {
	var out, errOut testkit.Buffer
	done := make(chan int, 1)
	go func() { done <- Main(ctx, append([]string{"logs"}, args...), &out, &errOut) }()
	return &out, &errOut, done
}

func TestLogs_FollowServiceInterleavesAndTakesInNewTasks(t *testing.T) {
	b := newTaskBackend()
	state, _ := serveAdmin(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errOut, done := startLogs(ctx, "-f", "api", "--state-dir", state)
	lines := func() []string { return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") }

	testkit.WaitFor(t, 10*time.Second, "the output so far", func() bool { return len(lines()) == 3 })
	b.write("api-1f0c9a2e", "ne\n")                           // finishes the line it held back
	b.start("api-0d9e8f7a", "listening on 127.0.0.2:40301\n") // a replacement task
	b.write("api-77b0e1c4", "GET / 200\n")
	testkit.WaitFor(t, 10*time.Second, "the new lines", func() bool { return len(lines()) == 6 })
	b.write("api-77b0e1c4", "shutting down\n")
	b.stop("api-77b0e1c4")
	b.write("api-0d9e8f7a", "GET / 200\n")
	testkit.WaitFor(t, 10*time.Second, "the last lines", func() bool { return len(lines()) == 8 })
	cancel()
	exitsQuietly(t, "logs -f", "cancel", done, errOut)
	got := lines()
	want := []string{
		"api-1f0c9a2e | listening on 127.0.0.2:40123",
		"api-1f0c9a2e | GET / 200",
		"api-77b0e1c4 | listening on 127.0.0.3:40200",
		"api-1f0c9a2e | half a line",
		"api-77b0e1c4 | GET / 200",
		"api-0d9e8f7a | listening on 127.0.0.2:40301",
		"api-77b0e1c4 | shutting down",
		"api-0d9e8f7a | GET / 200",
	}
	// Lines of different tasks interleave as they come; each task's keep
	// their order, and nothing is printed twice.
	if diff := cmp.Diff(slices.Sorted(slices.Values(want)), slices.Sorted(slices.Values(got))); diff != "" {
		t.Fatalf("lines (-want +got):\n%s", diff)
	}
	for _, id := range []string{"api-1f0c9a2e", "api-77b0e1c4", "api-0d9e8f7a"} {
		of := func(ls []string) []string {
			return slices.DeleteFunc(slices.Clone(ls), func(l string) bool { return !strings.HasPrefix(l, id) })
		}
		if diff := cmp.Diff(of(want), of(got)); diff != "" {
			t.Errorf("lines of %s (-want +got):\n%s", id, diff)
		}
	}
	if !strings.HasPrefix(out.String(), strings.Join(want[:3], "\n")+"\n") {
		t.Errorf("the output there was at the start does not come first:\n%s", out.String())
	}
}

func TestLogs_FollowServiceEndsWhenShoalStops(t *testing.T) {
	b := newTaskBackend()
	state, stop := serveAdmin(t, b)
	out, errOut, done := startLogs(context.Background(), "-f", "api", "--state-dir", state)
	testkit.WaitFor(t, 10*time.Second, "the output so far", func() bool { return strings.Count(out.String(), "\n") == 3 })
	stop()
	exitsQuietly(t, "logs -f", "shoal stopping", done, errOut)
	if !strings.HasSuffix(out.String(), "api-1f0c9a2e | half a li\n") {
		t.Errorf("the unfinished line was not printed when shoal stopped:\n%s", out.String())
	}
}

// TestLogs_FollowTaskKeepsItsID: a prefix is resolved once, so a task that
// starts later with the same prefix does not make the followed one
// ambiguous; following ends when the task stops.
func TestLogs_FollowTaskKeepsItsID(t *testing.T) {
	b := newTaskBackend()
	state, _ := serveAdmin(t, b)
	out, errOut, done := startLogs(context.Background(), "-f", "api-1", "--state-dir", state)
	testkit.WaitFor(t, 10*time.Second, "the output so far", func() bool { return strings.HasSuffix(out.String(), "half a li") })
	b.start("api-1a2b3c4d", "not this one\n")
	b.write("api-1f0c9a2e", "ne\n")
	testkit.WaitFor(t, 10*time.Second, "the new output", func() bool { return strings.HasSuffix(out.String(), "half a line\n") })
	b.write("api-1f0c9a2e", "bye\n")
	b.stop("api-1f0c9a2e")
	exitsQuietly(t, "logs -f", "the task stopping", done, errOut)
	if want := "listening on 127.0.0.2:40123\nGET / 200\nhalf a line\nbye\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

func TestVersion(t *testing.T) {
	code, out, errOut := run(t, context.Background(), "version")
	if code != 0 || errOut != "" || !strings.HasPrefix(out, "shoal dev (go") || !strings.HasSuffix(out, ")\n") {
		t.Errorf("version: exit %d, stdout %q, stderr %q; want shoal dev (go...)", code, out, errOut)
	}
	for _, args := range [][]string{{"--version"}, {"-version"}} {
		code2, out2, _ := run(t, context.Background(), args...)
		if code2 != 0 || out2 != out {
			t.Errorf("%s: exit %d, stdout %q; want what `shoal version` prints, %q", args[0], code2, out2, out)
		}
	}
	if code, _, errOut := run(t, context.Background(), "version", "extra"); code != 2 || !strings.Contains(errOut, "shoal version takes no arguments") {
		t.Errorf("version extra: exit %d, stderr %q; want 2", code, errOut)
	}
}

func TestVersionLine(t *testing.T) {
	checkout := []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "1acaa5a32246f92983b519761aee664b8cd5de29"}, {Key: "vcs.modified", Value: "false"}}
	dirty := append(slices.Clone(checkout[:2]), debug.BuildSetting{Key: "vcs.modified", Value: "true"})
	info := func(mainVersion string, settings []debug.BuildSetting) *debug.BuildInfo {
		return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/shoalhq/shoal", Version: mainVersion}, Settings: settings}
	}
	for _, c := range []struct {
		name, version string
		bi            *debug.BuildInfo
		want          string
	}{
		{"make build", "v1.2.0-3-g1acaa5a-dirty", info("(devel)", dirty), "shoal v1.2.0-3-g1acaa5a-dirty (go1.26.8)"},
		{"go build, GOFLAGS=-buildvcs=false", "dev", info("(devel)", nil), "shoal dev (go1.26.8)"},
		{"go build in a checkout", "dev", info("v0.0.0-20261201202113-1acaa5a32246", checkout), "shoal dev (go1.26.8, vcs 1acaa5a)"},
		{"go build with changes", "dev", info("v0.0.0-20261201202113-1acaa5a32246+dirty", dirty), "shoal dev (go1.26.8, vcs 1acaa5a-dirty)"},
		{"go build of a tag", "dev", info("v1.2.0", checkout), "shoal v1.2.0 (go1.26.8, vcs 1acaa5a)"},
		{"go install @v1.2.0", "dev", info("v1.2.0", nil), "shoal v1.2.0 (go1.26.8)"},
		{"go install @commit", "dev", info("v1.2.1-0.20261201202113-1acaa5a32246", nil), "shoal v1.2.1-0.20261201202113-1acaa5a32246 (go1.26.8)"},
		{"no build info", "dev", nil, "shoal dev"},
	} {
		if got := versionLine(c.version, c.bi); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

// TestUp_PsAndLogsOfAKilledTask runs a real stack: ps shows each task's pid,
// logs merges a service's tasks and follows its replacement, and ps -a shows
// the task killed with SIGKILL with its signal and no health.
func TestUp_PsAndLogsOfAKilledTask(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Health checks patient enough for a loaded machine: a task replaced
	// for a slow check would add tasks this test does not expect.
	body := strings.NewReplacer("interval: 200ms", "interval: 1s", "timeout: 100ms", "timeout: 900ms").Replace(fmt.Sprintf(testStack, exe))
	stack := writeStack(t, body)
	state := filepath.Join(t.TempDir(), "state")
	ctx, cancel := context.WithCancel(context.Background())
	var upOut, upErr testkit.Buffer
	upDone := make(chan int, 1)
	go func() { upDone <- Main(ctx, []string{"up", "-f", stack, "--state-dir", state}, &upOut, &upErr) }()
	defer func() {
		cancel()
		<-upDone
	}()
	waitSteady(t, state, upDone, &upErr)
	tasks := checkPs(t, state)
	var all []agent.TaskStatus // stopped ones too: prefixes are matched against them
	if _, out, _ := run(t, context.Background(), "ps", "-a", "--json", "--state-dir", state); json.Unmarshal([]byte(out), &all) != nil {
		t.Fatalf("ps -a --json: %s", out)
	}

	_, table, _ := run(t, context.Background(), "ps", "--state-dir", state)
	for _, task := range tasks {
		if f := strings.Fields(psRow(table, task.ID)); task.Pid == 0 || len(f) < 6 || f[4] != fmt.Sprint(task.Pid) || f[5] != "RUNNING" {
			t.Errorf("ps does not show task %s's pid %d:\n%s", task.ID, task.Pid, table)
		}
	}

	// The service's output, each line with its task id; a task by a unique
	// prefix of its id.
	_, out, _ := run(t, context.Background(), "logs", "web", "--state-dir", state)
	for _, task := range tasks {
		if want := task.ID + " | test app listening on " + task.Address + "\n"; !strings.Contains(out, want) {
			t.Errorf("logs web lacks %q:\n%s", want, out)
		}
	}
	a, b := tasks[0].ID, tasks[1].ID
	common, unique := 0, 0 // the prefix a and b share; the shortest only a has
	for common < len(a) && a[common] == b[common] {
		common++
	}
	for _, task := range all {
		n := 0
		for n < len(a) && n < len(task.ID) && a[n] == task.ID[n] {
			n++
		}
		if task.ID != a {
			unique = max(unique, n+1)
		}
	}
	code, out, errOut := run(t, context.Background(), "logs", a[:unique], "--state-dir", state)
	if code != 0 || out != "test app listening on "+tasks[0].Address+"\n" {
		t.Errorf("logs %s: exit %d, stdout %q, stderr %q; want %s's output", a[:unique], code, out, errOut, a)
	}
	code, _, errOut = run(t, context.Background(), "logs", a[:common], "--state-dir", state)
	if code != 1 || !strings.Contains(errOut, "ambiguous task id prefix") || !strings.Contains(errOut, a) || !strings.Contains(errOut, b) {
		t.Errorf("logs %s: exit %d, stderr %q; want 1 naming both tasks", a[:common], code, errOut)
	}

	// Follow the service, kill a task: its replacement's output comes in.
	followCtx, stopFollowing := context.WithCancel(context.Background())
	defer stopFollowing()
	followed, followErr, followDone := startLogs(followCtx, "-f", "web", "--state-dir", state)
	testkit.WaitFor(t, 10*time.Second, "the output of both tasks", func() bool { return strings.Count(followed.String(), "\n") >= 2 })
	victim := tasks[0]
	if err := syscall.Kill(victim.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var stopped agent.TaskStatus
	testkit.WaitFor(t, 30*time.Second, "the killed task STOPPED and replaced", func() bool {
		code, out, _ := run(t, context.Background(), "ps", "-a", "--json", "--state-dir", state)
		var all []agent.TaskStatus
		if code != 0 || json.Unmarshal([]byte(out), &all) != nil {
			return false
		}
		running := 0
		for _, task := range all {
			if task.ID == victim.ID {
				stopped = task
			} else if task.LastStatus == "RUNNING" {
				running++
			}
		}
		return stopped.LastStatus == "STOPPED" && running == 2
	})
	if stopped.ExitSignal != "SIGKILL" || stopped.ExitCode != nil || stopped.Exit != "killed by SIGKILL" {
		t.Errorf("killed task: exit_signal %q, exit_code %v, exit %q; want SIGKILL", stopped.ExitSignal, stopped.ExitCode, stopped.Exit)
	}
	_, table, _ = run(t, context.Background(), "ps", "-a", "--state-dir", state)
	row := psRow(table, victim.ID)
	if f := strings.Fields(row); len(f) < 9 || f[4] != "-" || f[5] != "STOPPED" || f[6] != "-" || f[7] != "SIGKILL" {
		t.Errorf("ps -a row of the killed task: got %q, want no pid, STOPPED, no health, SIGKILL:\n%s", row, table)
	}
	testkit.Poll(t, 10*time.Second, "the replacement's output in logs -f web", func() (bool, error) {
		for line := range strings.Lines(followed.String()) {
			id, rest, _ := strings.Cut(line, " | ")
			if id != a && id != b && strings.HasPrefix(rest, "test app listening on ") {
				return true, nil
			}
		}
		return false, nil
	}, func() string { return "logs -f web printed:\n" + followed.String() + "stderr: " + followErr.String() })
	stopFollowing()
	if code := <-followDone; code != 0 || followErr.String() != "" {
		t.Errorf("logs -f web: exit %d, stderr %q", code, followErr.String())
	}
}

// psRow is the line of the ps table that shows task id.
func psRow(table, id string) string {
	for line := range strings.Lines(table) {
		if strings.HasPrefix(line, id+" ") {
			return line
		}
	}
	return ""
}

// The control endpoints are not under test here.
func (b *taskBackend) DeployStack(context.Context, admin.StackRequest) ([]agent.Started, error) {
	return nil, errors.New("not in this test")
}
func (b *taskBackend) Services() []agent.ServiceStatus     { return nil }
func (b *taskBackend) SetDesired(string, int) error        { return errors.New("not in this test") }
func (b *taskBackend) Instances() []agent.InstanceStatus   { return nil }
func (b *taskBackend) InstanceAction(string, string) error { return errors.New("not in this test") }

func (b *taskBackend) InjectFault(fault.Request) (fault.Fault, error) {
	return fault.Fault{}, errors.New("not in this test")
}
func (b *taskBackend) Faults() []fault.Fault    { return nil }
func (b *taskBackend) RemoveFault(string) error { return errors.New("not in this test") }

func (b *taskBackend) Rules() []proxy.ListenerRules { return nil }
func (b *taskBackend) Explain(proxy.ExplainRequest) (proxy.Explanation, error) {
	return proxy.Explanation{}, errors.New("not in this test")
}

func (b *taskBackend) SecurityGroups() agent.SecurityView { return agent.SecurityView{} }
