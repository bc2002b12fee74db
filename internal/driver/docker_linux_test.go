//go:build linux

package driver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	cerrdefs "github.com/containerd/errdefs"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/shoalhq/shoal/internal/testkit"
)

// These tests run against the Docker engine that DOCKER_HOST (or the
// default socket) names. Without one they are skipped, unless CI is set:
// then they fail. They never pull: their image is built FROM scratch, once
// per run of the test binary, from testdata/docker/app.

// Environment of the test binary run as a fake shoal by
// TestDocker_WatchdogStopsContainersWhenShoalDies.
const (
	watchdogHelperEnv = "SHOAL_DOCKER_WATCHDOG_HELPER" // the state dir
	helperImageEnv    = "SHOAL_DOCKER_TEST_IMAGE"
	helperReady       = "watchdog helper ready"
)

// dockerStartTimeout bounds a task's start: creating and starting
// containers takes the engine a second or so each on a busy machine.
const dockerStartTimeout = 2 * time.Minute

// appImage is the test image, built once per run of the test binary.
var appImage struct {
	once sync.Once
	tag  string
	err  error
}

// testEngine returns a client of the engine, closed when the test ends,
// or skips the test (fails it under CI) when no engine answers.
func testEngine(t *testing.T) *client.Client {
	t.Helper()
	cli, err := connectEngine(context.Background())
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no Docker engine (CI is set, so this fails): %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// dockerForTest returns a driver for a state dir of the test's own, and
// the test image. Every container of that state dir is removed when the
// test ends, whatever happened.
func dockerForTest(t *testing.T) (*Docker, string) {
	t.Helper()
	testEngine(t).Close() // only to skip without an engine; the cleanup's Close is harmless
	stateDir := t.TempDir()
	t.Cleanup(func() { removeByLabel(t, stateDir) }) // after d.Close: cleanups run last first
	d := newTestDocker(t, stateDir)
	return d, testImage(t, d)
}

// newTestDocker returns a driver for stateDir, closed when the test ends;
// its log is shown when the test fails.
func newTestDocker(t *testing.T, stateDir string) *Docker {
	t.Helper()
	var logs testkit.Buffer
	lo, hi, _ := KernelEphemeralRange()
	d, err := NewDocker(context.Background(), DockerOptions{
		Ports:    NewPortAllocator(lo, hi, nil),
		Stack:    "test",
		StateDir: stateDir,
		Logger:   slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if t.Failed() {
			t.Logf("driver log:\n%s", logs.String())
		}
	})
	return d
}

// removeByLabel removes every container of stateDir, with a client of
// its own that it closes.
func removeByLabel(t *testing.T, stateDir string) {
	cli, err := connectEngine(context.Background())
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	defer cli.Close()
	list, err := listOwned(context.Background(), cli, stateDir)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	for _, c := range list {
		if err := cli.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true}); err != nil {
			t.Errorf("cleanup: remove %s: %v", summaryName(c), err)
		}
	}
}

// testImage builds the test image once per run of the test binary, with d.
func testImage(t *testing.T, d *Docker) string {
	t.Helper()
	appImage.once.Do(func() { appImage.tag, appImage.err = buildAppImage(d) })
	if appImage.err != nil {
		t.Fatalf("building the test image: %v", appImage.err)
	}
	return appImage.tag
}

// buildAppImage compiles testdata/docker/app statically and builds an
// image FROM scratch of it. -trimpath keeps the binary, and so the image's
// tag, the same from run to run: the image is built once per change.
func buildAppImage(d *Docker) (string, error) {
	dir, err := os.MkdirTemp("", "shoal-docker-test-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	ctxDir := filepath.Join(dir, "shoal-test-app")
	cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(ctxDir, "app"), "./testdata/docker/app")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	dockerfile := "FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\n"
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return "", err
	}
	var out testkit.Buffer
	tag, err := d.Build(context.Background(), ctxDir, "", &out)
	if err != nil {
		return "", fmt.Errorf("%v\n%s", err, out.String())
	}
	return tag, nil
}

