package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoalhq/shoal/internal/admin"
	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/consistency"
	"github.com/shoalhq/shoal/internal/fault"
	"github.com/shoalhq/shoal/internal/proxy"
)

// consistencyBackend is an admin.Backend with a fixed stack: service api
// behind target group api, service worker with no target group, and the
// tasks a test gives.
type consistencyBackend struct {
	tasks []agent.TaskStatus
}

func (b *consistencyBackend) Status() agent.Status {
	return agent.Status{Stack: "catalog", Services: []agent.ServiceStatus{
		{Name: "api", Desired: 3, TargetGroup: "api"},
		{Name: "worker", Desired: 2},
	}}
}

func (b *consistencyBackend) Tasks(all bool) []agent.TaskStatus {
	var out []agent.TaskStatus
	for _, t := range b.tasks {
		if all || t.LastStatus != "STOPPED" {
			out = append(out, t)
		}
	}
	return out
}

func (b *consistencyBackend) TaskLogs(id string, _ int64) ([]byte, int64, error) {
	return nil, 0, fmt.Errorf("task %q: %w", id, agent.ErrNotFound)
}
func (b *consistencyBackend) Targets() []proxy.TargetHealth { return nil }
func (b *consistencyBackend) Events(int64) []agent.Event    { return nil }

var checkIDs = []string{"api-1f0c9a2e", "api-77b0e1c4", "api-9c0b224d", "api-e747614b"}

// replicaLog records the requests the test's replicas get.
type replicaLog struct {
	mu       sync.Mutex
	requests []*http.Request
}

func (l *replicaLog) add(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests = append(l.requests, r)
}

func (l *replicaLog) list() []*http.Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*http.Request(nil), l.requests...)
}

// answer is a handler that answers with status and body, JSON when the
// body looks like it.
func replicaAnswer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(body, "{") || strings.HasPrefix(body, "[") {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

// checkReplicas serves each handler as a task of service api (healthy,
// RUNNING, ids from checkIDs) on 127.0.0.1, a nil handler as an address
// where nothing listens, plus a task starting up that must not be asked,
// and returns the state directory of a shoal that lists them.
func checkReplicas(t *testing.T, log *replicaLog, handlers ...http.HandlerFunc) string {
	t.Helper()
	b := &consistencyBackend{}
	for i, h := range handlers {
		var addr string
		if h == nil {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr = ln.Addr().String()
			ln.Close()
		} else {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if log != nil {
					log.add(r)
				}
				h(w, r)
			}))
			t.Cleanup(srv.Close)
			addr = srv.Listener.Addr().String()
		}
		b.tasks = append(b.tasks, agent.TaskStatus{ID: checkIDs[i], Service: "api", Instance: "instance-1", Address: addr,
			LastStatus: "RUNNING", DesiredStatus: "RUNNING", Health: "healthy", TargetGroup: "api"})
	}
	starting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the task that is not healthy yet was asked %s", r.URL)
	}))
	t.Cleanup(starting.Close)
	b.tasks = append(b.tasks,
		agent.TaskStatus{ID: "api-5e6f7a8b", Service: "api", Address: starting.Listener.Addr().String(),
			LastStatus: "RUNNING", DesiredStatus: "RUNNING", Health: "initial", TargetGroup: "api"},
		agent.TaskStatus{ID: "worker-0a1b2c3d", Service: "worker", Address: starting.Listener.Addr().String(),
			LastStatus: "RUNNING", DesiredStatus: "RUNNING"})
	state, _ := serveAdmin(t, b)
	return state
}

// checkRows returns the table's rows, each split in its columns, and the
// lines after it.
func checkRows(t *testing.T, out string) ([][]string, []string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "TASK ") {
		t.Fatalf("no table:\n%s", out)
	}
	var rows [][]string
	i := 1
	for ; i < len(lines) && strings.HasPrefix(lines[i], "api-"); i++ {
		rows = append(rows, strings.Fields(lines[i]))
	}
	return rows, lines[i:]
}

