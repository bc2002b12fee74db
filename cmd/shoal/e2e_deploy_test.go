package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/testkit"
)

// The tests of this file run the real binary on the catalog example under
// load from hey, as a user would watch a deployment, a failure or a scaling
// decision happen: each on a stack of its own (testdata/deploy.yaml.tmpl),
// its own state directory and free ports. They run one after the other, so
// that their loads do not disturb each other.

// TestEndToEnd_RollingDeploymentUnderLoad rolls out a new revision of the
// api (4 replicas, minimum healthy 100 %, maximum 200 %) while hey sends
// requests: `shoal deploy` waits for it and says COMPLETED, no request
// fails, and afterwards every request is served by a task of the new
// revision.
func TestEndToEnd_RollingDeploymentUnderLoad(t *testing.T) {
	ex := newDeployExample(t, deployStack{Instances: 2, Desired: 4})
	up := ex.up(t)
	url := ex.url(t, up)
	v2 := ex.write(t, "v2.yaml", func(s *deployStack) { s.Release = "2" })

	load := startLoad(t, url, 15*time.Second, 4, 25)
	start := time.Now()
	code, out := runShoal(t, ex.bin, ex.state, "deploy", "-f", v2)
	took := time.Since(start)
	res := load.wait(t)
	t.Logf("rolling deployment of 4 tasks took %v; under load: %v\nshoal deploy said:\n%s", took.Round(time.Millisecond), res, out)
	if code != 0 || !strings.Contains(out, "COMPLETED") {
		t.Errorf("shoal deploy -f v2.yaml: exit %d, want 0 and COMPLETED:\n%s", code, out)
	}
	if load.ended.Before(start.Add(took)) {
		t.Errorf("the rollout (%v) outlasted the load: make the load longer", took)
	}
	if n := res.failed(); n != 0 {
		t.Errorf("%d of %d requests failed during the rolling deployment, want 0: %v", n, res.total(), res)
	}
	checkServedBy(t, ex.bin, ex.state, url, "catalog:2")
	ex.stop(t, up)
}

// TestEndToEnd_CircuitBreakerRollsBack deploys a revision whose command
// exits at once, under load: the circuit breaker fails the deployment and
// rolls back, `shoal deploy` says so and exits 1, no request fails, and the
// service is back on its last completed revision.
func TestEndToEnd_CircuitBreakerRollsBack(t *testing.T) {
	ex := newDeployExample(t, deployStack{Instances: 2, Desired: 4, CircuitBreaker: true})
	up := ex.up(t)
	url := ex.url(t, up)
	v3 := ex.write(t, "v3.yaml", func(s *deployStack) { s.Crash = true })

	load := startLoad(t, url, 12*time.Second, 4, 25)
	start := time.Now()
	code, out := runShoal(t, ex.bin, ex.state, "deploy", "-f", v3)
	took := time.Since(start)
	res := load.wait(t)
	t.Logf("failed deployment and rollback took %v; under load: %v\nshoal deploy said:\n%s", took.Round(time.Millisecond), res, out)
	if code != 1 || !strings.Contains(out, "deployment failed") || !strings.Contains(out, "rolling back") {
		t.Errorf("shoal deploy -f v3.yaml (a crashing command): exit %d, want 1 with \"deployment failed\" and \"rolling back\":\n%s", code, out)
	}
	if load.ended.Before(start.Add(took)) {
		t.Errorf("the deployment and its rollback (%v) outlasted the load: make the load longer", took)
	}
	if n := res.failed(); n != 0 {
		t.Errorf("%d of %d requests failed during the failed deployment, want 0: %v", n, res.total(), res)
	}
	api := apiService(t, ex.bin, ex.state)
	if p := api.Deployments[0]; p.Status != agent.DeploymentPrimary || string(p.Rollout) != "COMPLETED" || p.TaskDefinition != "catalog:1" {
		t.Errorf("after the rollback, api's first deployment is %s %s on %s, want PRIMARY COMPLETED on catalog:1; deployments:\n%s",
			p.Status, p.Rollout, p.TaskDefinition, jsonText(api.Deployments))
	}
	checkServedBy(t, ex.bin, ex.state, url, "catalog:1")
	ex.stop(t, up)
}