// taskID is a task id unique to this run, so that container names never
// clash with those of another test or run.
func taskID(name string) string { return fmt.Sprintf("%s-%08x", name, rand.Uint32()) }

// web is an essential container serving HTTP on container port 8080,
// published on a dynamic host port. Its stop timeout gives it time to act
// on SIGTERM (print "got SIGTERM", exit 0): with none, the engine sends
// SIGKILL right behind SIGTERM, and under load the container ends killed
// mid-exit (the engine then says exit code 255 or 137).
func web(img string) ContainerSpec {
	return ContainerSpec{Name: "web", Image: img, Essential: true, StopTimeout: 10 * time.Second,
		PortMappings: []PortMapping{{ContainerPort: 8080}}}
}

// startTask starts spec with d, and kills the task when the test ends if
// the test has not stopped it.
func startDockerTask(t *testing.T, d *Docker, spec TaskSpec) *dockerTask {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), dockerStartTimeout)
	defer cancel()
	task, err := d.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kill(task) })
	return task.(*dockerTask)
}

// kill stops task at once.
func kill(task Task) Exit {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return task.Stop(ctx)
}

// appInfo is what the app answers on /.
type appInfo struct {
	Args []string
	Env  []string
	Dir  string
	UID  int
	GID  int
}

// httpClient keeps no connection open: a test that checks for leaked
// goroutines must not find its own.
var httpClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

// getInfo asks the app at addr what it was given, waiting for it to
// listen: the engine's proxy accepts connections before the app does.
func getInfo(t *testing.T, addr string) appInfo {
	t.Helper()
	var info appInfo
	testkit.Poll(t, startTimeout, "the app to answer on "+addr, func() (bool, error) {
		resp, err := httpClient.Get("http://" + addr + "/")
		if err != nil {
			return false, nil
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&info) == nil, nil
	}, nil)
	return info
}

// inspect inspects the task's container name.
func inspect(t *testing.T, d *Docker, task *dockerTask, name string) container.InspectResponse {
	t.Helper()
	ins, err := d.cli.ContainerInspect(context.Background(), task.container(name).id)
	if err != nil {
		t.Fatal(err)
	}
	return ins
}

// awaitDone waits for the task to end.
func awaitDone(t *testing.T, task Task) Exit {
	t.Helper()
	select {
	case <-task.Done():
		return task.Exit()
	case <-time.After(exitTimeout):
		t.Fatalf("task did not end within %v", exitTimeout)
		return Exit{}
	}
}

// portsInUse counts the ports the allocator has handed out on addr.
func portsInUse(a *PortAllocator, addr string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.used[addr])
}

// checkGone fails the test if the task's containers still exist.
func checkGone(t *testing.T, d *Docker, task *dockerTask) {
	t.Helper()
	for _, c := range task.containers {
		if _, err := d.cli.ContainerInspect(context.Background(), c.id); !cerrdefs.IsNotFound(err) {
			t.Errorf("container %s still exists (inspect: %v)", c.name, err)
		}
	}
}