const checkItem = `{"items":[{"id":1,"name":"mocha","price":3.5,"updated_at":"2026-11-22T12:00:00Z"}],"count":1}`

func TestCheckConsistency_AllAgree(t *testing.T) {
	var log replicaLog
	state := checkReplicas(t, &log, replicaAnswer(200, checkItem), replicaAnswer(200, checkItem), replicaAnswer(200, checkItem))
	code, out, errOut := run(t, context.Background(), "check", "consistency", "api", "--state-dir", state)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q; want 0 and nothing:\n%s", code, errOut, out)
	}
	rows, rest := checkRows(t, out)
	if !strings.HasPrefix(out, "TASK          ADDRESS          STATUS  ANSWER  AGREES\n") {
		t.Errorf("header:\n%s", out)
	}
	if len(rows) != 3 {
		t.Fatalf("want a row for each of the 3 healthy tasks:\n%s", out)
	}
	for i, r := range rows {
		if len(r) != 5 || r[0] != checkIDs[i] || !strings.HasPrefix(r[1], "127.0.0.1:") || r[2] != "200" || r[3] != "A" || r[4] != "yes" {
			t.Errorf("row %d: %q; want %s, its address, 200, A, yes", i, r, checkIDs[i])
		}
	}
	want := []string{"not asked, not healthy: api-5e6f7a8b is RUNNING (initial)", "all 3 tasks agree"}
	if diff := cmp.Diff(want, rest); diff != "" {
		t.Errorf("under the table (-want +got):\n%s", diff)
	}
	reqs := log.list()
	if len(reqs) != 3 {
		t.Fatalf("the replicas got %d requests, want 1 each", len(reqs))
	}
	for _, r := range reqs {
		if r.Method != "GET" || r.URL.RequestURI() != "/" || r.UserAgent() != "shoal-check/1" {
			t.Errorf("request %s %s, User-Agent %q; want GET / from shoal-check/1", r.Method, r.URL.RequestURI(), r.UserAgent())
		}
	}
}

func TestCheckConsistency_OneDiffersInAJSONField(t *testing.T) {
	later := strings.Replace(checkItem, "12:00:00Z", "12:00:07Z", 1)
	state := checkReplicas(t, nil, replicaAnswer(200, checkItem), replicaAnswer(200, later), replicaAnswer(200, checkItem))
	code, out, errOut := run(t, context.Background(), "check", "consistency", "api", "--state-dir", state)
	if code != 1 || errOut != "" {
		t.Fatalf("exit %d, stderr %q; want 1 and nothing:\n%s", code, errOut, out)
	}
	rows, rest := checkRows(t, out)
	var answers, agree []string
	for _, r := range rows {
		answers, agree = append(answers, r[3]), append(agree, r[4])
	}
	if diff := cmp.Diff([]string{"A", "B", "A"}, answers); diff != "" {
		t.Errorf("answers (-want +got):\n%s\n%s", diff, out)
	}
	if diff := cmp.Diff([]string{"yes", "no", "yes"}, agree); diff != "" {
		t.Errorf("agrees (-want +got):\n%s\n%s", diff, out)
	}
	want := `2 of 3 tasks agree; api-77b0e1c4 differs: items[0].updated_at: "2026-11-22T12:00:07Z" vs "2026-11-22T12:00:00Z"`
	if got := rest[len(rest)-1]; got != want {
		t.Errorf("summary:\n got %s\nwant %s", got, want)
	}
}

