package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoalhq/shoal/internal/admin"
	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/fault"
	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/secgroup"
)

// fakeBackend is a stack of one service, api, with two tasks on two
// instances; it records the actions it is asked to do.
type fakeBackend struct {
	mu      sync.Mutex
	events  []agent.Event
	desired map[string]int
	stopped []string
	actions []string
	faults  fault.Table
	// logs is each task's output; ended lists the tasks that stopped.
	logs  map[string][]byte
	ended map[string]bool
	// file and applied are the running stack's file and its content then;
	// deployed records what DeployStack was given.
	file     string
	applied  []byte
	deployed []admin.StackRequest
}

func newFake() *fakeBackend {
	return &fakeBackend{desired: map[string]int{"api": 2}, logs: map[string][]byte{}, ended: map[string]bool{}}
}

func (f *fakeBackend) Status() agent.Status { return agent.Status{Stack: "test"} }

func (f *fakeBackend) Tasks(all bool) []agent.TaskStatus {
	ts := []agent.TaskStatus{
		{ID: "aaaa1111", Service: "api", Instance: "instance-1", Address: "127.0.0.2:4000", LastStatus: "RUNNING", TargetGroup: "api"},
		{ID: "bbbb2222", Service: "api", Instance: "instance-2", Address: "127.0.0.3:4000", LastStatus: "RUNNING", TargetGroup: "api"},
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []agent.TaskStatus
	for _, t := range ts {
		if f.ended[t.ID] {
			t.LastStatus, t.StoppedReason, t.Exit = "STOPPED", "Task stopped by user", "exit code 0"
			if !all {
				continue
			}
		}
		out = append(out, t)
	}
	return out
}

func (f *fakeBackend) TaskLogs(id string, from int64) ([]byte, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.logs[id]
	from = min(max(from, 0), int64(len(b)))
	return slices.Clone(b[from:]), int64(len(b)), nil
}

// write appends to a task's output; stop makes it STOPPED.
func (f *fakeBackend) write(id, text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs[id] = append(f.logs[id], text...)
}

func (f *fakeBackend) stop(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended[id] = true
}

func (f *fakeBackend) AppliedStack() (string, []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.file, f.applied
}

// DeployStack refuses a source that says "problem", as the real one
// refuses a stack with problems, and records what it deployed.
func (f *fakeBackend) DeployStack(_ context.Context, req admin.StackRequest) ([]agent.Started, error) {
	if strings.Contains(string(req.Source), "problem") {
		return nil, fmt.Errorf("%w: %s has 1 problem; nothing was changed:\n%s:3:5: services.api.desired: a problem", admin.ErrBadRequest, req.File, req.File)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deployed = append(f.deployed, req)
	return []agent.Started{{Service: "api", Deployment: "ecs-svc/2", TaskDefinition: "api:2", Replaces: "api:1"}}, nil
}

func (f *fakeBackend) deploys() []admin.StackRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.deployed)
}

func (f *fakeBackend) Targets() []proxy.TargetHealth {
	return []proxy.TargetHealth{
		{Group: "api", Target: "127.0.0.2:4000", State: proxy.StateHealthy},
		{Group: "api", Target: "127.0.0.3:4000", State: proxy.StateInitial, Reason: "Elb.InitialHealthChecking"},
	}
}

func (f *fakeBackend) Events(since int64) []agent.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []agent.Event
	for _, e := range f.events {
		if e.Seq > since {
			out = append(out, e)
		}
	}
	return out
}

func (f *fakeBackend) record(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, agent.Event{Seq: int64(len(f.events) + 1), Time: time.Now(), Service: "api", Message: msg})
}

func (f *fakeBackend) Services() []agent.ServiceStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return []agent.ServiceStatus{{Name: "api", Desired: f.desired["api"], Running: 2}}
}

func (f *fakeBackend) Instances() []agent.InstanceStatus {
	return []agent.InstanceStatus{{Name: "instance-1", Status: "ACTIVE"}, {Name: "instance-2", Status: "ACTIVE"}}
}

func (f *fakeBackend) Rules() []proxy.ListenerRules { return nil }