// TestEndToEnd_InstanceFailure stops one of two instances, as a host
// failure: its tasks die at once and the service runs its 4 tasks on the
// other instance, healthy. The requests in flight on the dead instance may
// fail, like on a real host failure: the test reports how many did, and how
// long the service took to recover. The instance then comes back with
// `shoal instance activate`.
func TestEndToEnd_InstanceFailure(t *testing.T) {
	ex := newDeployExample(t, deployStack{Instances: 2, Desired: 4})
	up := ex.up(t)
	url := ex.url(t, up)
	ps := shoalPS(t, ex.bin, ex.state)
	per := map[string]int{}
	for _, task := range serviceTasks(ps, "api") {
		per[task.Instance]++
	}
	if per["instance-1"] != 2 || per["instance-2"] != 2 {
		t.Fatalf("api tasks per instance: %v, want 2 on each of instance-1 and instance-2", per)
	}
	// The test is about the api: the instance that fails is the one
	// without the cache, which the api's health checks need.
	victim, survivor := "instance-2", "instance-1"
	if serviceTasks(ps, "cache")[0].Instance == victim {
		victim, survivor = survivor, victim
	}

	load := startLoad(t, url, 10*time.Second, 4, 25)
	code, out := runShoal(t, ex.bin, ex.state, "instance", "stop", victim)
	stopped := time.Now()
	if code != 0 {
		t.Fatalf("shoal instance stop %s: exit %d:\n%s", victim, code, out)
	}
	waitFor(t, up, 60*time.Second, "4 healthy api tasks, all on "+survivor, every(200*time.Millisecond, func() bool {
		api := apiService(t, ex.bin, ex.state)
		if api.Desired != 4 || api.Running != 4 || api.Healthy != 4 {
			return false
		}
		tasks := serviceTasks(shoalPS(t, ex.bin, ex.state), "api")
		return len(tasks) == 4 && !slices.ContainsFunc(tasks, func(task agent.TaskStatus) bool {
			return task.Instance != survivor || task.LastStatus != "RUNNING" || task.Health != "healthy"
		})
	}))
	recovery := time.Since(stopped)
	res := load.wait(t)
	t.Logf("instance %s stopped: 4 healthy api tasks on %s again after %v; under load: %v (failures allowed: requests in flight on the dead instance)",
		victim, survivor, recovery.Round(time.Millisecond), res)
	if load.ended.Before(stopped.Add(recovery)) {
		t.Logf("the load ended before the service recovered")
	}
	for _, task := range shoalPS(t, ex.bin, ex.state, "-a") {
		if task.Instance == victim && task.Service == "api" && (task.LastStatus != "STOPPED" || !strings.Contains(task.StoppedReason, "terminated")) {
			t.Errorf("task %s on the stopped instance: %s (%s), want STOPPED because its host terminated", task.ID, task.LastStatus, task.StoppedReason)
		}
	}

	if code, out := runShoal(t, ex.bin, ex.state, "instance", "activate", victim); code != 0 {
		t.Errorf("shoal instance activate %s: exit %d:\n%s", victim, code, out)
	}
	code, out = runShoal(t, ex.bin, ex.state, "instances", "--json")
	var instances []agent.InstanceStatus
	if err := json.Unmarshal([]byte(out), &instances); code != 0 || err != nil {
		t.Fatalf("shoal instances --json: exit %d, %v:\n%s", code, err, out)
	}
	for _, in := range instances {
		if in.Status != "ACTIVE" {
			t.Errorf("after activate, instance %s is %s, want ACTIVE", in.Name, in.Status)
		}
	}
	ex.stop(t, up)
}

