package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/fault"
	"github.com/shoalhq/shoal/internal/proxy"
)

// fakeBackend answers from fixed data, recording what it was asked.
type fakeBackend struct {
	tasks    []agent.TaskStatus
	askedAll bool
	logs     map[string]string
	faults   fault.Table
}

func (f *fakeBackend) Status() agent.Status {
	return agent.Status{Stack: "test", Listeners: []string{"127.0.0.1:8080"}}
}

func (f *fakeBackend) Tasks(all bool) []agent.TaskStatus {
	f.askedAll = all
	return f.tasks
}

func (f *fakeBackend) TaskLogs(id string, from int64) ([]byte, int64, error) {
	l, ok := f.logs[id]
	if !ok {
		return nil, 0, fmt.Errorf("task %q: %w", id, agent.ErrNotFound)
	}
	return []byte(l[from:]), int64(len(l)), nil
}

func (f *fakeBackend) Targets() []proxy.TargetHealth {
	return []proxy.TargetHealth{{Group: "api", Target: "127.0.0.2:4000", State: proxy.StateHealthy}}
}

func (f *fakeBackend) Events(since int64) []agent.Event { return nil }
func (f *fakeBackend) DeployStack(ctx context.Context, req StackRequest) ([]agent.Started, error) {
	return nil, errors.New("not in this test")
}
func (f *fakeBackend) Services() []agent.ServiceStatus        { return nil }
func (f *fakeBackend) SetDesired(service string, n int) error { return errors.New("not in this test") }
func (f *fakeBackend) Instances() []agent.InstanceStatus      { return nil }
func (f *fakeBackend) InstanceAction(name, action string) error {
	return errors.New("not in this test")
}

func serve(t *testing.T, b Backend) (*Client, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "shoal.sock")
	srv, err := Listen(path, b, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	return NewClient(path), path
}

func TestAPI_ListingsRoundTrip(t *testing.T) {
	started := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	b := &fakeBackend{tasks: []agent.TaskStatus{{ID: "api-1", Service: "api", LastStatus: "RUNNING", StartedAt: &started}}}
	c, _ := serve(t, b)
	ctx := context.Background()

	tasks, err := c.Tasks(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b.tasks, tasks); diff != "" {
		t.Errorf("tasks (-want +got):\n%s", diff)
	}
	if !b.askedAll {
		t.Error("Tasks(all=true) did not reach the backend as all")
	}
	st, err := c.Status(ctx)
	if err != nil || st.Stack != "test" || st.Listeners[0] != "127.0.0.1:8080" {
		t.Errorf("status: got %+v, %v", st, err)
	}
	targets, err := c.Targets(ctx)
	if err != nil || len(targets) != 1 || targets[0].State != proxy.StateHealthy {
		t.Errorf("targets: got %+v, %v", targets, err)
	}
	events, err := c.Events(ctx, 0)
	if err != nil || events == nil || len(events) != 0 {
		t.Errorf("events: got %#v, %v; want an empty list", events, err)
	}
}

func TestAPI_LogsFollowFromOffset(t *testing.T) {
	c, _ := serve(t, &fakeBackend{tasks: []agent.TaskStatus{{ID: "api-1"}}, logs: map[string]string{"api-1": "one\ntwo\n"}})
	data, next, err := c.Logs(context.Background(), "api-1", 4)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "two\n" || next != 8 {
		t.Errorf("logs from 4: got %q next %d, want %q next 8", data, next, "two\n")
	}
}