func TestCheckConsistency_IgnoredFieldsDoNotCount(t *testing.T) {
	later := strings.Replace(checkItem, "12:00:00Z", "12:00:07Z", 1)
	state := checkReplicas(t, nil, replicaAnswer(200, checkItem), replicaAnswer(200, later), replicaAnswer(200, checkItem))
	for _, ignore := range []string{"updated_at", "items.updated_at"} {
		code, out, errOut := run(t, context.Background(), "check", "consistency", "api", "--ignore", ignore, "--state-dir", state)
		if code != 0 || !strings.HasSuffix(out, "\nall 3 tasks agree\n") {
			t.Errorf("--ignore %s: exit %d, stderr %q; want 0, all agree:\n%s", ignore, code, errOut, out)
		}
	}
	// A path that leads elsewhere ignores nothing here.
	code, out, _ := run(t, context.Background(), "check", "consistency", "api", "--ignore", "updated", "--ignore", "count.updated_at", "--state-dir", state)
	if code != 1 || !strings.Contains(out, "items[0].updated_at") {
		t.Errorf("--ignore count.updated_at: exit %d; want 1, the difference in items[0].updated_at:\n%s", code, out)
	}
	code, _, errOut := run(t, context.Background(), "check", "consistency", "api", "--ignore", "items..id", "--state-dir", state)
	if code != 2 || !strings.Contains(errOut, `--ignore "items..id"`) {
		t.Errorf("--ignore items..id: exit %d, stderr %q; want 2", code, errOut)
	}
}

func TestCheckConsistency_JSONIsComparedAsData(t *testing.T) {
	state := checkReplicas(t, nil,
		replicaAnswer(200, `{"count":1,"items":[{"id":1,"price":3.5}]}`),
		replicaAnswer(200, "{\n  \"items\": [ { \"price\": 3.50, \"id\": 1e0 } ],\n  \"count\": 1.0\n}\n"),
		replicaAnswer(200, `{"items":[{"price":35e-1,"id":1}],"count":1}`))
	code, out, errOut := run(t, context.Background(), "check", "consistency", "api", "--state-dir", state)
	if code != 0 || !strings.HasSuffix(out, "\nall 3 tasks agree\n") {
		t.Errorf("key order, spaces and number spelling: exit %d, stderr %q; want 0, all agree:\n%s", code, errOut, out)
	}
}

func TestCheckConsistency_JSONDifferences(t *testing.T) {
	for _, c := range []struct {
		name, a, b, want string
	}{
		{"number", `{"n":1}`, `{"n":2}`, `n: 2 vs 1`},
		{"big integers", `{"id":9007199254740993}`, `{"id":9007199254740992}`, `id: 9007199254740992 vs 9007199254740993`},
		{"type", `{"n":1}`, `{"n":"1"}`, `n: "1" vs 1`},
		{"missing key", `{"a":1,"b":2}`, `{"b":2}`, `a: absent vs 1`},
		{"extra key", `{"b":2}`, `{"a":[1],"b":2}`, `a: [1] vs absent`},
		{"longer array", `[{"id":1}]`, `[{"id":1},{"id":2}]`, `[1]: {"id":2} vs absent (2 elements vs 1)`},
		{"shorter array", `{"items":[1,2]}`, `{"items":[1]}`, `items[1]: absent vs 2 (1 element vs 2)`},
		{"in an array", `[{"id":1},{"id":2}]`, `[{"id":1},{"id":3}]`, `[1].id: 3 vs 2`},
		{"odd key", `{"a b":{"c.d":true}}`, `{"a b":{"c.d":false}}`, `["a b"]["c.d"]: false vs true`},
		{"top", `1`, `true`, `body: true vs 1`},
	} {
		t.Run(c.name, func(t *testing.T) {
			state := checkReplicas(t, nil, replicaAnswer(200, c.a), replicaAnswer(200, c.b), replicaAnswer(200, c.a))
			code, out, _ := run(t, context.Background(), "check", "consistency", "api", "--state-dir", state)
			if want := "2 of 3 tasks agree; api-77b0e1c4 differs: " + c.want + "\n"; code != 1 || !strings.HasSuffix(out, want) {
				t.Errorf("exit %d; want 1 and %q:\n%s", code, want, out)
			}
		})
	}
}

