package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// runMainEnv makes the test binary run the real program instead of the tests:
// the process tests below start it as a child, as shoal would.
const runMainEnv = "CATALOG_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	// go-redis's own lines, on stderr by default, would repeat what the
	// tests' logs say: that Redis is unreachable.
	setRedisLogger(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

func TestLoadConfig_Defaults(t *testing.T) {
	cfg, err := loadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.addr != "127.0.0.1:3000" {
		t.Errorf("addr: got %q, want 127.0.0.1:3000", cfg.addr)
	}
	if got := cfg.database.String(); got != "sqlite:catalog.db" {
		t.Errorf("database: got %q, want sqlite:catalog.db", got)
	}
	if want := fmt.Sprintf("-%d", os.Getpid()); !strings.HasSuffix(cfg.taskID, want) {
		t.Errorf("task id: got %q, want hostname%s", cfg.taskID, want)
	}
}

func TestLoadConfig_FromEnv(t *testing.T) {
	env := map[string]string{"HOST": "127.0.0.7", "PORT": "8080", "SHOAL_TASK_ID": "web-3"}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.addr != "127.0.0.7:8080" || cfg.taskID != "web-3" {
		t.Errorf("got addr %q task %q, want 127.0.0.7:8080 and web-3", cfg.addr, cfg.taskID)
	}
}

func TestRun_RejectsBadConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"port not a number", map[string]string{"PORT": "http"}, `PORT: "http" is not a port number`},
		{"port out of range", map[string]string{"PORT": "70000"}, `PORT: "70000" is not a port number`},
		{"unsupported database", map[string]string{"DATABASE_URL": "mysql://db/catalog"}, `DATABASE_URL: unsupported scheme "mysql"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(t.Context(), func(k string) string { return tt.env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// process is the catalog program running as a child process.
type process struct {
	cmd    *exec.Cmd
	stdout *addrWatcher
	stderr bytes.Buffer // read only after wait
}

// startCatalog starts the program with env added to this process's
// environment. It does not wait for the program to listen; see addr.
func startCatalog(t *testing.T, env ...string) *process {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0])
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "HOST=127.0.0.1", "PORT=0")
	cmd.Env = append(cmd.Env, env...)
	p := &process{cmd: cmd, stdout: newAddrWatcher(t.Output())}
	cmd.Stdout, cmd.Stderr = p.stdout, &p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The program is killed, if still running, when t.Context ends; its
	// output must be copied out before the test finishes.
	t.Cleanup(func() { cmd.Wait() })
	return p
}

// addr waits for the startup line and returns the address it names.
func (p *process) addr(t *testing.T) string {
	t.Helper()
	select {
	case addr := <-p.stdout.addr:
		return addr
	case <-time.After(30 * time.Second):
		t.Fatal("the program did not log its address within 30s")
		return ""
	}
}

// wait waits for the program to exit and returns its exit code.
func (p *process) wait(t *testing.T) int {
	t.Helper()
	err := p.cmd.Wait()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatal(err)
	}
	return p.cmd.ProcessState.ExitCode()
}

func (p *process) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// addrWatcher is the program's stdout: it copies it to the test's output and
// sends the address of the first "catalog listening" line on addr.
type addrWatcher struct {
	out     io.Writer
	partial []byte
	addr    chan string
	sent    bool
}

func newAddrWatcher(out io.Writer) *addrWatcher {
	return &addrWatcher{out: out, addr: make(chan string, 1)}
}

// Write is called by exec's copying goroutine only, so needs no lock.
func (w *addrWatcher) Write(b []byte) (int, error) {
	w.partial = append(w.partial, b...)
	for {
		line, rest, ok := bytes.Cut(w.partial, []byte("\n"))
		if !ok {
			break
		}
		w.partial = rest
		w.out.Write(append(line, '\n'))
		if _, after, found := strings.Cut(string(line), `msg="catalog listening" addr=`); found && !w.sent {
			w.addr <- strings.Fields(after)[0]
			w.sent = true
		}
	}
	return len(b), nil
}

// waitUntilRefused polls addr until it refuses connections, which is how the
// program shows that it has stopped accepting. A reset counts too: a dial
// that lands in the accept queue just as the listener closes is reset by the
// kernel.
func waitUntilRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s still accepts connections 10s after SIGTERM", addr)
}

// TestCatalog_SIGTERMLetsInFlightRequestFinish sends SIGTERM while a POST is
// inside its handler. The request is held there by its body: it is sent with
// "Expect: 100-continue", and the server answers "100 Continue" only when the
// handler starts reading the body, which the test then withholds until the
// program has closed its listener.
func TestCatalog_SIGTERMLetsInFlightRequestFinish(t *testing.T) {
	databaseURL := sqliteURL(t)
	p := startCatalog(t, "DATABASE_URL="+databaseURL, "SHOAL_TASK_ID=task-9")
	addr := p.addr(t)

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	body := `{"name": "affogato"}`
	fmt.Fprintf(conn, "POST /items HTTP/1.1\r\nHost: catalog\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(body))
	br := bufio.NewReader(conn)
	for _, want := range []string{"HTTP/1.1 100 Continue\r\n", "\r\n"} {
		if got, err := br.ReadString('\n'); got != want {
			t.Fatalf("got %q (%v), want %q", got, err, want)
		}
	}

	p.signal(t, syscall.SIGTERM)
	waitUntilRefused(t, addr)
	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("in-flight request: %v", err)
	}
	respBody, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("in-flight request: got status %d (%s), want 201", resp.StatusCode, respBody)
	}
	if got := resp.Header.Get("X-Served-By"); got != "task-9" {
		t.Errorf("X-Served-By: got %q, want task-9", got)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code: got %d, want 0; stderr:\n%s", code, p.stderr.String())
	}

	items, err := openStore(t, databaseURL).Items(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := items[len(items)-1].Name; got != "affogato" {
		t.Errorf("last item after shutdown: got %q, want affogato", got)
	}
}

// TestCatalog_ReplicasShareOneDatabase starts three programs on one new SQLite
// file at the same moment, as shoal starts a service's tasks.
func TestCatalog_ReplicasShareOneDatabase(t *testing.T) {
	databaseURL := sqliteURL(t)
	var procs []*process
	for i := range 3 {
		procs = append(procs, startCatalog(t, "DATABASE_URL="+databaseURL, fmt.Sprintf("SHOAL_TASK_ID=task-%d", i)))
	}
	var addrs []string
	for _, p := range procs {
		addrs = append(addrs, p.addr(t))
	}
	for i, a := range addrs {
		resp := do(t, "GET", "http://"+a+"/", "", "")
		if resp.status != http.StatusOK {
			t.Fatalf("task-%d: GET /: got status %d, want 200", i, resp.status)
		}
		if diff := cmp.Diff(seed, decode[[]Item](t, resp)); diff != "" {
			t.Errorf("task-%d: items (-want +got):\n%s", i, diff)
		}
	}
	created := decode[Item](t, do(t, "POST", "http://"+addrs[0]+"/items", "application/json", `{"name": "mocha"}`))
	for i, a := range addrs {
		resp := do(t, "GET", fmt.Sprintf("http://%s/items/%d", a, created.ID), "", "")
		if got := resp.header.Get("X-Served-By"); resp.status != 200 || got != fmt.Sprintf("task-%d", i) {
			t.Errorf("task-%d: GET /items/%d: got status %d from %q, want 200 from task-%d", i, created.ID, resp.status, got, i)
		}
	}

	var wg sync.WaitGroup
	for i, p := range procs {
		p.signal(t, syscall.SIGTERM)
		wg.Go(func() {
			if code := p.wait(t); code != 0 {
				t.Errorf("task-%d: exit code %d, want 0; stderr:\n%s", i, code, p.stderr.String())
			}
		})
	}
	wg.Wait()
}

func TestCatalog_BadDatabaseURLExits1(t *testing.T) {
	p := startCatalog(t, "DATABASE_URL=mysql://db/catalog")
	if code := p.wait(t); code != 1 {
		t.Errorf("exit code: got %d, want 1", code)
	}
	want := `catalog: DATABASE_URL: unsupported scheme "mysql"; use sqlite:relative/path.db, sqlite:///absolute/path.db or postgres://`
	if got := p.stderr.String(); !strings.HasPrefix(got, want) {
		t.Errorf("stderr: got %q, want it to start with %q", got, want)
	}
}

// TestRun_ShutsDownWhenContextEnds drives run itself, without a process.
func TestRun_ShutsDownWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	env := map[string]string{"PORT": "0", "DATABASE_URL": sqliteURL(t), "SHOAL_TASK_ID": "task-r"}
	out := newAddrWatcher(io.Discard)
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, func(k string) string { return env[k] }, out) }()
	select {
	case addr := <-out.addr:
		if resp := do(t, "GET", "http://"+addr+"/", "", ""); resp.status != 200 {
			t.Errorf("GET /: got status %d, want 200", resp.status)
		}
	case err := <-errc:
		t.Fatalf("run returned before listening: %v", err)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("run: got %v, want nil", err)
	}
}
