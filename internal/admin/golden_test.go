package admin

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/fault"
	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/strategy"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata from what the API serves now")

// The JSON the API serves is what `shoal status|ps|targets --json` print and
// what users script against. These tests pin it byte for byte in
// testdata/*.json: a renamed field, a changed omitempty or time format fails
// here, not in a user's script. If a change is intended, rewrite the files
// with `go test ./internal/admin -update` and say so in the release notes.

var (
	created  = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	started  = time.Date(2026, 11, 22, 12, 0, 2, 500_000_000, time.UTC)
	stopped  = time.Date(2026, 11, 22, 12, 5, 30, 0, time.UTC)
	cetLater = time.Date(2026, 11, 22, 13, 1, 0, 123_456_789, time.FixedZone("CET", 3600))
)

// goldenBackend serves fixed values. Together they set every field of every
// type the API returns, and leave every optional (omitempty) field unset at
// least once.
type goldenBackend struct {
	status  agent.Status
	tasks   []agent.TaskStatus // running and stopped; Tasks(false) drops the stopped
	logs    map[string]string
	targets []proxy.TargetHealth
	events  []agent.Event
	faults  []fault.Fault
}

func (b *goldenBackend) Status() agent.Status { return b.status }

func (b *goldenBackend) Tasks(all bool) []agent.TaskStatus {
	var out []agent.TaskStatus
	for _, t := range b.tasks {
		if all || t.LastStatus != "STOPPED" {
			out = append(out, t)
		}
	}
	return out
}

func (b *goldenBackend) TaskLogs(id string, from int64) ([]byte, int64, error) {
	l, ok := b.logs[id]
	if !ok {
		return nil, 0, fmt.Errorf("task %q: %w", id, agent.ErrNotFound)
	}
	return []byte(l[min(from, int64(len(l))):]), int64(len(l)), nil
}

func (b *goldenBackend) Targets() []proxy.TargetHealth { return b.targets }

func (b *goldenBackend) Events(since int64) []agent.Event {
	var out []agent.Event
	for _, e := range b.events {
		if e.Seq > since {
			out = append(out, e)
		}
	}
	return out
}