func TestDocker_ServesOnAllocatedPort(t *testing.T) {
	d, img := dockerForTest(t)
	for _, addr := range []string{"127.0.0.2", "127.0.0.1"} {
		t.Run(addr, func(t *testing.T) {
			c := web(img)
			c.EntryPoint = []string{"/app", "serve"}
			c.Command = []string{"extra-arg"}
			c.Env = map[string]string{"GREETING": "hello"}
			c.WorkingDir = "/work"
			c.User = "1234:1235"
			spec := TaskSpec{ID: taskID("serve"), Address: addr, ContainerPort: 8080,
				Containers: []ContainerSpec{c}, Labels: map[string]string{"team": "blue"}}
			task := startDockerTask(t, d, spec)

			if !strings.HasPrefix(task.Addr(), addr+":") || strings.HasSuffix(task.Addr(), ":8080") {
				t.Fatalf("Addr() = %q, want %s:<dynamic port>", task.Addr(), addr)
			}
			info := getInfo(t, task.Addr())
			if want := []string{"/app", "serve", "extra-arg"}; !slices.Equal(info.Args, want) {
				t.Errorf("args %q, want %q", info.Args, want)
			}
			for _, kv := range []string{"GREETING=hello", "PORT=8080"} {
				if !slices.Contains(info.Env, kv) {
					t.Errorf("env %q lacks %s", info.Env, kv)
				}
			}
			if info.Dir != "/work" || info.UID != 1234 || info.GID != 1235 {
				t.Errorf("dir %q uid %d gid %d, want /work 1234 1235", info.Dir, info.UID, info.GID)
			}
			ins := inspect(t, d, task, "web")
			want := map[string]string{"team": "blue", labelStack: "test", labelStateDir: d.stateDir,
				labelTask: spec.ID, labelContainer: "web"}
			for k, v := range want {
				if got := ins.Config.Labels[k]; got != v {
					t.Errorf("label %s = %q, want %q", k, got, v)
				}
			}
			if bs := ins.HostConfig.PortBindings["8080/tcp"]; len(bs) != 1 || bs[0].HostIP != addr {
				t.Errorf("port bindings %+v, want one on %s", bs, addr)
			}
			if task.Pid() <= 0 || task.Pid() != ins.State.Pid {
				t.Errorf("Pid() = %d, want the container's %d", task.Pid(), ins.State.Pid)
			}
			if cpu, err := task.CPUTime(); err != nil || cpu <= 0 {
				t.Errorf("CPUTime() = %v, %v; want some time", cpu, err)
			}
		})
	}
}

func TestDocker_Stop(t *testing.T) {
	d, img := dockerForTest(t)
	tests := []struct {
		name       string
		ignoreTerm bool
		cancelled  bool // Stop with a ctx already done
		want       Exit
		min, max   time.Duration
	}{
		{name: "exits on SIGTERM", want: Exit{Code: 0}, max: 5 * time.Second},
		{name: "ignores SIGTERM", ignoreTerm: true, want: Exit{Code: -1, Signal: "SIGKILL"}, min: time.Second, max: 10 * time.Second},
		{name: "cancelled ctx kills at once", ignoreTerm: true, cancelled: true, want: Exit{Code: -1, Signal: "SIGKILL"}, max: 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := web(img)
			c.StopTimeout = 0 // the task's applies
			if tt.ignoreTerm {
				c.Env = map[string]string{"APP_IGNORE_TERM": "1"}
			}
			spec := TaskSpec{ID: taskID("stop"), Address: "127.0.0.1", StopTimeout: time.Second, Containers: []ContainerSpec{c}}
			if tt.cancelled {
				spec.StopTimeout = time.Minute
			}
			task := startDockerTask(t, d, spec)
			getInfo(t, task.Addr()) // running, and its signal handling set up
			ctx, cancel := context.WithCancel(context.Background())
			if tt.cancelled {
				cancel()
			}
			defer cancel()
			start := time.Now()
			exit := task.Stop(ctx)
			took := time.Since(start)
			if exit.Code != tt.want.Code || exit.Signal != tt.want.Signal || exit.Err != nil {
				t.Errorf("Stop = %+v, want %+v", exit, tt.want)
			}
			if took < tt.min || took > tt.max {
				t.Errorf("Stop took %v, want %v to %v", took, tt.min, tt.max)
			}
			if again := task.Stop(context.Background()); again != exit {
				t.Errorf("second Stop = %+v, want %+v", again, exit)
			}
			checkGone(t, d, task)
			if n := portsInUse(d.ports, "127.0.0.1"); n != 0 {
				t.Errorf("%d ports still allocated", n)
			}
		})
	}
}