func TestAPI_UnknownTaskIsNotFound(t *testing.T) {
	c, _ := serve(t, &fakeBackend{})
	_, _, err := c.Logs(context.Background(), "api-x", 0)
	if !errors.Is(err, agent.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
	if got, want := err.Error(), `task "api-x": not found`; got != want {
		t.Errorf("message: got %q, want %q", got, want)
	}
}

// TestAPI_TaskPrefix: a task is named by its id or a unique prefix of it,
// running or stopped; an ambiguous prefix is a 409 naming every match.
func TestAPI_TaskPrefix(t *testing.T) {
	b := &fakeBackend{
		tasks: []agent.TaskStatus{
			{ID: "api-1f0c9a2e", Service: "api", LastStatus: "RUNNING"},
			{ID: "api-1f77b0e1", Service: "api", LastStatus: "RUNNING"},
			{ID: "api-5e6f7a8b", Service: "api", LastStatus: "STOPPED"},
		},
		logs: map[string]string{"api-1f0c9a2e": "first\n", "api-1f77b0e1": "second\n", "api-5e6f7a8b": "gone\n"},
	}
	c, path := serve(t, b)
	ctx := context.Background()
	for ref, want := range map[string]string{"api-1f0c9a2e": "first\n", "api-1f0": "first\n", "api-1f7": "second\n", "api-5": "gone\n"} {
		data, _, err := c.Logs(ctx, ref, 0)
		if err != nil || string(data) != want {
			t.Errorf("logs of %s: got %q, %v; want %q", ref, data, err, want)
		}
	}
	if task, err := c.Task(ctx, "api-5"); err != nil || task.ID != "api-5e6f7a8b" || task.LastStatus != "STOPPED" {
		t.Errorf("task api-5: got %+v, %v; want the stopped api-5e6f7a8b", task, err)
	}
	if !b.askedAll {
		t.Error("a prefix was resolved without the stopped tasks")
	}
	for _, ref := range []string{"api-1f", "api-"} {
		_, _, err := c.Logs(ctx, ref, 0)
		if !errors.Is(err, agent.ErrAmbiguous) || errors.Is(err, agent.ErrNotFound) {
			t.Errorf("logs of %s: got %v, want ErrAmbiguous", ref, err)
		}
		_, err = c.Task(ctx, ref)
		if !errors.Is(err, agent.ErrAmbiguous) || !strings.Contains(err.Error(), "api-1f0c9a2e, api-1f77b0e1") {
			t.Errorf("task %s: got %v, want ErrAmbiguous naming the matches", ref, err)
		}
	}
	_, err := c.Task(ctx, "web")
	if !errors.Is(err, agent.ErrNotFound) || err.Error() != `task "web": not found` {
		t.Errorf("task web: got %v, want ErrNotFound", err)
	}

	hc := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
	resp, err := hc.Get("http://shoal/v1/tasks/api-1f")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("ambiguous prefix: got %s, want 409", resp.Status)
	}
}

func TestAPI_BadQueryIs400(t *testing.T) {
	_, path := serve(t, &fakeBackend{})
	hc := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
	resp, err := hc.Get("http://shoal/v1/events?since=-3")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "since must be a whole number") {
		t.Errorf("got %s %s", resp.Status, body)
	}
}

func TestListen_SocketIsPrivateAndRemovedOnClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shoal.sock")
	srv, err := Listen(path, &fakeBackend{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("socket mode: got %v, want 0600", perm)
	}
	srv.Close(context.Background())
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket still there after Close: %v", err)
	}
}

func TestClient_NotRunning(t *testing.T) {
	c := NewClient(filepath.Join(t.TempDir(), "shoal.sock"))
	_, err := c.Tasks(context.Background(), false)
	if !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "shoal up") {
		t.Errorf("got %v, want ErrNotRunning saying how to start", err)
	}
}

func TestListen_SocketIsPrivateInPrivateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "shoal.sock")
	srv, err := Listen(path, &fakeBackend{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	for p, want := range map[string]os.FileMode{dir: os.ModeDir | 0o700, path: os.ModeSocket | 0o600} {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: got mode %v, want %v", p, fi.Mode(), want)
		}
	}
}

func TestListen_ReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shoal.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false) // what a dead shoal leaves behind
	ln.Close()
	srv, err := Listen(path, &fakeBackend{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("got %v, want the stale socket replaced", err)
	}
	defer srv.Close(context.Background())
	if _, err := NewClient(path).Status(context.Background()); err != nil {
		t.Errorf("status over the new socket: %v", err)
	}
}

func TestListen_RefusesWhatIsNotASocket(t *testing.T) {
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, plant := range map[string]func(path string) error{
		"file":    func(path string) error { return os.WriteFile(path, []byte("precious\n"), 0o600) },
		"symlink": func(path string) error { return os.Symlink(victim, path) },
		"dir":     func(path string) error { return os.Mkdir(path, 0o700) },
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "shoal.sock")
			if err := plant(path); err != nil {
				t.Fatal(err)
			}
			before, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			srv, err := Listen(path, &fakeBackend{}, slog.New(slog.DiscardHandler))
			if err == nil {
				srv.Close(context.Background())
				t.Fatalf("got a server, want Listen to refuse a %s at the socket path", name)
			}
			for _, hint := range []string{"is not a socket", "move it away", "--state-dir"} {
				if !strings.Contains(err.Error(), hint) {
					t.Errorf("got %q, want it to say %q", err, hint)
				}
			}
			after, err := os.Lstat(path)
			if err != nil {
				t.Fatalf("%s at the socket path is gone: %v", name, err)
			}
			if !os.SameFile(before, after) || after.Mode() != before.Mode() {
				t.Errorf("%s at the socket path: got %v, want it left as it was (%v)", name, after.Mode(), before.Mode())
			}
			if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
				t.Errorf("victim content: got %q, want %q", b, "precious\n")
			}
		})
	}
}

func (b *fakeBackend) Rules() []proxy.ListenerRules { return nil }
func (b *fakeBackend) Explain(proxy.ExplainRequest) (proxy.Explanation, error) {
	return proxy.Explanation{}, errors.New("not in this test")
}

func (b *fakeBackend) SecurityGroups() agent.SecurityView { return agent.SecurityView{} }
