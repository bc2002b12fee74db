package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoalhq/shoal/internal/admin"
	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/fault"
	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/store"
	"github.com/shoalhq/shoal/internal/testkit"
)

// fixedBackend is an admin.Backend of fixed values (optional fields both set
// and unset) whose events can grow while a command follows them.
type fixedBackend struct {
	mu       sync.Mutex
	events   []agent.Event
	asked    []int64 // the since of every Events call
	services []agent.ServiceStatus
}

var (
	t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	t1 = time.Date(2026, 11, 22, 12, 0, 2, 500_000_000, time.UTC)
	t2 = time.Date(2026, 11, 22, 13, 1, 0, 123_456_789, time.FixedZone("CET", 3600))
)

func newFixedBackend() *fixedBackend {
	return &fixedBackend{events: []agent.Event{
		{Seq: 1, Time: t0, Service: "api", Message: "service api has started 2 tasks: api-1f0c9a2e api-77b0e1c4."},
		{Seq: 2, Time: t1, Service: "api", Task: "api-1f0c9a2e", Message: "task api-1f0c9a2e is RUNNING on instance-1 at 127.0.0.2:40123."},
		{Seq: 3, Time: t2, Target: "127.0.0.3:40200", Message: "target 127.0.0.3:40200 in target-group api: healthy → unhealthy (Target.Timeout: Request timed out)."},
	}}
}

func (b *fixedBackend) Status() agent.Status {
	return agent.Status{Stack: "catalog", File: "/srv/catalog/shoal.yaml", Listeners: []string{"127.0.0.1:8080"},
		Services: []agent.ServiceStatus{
			{Name: "api", Desired: 2, Running: 2, Pending: 0, Healthy: 1, TargetGroup: "api"},
			{Name: "worker", Desired: 1, Pending: 1, SteadyState: true},
		}}
}

func (b *fixedBackend) Tasks(all bool) []agent.TaskStatus {
	ts := []agent.TaskStatus{
		{ID: "api-1f0c9a2e", Service: "api", TaskDefinition: "api", Instance: "instance-1", Address: "127.0.0.2:40123",
			Pid: 4242, LastStatus: "RUNNING", DesiredStatus: "RUNNING", Health: "healthy", TargetGroup: "api",
			CreatedAt: t0, StartedAt: &t1},
		{ID: "worker-0a1b2c3d", Service: "worker", TaskDefinition: "worker", Instance: "instance-2",
			LastStatus: "PROVISIONING", DesiredStatus: "RUNNING", CreatedAt: t2},
	}
	if all {
		ts = append(ts, agent.TaskStatus{ID: "api-5e6f7a8b", Service: "api", TaskDefinition: "api", Instance: "instance-2",
			Address: "127.0.0.3:40200", LastStatus: "STOPPED", DesiredStatus: "STOPPED", Health: "unhealthy",
			HealthReason: "Target.Timeout", TargetGroup: "api", CreatedAt: t0, StartedAt: &t1, StoppedAt: &t2,
			StopCode: "ServiceSchedulerInitiated", StoppedReason: "Task failed ELB health checks in (target-group api)",
			Exit: "signal: terminated"})
	}
	return ts
}

func (b *fixedBackend) TaskLogs(id string, from int64) ([]byte, int64, error) {
	return nil, 0, fmt.Errorf("task %q: %w", id, agent.ErrNotFound)
}

func (b *fixedBackend) Targets() []proxy.TargetHealth {
	return []proxy.TargetHealth{
		{Group: "api", Target: "127.0.0.2:40123", State: "healthy", Since: t1, InFlight: 2},
		{Group: "api", Target: "127.0.0.3:40200", State: "draining", Reason: "Target.DeregistrationInProgress",
			Description: "Target deregistration is in progress", Since: t2},
	}
}

func (b *fixedBackend) Events(since int64) []agent.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.asked = append(b.asked, since)
	var out []agent.Event
	for _, e := range b.events {
		if e.Seq > since {
			out = append(out, e)
		}
	}
	return out
}

func (b *fixedBackend) add(at time.Time, msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, agent.Event{Seq: int64(len(b.events) + 1), Time: at, Message: msg})
}

