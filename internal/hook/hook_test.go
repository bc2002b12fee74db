package hook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/testkit"
)

// waitLong bounds every wait on a process or a server: generous, as the
// tests run race-enabled on machines that may be busy.
const waitLong = 20 * time.Second

var testReq = Request{
	ExecutionID:              "exec-7f3a",
	LifecycleStage:           "POST_TEST_TRAFFIC_SHIFT",
	ResourceARN:              "arn:aws:ecs:us-east-1:000000000000:service-deployment/local/api/d1",
	ServiceARN:               "arn:aws:ecs:us-east-1:000000000000:service/local/api",
	TargetServiceRevisionARN: "arn:aws:ecs:us-east-1:000000000000:service-revision/local/api/2",
	TestTrafficWeights: map[string]int{
		"arn:aws:ecs:us-east-1:000000000000:service-revision/local/api/2": 100,
		"arn:aws:ecs:us-east-1:000000000000:service-revision/local/api/1": 0,
	},
	ProductionTrafficWeights: map[string]int{
		"arn:aws:ecs:us-east-1:000000000000:service-revision/local/api/1": 100,
	},
	TestURL:          "http://127.0.0.1:9090",
	ProductionURL:    "http://127.0.0.1:8080",
	GreenTargetGroup: "api-green",
}

// sh is a command hook running script with sh -c; "$1" is arg.
func sh(script string, arg ...string) Hook {
	return Hook{Command: append([]string{"sh", "-c", script, "sh"}, arg...), Timeout: waitLong}
}

// run runs h and checks what every result owes its reader: a reason on one
// line exactly when the hook failed.
func run(t *testing.T, ctx context.Context, h Hook) Result {
	t.Helper()
	r := Run(ctx, h, testReq)
	checkResult(t, r)
	return r
}

func checkResult(t *testing.T, r Result) {
	t.Helper()
	if strings.ContainsAny(r.Reason, "\r\n") {
		t.Errorf("reason %q: want one line", r.Reason)
	}
	if (r.Status == Failed) != (r.Reason != "") {
		t.Errorf("result %+v: want a reason exactly when failed", r)
	}
}

func wantResult(t *testing.T, got, want Result) {
	t.Helper()
	if got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestPayload(t *testing.T) {
	t.Parallel()
	want := `{"executionId":"exec-7f3a","lifecycleStage":"POST_TEST_TRAFFIC_SHIFT",` +
		`"resourceArn":"arn:aws:ecs:us-east-1:000000000000:service-deployment/local/api/d1",` +
		`"executionDetails":{` +
		`"testTrafficWeights":{"arn:aws:ecs:us-east-1:000000000000:service-revision/local/api/1":0,"arn:aws:ecs:us-east-1:000000000000:service-revision/local/api/2":100},` +
		`"productionTrafficWeights":{"arn:aws:ecs:us-east-1:000000000000:service-revision/local/api/1":100},` +
		`"serviceArn":"arn:aws:ecs:us-east-1:000000000000:service/local/api",` +
		`"targetServiceRevisionArn":"arn:aws:ecs:us-east-1:000000000000:service-revision/local/api/2"},` +
		`"shoal":{"testUrl":"http://127.0.0.1:9090","productionUrl":"http://127.0.0.1:8080","greenTargetGroup":"api-green"}}`
	if got := string(Payload(testReq)); got != want {
		t.Errorf("Payload:\n got %s\nwant %s", got, want)
	}
	empty := `{"executionId":"","lifecycleStage":"","resourceArn":"",` +
		`"executionDetails":{"testTrafficWeights":{},"productionTrafficWeights":{},"serviceArn":"","targetServiceRevisionArn":""},` +
		`"shoal":{"testUrl":"","productionUrl":"","greenTargetGroup":""}}`
	if got := string(Payload(Request{})); got != empty {
		t.Errorf("Payload of an empty request:\n got %s\nwant %s", got, empty)
	}
}

func TestCommandExitStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, script string
		want         Result
	}{
		{"exit 0", "echo all good", Result{Status: Succeeded}},
		{"exit 1, last 5 non-empty lines", "for i in 1 2 3 4 5 6 7; do echo line$i; done; echo; echo '   '; exit 1",
			Result{Status: Failed, Reason: "exit status 1: line3 | line4 | line5 | line6 | line7"}},
		{"stderr counts", "echo 'no route  to\thost' >&2; exit 2", Result{Status: Failed, Reason: "exit status 2: no route to host"}},
		{"no output", "exit 7", Result{Status: Failed, Reason: "exit status 7"}},
		{"killed by a signal", "kill -9 $$", Result{Status: Failed, Reason: "killed by SIGKILL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wantResult(t, run(t, t.Context(), sh(tc.script)), tc.want)
		})
	}
}

func TestAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, answer string // the last line of the command, the body of the URL's 200
		want         Result
	}{
		{"succeeded", `{"hookStatus":"SUCCEEDED"}`, Result{Status: Succeeded}},
		{"failed", `{"hookStatus":"FAILED"}`, Result{Status: Failed, Reason: "answered hookStatus FAILED"}},
		{"failed with a reason", `{"hookStatus":"FAILED","reason":"smoke test:\n3 of 10 failed"}`,
			Result{Status: Failed, Reason: "answered hookStatus FAILED: smoke test: 3 of 10 failed"}},
		{"in progress", `{"hookStatus":"IN_PROGRESS"}`, Result{Status: InProgress}},
		{"in progress, call back in 10 s", `{"hookStatus":"IN_PROGRESS","callBackDelay":10}`,
			Result{Status: InProgress, CallBackDelay: 10 * time.Second}},
		{"in progress, call back in 1.5 s", ` { "callBackDelay": 1.5, "hookStatus": "IN_PROGRESS", "hookDetails": {"n": 2} } `,
			Result{Status: InProgress, CallBackDelay: 1500 * time.Millisecond}},
		{"unknown hookStatus", `{"hookStatus":"DONE"}`,
			Result{Status: Failed, Reason: `answered hookStatus "DONE": want SUCCEEDED, FAILED or IN_PROGRESS`}},
		{"hookStatus in lower case", `{"hookStatus":"succeeded"}`,
			Result{Status: Failed, Reason: `answered hookStatus "succeeded": want SUCCEEDED, FAILED or IN_PROGRESS`}},
		{"hookStatus not a string", `{"hookStatus":1}`,
			Result{Status: Failed, Reason: `answered hookStatus 1: want SUCCEEDED, FAILED or IN_PROGRESS`}},
		{"negative callBackDelay", `{"hookStatus":"IN_PROGRESS","callBackDelay":-5}`,
			Result{Status: Failed, Reason: "answered callBackDelay -5: want a number of seconds, 0 or more"}},
		{"callBackDelay a string", `{"hookStatus":"IN_PROGRESS","callBackDelay":"10"}`,
			Result{Status: Failed, Reason: `answered callBackDelay "10": want a number of seconds, 0 or more`}},
	} {
		t.Run("command/"+tc.name, func(t *testing.T) {
			t.Parallel()
			// The exit status loses to the answer either way.
			for _, exit := range []int{0, 1} {
				h := sh(fmt.Sprintf(`echo progress; printf '%%s\n\n' "$1"; exit %d`, exit), tc.answer)
				wantResult(t, run(t, t.Context(), h), tc.want)
			}
		})
		t.Run("url/"+tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, tc.answer)
			}))
			t.Cleanup(srv.Close)
			wantResult(t, run(t, t.Context(), Hook{URL: srv.URL, Timeout: waitLong}), tc.want)
		})
	}
}

func TestCommandVerdictOnlyFromLastStdoutLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, script string
		want         Result
	}{
		{"answer not last", `echo '{"hookStatus":"FAILED"}'; echo done`, Result{Status: Succeeded}},
		{"answer on stderr", `echo '{"hookStatus":"FAILED"}' >&2`, Result{Status: Succeeded}},
		{"object without hookStatus", `echo '{"status":"SUCCEEDED"}'; exit 4`,
			Result{Status: Failed, Reason: `exit status 4: {"status":"SUCCEEDED"}`}},
		{"not JSON", `echo '{"hookStatus":'; exit 3`, Result{Status: Failed, Reason: `exit status 3: {"hookStatus":`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wantResult(t, run(t, t.Context(), sh(tc.script)), tc.want)
		})
	}
}