func TestCheckConsistency_OtherBodiesAreComparedAsBytes(t *testing.T) {
	page := "<html><body>3 items in stock</body></html>\n"
	state := checkReplicas(t, nil, replicaAnswer(200, page), replicaAnswer(200, page), replicaAnswer(200, strings.Replace(page, "3 items", "4 items", 1)))
	code, out, _ := run(t, context.Background(), "check", "consistency", "api", "--state-dir", state)
	want := `2 of 3 tasks agree; api-9c0b224d differs: body at byte 12: "4 items in stock</body><"… vs "3 items in stock</body><"…` + "\n"
	if code != 1 || !strings.HasSuffix(out, want) {
		t.Errorf("exit %d; want 1 and %q:\n%s", code, want, out)
	}
	// Bodies that are not JSON differ by any byte, a newline too.
	state = checkReplicas(t, nil, replicaAnswer(200, "ok\n"), replicaAnswer(200, "ok\n"), replicaAnswer(200, "ok"))
	code, out, _ = run(t, context.Background(), "check", "consistency", "api", "--state-dir", state)
	want = "2 of 3 tasks agree; api-9c0b224d differs: body: 2 bytes vs 3 bytes, the same up to there\n"
	if code != 1 || !strings.HasSuffix(out, want) {
		t.Errorf("exit %d; want 1 and %q:\n%s", code, want, out)
	}
}

func TestCheckConsistency_StatusDiffers(t *testing.T) {
	state := checkReplicas(t, nil, replicaAnswer(200, checkItem), replicaAnswer(503, checkItem), replicaAnswer(200, checkItem))
	code, out, _ := run(t, context.Background(), "check", "consistency", "api", "--state-dir", state)
	if want := "2 of 3 tasks agree; api-77b0e1c4 differs: status 503 vs 200\n"; code != 1 || !strings.HasSuffix(out, want) {
		t.Errorf("exit %d; want 1 and %q:\n%s", code, want, out)
	}
	if rows, _ := checkRows(t, out); len(rows) != 3 || rows[1][2] != "503" || rows[1][4] != "no" {
		t.Errorf("the row of the task that answers 503:\n%s", out)
	}
}

func TestCheckConsistency_FailedRequests(t *testing.T) {
	stuck := make(chan struct{})
	defer close(stuck)
	slow := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stuck:
		}
	}
	state := checkReplicas(t, nil, replicaAnswer(200, checkItem), replicaAnswer(200, checkItem), nil, slow)
	start := time.Now()
	code, out, errOut := run(t, context.Background(), "check", "consistency", "api", "--timeout", "300ms", "--state-dir", state)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v with --timeout 300ms", took)
	}
	if code != 1 || errOut != "" {
		t.Fatalf("exit %d, stderr %q; want 1 and nothing:\n%s", code, errOut, out)
	}
	if !strings.HasPrefix(out, "TASK ") || !strings.Contains(strings.SplitN(out, "\n", 2)[0], "AGREES  ERROR") {
		t.Errorf("no ERROR column:\n%s", out)
	}
	rows, rest := checkRows(t, out)
	if got := strings.Join(rows[2][2:], " "); got != "- B no connection refused: nothing listens there" {
		t.Errorf("row of the task that refuses: %q\n%s", got, out)
	}
	if got := strings.Join(rows[3][2:], " "); got != "- C no no answer within 300ms (--timeout)" {
		t.Errorf("row of the task that does not answer: %q\n%s", got, out)
	}
	want := "2 of 4 tasks agree; api-9c0b224d failed: connection refused: nothing listens there; api-e747614b failed: no answer within 300ms (--timeout)"
	if got := rest[len(rest)-1]; got != want {
		t.Errorf("summary:\n got %s\nwant %s", got, want)
	}

	// Requests that fail never agree, not even with each other.
	state = checkReplicas(t, nil, nil, nil)
	code, out, _ = run(t, context.Background(), "check", "consistency", "api", "--state-dir", state)
	if code != 1 || !strings.Contains(out, "\nnone of the 2 tasks answered; api-1f0c9a2e failed: connection refused") {
		t.Errorf("exit %d; want 1, none answered:\n%s", code, out)
	}
}