func TestDocker_OutOfMemory(t *testing.T) {
	d, img := dockerForTest(t)
	info, err := d.cli.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !info.MemoryLimit {
		t.Skip("the engine cannot limit memory here (docker info: MemoryLimit false)")
	}
	c := ContainerSpec{Name: "hog", Image: img, Essential: true, Command: []string{"oom"}, Memory: 8}
	task := startDockerTask(t, d, TaskSpec{ID: taskID("oom"), Address: "127.0.0.1", Containers: []ContainerSpec{c}})
	exit := awaitDone(t, task)
	if exit.Reason != oomReason || exit.Code != 137 {
		t.Errorf("exit %+v, want code 137 and reason %q", exit, oomReason)
	}
}

func TestDocker_EssentialExitEndsTask(t *testing.T) {
	d, img := dockerForTest(t)
	main := ContainerSpec{Name: "main", Image: img, Essential: true, Command: []string{"exit", "3", "3s"}}
	side := ContainerSpec{Name: "side", Image: img}
	task := startDockerTask(t, d, TaskSpec{ID: taskID("essential"), Address: "127.0.0.1", StopTimeout: 10 * time.Second,
		Containers: []ContainerSpec{main, side}})
	exit := awaitDone(t, task)
	if exit != (Exit{Code: 3}) {
		t.Errorf("exit %+v, want code 3", exit)
	}
	if logs, _ := task.Logs(0); !strings.Contains(string(logs), "side | got SIGTERM\n") {
		t.Errorf("the other container was not stopped with SIGTERM; logs:\n%s", logs)
	}
	checkGone(t, d, task)
}

func TestDocker_NonEssentialExitDoesNotEndTask(t *testing.T) {
	d, img := dockerForTest(t)
	job := ContainerSpec{Name: "job", Image: img, Command: []string{"exit", "4"}}
	task := startDockerTask(t, d, TaskSpec{ID: taskID("nonessential"), Address: "127.0.0.1",
		Containers: []ContainerSpec{web(img), job}})
	select {
	case <-task.container("job").exited:
	case <-time.After(exitTimeout):
		t.Fatal("the job did not exit")
	}
	getInfo(t, task.Addr())
	select {
	case <-task.Done():
		t.Fatalf("the task ended with its non-essential container: %+v", task.Exit())
	default:
	}
	if exit := task.Stop(context.Background()); exit != (Exit{Code: 0}) {
		t.Errorf("Stop = %+v, want code 0 (web exits 0 on SIGTERM)", exit)
	}
}

func TestDocker_DependsOn(t *testing.T) {
	d, img := dockerForTest(t)
	check := &HealthCheck{Command: []string{"CMD", "/app", "check"}, Interval: 300 * time.Millisecond, Timeout: 2 * time.Second, Retries: 1}
	db := ContainerSpec{Name: "db", Image: img, Essential: true, HealthCheck: check}
	migrate := ContainerSpec{Name: "migrate", Image: img, Command: []string{"exit", "0", "1s"}}
	app := web(img)
	app.DependsOn = []ContainerDependency{{Container: "migrate", Condition: DependSuccess}, {Container: "db", Condition: DependHealthy}}
	side := ContainerSpec{Name: "side", Image: img, DependsOn: []ContainerDependency{{Container: "web", Condition: DependStart}}}
	// Listed against the start order, to show the dependencies decide it.
	task := startDockerTask(t, d, TaskSpec{ID: taskID("deps"), Address: "127.0.0.1",
		Containers: []ContainerSpec{side, app, migrate, db}})

	var names []string
	for _, c := range task.containers {
		names = append(names, c.spec.Name)
	}
	if want := []string{"migrate", "db", "web", "side"}; !slices.Equal(names, want) {
		t.Errorf("start order %q, want %q", names, want)
	}
	started := func(name string) time.Time { return parseTime(t, inspect(t, d, task, name).State.StartedAt) }
	migrated := parseTime(t, inspect(t, d, task, "migrate").State.FinishedAt)
	if web := started("web"); web.Before(migrated) {
		t.Errorf("web started at %v, before migrate finished at %v", web, migrated)
	}
	// The engine runs the first check an interval after the start; the
	// log of checks keeps only the last five, too few to find the first.
	if web, db := started("web"), started("db"); web.Sub(db) < check.Interval {
		t.Errorf("web started %v after db, before db's first health check", web.Sub(db))
	}
	if started("side").Before(started("web")) {
		t.Errorf("side started before web")
	}
}

func parseTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestDocker_DependsOnSuccessFailsStart(t *testing.T) {
	d, img := dockerForTest(t)
	migrate := ContainerSpec{Name: "migrate", Image: img, Command: []string{"exit", "5"}}
	app := web(img)
	app.DependsOn = []ContainerDependency{{Container: "migrate", Condition: DependSuccess}}
	ctx, cancel := context.WithTimeout(context.Background(), dockerStartTimeout)
	defer cancel()
	task, err := d.Start(ctx, TaskSpec{ID: taskID("fail"), Address: "127.0.0.1", Containers: []ContainerSpec{migrate, app}})
	if err == nil {
		kill(task)
		t.Fatal("Start succeeded though migrate exited 5")
	}
	t.Logf("Start: %v", err)
	if !strings.Contains(err.Error(), `depends on "migrate" exiting successfully, but it ended with exit code 5`) {
		t.Errorf("error %q does not say why", err)
	}
	if list, _ := listOwned(ctx, d.cli, d.stateDir); len(list) != 0 {
		t.Errorf("%d containers left after a failed start", len(list))
	}
	if n := portsInUse(d.ports, "127.0.0.1"); n != 0 {
		t.Errorf("%d ports still allocated", n)
	}
}

func TestDocker_Health(t *testing.T) {
	d, img := dockerForTest(t)
	c := web(img)
	c.HealthCheck = &HealthCheck{Command: []string{"CMD", "/app", "check"}, Interval: 300 * time.Millisecond, Timeout: 2 * time.Second, Retries: 2}
	var mu sync.Mutex
	var changes []ContainerHealth
	spec := TaskSpec{ID: taskID("health"), Address: "127.0.0.1", Containers: []ContainerSpec{c},
		OnHealth: func(h ContainerHealth) { mu.Lock(); changes = append(changes, h); mu.Unlock() }}
	task := startDockerTask(t, d, spec)
	waitHealth := func(want ContainerHealth) {
		t.Helper()
		waitFor(t, exitTimeout, "health "+string(want), func() bool { h, _ := task.Health(); return h == want })
	}
	waitHealth(HealthHealthy)
	resp, err := httpClient.Get("http://" + task.Addr() + "/set-health?ok=0")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitHealth(HealthUnhealthy)
	if _, failure := task.Health(); failure != "exit status 1: unhealthy: status 500" {
		t.Errorf("failure %q, want the check's exit status and output", failure)
	}
	kill(task)
	mu.Lock()
	defer mu.Unlock()
	if want := []ContainerHealth{HealthHealthy, HealthUnhealthy}; !slices.Equal(changes, want) {
		t.Errorf("OnHealth calls %q, want %q", changes, want)
	}
}

func TestDocker_CannotPullContainerError(t *testing.T) {
	d, _ := dockerForTest(t)
	ref := "127.0.0.1:1/nope:1" // a registry that refuses at once: no network is touched
	var out testkit.Buffer
	c := ContainerSpec{Name: "app", Image: ref, Essential: true}
	task, err := d.Start(context.Background(), TaskSpec{ID: taskID("pull"), Address: "127.0.0.1", Containers: []ContainerSpec{c}, Output: &out})
	if err == nil {
		kill(task)
		t.Fatal("Start succeeded with an image that cannot be pulled")
	}
	t.Logf("Start: %v", err)
	var pe *PullError
	if !strings.HasPrefix(err.Error(), `CannotPullContainerError: pull image "127.0.0.1:1/nope:1": `) || !errors.As(err, &pe) {
		t.Errorf("error %q, want a CannotPullContainerError naming the image", err)
	}
	if !strings.Contains(out.String(), "pulling image "+ref) {
		t.Errorf("output %q does not tell of the pull", out.String())
	}
}