// TestEndToEnd_AutoscalingFollowsLoad tracks ALBRequestCountPerTarget with
// a target of 120 requests per target per minute: a burst of about 100
// requests per second scales the api out (within its maximum of 4), with
// an event that names the metric, and once the burst is over it scales
// back in to its minimum of 1.
func TestEndToEnd_AutoscalingFollowsLoad(t *testing.T) {
	ex := newDeployExample(t, deployStack{Instances: 2, Desired: 1, Autoscaling: true})
	up := ex.up(t)
	url := ex.url(t, up)
	seen := []int{apiService(t, ex.bin, ex.state).Desired}
	desired := func() int {
		n := apiService(t, ex.bin, ex.state).Desired
		if n != seen[len(seen)-1] {
			seen = append(seen, n)
			if n < 1 || n > 4 {
				t.Errorf("desired count %d is outside the autoscaling range 1-4", n)
			}
		}
		return n
	}

	load := startLoad(t, url, 12*time.Second, 4, 25)
	waitFor(t, up, 30*time.Second, "a scale-out above 1 task, with an event naming ALBRequestCountPerTarget", every(250*time.Millisecond, func() bool {
		return desired() > 1 && strings.Contains(shoalEvents(t, ex.bin, ex.state), "ALBRequestCountPerTarget")
	}))
	waitFor(t, up, 30*time.Second, "the load to end", every(250*time.Millisecond, func() bool {
		desired()
		return load.done()
	}))
	res := load.wait(t)
	waitFor(t, up, 60*time.Second, "a scale-in back to 1 task", every(250*time.Millisecond, func() bool {
		return desired() == 1
	}))
	t.Logf("autoscaling under a burst of %v: desired counts seen %v", res, seen)
	for _, line := range strings.Split(shoalEvents(t, ex.bin, ex.state), "\n") {
		if strings.Contains(line, "ALBRequestCountPerTarget") {
			t.Logf("event: %s", line)
		}
	}
	ex.stop(t, up)
}

// TestEndToEnd_KilledDuringRolloutResumes kills shoal with SIGKILL in the
// middle of a rollout that goes in steps (4 tasks, maximum 150 %), under
// load until then: no request fails before the kill, and no task outlives
// it. `shoal up` with no stack file, in a folder without one, resumes the
// stack recorded in the state directory and finishes the rollout; stopping
// it leaves no process behind.
func TestEndToEnd_KilledDuringRolloutResumes(t *testing.T) {
	ex := newDeployExample(t, deployStack{Instances: 2, Desired: 4, MaxPercent: 150})
	up := ex.up(t)
	url := ex.url(t, up)
	v2 := ex.write(t, "v2.yaml", func(s *deployStack) { s.Release = "2" })

	load := startLoad(t, url, time.Minute, 4, 25)
	if code, out := runShoal(t, ex.bin, ex.state, "deploy", "--no-wait", "-f", v2); code != 0 {
		t.Fatalf("shoal deploy --no-wait -f v2.yaml: exit %d:\n%s", code, out)
	}
	waitFor(t, up, 60*time.Second, "the rollout half way: tasks of both revisions running", every(100*time.Millisecond, func() bool {
		api := apiService(t, ex.bin, ex.state)
		if len(api.Deployments) < 2 {
			return false
		}
		p := api.Deployments[0]
		return p.TaskDefinition == "catalog:2" && string(p.Rollout) == "IN_PROGRESS" && p.Running >= 1 && api.Deployments[1].Running >= 1
	}))
	res := load.stop(t)
	t.Logf("under load until half way through the rollout: %v", res)
	if n := res.failed(); n != 0 {
		t.Errorf("%d of %d requests failed during the first half of the rollout, want 0: %v", n, res.total(), res)
	}
	tasks := shoalPS(t, ex.bin, ex.state)
	t.Logf("SIGKILL to shoal with %d tasks: %s", len(tasks), taskList(tasks))
	up.cmd.Process.Kill()
	<-up.done
	up.done <- nil
	waitGone(t, ex.dir, tasks)

	again := startShoalIn(t, t.TempDir(), ex.bin, "up", "--state-dir", ex.state)
	waitFor(t, again, 120*time.Second, "api's PRIMARY deployment COMPLETED on catalog:2 with 4 tasks running", every(250*time.Millisecond, func() bool {
		svcs, err := shoalServices(ex.bin, ex.state)
		i := slices.IndexFunc(svcs, func(s agent.ServiceStatus) bool { return s.Name == "api" })
		if err != nil || i < 0 {
			return false
		}
		api := svcs[i]
		p := api.Deployments[0]
		return p.Status == agent.DeploymentPrimary && p.TaskDefinition == "catalog:2" && string(p.Rollout) == "COMPLETED" &&
			p.Running == 4 && api.Running == 4
	}))
	if out := again.out.String(); !strings.Contains(out, "resuming the stack recorded") {
		t.Errorf("shoal up without a stack file does not say it resumes the recorded stack:\n%s", out)
	} else if strings.Contains(out, "deployment started: catalog:1.") {
		t.Errorf("the resumed shoal printed the first run's events as new ones:\n%s", out)
	}
	// The history is kept for shoal events, though.
	if code, out := runShoal(t, ex.bin, ex.state, "events", "api"); code != 0 || !strings.Contains(out, "deployment started: catalog:1.") {
		t.Errorf("shoal events api after the restart: exit %d, want the first run's events too:\n%s", code, out)
	}
	url = ex.url(t, again)
	checkServedBy(t, ex.bin, ex.state, url, "catalog:2")
	ex.stop(t, again)
}