func (b *fixedBackend) askedSince() []int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int64(nil), b.asked...)
}

// serveAdmin serves the admin API of b on the socket in a new state
// directory, as `shoal up` does, and returns the directory and a function
// that stops serving and removes the socket, as `shoal up` does on exit.
// (It serves admin.Handler itself rather than through admin.Listen, so that
// these tests depend on the API, not on how shoal opens its socket.)
func serveAdmin(t *testing.T, b admin.Backend) (string, func()) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, store.SocketName)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: admin.Handler(b)}
	go srv.Serve(ln)
	var once sync.Once
	stop := func() {
		once.Do(func() {
			srv.Close()
			os.Remove(path)
		})
	}
	t.Cleanup(stop)
	return dir, stop
}

// apiGet returns the body the admin API answers path with.
func apiGet(t *testing.T, state, path string) string {
	t.Helper()
	hc := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", filepath.Join(state, store.SocketName))
	}}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("http://shoal" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

func TestEvents_PrintsEachAsUpDoes(t *testing.T) {
	state, _ := serveAdmin(t, newFixedBackend())
	code, out, errOut := run(t, context.Background(), "events", "--state-dir", state)
	want := "12:00:00 service api has started 2 tasks: api-1f0c9a2e api-77b0e1c4.\n" +
		"12:00:02 task api-1f0c9a2e is RUNNING on instance-1 at 127.0.0.2:40123.\n" +
		"13:01:00 target 127.0.0.3:40200 in target-group api: healthy → unhealthy (Target.Timeout: Request timed out).\n"
	if code != 0 || errOut != "" {
		t.Errorf("exit %d, stderr %q; want 0 and nothing", code, errOut)
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
}

func TestEvents_FollowPrintsNewEventsUntilCancelled(t *testing.T) {
	b := newFixedBackend()
	state, _ := serveAdmin(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut testkit.Buffer
	done := make(chan int, 1)
	go func() { done <- Main(ctx, []string{"events", "-f", "--state-dir", state}, &out, &errOut) }()

	testkit.WaitFor(t, 10*time.Second, "the first 3 events", func() bool { return strings.Count(out.String(), "\n") == 3 })
	b.add(time.Date(2026, 11, 22, 12, 7, 0, 0, time.UTC), "service api has reached a steady state.")
	testkit.WaitFor(t, 10*time.Second, "the new event", func() bool {
		return strings.HasSuffix(out.String(), "\n12:07:00 service api has reached a steady state.\n")
	})
	testkit.WaitFor(t, 10*time.Second, "a poll after the new event", func() bool {
		asked := b.askedSince()
		return asked[len(asked)-1] == 4
	})
	cancel()
	exitsQuietly(t, "events -f", "cancel", done, &errOut)
	if n := strings.Count(out.String(), "\n"); n != 4 {
		t.Errorf("printed %d lines, want each of the 4 events once:\n%s", n, out.String())
	}
	// It asks for what came after the last event it printed, never again
	// from the start.
	asked := b.askedSince()
	if asked[0] != 0 {
		t.Errorf("first poll since %d, want 0", asked[0])
	}
	for _, s := range asked[1:] {
		if s != 3 && s != 4 {
			t.Errorf("polled since %v; want 0 once, then the last seq printed (3, then 4)", asked)
			break
		}
	}
}

func TestEvents_FollowEndsWhenShoalStops(t *testing.T) {
	state, stop := serveAdmin(t, newFixedBackend())
	var out, errOut testkit.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main(context.Background(), []string{"events", "-f", "--state-dir", state}, &out, &errOut)
	}()
	testkit.WaitFor(t, 10*time.Second, "the first 3 events", func() bool { return strings.Count(out.String(), "\n") == 3 })
	stop()
	exitsQuietly(t, "events -f", "shoal stopping", done, &errOut)
}

func TestEvents_FollowJSONIsOneObjectPerLine(t *testing.T) {
	b := newFixedBackend()
	state, _ := serveAdmin(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut testkit.Buffer
	done := make(chan int, 1)
	go func() { done <- Main(ctx, []string{"events", "-f", "--json", "--state-dir", state}, &out, &errOut) }()
	b.add(t0, "stack catalog applied.")
	testkit.WaitFor(t, 10*time.Second, "4 events", func() bool { return strings.Count(out.String(), "\n") == 4 })
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
	var got []agent.Event
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		var ev agent.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, ev)
	}
	if diff := cmp.Diff(b.Events(0), got); diff != "" {
		t.Errorf("events (-served +printed):\n%s", diff)
	}
	if first, _, _ := strings.Cut(out.String(), "\n"); first != `{"seq":1,"time":"2026-11-22T12:00:00Z","service":"api","message":"service api has started 2 tasks: api-1f0c9a2e api-77b0e1c4."}` {
		t.Errorf("first line: got %s", first)
	}
}

func TestEvents_Usage(t *testing.T) {
	code, _, stderr := run(t, context.Background(), "events", "--state-dir", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "shoal is not running") {
		t.Errorf("nothing running: got exit %d, stderr %q; want 1 and 'shoal is not running'", code, stderr)
	}
	code, _, stderr = run(t, context.Background(), "events", "api", "worker")
	if code != 2 || !strings.Contains(stderr, "shoal events takes at most one service") {
		t.Errorf("with an argument: got exit %d, stderr %q; want 2", code, stderr)
	}
	code, out, _ := run(t, context.Background(), "help")
	if code != 0 || !strings.Contains(out, "\n  events ") {
		t.Errorf("help does not list events:\n%s", out)
	}
}

// TestJSONFlag_PrintsWhatTheAPIServes: the CLI decodes the API's answers into
// structs and encodes them again for --json. What it prints must be the API's
// bytes exactly, which internal/admin/testdata pins.
func TestJSONFlag_PrintsWhatTheAPIServes(t *testing.T) {
	state, _ := serveAdmin(t, newFixedBackend())
	for _, c := range []struct {
		args []string
		api  string
	}{
		{[]string{"status", "--json"}, "/v1/status"},
		{[]string{"ps", "--json"}, "/v1/tasks"},
		{[]string{"ps", "-a", "--json"}, "/v1/tasks?all=1"},
		{[]string{"targets", "--json"}, "/v1/targets"},
		{[]string{"events", "--json"}, "/v1/events?since=0"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, out, errOut := run(t, context.Background(), append(c.args, "--state-dir", state)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if diff := cmp.Diff(apiGet(t, state, c.api), out); diff != "" {
				t.Errorf("shoal %s differs from GET %s (-api +cli):\n%s", strings.Join(c.args, " "), c.api, diff)
			}
		})
	}
}

// exitsQuietly waits for a following command to return after cause
// ("shoal stopping", "cancel"): exit 0, nothing on stderr.
func exitsQuietly(t *testing.T, what, cause string, done <-chan int, errOut *testkit.Buffer) {
	t.Helper()
	select {
	case code := <-done:
		if code != 0 || errOut.String() != "" {
			t.Errorf("%s after %s: exit %d, stderr %q; want 0 and nothing", what, cause, code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not return within 10s of %s", what, cause)
	}
}

// The control endpoints are not under test here.
func (b *fixedBackend) DeployStack(context.Context, admin.StackRequest) ([]agent.Started, error) {
	return nil, errors.New("not in this test")
}
func (b *fixedBackend) Services() []agent.ServiceStatus     { return b.services }
func (b *fixedBackend) SetDesired(string, int) error        { return errors.New("not in this test") }
func (b *fixedBackend) Instances() []agent.InstanceStatus   { return nil }
func (b *fixedBackend) InstanceAction(string, string) error { return errors.New("not in this test") }

func (b *fixedBackend) InjectFault(fault.Request) (fault.Fault, error) {
	return fault.Fault{}, errors.New("not in this test")
}
func (b *fixedBackend) Faults() []fault.Fault    { return nil }
func (b *fixedBackend) RemoveFault(string) error { return errors.New("not in this test") }

func (b *fixedBackend) Rules() []proxy.ListenerRules { return nil }
func (b *fixedBackend) Explain(proxy.ExplainRequest) (proxy.Explanation, error) {
	return proxy.Explanation{}, errors.New("not in this test")
}

func (b *fixedBackend) SecurityGroups() agent.SecurityView { return agent.SecurityView{} }