func TestDocker_BuildSkipsUnchangedContext(t *testing.T) {
	d, _ := dockerForTest(t)
	dir := filepath.Join(t.TempDir(), "Hello World")
	writeFiles(t, dir, map[string]string{
		"Dockerfile":    "FROM scratch\nCOPY hello.txt /\n",
		"hello.txt":     fmt.Sprintf("hello %x\n", rand.Uint64()), // a new image every run
		".dockerignore": "*.log\n",
		"build.log":     "ignored",
	})
	var out1 testkit.Buffer
	tag, err := d.Build(context.Background(), dir, "Dockerfile", &out1)
	if err != nil {
		t.Fatalf("%v\n%s", err, out1.String())
	}
	t.Cleanup(func() { _, _ = d.cli.ImageRemove(context.Background(), tag, image.RemoveOptions{Force: true}) })
	if !regexp.MustCompile(`^shoal-build/hello-world:[0-9a-f]{12}$`).MatchString(tag) {
		t.Errorf("tag %q, want shoal-build/hello-world:<12 hex>", tag)
	}
	if !strings.Contains(out1.String(), "COPY hello.txt") {
		t.Errorf("build output %q lacks the steps", out1.String())
	}
	writeFiles(t, dir, map[string]string{"build.log": "changed, and still ignored"})
	var out2 testkit.Buffer
	start := time.Now()
	again, err := d.Build(context.Background(), dir, "", &out2)
	if err != nil || again != tag {
		t.Fatalf("second Build = %q, %v; want %q", again, err, tag)
	}
	if took := time.Since(start); took > 5*time.Second || !strings.Contains(out2.String(), "up to date") {
		t.Errorf("second Build took %v and said %q: it built again", took, out2.String())
	}
}