// SecurityGroups are the tutorial's two groups: alb guards listener
// web/0, instances every task.
func (f *fakeBackend) SecurityGroups() agent.SecurityView {
	return agent.SecurityView{
		Groups: []secgroup.Group{
			{Name: "alb", Ingress: []secgroup.Rule{{Protocol: secgroup.TCP, Ports: secgroup.PortRange{From: 80, To: 80}, CIDR: netip.MustParsePrefix("0.0.0.0/0")}}},
			{Name: "instances", Ingress: []secgroup.Rule{{Protocol: secgroup.TCP, Ports: secgroup.AllPorts, SourceGroup: "alb"}}},
		},
		Listeners: []agent.GuardedPort{{Name: "web/0", Address: "127.0.0.1:8080", Groups: []string{"alb"}}},
		Tasks: []agent.GuardedPort{
			{Name: "aaaa1111", Address: "127.0.0.2:4000", Groups: []string{"instances"}},
			{Name: "bbbb2222", Address: "127.0.0.3:4000", Groups: []string{"instances"}},
		},
		Isolated: true,
	}
}
func (f *fakeBackend) TargetGroups() []string { return []string{"api"} }
func (f *fakeBackend) GroupMetrics(group string) (proxy.GroupMetrics, bool) {
	return proxy.GroupMetrics{}, group == "api"
}
func (f *fakeBackend) TargetMetrics(group string) map[string]proxy.GroupMetrics {
	if group != "api" {
		return nil
	}
	return map[string]proxy.GroupMetrics{"127.0.0.2:4000": {}, "127.0.0.3:4000": {}}
}

// SetDesired, StopTask and InstanceAction check as the agent does.
func (f *fakeBackend) SetDesired(service string, n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.desired[service]; !ok {
		return fmt.Errorf("%w: no service %q", agent.ErrNotFound, service)
	}
	if n < 0 || n > 1000 {
		return fmt.Errorf("%w: desired count %d is out of range: use 0-1000", agent.ErrInvalid, n)
	}
	f.desired[service] = n
	return nil
}

func (f *fakeBackend) StopTask(ref, reason string) error {
	if _, err := agent.FindTask(f.Tasks(false), ref); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, ref)
	return nil
}

func (f *fakeBackend) InstanceAction(name, action string) error {
	if !slices.ContainsFunc(f.Instances(), func(in agent.InstanceStatus) bool { return in.Name == name }) {
		return fmt.Errorf("%w: no instance %q", agent.ErrNotFound, name)
	}
	if !slices.Contains([]string{agent.ActionDrain, agent.ActionActivate, agent.ActionStop}, action) {
		return fmt.Errorf("%w: unknown instance action %q: use drain, activate or stop", agent.ErrInvalid, action)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.actions = append(f.actions, name+" "+action)
	return nil
}

// InjectFault checks as the agent does: the request, then what it names.
func (f *fakeBackend) InjectFault(req fault.Request) (fault.Fault, error) {
	if err := req.Validate(); err != nil {
		return fault.Fault{}, fmt.Errorf("%w: %v", agent.ErrInvalid, err)
	}
	if req.Task != "" {
		t, err := agent.FindTask(f.Tasks(false), req.Task)
		if err != nil {
			return fault.Fault{}, err
		}
		req.Task = t.ID
	}
	if req.TargetGroup != "" && !slices.Contains(f.TargetGroups(), req.TargetGroup) {
		return fault.Fault{}, fmt.Errorf("%w: no target group %q", agent.ErrNotFound, req.TargetGroup)
	}
	if req.Target != "" && !slices.ContainsFunc(f.Targets(), func(t proxy.TargetHealth) bool {
		return t.Group == req.TargetGroup && t.Target == req.Target
	}) {
		return fault.Fault{}, fmt.Errorf("%w: no target %s in target group %q", agent.ErrNotFound, req.Target, req.TargetGroup)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.faults.Add(req, time.Now()), nil
}

func (f *fakeBackend) Faults() []fault.Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.faults.Active()
}

func (f *fakeBackend) RemoveFault(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.faults.Remove(id); !ok {
		return fmt.Errorf("%w: no active fault %q", agent.ErrNotFound, id)
	}
	return nil
}

const token = "0123456789abcdef"

func newServer(t *testing.T, f *fakeBackend) *httptest.Server {
	t.Helper()
	d := New(f, Options{Token: token, Interval: 10 * time.Millisecond})
	srv := httptest.NewServer(d)
	t.Cleanup(func() {
		d.Close()
		srv.Close()
	})
	return srv
}

func TestServer_TokenRequired(t *testing.T) {
	srv := newServer(t, newFake())
	get := func(path string, cookie *http.Cookie) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, path := range []string{"/", "/static/app.js", "/events", "/?token=wrong"} {
		if resp := get(path, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without the token: got %d, want 401", path, resp.StatusCode)
		}
	}
	if resp := get("/", &http.Cookie{Name: cookieName, Value: "wrong"}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET / with a wrong cookie: got %d, want 401", resp.StatusCode)
	}
	resp := get("/?token="+token, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /?token=…: got %d, want 200", resp.StatusCode)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == cookieName {
			cookie = c
		}
	}
	if cookie == nil || cookie.Value != token || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" {
		t.Fatalf("cookie set: %+v, want %s=<token>, HttpOnly, SameSite=Strict, Path=/", cookie, cookieName)
	}
	for _, path := range []string{"/", "/static/app.js", "/static/style.css"} {
		if resp := get(path, &http.Cookie{Name: cookieName, Value: cookie.Value}); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s with the cookie only: got %d, want 200", path, resp.StatusCode)
		}
	}
}