func fullBackend() *goldenBackend {
	return &goldenBackend{
		status: agent.Status{
			Stack:       "catalog",
			File:        "/srv/catalog/shoal.yaml",
			Listeners:   []string{"127.0.0.1:8080", "127.0.0.1:8443"},
			URLs:        []string{"http://127.0.0.1:8080/", "https://127.0.0.1:8443/"},
			AWSEndpoint: "http://127.0.0.1:4566", AWSRegion: "eu-west-3",
			Metrics:   "http://127.0.0.1:9100/metrics",
			Dashboard: "http://127.0.0.1:8000/?token=0123abcd",
			Services: []agent.ServiceStatus{
				{Name: "api", SchedulingStrategy: "replica", TaskDefinition: "api:2", Desired: 3, Running: 2, Pending: 1, Healthy: 2, TargetGroup: "api", SteadyState: false,
					Autoscaling:      &agent.ScalingRange{Min: 2, Max: 6},
					DeploymentConfig: agent.DeploymentConfig{MinHealthyPercent: 100, MaxPercent: 200, CircuitBreaker: true, Rollback: true},
					Strategy:         "canary",
					Recent: []agent.Deployment{{ID: "ecs-svc/3234567890123456789", Status: "INACTIVE", TaskDefinition: "api:1", TargetGroup: "api-green",
						Rollout: "COMPLETED", Reason: "ECS deployment ecs-svc/3234567890123456789 completed.", CreatedAt: created, UpdatedAt: started, TimeScale: 60,
						Strategy: &strategy.State{Stage: "CLEAN_UP", Since: started, Step: 1, TestWeight: 100, Done: true, Timeline: []strategy.Event{
							{Stage: "PRODUCTION_TRAFFIC_SHIFT", Start: created, End: started, Detail: "production 10%", Outcome: "SUCCEEDED", Wait: 10 * time.Minute},
						}}}},
					Deployments: []agent.DeploymentStatus{
						{Deployment: agent.Deployment{ID: "ecs-svc/1234567890123456789", Status: "PRIMARY", TaskDefinition: "api:2", TargetGroup: "api",
							Rollout: "IN_PROGRESS", Reason: "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1234567890123456789.",
							FailedTasks: 1, RollbackOf: "ecs-svc/2234567890123456789", CreatedAt: created, UpdatedAt: started}, Desired: 3, Running: 1, Pending: 1},
						{Deployment: agent.Deployment{ID: "ecs-svc/2234567890123456789", Status: "ACTIVE", TaskDefinition: "api:3", TargetGroup: "api",
							Rollout: "FAILED", Reason: "ECS deployment circuit breaker: tasks failed to start.", FailedTasks: 3, CreatedAt: created, UpdatedAt: started}, Running: 1},
					}},
				{Name: "worker", SchedulingStrategy: "daemon", TaskDefinition: "worker:1", Desired: 1, Running: 1, Pending: 0, Healthy: 0, SteadyState: true, Strategy: "rolling"},
			},
		},
		tasks: []agent.TaskStatus{
			{
				ID: "api-1f0c9a2e", Service: "api", TaskDefinition: "api", Instance: "instance-1",
				Address: "127.0.0.2:40123", Pid: 4242, LastStatus: "RUNNING", DesiredStatus: "RUNNING",
				Health: "healthy", TargetGroup: "api", CreatedAt: created, StartedAt: &started,
				ContainerPort: 3000, ContainerHealth: "HEALTHY",
			},
			{
				ID: "api-77b0e1c4", Service: "api", TaskDefinition: "api", Instance: "instance-2",
				Address: "127.0.0.3:40200", Pid: 4243, LastStatus: "ACTIVATING", DesiredStatus: "RUNNING",
				Health: "initial", HealthReason: "Elb.RegistrationInProgress", TargetGroup: "api", CreatedAt: cetLater,
				PausedBy: "f-2",
			},
			{ // nothing optional set yet
				ID: "worker-0a1b2c3d", Service: "worker", TaskDefinition: "worker", Instance: "instance-1",
				LastStatus: "PROVISIONING", DesiredStatus: "RUNNING", CreatedAt: created,
			},
			{
				ID: "api-5e6f7a8b", Service: "api", TaskDefinition: "api", Instance: "instance-2",
				Address: "127.0.0.3:40001", LastStatus: "STOPPED", DesiredStatus: "STOPPED",
				Health: "unhealthy", HealthReason: "Target.ResponseCodeMismatch", TargetGroup: "api",
				CreatedAt: created, StartedAt: &started, StoppedAt: &stopped,
				StopCode: "ServiceSchedulerInitiated", StoppedReason: "Task failed ELB health checks in (target-group api)",
				Exit: "killed by SIGTERM", ExitSignal: "SIGTERM",
			},
			{ // exited on its own with 0, which is shown
				ID: "worker-9c8d7e6f", Service: "worker", TaskDefinition: "worker", Instance: "instance-2",
				LastStatus: "STOPPED", DesiredStatus: "STOPPED", CreatedAt: created, StartedAt: &started, StoppedAt: &stopped,
				StopCode: "EssentialContainerExited", StoppedReason: "Essential container in task exited",
				Exit: "exit code 0", ExitCode: new(0),
			},
		},
		logs: map[string]string{"api-1f0c9a2e": "one\ntwo\n"},
		faults: []fault.Fault{
			{ID: "f-2", Kind: "pause-task", Task: "api-77b0e1c4", Until: stopped, Created: started},
			{ID: "f-3", Kind: "errors", TargetGroup: "api", Fraction: 0.1, Status: 503, Until: stopped, Created: started},
			{ID: "f-4", Kind: "fail-health", TargetGroup: "api", Target: "127.0.0.3:40200", Until: stopped, Created: started},
			{ID: "f-5", Kind: "latency", TargetGroup: "api-green", Fraction: 1, Delay: fault.Duration(500 * time.Millisecond), Until: stopped, Created: cetLater},
			{ID: "f-6", Kind: "stop-instance", Instance: "instance-3", Until: stopped, Created: cetLater},
		},
		targets: []proxy.TargetHealth{
			// Untyped constants, so that only the exported field names are
			// depended on; the golden files pin the values.
			{Group: "api", Target: "127.0.0.2:40123", State: "healthy", Since: started, InFlight: 3, Requests: 1204},
			{Group: "api", Target: "127.0.0.3:40200", State: "initial", Reason: "Elb.RegistrationInProgress",
				Description: "Target registration is in progress", Since: cetLater,
				Fault: "health checks fail; 503 on 10% of the group's requests"},
			{Group: "api", Target: "127.0.0.3:40001", State: "draining", Reason: "Target.DeregistrationInProgress",
				Description: "Target deregistration is in progress", Since: stopped, InFlight: 1},
		},
		events: []agent.Event{
			{Seq: 1, Time: created, Service: "api", Message: "service api has started 2 tasks: api-1f0c9a2e api-77b0e1c4."},
			{Seq: 2, Time: started, Service: "api", Task: "api-1f0c9a2e", Message: "task api-1f0c9a2e is RUNNING on instance-1 at 127.0.0.2:40123."},
			{Seq: 3, Time: cetLater, Target: "127.0.0.3:40001", Message: "target 127.0.0.3:40001 in target-group api: healthy → unhealthy (Target.ResponseCodeMismatch: Health checks failed with these codes: [500])."},
			{Seq: 4, Time: stopped, Message: "stack catalog applied."},
		},
	}
}