func TestCheckConsistency_NoMajority(t *testing.T) {
	state := checkReplicas(t, nil, replicaAnswer(200, `{"count":3}`), replicaAnswer(200, `{"count":4}`))
	code, out, _ := run(t, context.Background(), "check", "consistency", "api", "--state-dir", state)
	rows, rest := checkRows(t, out)
	if code != 1 || len(rows) != 2 || rows[0][4] != "no" || rows[1][4] != "no" {
		t.Errorf("exit %d; want 1, no task agreeing:\n%s", code, out)
	}
	want := "the 2 tasks disagree, with no majority; api-77b0e1c4 differs from api-1f0c9a2e: count: 4 vs 3"
	if got := rest[len(rest)-1]; got != want {
		t.Errorf("summary:\n got %s\nwant %s", got, want)
	}
}

func TestCheckConsistency_SendsThePathHeadersAndMethod(t *testing.T) {
	var log replicaLog
	state := checkReplicas(t, &log, replicaAnswer(200, checkItem), replicaAnswer(200, checkItem))
	code, out, errOut := run(t, context.Background(), "check", "consistency", "api", "items?limit=5",
		"-H", "Authorization: Bearer abc", "-H", "X-Tenant:  mocha ", "--method", "head", "--state-dir", state)
	if code != 0 || !strings.HasSuffix(out, "\nall 2 tasks agree\n") {
		t.Fatalf("exit %d, stderr %q; want 0:\n%s", code, errOut, out)
	}
	for _, r := range log.list() {
		if r.Method != "HEAD" || r.URL.RequestURI() != "/items?limit=5" || r.Header.Get("Authorization") != "Bearer abc" ||
			r.Header.Get("X-Tenant") != "mocha" || r.UserAgent() != "shoal-check/1" {
			t.Errorf("request %s %s, headers %v", r.Method, r.URL.RequestURI(), r.Header)
		}
	}
	code, _, errOut = run(t, context.Background(), "check", "consistency", "api", "-H", "no colon", "--state-dir", state)
	if code != 2 || !strings.Contains(errOut, "a header is 'Name: value'") {
		t.Errorf("-H 'no colon': exit %d, stderr %q; want 2", code, errOut)
	}
}

func TestCheckConsistency_RefusesMethodsThatChangeData(t *testing.T) {
	var log replicaLog
	state := checkReplicas(t, &log, replicaAnswer(200, checkItem), replicaAnswer(200, checkItem))
	for _, m := range []string{"POST", "put", "DELETE"} {
		code, _, errOut := run(t, context.Background(), "check", "consistency", "api", "/items", "--method", m, "--state-dir", state)
		if code != 2 || !strings.Contains(errOut, "sends GET or HEAD only, not "+m) {
			t.Errorf("--method %s: exit %d, stderr %q; want 2, refused", m, code, errOut)
		}
	}
	if n := len(log.list()); n != 0 {
		t.Errorf("the replicas got %d requests, want none", n)
	}
}