// sseEvent is one server-sent event.
type sseEvent struct{ name, data string }

// readEvents reads the stream's events into a channel until it ends.
func readEvents(t *testing.T, ctx context.Context, url string) <-chan sseEvent {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /events: %d %s, want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := make(chan sseEvent, 100)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			case line == "" && ev.name != "":
				out <- ev
				ev = sseEvent{}
			}
		}
	}()
	return out
}

func next(t *testing.T, events <-chan sseEvent, name string) sseEvent {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("the stream ended before a %s event", name)
			}
			if ev.name == name {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event within 5s", name)
		}
	}
}

func TestServer_EventsStreamsStateAndEvents(t *testing.T) {
	f := newFake()
	f.record("service api has started 2 tasks: task aaaa1111 task bbbb2222.")
	srv := newServer(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := readEvents(t, ctx, srv.URL+"/events?token="+token)

	var snap Snapshot
	if err := json.Unmarshal([]byte(next(t, events, "state").data), &snap); err != nil {
		t.Fatal(err)
	}
	if snap.Stack != "test" || len(snap.Tasks) != 2 || len(snap.Groups) != 1 || len(snap.Groups[0].Targets) != 2 || len(snap.Instances) != 2 {
		t.Errorf("state: got %+v, want stack test with 2 tasks, group api with 2 targets, 2 instances", snap)
	}
	wantGroups := []SecurityGroup{
		{Name: "alb", Rules: []string{"tcp 80 from 0.0.0.0/0"}, Listeners: []string{"web/0"}},
		{Name: "instances", Rules: []string{"tcp all ports from group alb"}, Listeners: []string{}, Instances: true},
	}
	if diff := cmp.Diff(wantGroups, snap.SecurityGroups); diff != "" || !snap.Isolated {
		t.Errorf("state's security groups (-want +got), isolated %v:\n%s", snap.Isolated, diff)
	}
	if ev := next(t, events, "event"); !strings.Contains(ev.data, "has started 2 tasks") {
		t.Errorf("first event: got %s, want the one recorded before", ev.data)
	}

	f.record("service api has reached a steady state.")
	if ev := next(t, events, "event"); !strings.Contains(ev.data, "steady state") {
		t.Errorf("event as recorded: got %s, want the steady state", ev.data)
	}
	// A change sends a new state.
	f.SetDesired("api", 4)
	if err := json.Unmarshal([]byte(next(t, events, "state").data), &snap); err != nil {
		t.Fatal(err)
	}
	if snap.Services[0].Desired != 4 {
		t.Errorf("state after scaling: desired %d, want 4", snap.Services[0].Desired)
	}
}

// TestServer_CloseEndsStreams: a stream open when shoal stops ends, so
// that the server's Shutdown does not wait for it.
func TestServer_CloseEndsStreams(t *testing.T) {
	f := newFake()
	d := New(f, Options{Token: token, Interval: 10 * time.Millisecond})
	srv := httptest.NewServer(d)
	defer srv.Close()
	events := readEvents(t, context.Background(), srv.URL+"/events?token="+token)
	next(t, events, "state")
	d.Close()
	select {
	case _, ok := <-events:
		for ok {
			_, ok = <-events
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end within 5s of Close")
	}
}

func TestServer_Actions(t *testing.T) {
	tests := []struct {
		name, path, body string
		contentType      string
		want             int
		wantErr          string
		changed          func(f *fakeBackend) bool
	}{
		{"scale", "/api/services/api/scale", `{"desired": 5}`, "", 200, "", func(f *fakeBackend) bool { return f.desired["api"] == 5 }},
		{"scale an unknown service", "/api/services/web/scale", `{"desired": 5}`, "", 404, `no service "web"`, nil},
		{"scale to a negative count", "/api/services/api/scale", `{"desired": -1}`, "", 400, "desired count -1 is out of range", nil},
		{"scale without a count", "/api/services/api/scale", `{}`, "", 400, "desired count", nil},
		{"scale with a bad body", "/api/services/api/scale", `{"desired": "five"}`, "", 400, "request body", nil},
		{"scale as a form", "/api/services/api/scale", `desired=5`, "application/x-www-form-urlencoded", 415, "application/json", nil},
		{"stop a task", "/api/tasks/aaaa1111/stop", `{}`, "", 200, "", func(f *fakeBackend) bool { return slices.Equal(f.stopped, []string{"aaaa1111"}) }},
		{"stop a task, no body", "/api/tasks/bbbb/stop", ``, "", 200, "", func(f *fakeBackend) bool { return slices.Equal(f.stopped, []string{"bbbb"}) }},
		{"stop an unknown task", "/api/tasks/cccc/stop", `{}`, "", 404, "cccc", nil},
		{"drain an instance", "/api/instances/instance-1/drain", `{}`, "", 200, "", func(f *fakeBackend) bool { return slices.Equal(f.actions, []string{"instance-1 drain"}) }},
		{"drain an unknown instance", "/api/instances/instance-9/drain", `{}`, "", 404, `no instance "instance-9"`, nil},
		{"an unknown action", "/api/instances/instance-1/reboot", `{}`, "", 400, `unknown instance action "reboot"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			srv := newServer(t, f)
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			req, _ := http.NewRequest("POST", srv.URL+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", ct)
			req.AddCookie(&http.Cookie{Name: cookieName, Value: token})
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body errorBody
			json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tt.want || !strings.Contains(body.Error, tt.wantErr) {
				t.Errorf("got %d %q, want %d with an error saying %q", resp.StatusCode, body.Error, tt.want, tt.wantErr)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if tt.changed != nil {
				if !tt.changed(f) {
					t.Errorf("the backend was not changed: desired %v, stopped %v, actions %v", f.desired, f.stopped, f.actions)
				}
			} else if f.desired["api"] != 2 || len(f.stopped) > 0 || len(f.actions) > 0 {
				t.Errorf("a refused action changed something: desired %v, stopped %v, actions %v", f.desired, f.stopped, f.actions)
			}
		})
	}
	// Without the token nothing happens.
	f := newFake()
	srv := newServer(t, f)
	resp, err := http.Post(srv.URL+"/api/services/api/scale", "application/json", strings.NewReader(`{"desired": 5}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || f.desired["api"] != 2 {
		t.Errorf("scale without the token: got %d, desired %d; want 401, 2", resp.StatusCode, f.desired["api"])
	}
}

// TestServer_Faults: each case starts with one active fault, f-1 (task
// bbbb2222 paused); a refused request leaves it alone and adds none.
func TestServer_Faults(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		contentType              string
		want                     int
		wantErr                  string
		wantFaults               []string // the active faults after, as "id kind"
	}{
		{"fail a target's health", "POST", "/api/faults", `{"kind": "fail-health", "target_group": "api", "target": "127.0.0.2:4000", "for": "30s"}`, "", 201, "",
			[]string{"f-1 pause-task", "f-2 fail-health"}},
		{"pause a task by prefix", "POST", "/api/faults", `{"kind": "pause-task", "task": "aaaa", "for": "30s"}`, "", 201, "",
			[]string{"f-1 pause-task", "f-2 pause-task"}},
		{"errors in half the requests", "POST", "/api/faults", `{"kind": "errors", "target_group": "api", "fraction": 0.5, "status": 503, "for": "30s"}`, "", 201, "",
			[]string{"f-1 pause-task", "f-2 errors"}},
		{"kill a task", "POST", "/api/faults", `{"kind": "kill-task", "task": "aaaa1111"}`, "", 201, "", []string{"f-1 pause-task"}},
		{"an unknown task", "POST", "/api/faults", `{"kind": "kill-task", "task": "cccc"}`, "", 404, "cccc", nil},
		{"an unknown target", "POST", "/api/faults", `{"kind": "fail-health", "target_group": "api", "target": "127.0.0.9:4000", "for": "30s"}`, "", 404, "no target 127.0.0.9:4000", nil},
		{"an unknown group", "POST", "/api/faults", `{"kind": "latency", "target_group": "web", "delay": "500ms", "for": "30s"}`, "", 404, `no target group "web"`, nil},
		{"a bad fraction", "POST", "/api/faults", `{"kind": "errors", "target_group": "api", "fraction": 1.5, "for": "30s"}`, "", 400, "fraction 1.5 is out of range", nil},
		{"no duration", "POST", "/api/faults", `{"kind": "fail-health", "target_group": "api", "target": "127.0.0.2:4000"}`, "", 400, "needs a duration", nil},
		{"a misspelt field", "POST", "/api/faults", `{"kind": "errors", "target_group": "api", "fracton": 0.5, "for": "30s"}`, "", 400, "request body", nil},
		{"as a form", "POST", "/api/faults", `kind=kill-task&task=aaaa1111`, "application/x-www-form-urlencoded", 415, "application/json", nil},
		{"undo a fault", "DELETE", "/api/faults/f-1", ``, "", 200, "", []string{}},
		{"undo an unknown fault", "DELETE", "/api/faults/f-9", ``, "", 404, `no active fault "f-9"`, nil},
		{"undo as a form", "DELETE", "/api/faults/f-1", `x=1`, "application/x-www-form-urlencoded", 415, "application/json", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			if _, err := f.InjectFault(fault.Request{Kind: fault.PauseTask, Task: "bbbb2222", For: fault.Duration(30 * time.Second)}); err != nil {
				t.Fatal(err)
			}
			srv := newServer(t, f)
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", ct)
			req.AddCookie(&http.Cookie{Name: cookieName, Value: token})
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				errorBody
				fault.Fault
			}
			json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tt.want || !strings.Contains(body.Error, tt.wantErr) {
				t.Errorf("got %d %q, want %d with an error saying %q", resp.StatusCode, body.Error, tt.want, tt.wantErr)
			}
			if tt.want == http.StatusCreated && (body.ID != "f-2" || body.Created.IsZero()) {
				t.Errorf("answer: got %+v, want fault f-2", body.Fault)
			}
			want := tt.wantFaults
			if want == nil {
				want = []string{"f-1 pause-task"} // refused: nothing changed
			}
			got := []string{}
			for _, a := range f.Faults() {
				got = append(got, a.ID+" "+string(a.Kind))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("active faults (-want +got):\n%s", diff)
			}
		})
	}
	// Without the token nothing happens.
	f := newFake()
	srv := newServer(t, f)
	resp, err := http.Post(srv.URL+"/api/faults", "application/json", strings.NewReader(`{"kind": "kill-task", "task": "aaaa1111"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || len(f.Faults()) != 0 {
		t.Errorf("inject without the token: got %d, %d faults; want 401, none", resp.StatusCode, len(f.Faults()))
	}
}

// TestServer_StateCarriesFaults: a fault injected shows in the next state,
// and is gone from the one after it is removed.
func TestServer_StateCarriesFaults(t *testing.T) {
	f := newFake()
	srv := newServer(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := readEvents(t, ctx, srv.URL+"/events?token="+token)
	state := func() Snapshot {
		t.Helper()
		var snap Snapshot
		if err := json.Unmarshal([]byte(next(t, events, "state").data), &snap); err != nil {
			t.Fatal(err)
		}
		return snap
	}
	if snap := state(); snap.Faults == nil || len(snap.Faults) != 0 {
		t.Fatalf("first state: faults %v, want []", snap.Faults)
	}
	in, err := f.InjectFault(fault.Request{Kind: fault.FailHealth, TargetGroup: "api", Target: "127.0.0.2:4000", For: fault.Duration(30 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	snap := state()
	if len(snap.Faults) != 1 || snap.Faults[0].ID != in.ID || snap.Faults[0].Target != "127.0.0.2:4000" || !snap.Faults[0].Until.Equal(in.Until) {
		t.Errorf("state after the injection: faults %+v, want %+v", snap.Faults, in)
	}
	f.RemoveFault(in.ID)
	if snap := state(); len(snap.Faults) != 0 {
		t.Errorf("state after the removal: faults %+v, want none", snap.Faults)
	}
}

// errorBody is the JSON of an error answer.
type errorBody struct {
	Error string `json:"error"`
}