func TestCommandGetsPayloadAndEnv(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := sh(`cat > stdin && printf %s "$SHOAL_HOOK_PAYLOAD" > payload &&
printf '%s\n' "$SHOAL_HOOK_STAGE" "$SHOAL_TEST_URL" "$SHOAL_PRODUCTION_URL" "$MY_VAR" > vars && pwd -P > pwd`)
	h.Dir = dir
	h.Env = map[string]string{"MY_VAR": "a b=c", "SHOAL_HOOK_STAGE": "not this"}
	wantResult(t, run(t, t.Context(), h), Result{Status: Succeeded})

	want := Payload(testReq)
	for _, name := range []string{"stdin", "payload"} {
		if got := readFile(t, filepath.Join(dir, name)); got != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
	wantVars := "POST_TEST_TRAFFIC_SHIFT\nhttp://127.0.0.1:9090\nhttp://127.0.0.1:8080\na b=c\n"
	if got := readFile(t, filepath.Join(dir, "vars")); got != wantVars {
		t.Errorf("env: got %q, want %q", got, wantVars)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(readFile(t, filepath.Join(dir, "pwd"))); got != real {
		t.Errorf("working dir %q, want %q", got, real)
	}
}

func TestCommandLookup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "myhook"), "#!/bin/sh\necho '{\"hookStatus\":\"IN_PROGRESS\",\"callBackDelay\":3}'\n", 0o755)
	writeFile(t, filepath.Join(dir, "plain"), "#!/bin/sh\n", 0o644)

	along := Hook{Command: []string{"myhook"}, Env: map[string]string{"PATH": dir}, Timeout: waitLong}
	wantResult(t, run(t, t.Context(), along), Result{Status: InProgress, CallBackDelay: 3 * time.Second})
	relative := Hook{Command: []string{"./myhook"}, Dir: dir, Timeout: waitLong}
	wantResult(t, run(t, t.Context(), relative), Result{Status: InProgress, CallBackDelay: 3 * time.Second})

	for _, tc := range []struct {
		name string
		h    Hook
		want string
	}{
		{"not along PATH", Hook{Command: []string{"shoal-no-such-hook"}},
			`start "shoal-no-such-hook": executable file not found in $PATH`},
		{"no such file", Hook{Command: []string{"./missing"}, Dir: dir},
			`start "./missing": no such file or directory`},
		{"not executable", Hook{Command: []string{"./plain"}, Dir: dir},
			`start "./plain": permission denied`},
		{"no such dir", Hook{Command: []string{"true"}, Dir: filepath.Join(dir, "gone")},
			fmt.Sprintf(`start "true": dir %q: no such file or directory`, filepath.Join(dir, "gone"))},
	} {
		tc.h.Timeout = waitLong
		wantResult(t, run(t, t.Context(), tc.h), Result{Status: Failed, Reason: tc.want})
	}
}

// gone says whether process pid has died. A zombie counts as gone: whether
// it gets reaped depends on the init process of the machine the tests run
// on, not on shoal.
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	if runtime.GOOS != "linux" {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && (f[0] == "Z" || f[0] == "X")
}

// readPid reads the pid a hook wrote to path, or 0 while it has not.
func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// sleeper starts a child that sleeps, in the hook's process group, and
// writes its pid to $1 when it has.
const sleeper = `sleep 300 & echo $! > "$1.tmp" && mv "$1.tmp" "$1"; echo waiting; wait`

func TestCommandTimeoutKillsGroup(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	h := sh(sleeper, pidFile)
	h.Timeout = time.Second
	start := time.Now()
	r := run(t, t.Context(), h)
	took := time.Since(start)
	wantResult(t, r, Result{Status: Failed, Reason: "timed out after 1s: waiting"})
	if took < h.Timeout || took > waitLong {
		t.Errorf("Run took %v, want the timeout, %v", took, h.Timeout)
	}
	pid := readPid(pidFile)
	if pid == 0 {
		t.Fatal("the hook wrote no pid before its timeout")
	}
	testkit.WaitFor(t, waitLong, fmt.Sprintf("the hook's child %d to be killed", pid), func() bool { return gone(pid) })
}

func TestCommandCancel(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan Result, 1)
	go func() { done <- Run(ctx, sh(sleeper, pidFile), testReq) }()

	var pid int
	testkit.WaitFor(t, waitLong, "the hook to start its child", func() bool { pid = readPid(pidFile); return pid != 0 })
	cancel()
	var r Result
	select {
	case r = <-done:
	case <-time.After(waitLong):
		t.Fatal("Run did not return once cancelled")
	}
	checkResult(t, r)
	wantResult(t, r, Result{Status: Failed, Reason: "cancelled"})
	testkit.WaitFor(t, waitLong, fmt.Sprintf("the hook's child %d to be killed", pid), func() bool { return gone(pid) })
}

func TestCommandCancelledBeforeStart(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "ran")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	wantResult(t, run(t, ctx, sh(`touch "$1"`, marker)), Result{Status: Failed, Reason: "cancelled"})
	if _, err := os.Stat(marker); err == nil {
		t.Error("a cancelled hook ran")
	}
}