// goldenCase is one request and the file that pins its answer.
type goldenCase struct {
	name        string
	backend     func() *goldenBackend
	path        string
	status      int
	contentType string
	header      map[string]string // further headers the answer must carry
	golden      string            // in testdata
}

const jsonType = "application/json"

var goldenCases = []goldenCase{
	{"status", fullBackend, "/v1/status", 200, jsonType, nil, "status.json"},
	{"tasks", fullBackend, "/v1/tasks", 200, jsonType, nil, "tasks.json"},
	{"tasks all", fullBackend, "/v1/tasks?all=1", 200, jsonType, nil, "tasks_all.json"},
	{"targets", fullBackend, "/v1/targets", 200, jsonType, nil, "targets.json"},
	{"events", fullBackend, "/v1/events", 200, jsonType, nil, "events.json"},
	{"events since 2", fullBackend, "/v1/events?since=2", 200, jsonType, nil, "events_since_2.json"},
	{"events since last", fullBackend, "/v1/events?since=4", 200, jsonType, nil, "empty_list.json"},
	{"faults", fullBackend, "/v1/faults", 200, jsonType, nil, "faults.json"},
	{"logs from 4", fullBackend, "/v1/tasks/api-1f0c9a2e/logs?from=4", 200, "text/plain; charset=utf-8", map[string]string{LogNextHeader: "8"}, "logs_from_4.txt"},

	// One task, by its id or a unique prefix of it (a stopped task's too).
	{"task", fullBackend, "/v1/tasks/api-1f0c9a2e", 200, jsonType, nil, "task.json"},
	{"task by prefix", fullBackend, "/v1/tasks/api-1f", 200, jsonType, nil, "task.json"},
	{"stopped task by prefix", fullBackend, "/v1/tasks/worker-9", 200, jsonType, nil, "task_stopped.json"},
	{"logs by prefix", fullBackend, "/v1/tasks/api-1/logs?from=4", 200, "text/plain; charset=utf-8", map[string]string{LogNextHeader: "8"}, "logs_from_4.txt"},

	// Before a stack is applied, and with nothing running. Note that status
	// then has "listeners": null and "services": null, where the listings
	// have [].
	{"status empty", emptyBackend, "/v1/status", 200, jsonType, nil, "status_empty.json"},
	{"tasks empty", emptyBackend, "/v1/tasks?all=1", 200, jsonType, nil, "empty_list.json"},
	{"targets empty", emptyBackend, "/v1/targets", 200, jsonType, nil, "empty_list.json"},
	{"events empty", emptyBackend, "/v1/events?since=0", 200, jsonType, nil, "empty_list.json"},
	{"faults empty", emptyBackend, "/v1/faults", 200, jsonType, nil, "empty_list.json"},

	// Errors: {"error": "..."} with a status that says whose fault it is.
	{"logs of unknown task", fullBackend, "/v1/tasks/api-nope/logs?from=0", 404, jsonType, nil, "error_unknown_task.json"},
	{"unknown task", fullBackend, "/v1/tasks/api-nope", 404, jsonType, nil, "error_unknown_task.json"},
	{"ambiguous task prefix", fullBackend, "/v1/tasks/api-", 409, jsonType, nil, "error_ambiguous_task.json"},
	{"logs of ambiguous task prefix", fullBackend, "/v1/tasks/api-/logs?from=0", 409, jsonType, nil, "error_ambiguous_task.json"},
	{"events since negative", fullBackend, "/v1/events?since=-3", 400, jsonType, nil, "error_bad_since.json"},
	{"events since not a number", fullBackend, "/v1/events?since=last", 400, jsonType, nil, "error_since_not_number.json"},
	{"logs from not a number", fullBackend, "/v1/tasks/api-1f0c9a2e/logs?from=x", 400, jsonType, nil, "error_bad_from.json"},
}