func TestCheckConsistency_NoHealthyTask(t *testing.T) {
	b := &consistencyBackend{tasks: []agent.TaskStatus{
		{ID: "api-1f0c9a2e", Service: "api", Address: "127.0.0.2:40123", LastStatus: "RUNNING", Health: "unhealthy", TargetGroup: "api"},
		{ID: "api-77b0e1c4", Service: "api", Address: "127.0.0.3:40200", LastStatus: "ACTIVATING", Health: "initial", TargetGroup: "api"},
		{ID: "api-5e6f7a8b", Service: "api", Address: "127.0.0.3:40001", LastStatus: "STOPPED", Health: "unhealthy", TargetGroup: "api"},
	}}
	state, _ := serveAdmin(t, b)
	code, out, errOut := run(t, context.Background(), "check", "consistency", "api", "--state-dir", state)
	want := "shoal: service api has no healthy running task to check: api-1f0c9a2e is RUNNING (unhealthy), api-77b0e1c4 is ACTIVATING (initial)\n"
	if code != 1 || out != "" || errOut != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1 and %q", code, out, errOut, want)
	}
	code, _, errOut = run(t, context.Background(), "check", "consistency", "worker", "--state-dir", state)
	if want := "shoal: service worker has no running task to check\n"; code != 1 || errOut != want {
		t.Errorf("a service with no tasks: exit %d, stderr %q; want 1 and %q", code, errOut, want)
	}
}

func TestCheckConsistency_UnknownService(t *testing.T) {
	state, _ := serveAdmin(t, &consistencyBackend{})
	code, out, errOut := run(t, context.Background(), "check", "consistency", "apii", "--state-dir", state)
	if want := "shoal: no service \"apii\" in stack catalog; its services: api, worker\n"; code != 1 || out != "" || errOut != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1 and %q", code, out, errOut, want)
	}
	code, _, errOut = run(t, context.Background(), "check", "consistency", "api", "--state-dir", t.TempDir())
	if code != 1 || !strings.Contains(errOut, "shoal is not running") {
		t.Errorf("nothing running: exit %d, stderr %q; want 1, not running", code, errOut)
	}
}

// TestCheckConsistency_NoTargetGroup: a service with no target group has
// no health; its running tasks are asked.
func TestCheckConsistency_NoTargetGroup(t *testing.T) {
	srv := httptest.NewServer(replicaAnswer(200, "done"))
	defer srv.Close()
	state, _ := serveAdmin(t, &consistencyBackend{tasks: []agent.TaskStatus{
		{ID: "worker-0a1b2c3d", Service: "worker", Address: srv.Listener.Addr().String(), LastStatus: "RUNNING"},
		{ID: "worker-9c8d7e6f", Service: "worker", Address: srv.Listener.Addr().String(), LastStatus: "RUNNING"},
		{ID: "worker-3c4d5e6f", Service: "worker", LastStatus: "PENDING"},
	}})
	code, out, errOut := run(t, context.Background(), "check", "consistency", "worker", "--state-dir", state)
	if code != 0 || !strings.HasSuffix(out, "\nnot asked, not healthy: worker-3c4d5e6f is PENDING\nall 2 tasks agree\n") {
		t.Errorf("exit %d, stderr %q; want 0, both asked:\n%s", code, errOut, out)
	}
}