// deployStack is what testdata/deploy.yaml.tmpl leaves open.
type deployStack struct {
	Instances      int    // cluster.instances
	Desired        int    // services.api.desired
	MaxPercent     int    // services.api.deployment.maximum_percent; 0 is 200
	CircuitBreaker bool   // the api's circuit breaker, with rollback
	Autoscaling    bool   // the api tracks ALBRequestCountPerTarget, 1-4 tasks
	Release        string // RELEASE in the api's environment: a new revision
	Crash          bool   // the api's command exits at once
	WorkingDir     string // examples/catalog
	Database       string // the api's DATABASE_URL
}

// deployExample is the catalog example on a stack of the test's own, with
// a freshly built shoal.
type deployExample struct {
	example
	dir string      // the test's folder: stack files, database, state
	v1  deployStack // the stack it starts with
}

func newDeployExample(t *testing.T, v1 deployStack) deployExample {
	t.Helper()
	requireHey(t)
	ex := newExample(t)
	dir := filepath.Dir(ex.stack)
	wd, err := filepath.Abs("../../examples/catalog")
	if err != nil {
		t.Fatal(err)
	}
	v1.WorkingDir, v1.Database = wd, "sqlite://"+filepath.Join(dir, "catalog.db")
	if v1.MaxPercent == 0 {
		v1.MaxPercent = 200
	}
	dx := deployExample{example: ex, dir: dir, v1: v1}
	dx.stack = dx.write(t, "v1.yaml", nil)
	return dx
}

var deployTemplate = template.Must(template.ParseFiles("testdata/deploy.yaml.tmpl"))

// write writes the test's stack, changed by change, as name in its folder.
func (ex deployExample) write(t *testing.T, name string, change func(*deployStack)) string {
	t.Helper()
	s := ex.v1
	if change != nil {
		change(&s)
	}
	var b bytes.Buffer
	if err := deployTemplate.Execute(&b, s); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(ex.dir, name)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// url waits for the stack to be steady and returns its listener's URL.
func (ex deployExample) url(t *testing.T, p *shoalProc) string {
	t.Helper()
	st := waitSteady(t, p, ex.bin, ex.state)
	if len(st.Listeners) != 1 {
		t.Fatalf("listeners %v, want 1", st.Listeners)
	}
	return "http://" + st.Listeners[0] + "/"
}

// stop stops shoal with SIGTERM, and checks that none of its tasks is left.
func (ex deployExample) stop(t *testing.T, p *shoalProc) {
	t.Helper()
	tasks := shoalPS(t, ex.bin, ex.state)
	p.stop(t)
	for _, task := range tasks {
		checkGone(t, task)
	}
	if pids := strays(ex.dir); len(pids) > 0 {
		t.Errorf("processes of the stack's tasks left after shoal stopped: %v", pids)
	}
}

// waitGone waits until every task's process has exited and its port is
// free, and no other process of the stack's tasks is left.
func waitGone(t *testing.T, dir string, tasks []agent.TaskStatus) {
	t.Helper()
	testkit.WaitFor(t, 30*time.Second, "every task process gone and port free", func() bool {
		for _, task := range tasks {
			if task.Pid != 0 && syscall.Kill(task.Pid, 0) == nil || task.Address != "" && !portFree(task.Address) {
				return false
			}
		}
		return len(strays(dir)) == 0
	})
}

// strays lists the processes of the tasks of a test's stack: those whose
// environment names the test's folder (the api's DATABASE_URL) or that run
// in it (the cache). It finds tasks shoal started after the test last asked
// for its tasks. It needs /proc; without it, it finds none.
func strays(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		proc := filepath.Join("/proc", e.Name())
		environ, _ := os.ReadFile(filepath.Join(proc, "environ"))
		cwd, _ := os.Readlink(filepath.Join(proc, "cwd"))
		if bytes.Contains(environ, []byte(dir+string(filepath.Separator))) || cwd == dir {
			pids = append(pids, pid)
		}
	}
	return pids
}