func emptyBackend() *goldenBackend { return &goldenBackend{} }

func TestAPI_Golden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(Handler(c.backend()))
			defer srv.Close()
			resp, err := http.Get(srv.URL + c.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != c.status {
				t.Errorf("GET %s: status %d, want %d", c.path, resp.StatusCode, c.status)
			}
			if got := resp.Header.Get("Content-Type"); got != c.contentType {
				t.Errorf("GET %s: Content-Type %q, want %q", c.path, got, c.contentType)
			}
			for k, v := range c.header {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("GET %s: %s %q, want %q", c.path, k, got, v)
				}
			}
			golden(t, filepath.Join("testdata", c.golden), body)
		})
	}
}

// TestGoldenBackend_SetsEveryField makes "every field is pinned" hold as the
// types grow: each exported field is set by some value the backend serves,
// and each optional (omitempty) one is also left unset by some value.
func TestGoldenBackend_SetsEveryField(t *testing.T) {
	b := fullBackend()
	coversFields(t, []agent.Status{b.status, emptyBackend().status}) // status_empty.json shows the optional ones omitted
	coversFields(t, b.status.Services)
	coversFields(t, b.tasks)
	coversFields(t, b.targets)
	coversFields(t, b.events)
	coversFields(t, append(b.faults, goldenKill)) // fault_kill.json shows until omitted
}

func coversFields[T any](t *testing.T, values []T) {
	t.Helper()
	typ := reflect.TypeFor[T]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		set, unset := false, false
		for _, v := range values {
			if reflect.ValueOf(v).Field(i).IsZero() {
				unset = true
			} else {
				set = true
			}
		}
		if !set {
			t.Errorf("no value of fullBackend sets %v.%s: the golden files do not show it", typ, f.Name)
		}
		if optional := strings.Contains(tag, ",omitempty") || strings.Contains(tag, ",omitzero"); optional && !unset {
			t.Errorf("no value of fullBackend leaves the optional %v.%s unset: the golden files do not show it omitted", typ, f.Name)
		}
	}
}

// TestAPI_GoldenFilesAllUsed keeps testdata honest: a file no case pins is
// stale, and would mislead whoever reads it as the API's format.
func TestAPI_GoldenFilesAllUsed(t *testing.T) {
	files, err := filepath.Glob("testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if slices.Contains(goldenPinnedElsewhere, filepath.Base(f)) {
			continue
		}
		if !slices.ContainsFunc(goldenCases, func(c goldenCase) bool { return c.golden == filepath.Base(f) }) {
			t.Errorf("%s is pinned by no case in goldenCases: delete it or add its case", f)
		}
	}
}