func TestDocker_BuildBrokenDockerfile(t *testing.T) {
	d, _ := dockerForTest(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch\nFROBNICATE everything\n"})
	_, err := d.Build(context.Background(), dir, "", nil)
	if err == nil {
		t.Fatal("Build succeeded with a broken Dockerfile")
	}
	t.Logf("Build: %v", err)
	want := "docker build with " + filepath.Join(dir, "Dockerfile") + " failed: "
	if !strings.HasPrefix(err.Error(), want) || !strings.Contains(strings.ToLower(err.Error()), "frobnicate") {
		t.Errorf("error %q, want it to start %q and quote the engine", err, want)
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDocker_Logs(t *testing.T) {
	base := runtime.NumGoroutine()
	d, img := dockerForTest(t)
	for _, several := range []bool{false, true} {
		t.Run(fmt.Sprintf("several=%v", several), func(t *testing.T) {
			cs := []ContainerSpec{web(img)}
			prefix := ""
			if several {
				cs = append(cs, ContainerSpec{Name: "job", Image: img, Command: []string{"exit", "0"}})
				prefix = "web | "
			}
			var out testkit.Buffer
			task := startDockerTask(t, d, TaskSpec{ID: taskID("logs"), Address: "127.0.0.1", Containers: cs, Output: &out})
			getInfo(t, task.Addr())
			task.Stop(context.Background())
			logs, _ := task.Logs(0)
			for _, line := range []string{prefix + "listening on :8080\n", prefix + "a line on stderr\n", prefix + "got SIGTERM\n"} {
				if !strings.Contains(string(logs), line) {
					t.Errorf("Logs lack %q:\n%s", line, logs)
				}
			}
			if several && !strings.Contains(string(logs), "job | exiting with 0") {
				t.Errorf("Logs lack the job's line:\n%s", logs)
			}
			if out.String() != string(logs) {
				t.Errorf("Output %q, want what Logs has, %q", out.String(), logs)
			}
		})
	}
	d.Close()
	checkNoLeak(t, base)
}

func TestDocker_RemoveLeftovers(t *testing.T) {
	d, img := dockerForTest(t)
	c := web(img)
	task := startDockerTask(t, d, TaskSpec{ID: taskID("left"), Address: "127.0.0.1", Containers: []ContainerSpec{c}})
	names, err := d.RemoveLeftovers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{task.containers[0].name}; !slices.Equal(names, want) {
		t.Errorf("RemoveLeftovers = %q, want %q", names, want)
	}
	awaitDone(t, task) // its container is gone from under it
	if names, err := d.RemoveLeftovers(context.Background()); err != nil || len(names) != 0 {
		t.Errorf("second RemoveLeftovers = %q, %v; want none", names, err)
	}
}

func TestDocker_Gateway(t *testing.T) {
	d, img := dockerForTest(t)
	gw, err := d.Gateway(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// A container sees the gateway as its default route's.
	task := startDockerTask(t, d, TaskSpec{ID: taskID("gateway"), Address: "127.0.0.1", Containers: []ContainerSpec{web(img)}})
	if want := inspect(t, d, task, "web").NetworkSettings.Networks["bridge"].Gateway; gw != want {
		t.Errorf("Gateway() = %q, want %q, the container's gateway", gw, want)
	}
}

// Close leaves the tasks to the caller: its watchdog exits without
// stopping them.
func TestDocker_CloseLeavesTasksRunning(t *testing.T) {
	d, img := dockerForTest(t)
	task := startDockerTask(t, d, TaskSpec{ID: taskID("close"), Address: "127.0.0.1", Containers: []ContainerSpec{web(img)}})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.watchdog.exited:
	default:
		t.Fatal("Close returned before the watchdog exited")
	}
	cli := testEngine(t)
	if running := runningOf(t, cli, d.stateDir); len(running) != 1 || running[0].ID != task.containers[0].id {
		t.Errorf("running after Close: %d containers, want the task's", len(running))
	}
}

// A shoal killed with SIGKILL leaves its containers to its watchdog, which
// stops them within 10 s, one that ignores SIGTERM with a long stop
// timeout included.
func TestDocker_WatchdogStopsContainersWhenShoalDies(t *testing.T) {
	_, img := dockerForTest(t)
	cli := testEngine(t)
	stateDir := t.TempDir()
	t.Cleanup(func() { removeByLabel(t, stateDir) })
	helper, stderr := startWatchdogHelper(t, stateDir, img)
	if n := len(runningOf(t, cli, stateDir)); n != 2 {
		t.Fatalf("%d containers running, want 2", n)
	}
	if err := helper.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait()
	killed := time.Now()
	testkit.Poll(t, 10*time.Second, "the watchdog to stop the containers", func() (bool, error) {
		return len(runningOf(t, cli, stateDir)) == 0, nil
	}, func() string { data, _ := os.ReadFile(stderr); return "helper's stderr:\n" + string(data) })
	t.Logf("containers stopped %v after shoal was killed", time.Since(killed).Round(10*time.Millisecond))

	d := newTestDocker(t, stateDir)
	if _, err := d.RemoveLeftovers(context.Background()); err != nil { // what the watchdog had not removed yet
		t.Fatal(err)
	}
	if names, err := d.RemoveLeftovers(context.Background()); err != nil || len(names) != 0 {
		t.Errorf("second RemoveLeftovers = %q, %v; want none", names, err)
	}
	if data, _ := os.ReadFile(stderr); !strings.Contains(string(data), "shoal is gone; stopping and removing its 2 containers") {
		t.Errorf("the watchdog did not say what it did; stderr:\n%s", data)
	}
}

// startWatchdogHelper runs the test binary as a fake shoal that starts a
// task of two containers with a Docker driver for stateDir; it returns once
// the task runs, with the path of the file the helper's stderr (and its
// watchdog's) goes to.
func startWatchdogHelper(t *testing.T, stateDir, img string) (*exec.Cmd, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	stderr := filepath.Join(t.TempDir(), "stderr")
	f, err := os.Create(stderr) // a file, not a pipe: the watchdog outlives the helper
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(exe, "-test.run=^TestDocker_WatchdogHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), watchdogHelperEnv+"="+stateDir, helperImageEnv+"="+img)
	cmd.Stderr = f
	stdin, _ := cmd.StdinPipe() // held open: the helper runs until it closes or is killed
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var said []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if sc.Text() == helperReady {
			return cmd, stderr
		}
		said = append(said, sc.Text())
	}
	data, _ := os.ReadFile(stderr)
	t.Fatalf("the helper did not get ready; stdout:\n%s\nstderr:\n%s", strings.Join(said, "\n"), data)
	return nil, ""
}

// runningOf lists the running containers of stateDir.
func runningOf(t *testing.T, cli *client.Client, stateDir string) []container.Summary {
	t.Helper()
	list, err := cli.ContainerList(context.Background(), container.ListOptions{
		Filters: filters.NewArgs(filters.Arg("label", labelStateDir+"="+stateDir)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// TestDocker_WatchdogHelper is the fake shoal of
// TestDocker_WatchdogStopsContainersWhenShoalDies, when run by it; it
// does nothing otherwise.
func TestDocker_WatchdogHelper(t *testing.T) {
	stateDir := os.Getenv(watchdogHelperEnv)
	if stateDir == "" {
		return
	}
	lo, hi, _ := KernelEphemeralRange()
	d, err := NewDocker(context.Background(), DockerOptions{Ports: NewPortAllocator(lo, hi, nil), StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	img := os.Getenv(helperImageEnv)
	stubborn := web(img)
	stubborn.Name, stubborn.Env, stubborn.StopTimeout = "stubborn", map[string]string{"APP_IGNORE_TERM": "1"}, time.Minute
	_, err = d.Start(context.Background(), TaskSpec{ID: taskID("watchdog"), Address: "127.0.0.1", StopTimeout: time.Minute,
		Containers: []ContainerSpec{web(img), stubborn}})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(helperReady)
	_, _ = io.Copy(io.Discard, os.Stdin)
	syscall.Exit(0) // as a killed shoal would: no cleanup
}

// A paused task answers nothing until resumed; Stop of a paused task
// unpauses it and stops it the usual way; Kill ends it with SIGKILL.
func TestDocker_PauseResumeKill(t *testing.T) {
	d, img := dockerForTest(t)
	task := startDockerTask(t, d, TaskSpec{ID: taskID("pause"), Address: "127.0.0.1", StopTimeout: time.Second, Containers: []ContainerSpec{web(img)}})
	getInfo(t, task.Addr())
	if err := task.Pause(); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 300 * time.Millisecond}
	if resp, err := client.Get("http://" + task.Addr() + "/"); err == nil {
		resp.Body.Close()
		t.Errorf("a paused task answered %s", resp.Status)
	}
	if err := task.Resume(); err != nil {
		t.Fatal(err)
	}
	getInfo(t, task.Addr())
	if err := task.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-task.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the killed task did not end")
	}
	if exit := task.Exit(); exit.Signal != "SIGKILL" {
		t.Errorf("exit: got %+v, want SIGKILL", exit)
	}
}

func TestDocker_StopUnpausesPausedTask(t *testing.T) {
	d, img := dockerForTest(t)
	task := startDockerTask(t, d, TaskSpec{ID: taskID("pstop"), Address: "127.0.0.1", StopTimeout: time.Minute, Containers: []ContainerSpec{web(img)}})
	getInfo(t, task.Addr())
	if err := task.Pause(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if exit := task.Stop(context.Background()); exit.Code != 0 || exit.Signal != "" {
		t.Errorf("Stop = %+v, want exit 0 on SIGTERM", exit)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Stop took %v: the paused task did not take its SIGTERM", took)
	}
}