// startShoalIn starts shoal with the working directory dir ("": this
// test's); the test's cleanup kills it if it still runs.
func startShoalIn(t *testing.T, dir, bin string, args ...string) *shoalProc {
	t.Helper()
	p := &shoalProc{cmd: exec.Command(bin, args...), out: &testkit.Buffer{}, done: make(chan error, 1)}
	p.cmd.Dir = dir
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

// runShoal runs a shoal command to its end, and returns its exit code and
// output.
func runShoal(t *testing.T, bin, state string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, "--state-dir", state)...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("shoal %s did not end within 3m:\n%s", strings.Join(args, " "), out)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("shoal %s: %v", strings.Join(args, " "), err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// shoalServices runs `shoal services --json`.
func shoalServices(bin, state string) ([]agent.ServiceStatus, error) {
	out, err := exec.Command(bin, "services", "--json", "--state-dir", state).Output()
	if err != nil {
		return nil, fmt.Errorf("shoal services: %v", err)
	}
	var svcs []agent.ServiceStatus
	if err := json.Unmarshal(out, &svcs); err != nil {
		return nil, fmt.Errorf("shoal services --json: %v\n%s", err, out)
	}
	return svcs, nil
}

// apiService is the api service as `shoal services --json` shows it.
func apiService(t *testing.T, bin, state string) agent.ServiceStatus {
	t.Helper()
	svcs, err := shoalServices(bin, state)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(svcs, func(s agent.ServiceStatus) bool { return s.Name == "api" })
	if i < 0 || len(svcs[i].Deployments) == 0 {
		t.Fatalf("shoal services: no api service with a deployment:\n%s", jsonText(svcs))
	}
	return svcs[i]
}

// shoalEvents is what `shoal events` prints.
func shoalEvents(t *testing.T, bin, state string) string {
	t.Helper()
	out, err := exec.Command(bin, "events", "--state-dir", state).Output()
	if err != nil {
		t.Fatalf("shoal events: %v", err)
	}
	return string(out)
}

// checkServedBy sends 40 requests through the load balancer: each must be
// served by a running task of the task definition revision want.
func checkServedBy(t *testing.T, bin, state, url, want string) {
	t.Helper()
	revision := map[string]string{}
	for _, task := range shoalPS(t, bin, state) {
		revision[task.ID] = task.TaskDefinition
	}
	served := get(t, url, 40)
	for id, n := range served {
		if revision[id] != want {
			t.Errorf("%d of 40 requests served by %s, a task of %q, want one of %s", n, id, revision[id], want)
		}
	}
	t.Logf("40 requests served by %v", served)
}

func taskList(tasks []agent.TaskStatus) string {
	var parts []string
	for _, task := range tasks {
		parts = append(parts, fmt.Sprintf("%s (%s, %s, pid %d)", task.ID, task.TaskDefinition, task.LastStatus, task.Pid))
	}
	return strings.Join(parts, ", ")
}

func jsonText(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// every calls cond at most once per interval, and reports false in
// between: a waitFor that runs shoal commands then starts a few a second,
// not hundreds, while the stack is under load.
func every(interval time.Duration, cond func() bool) func() bool {
	var last time.Time
	return func() bool {
		if time.Since(last) < interval {
			return false
		}
		last = time.Now()
		return cond()
	}
}

// requireHey skips the test when hey, which puts the load on the stack,
// is not installed; in CI (CI set, or SHOAL_TEST_REDIS_URL as .ci/run sets
// it) it must be.
func requireHey(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test builds binaries; skipped with -short")
	}
	if _, err := exec.LookPath("hey"); err != nil {
		if os.Getenv("CI") != "" || os.Getenv("SHOAL_TEST_REDIS_URL") != "" {
			t.Fatal("hey is not on PATH, and CI must run this test: install it (apt-get install hey), as .ci/run does")
		}
		t.Skip("this test puts load on the stack with hey: install it (apt-get install hey, or go install github.com/rakyll/hey@latest) to run it")
	}
}

// load is hey sending requests in the background for a fixed time.
type load struct {
	cmd   *exec.Cmd
	out   *testkit.Buffer
	end   chan error
	d     time.Duration
	ended time.Time // set before end is sent
}

// startLoad runs hey on url for d, with workers each sending at most qps
// requests per second.
func startLoad(t *testing.T, url string, d time.Duration, workers, qps int) *load {
	t.Helper()
	l := &load{
		cmd: exec.Command("hey", "-z", d.String(), "-c", strconv.Itoa(workers), "-q", strconv.Itoa(qps), url),
		out: &testkit.Buffer{}, end: make(chan error, 1), d: d,
	}
	l.cmd.Stdout, l.cmd.Stderr = l.out, l.out
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := l.cmd.Wait()
		l.ended = time.Now()
		l.end <- err
	}()
	t.Cleanup(func() {
		l.cmd.Process.Kill()
		err := <-l.end
		l.end <- err
	})
	return l
}

// done reports whether hey has ended.
func (l *load) done() bool {
	select {
	case err := <-l.end:
		l.end <- err
		return true
	default:
		return false
	}
}

// stop ends hey early, as Ctrl-C does, and returns what it counted.
func (l *load) stop(t *testing.T) heyReport {
	t.Helper()
	l.cmd.Process.Signal(os.Interrupt)
	return l.wait(t)
}

// wait waits for hey to end and returns what it counted.
func (l *load) wait(t *testing.T) heyReport {
	t.Helper()
	select {
	case err := <-l.end:
		l.end <- err
		if err != nil {
			t.Fatalf("hey: %v\n%s", err, l.out)
		}
	case <-time.After(l.d + time.Minute):
		t.Fatalf("hey did not end within a minute of its %v:\n%s", l.d, l.out)
	}
	r, err := parseHey(l.out.String())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// heyReport is what hey counted: responses by status code, and requests
// that got no response by error.
type heyReport struct {
	Codes  map[int]int
	Errors map[string]int
}

func (r heyReport) total() int {
	n := 0
	for _, c := range r.Codes {
		n += c
	}
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// failed counts the requests answered with another status than 2xx, and
// those that got no answer.
func (r heyReport) failed() int {
	n := 0
	for code, c := range r.Codes {
		if code < 200 || code > 299 {
			n += c
		}
	}
	for _, c := range r.Errors {
		n += c
	}
	return n
}

func (r heyReport) String() string {
	s := fmt.Sprintf("%d requests, %d failed", r.total(), r.failed())
	var parts []string
	for _, code := range slices.Sorted(maps.Keys(r.Codes)) {
		parts = append(parts, fmt.Sprintf("%d×%d", r.Codes[code], code))
	}
	for _, e := range slices.Sorted(maps.Keys(r.Errors)) {
		parts = append(parts, fmt.Sprintf("%d×%q", r.Errors[e], e))
	}
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

var (
	heyCode  = regexp.MustCompile(`^\s+\[(\d+)\]\s+(\d+) responses$`)
	heyError = regexp.MustCompile(`^\s+\[(\d+)\]\s+(.+)$`)
)

// parseHey reads the "Status code distribution:" and "Error distribution:"
// sections of hey's summary.
func parseHey(out string) (heyReport, error) {
	r := heyReport{Codes: map[int]int{}, Errors: map[string]int{}}
	if !strings.Contains(out, "Summary:") {
		return r, fmt.Errorf("hey printed no summary:\n%s", out)
	}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \r")
		if line != "" && line[0] != ' ' && line[0] != '\t' {
			section = line
			continue
		}
		switch section {
		case "Status code distribution:":
			if m := heyCode.FindStringSubmatch(line); m != nil {
				code, _ := strconv.Atoi(m[1])
				r.Codes[code], _ = strconv.Atoi(m[2])
			}
		case "Error distribution:":
			if m := heyError.FindStringSubmatch(line); m != nil {
				r.Errors[m[2]], _ = strconv.Atoi(m[1])
			}
		}
	}
	if r.total() == 0 {
		return r, fmt.Errorf("hey made no request:\n%s", out)
	}
	return r, nil
}

func TestParseHey(t *testing.T) {
	out := "\nSummary:\n  Total:\t2.0226 secs\n\nResponse time histogram:\n  0.003 [1]\t|■■\n\n" +
		"Status code distribution:\n  [200]\t40 responses\n  [502]\t2 responses\n\n" +
		"Error distribution:\n  [3]\tGet \"http://127.0.0.1:1/\": dial tcp 127.0.0.1:1: connect: connection refused\n\n"
	r, err := parseHey(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.total() != 45 || r.failed() != 5 {
		t.Errorf("got %d requests, %d failed, want 45, 5 (%v)", r.total(), r.failed(), r)
	}
	if _, err := parseHey("\nSummary:\n  Total:\t0.1 secs\n"); err == nil {
		t.Error("a summary without requests parsed without error")
	}
}