// TestClient_ReadsGoldenFiles serves the golden files verbatim and checks that
// the client reads back what the backend served: the client understands the
// pinned format, not merely whatever the same structs write today.
func TestClient_ReadsGoldenFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shoal.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]goldenCase{} // by path and query, the full backend's
	for _, c := range goldenCases {
		if c.backend().status.Stack != "" {
			files[c.path] = c
		}
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := files[r.URL.RequestURI()]
		if !ok {
			t.Errorf("client asked for %s, which no golden file answers", r.URL.RequestURI())
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", c.contentType)
		for k, v := range c.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(c.status)
		w.Write(readFile(t, filepath.Join("testdata", c.golden)))
	})}
	go srv.Serve(ln)
	defer srv.Close()

	b, c, ctx := fullBackend(), NewClient(path), context.Background()
	st, err := c.Status(ctx)
	check(t, "Status", b.Status(), st, err)
	tasks, err := c.Tasks(ctx, false)
	check(t, "Tasks(false)", b.Tasks(false), tasks, err)
	tasks, err = c.Tasks(ctx, true)
	check(t, "Tasks(true)", b.Tasks(true), tasks, err)
	targets, err := c.Targets(ctx)
	check(t, "Targets", b.Targets(), targets, err)
	events, err := c.Events(ctx, 2)
	check(t, "Events(2)", b.Events(2), events, err)
	data, next, err := c.Logs(ctx, "api-1f0c9a2e", 4)
	if err != nil || string(data) != "two\n" || next != 8 {
		t.Errorf("Logs from 4: got %q next %d, %v; want %q next 8", data, next, err, "two\n")
	}
	_, _, err = c.Logs(ctx, "api-nope", 0)
	if err == nil || err.Error() != `task "api-nope": not found` {
		t.Errorf("Logs of unknown task: got %v, want the server's message", err)
	}
	task, err := c.Task(ctx, "api-1f")
	check(t, "Task(api-1f)", b.tasks[0], task, err)
	task, err = c.Task(ctx, "worker-9")
	check(t, "Task(worker-9)", b.tasks[4], task, err)
	_, err = c.Task(ctx, "api-nope")
	if !errors.Is(err, agent.ErrNotFound) || err.Error() != `task "api-nope": not found` {
		t.Errorf("Task of unknown id: got %v, want ErrNotFound with the server's message", err)
	}
	_, err = c.Task(ctx, "api-")
	if want := `ambiguous task id prefix "api-": it matches 3 tasks: api-1f0c9a2e, api-5e6f7a8b, api-77b0e1c4`; !errors.Is(err, agent.ErrAmbiguous) || err.Error() != want {
		t.Errorf("Task of an ambiguous prefix: got %v, want ErrAmbiguous with %q", err, want)
	}
}

func check[T any](t *testing.T, what string, want, got T, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s read from the golden file (-served +read):\n%s", what, diff)
	}
}

// golden compares got with testdata's file, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := readFile(t, path)
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs from what the API serves (-golden +served):\n%s\n"+
			"This JSON is what users' scripts read. If the change is intended, run\n"+
			"  go test ./internal/admin -run TestAPI_Golden -update\nand note it in the release notes.",
			path, diff)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) && strings.HasPrefix(path, "testdata") {
			t.Fatalf("%v: create it with -update", err)
		}
		t.Fatal(err)
	}
	return data
}

// The control endpoints are not under test here.
func (b *goldenBackend) DeployStack(context.Context, StackRequest) ([]agent.Started, error) {
	return nil, errors.New("not in this test")
}
func (b *goldenBackend) Services() []agent.ServiceStatus     { return nil }
func (b *goldenBackend) SetDesired(string, int) error        { return errors.New("not in this test") }
func (b *goldenBackend) Instances() []agent.InstanceStatus   { return nil }
func (b *goldenBackend) InstanceAction(string, string) error { return errors.New("not in this test") }

func (b *goldenBackend) Rules() []proxy.ListenerRules { return nil }
func (b *goldenBackend) Explain(proxy.ExplainRequest) (proxy.Explanation, error) {
	return proxy.Explanation{}, errors.New("not in this test")
}

func (b *goldenBackend) SecurityGroups() agent.SecurityView { return agent.SecurityView{} }

// InjectFault answers every request with goldenKill, an instant fault.
func (b *goldenBackend) InjectFault(fault.Request) (fault.Fault, error) {
	return goldenKill, nil
}

// goldenKill is an instant fault: it has no until.
var goldenKill = fault.Fault{ID: "f-1", Kind: "kill-task", Task: "api-5e6f7a8b", Created: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}

// goldenPinnedElsewhere are the golden files of answers to requests other
// than a GET, each pinned by a test of its own.
var goldenPinnedElsewhere = []string{"fault_kill.json"}

// TestAPI_GoldenInjectFault pins the answer to POST /v1/faults: 201 and
// the fault.
func TestAPI_GoldenInjectFault(t *testing.T) {
	srv := httptest.NewServer(Handler(fullBackend()))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/faults", jsonType, strings.NewReader(`{"kind":"kill-task","task":"api-5e"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("status %d, want 201", resp.StatusCode)
	}
	golden(t, filepath.Join("testdata", "fault_kill.json"), body)
}
func (b *goldenBackend) Faults() []fault.Fault    { return b.faults }
func (b *goldenBackend) RemoveFault(string) error { return errors.New("not in this test") }