func TestCheckConsistency_JSON(t *testing.T) {
	state := checkReplicas(t, nil, replicaAnswer(200, `{"count":3}`), replicaAnswer(200, `{"count":4}`), replicaAnswer(200, `{"count":3}`), nil)
	code, out, errOut := run(t, context.Background(), "check", "consistency", "api", "/items", "--json", "--state-dir", state)
	if code != 1 || errOut != "" {
		t.Fatalf("exit %d, stderr %q; want 1 and nothing", code, errOut)
	}
	var got checkReport
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	for i := range got.Tasks {
		got.Tasks[i].Address = ""
	}
	want := checkReport{Report: consistency.Report{
		Service: "api", Path: "/items", Agree: false,
		Tasks: []consistency.Task{
			{ID: "api-1f0c9a2e", Status: 200, Answer: "A", Agrees: true},
			{ID: "api-77b0e1c4", Status: 200, Answer: "B"},
			{ID: "api-9c0b224d", Status: 200, Answer: "A", Agrees: true},
			{ID: "api-e747614b", Answer: "C", Error: "connection refused: nothing listens there"},
		},
		Differences: []consistency.Diff{
			{Tasks: []string{"api-77b0e1c4"}, Answer: "B", Reference: "A", Kind: "json", Path: "count", Value: "4", ReferenceValue: "3", Description: "count: 4 vs 3"},
			{Tasks: []string{"api-e747614b"}, Answer: "C", Kind: "error", Error: "connection refused: nothing listens there", Description: "connection refused: nothing listens there"},
		}},
		Skipped: []consistencySkipped{{ID: "api-5e6f7a8b", LastStatus: "RUNNING", Health: "initial"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("--json (-want +got):\n%s", diff)
	}
	for _, field := range []string{`"service"`, `"path"`, `"agree"`, `"tasks"`, `"differences"`, `"id"`, `"address"`, `"status"`, `"answer"`, `"agrees"`, `"error"`} {
		if !strings.Contains(out, field) {
			t.Errorf("--json lacks %s:\n%s", field, out)
		}
	}

	state = checkReplicas(t, nil, replicaAnswer(200, `{"count":3}`), replicaAnswer(200, `{"count":3}`))
	code, out, _ = run(t, context.Background(), "check", "consistency", "api", "--json", "--state-dir", state)
	if code != 0 || !strings.Contains(out, `"agree": true`) || !strings.Contains(out, `"differences": []`) {
		t.Errorf("agreeing, --json: exit %d; want 0, agree true and no differences:\n%s", code, out)
	}
}

func TestCheck_Usage(t *testing.T) {
	code, out, _ := run(t, context.Background(), "check")
	if code != 0 || !strings.HasPrefix(out, "Usage: shoal check <check>") || !strings.Contains(out, "\n  consistency ") {
		t.Errorf("check alone: exit %d; want 0 and its usage:\n%s", code, out)
	}
	code, _, errOut := run(t, context.Background(), "check", "consistancy")
	if code != 2 || !strings.Contains(errOut, `unknown check "consistancy"`) || !strings.Contains(errOut, "\n  consistency ") {
		t.Errorf("unknown check: exit %d, stderr %q; want 2 and the usage", code, errOut)
	}
	code, _, errOut = run(t, context.Background(), "check", "consistency")
	if code != 2 || !strings.Contains(errOut, "takes a service") {
		t.Errorf("no service: exit %d, stderr %q; want 2", code, errOut)
	}
	code, _, errOut = run(t, context.Background(), "check", "consistency", "api", "http://127.0.0.1:8080/items")
	if code != 2 || !strings.Contains(errOut, "not a URL") {
		t.Errorf("a URL: exit %d, stderr %q; want 2", code, errOut)
	}
	code, out, _ = run(t, context.Background(), "help")
	if code != 0 || !strings.Contains(out, "\n  check ") {
		t.Errorf("help does not list check:\n%s", out)
	}
}

// The control endpoints are not under test here.
func (b *consistencyBackend) DeployStack(context.Context, admin.StackRequest) ([]agent.Started, error) {
	return nil, errors.New("not in this test")
}
func (b *consistencyBackend) Services() []agent.ServiceStatus   { return nil }
func (b *consistencyBackend) SetDesired(string, int) error      { return errors.New("not in this test") }
func (b *consistencyBackend) Instances() []agent.InstanceStatus { return nil }
func (b *consistencyBackend) InstanceAction(string, string) error {
	return errors.New("not in this test")
}

func (b *consistencyBackend) InjectFault(fault.Request) (fault.Fault, error) {
	return fault.Fault{}, errors.New("not in this test")
}
func (b *consistencyBackend) Faults() []fault.Fault    { return nil }
func (b *consistencyBackend) RemoveFault(string) error { return errors.New("not in this test") }

func (b *consistencyBackend) Rules() []proxy.ListenerRules { return nil }
func (b *consistencyBackend) Explain(proxy.ExplainRequest) (proxy.Explanation, error) {
	return proxy.Explanation{}, errors.New("not in this test")
}

func (b *consistencyBackend) SecurityGroups() agent.SecurityView { return agent.SecurityView{} }