func TestCommandLeftoversKilled(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	// The child holds the output pipes: Run must not wait for it.
	h := sh(`sleep 300 & echo $! > "$1"`, pidFile)
	wantResult(t, run(t, t.Context(), h), Result{Status: Succeeded})
	pid := readPid(pidFile)
	if pid == 0 {
		t.Fatal("no pid written")
	}
	testkit.WaitFor(t, waitLong, fmt.Sprintf("the hook's leftover child %d to be killed", pid), func() bool { return gone(pid) })
}

func TestCommandOutputBounded(t *testing.T) {
	t.Parallel()
	// 2 MB on one line, then the answer: only the end is kept, and the
	// answer is still found.
	big := `head -c 2000000 /dev/zero | tr '\0' x; echo; `
	h := sh(big + `echo '{"hookStatus":"IN_PROGRESS","callBackDelay":2}'`)
	wantResult(t, run(t, t.Context(), h), Result{Status: InProgress, CallBackDelay: 2 * time.Second})

	r := run(t, t.Context(), sh(big+`exit 3`))
	want := "exit status 3: " + strings.Repeat("x", snippetBytes) + "…"
	wantResult(t, r, Result{Status: Failed, Reason: want})
}

func TestTail(t *testing.T) {
	t.Parallel()
	b := newTail(outputBytes)
	var all bytes.Buffer
	for i := range 100 {
		chunk := bytes.Repeat([]byte{byte('a' + i%26)}, 3000+i)
		b.Write(chunk)
		all.Write(chunk)
	}
	b.Write(bytes.Repeat([]byte("z"), 2*outputBytes))
	all.Write(bytes.Repeat([]byte("z"), 2*outputBytes))
	b.Write([]byte("end"))
	all.Write([]byte("end"))
	got, want := b.bytes(), all.Bytes()[all.Len()-outputBytes:]
	if !bytes.Equal(got, want) {
		t.Errorf("kept %d bytes ending %q; want the last %d, ending %q", len(got), got[max(0, len(got)-8):], len(want), want[len(want)-8:])
	}
}

// hookServer is a URL hook on 127.0.0.1 answering with handler; its
// handler's requests end when the test does.
func hookServer(t *testing.T, handler http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv
}

func TestURLRequest(t *testing.T) {
	t.Parallel()
	type seen struct {
		method, contentType string
		body                []byte
	}
	got := make(chan seen, 1)
	srv := hookServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.Header.Get("Content-Type"), body}
		w.WriteHeader(http.StatusNoContent)
	})
	wantResult(t, run(t, t.Context(), Hook{URL: srv.URL + "/hook", Timeout: waitLong}), Result{Status: Succeeded})
	s := <-got
	if s.method != http.MethodPost || s.contentType != "application/json" || !bytes.Equal(s.body, Payload(testReq)) {
		t.Errorf("got %s with Content-Type %q and body %s; want POST, application/json, %s", s.method, s.contentType, s.body, Payload(testReq))
	}
}

func TestURLVerdicts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   Result
	}{
		{"200, empty", 200, "", Result{Status: Succeeded}},
		{"202, blank", 202, " \n", Result{Status: Succeeded}},
		{"500", 500, "boom\n", Result{Status: Failed, Reason: "answered 500 Internal Server Error: boom"}},
		{"503, empty", 503, "", Result{Status: Failed, Reason: "answered 503 Service Unavailable"}},
		{"404, long body", 404, strings.Repeat("e", 1000), Result{Status: Failed, Reason: "answered 404 Not Found: " + strings.Repeat("e", 200)}},
		{"500 with an answer", 500, `{"hookStatus":"SUCCEEDED"}`,
			Result{Status: Failed, Reason: `answered 500 Internal Server Error: {"hookStatus":"SUCCEEDED"}`}},
		{"bad JSON", 200, "<html>ok</html>",
			Result{Status: Failed, Reason: "answered 200 OK with a body that is not a JSON object with hookStatus: <html>ok</html>"}},
		{"JSON without hookStatus", 200, `{"status":"SUCCEEDED"}`,
			Result{Status: Failed, Reason: `answered 200 OK with a body that is not a JSON object with hookStatus: {"status":"SUCCEEDED"}`}},
		{"JSON array", 200, `[{"hookStatus":"SUCCEEDED"}]`,
			Result{Status: Failed, Reason: `answered 200 OK with a body that is not a JSON object with hookStatus: [{"hookStatus":"SUCCEEDED"}]`}},
		{"body over 1 MiB", 200, `{"hookStatus":"SUCCEEDED","pad":"` + strings.Repeat("p", maxBodyBytes) + `"}`,
			Result{Status: Failed, Reason: "answered 200 OK with a body over 1048576 bytes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := hookServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			wantResult(t, run(t, t.Context(), Hook{URL: srv.URL, Timeout: waitLong}), tc.want)
		})
	}
}

func TestURLRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	var followed atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) { followed.Add(1) })
	srv := hookServer(t, mux.ServeHTTP)
	r := run(t, t.Context(), Hook{URL: srv.URL + "/hook", Timeout: waitLong})
	wantResult(t, r, Result{Status: Failed, Reason: "answered 302 Found (redirect to /elsewhere, not followed)"})
	if n := followed.Load(); n != 0 {
		t.Errorf("the redirect was followed %d times", n)
	}
}

// stuckServer answers nothing until the request is given up or the test
// ends; arrived gets each request as it comes.
func stuckServer(t *testing.T) (srv *httptest.Server, arrived chan struct{}) {
	arrived = make(chan struct{}, 1)
	release := make(chan struct{})
	srv = hookServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // before srv.Close, which waits for handlers
	return srv, arrived
}

func TestURLTimeout(t *testing.T) {
	t.Parallel()
	srv, _ := stuckServer(t)
	start := time.Now()
	r := run(t, t.Context(), Hook{URL: srv.URL, Timeout: 300 * time.Millisecond})
	wantResult(t, r, Result{Status: Failed, Reason: "timed out after 300ms"})
	if took := time.Since(start); took < 300*time.Millisecond || took > waitLong {
		t.Errorf("Run took %v, want the timeout", took)
	}
}

func TestURLCancel(t *testing.T) {
	t.Parallel()
	srv, arrived := stuckServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan Result, 1)
	go func() { done <- Run(ctx, Hook{URL: srv.URL, Timeout: waitLong}, testReq) }()
	select {
	case <-arrived:
	case <-time.After(waitLong):
		t.Fatal("the request did not arrive")
	}
	cancel()
	select {
	case r := <-done:
		checkResult(t, r)
		wantResult(t, r, Result{Status: Failed, Reason: "cancelled"})
	case <-time.After(waitLong):
		t.Fatal("Run did not return once cancelled")
	}
}

func TestURLConnectionRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/hook"
	ln.Close()
	r := run(t, t.Context(), Hook{URL: url, Timeout: waitLong})
	// The freed port may be taken meanwhile by a connection of a test
	// running in parallel, which then resets rather than refuses.
	refused := strings.Contains(r.Reason, "connection refused") || strings.Contains(r.Reason, "connection reset")
	if r.Status != Failed || !strings.Contains(r.Reason, url) || !refused {
		t.Errorf("got %+v; want Failed naming %s and the refused connection", r, url)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		h    Hook
		want string // "" when valid
	}{
		{Hook{Command: []string{"./check"}}, ""},
		{Hook{URL: "http://127.0.0.1:9000/hook", Timeout: MaxTimeout}, ""},
		{Hook{URL: "https://hooks.example/x", Env: map[string]string{"A": "1"}}, ""},
		{Hook{}, "hook has neither a command nor a URL: give one"},
		{Hook{Command: []string{}}, "hook has neither a command nor a URL: give one"},
		{Hook{Command: []string{"x"}, URL: "http://h/"}, "hook has both a command and a URL: give one"},
		{Hook{Command: []string{"", "arg"}}, "hook command: the program's name is empty"},
		{Hook{URL: "ftp://h/x"}, `hook URL "ftp://h/x": the scheme must be http or https`},
		{Hook{URL: "127.0.0.1:9000"}, `hook URL "127.0.0.1:9000": first path segment in URL cannot contain colon`},
		{Hook{URL: "localhost/hook"}, `hook URL "localhost/hook": the scheme must be http or https`},
		{Hook{URL: "http:///hook"}, `hook URL "http:///hook": no host`},
		{Hook{URL: "http://:80/hook"}, `hook URL "http://:80/hook": no host`},
		{Hook{URL: "http://h/", Timeout: -time.Second}, "hook timeout -1s: must not be negative"},
		{Hook{URL: "http://h/", Timeout: 16 * time.Minute}, "hook timeout 16m0s: at most 15m0s"},
		{Hook{Command: []string{"x"}, Env: map[string]string{"A=B": "1"}}, `hook env name "A=B": must be non-empty, without '=' or NUL`},
	} {
		err := Validate(tc.h)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("Validate(%+v) = %q, want %q", tc.h, got, tc.want)
		}
		if tc.want != "" {
			wantResult(t, Run(t.Context(), tc.h, testReq), Result{Status: Failed, Reason: tc.want})
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
}
