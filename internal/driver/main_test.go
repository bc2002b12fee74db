package driver

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/testkit"
)

// testRoleEnv makes the test binary, started as a child, play a part other
// than running tests: a task that serves HTTP, or a fake shoal.
const testRoleEnv = "SHOAL_DRIVER_TEST_ROLE"

func TestMain(m *testing.M) {
	RunShimIfInvoked()
	switch os.Getenv(testRoleEnv) {
	case "http":
		os.Exit(runHTTPHelper())
	case "fake-shoal":
		os.Exit(runFakeShoal())
	}
	// Shims and helpers are this race-enabled binary; without this each
	// one that exits 0 would sleep a second in the race runtime's exit.
	if os.Getenv("GORACE") == "" {
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	os.Exit(m.Run())
}

// runHTTPHelper is a task: it listens on HOST:PORT and answers with what it
// was given.
func runHTTPHelper() int {
	addr := net.JoinHostPort(os.Getenv("HOST"), os.Getenv("PORT"))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("listening on %s\n", addr)
	err = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		wd, _ := os.Getwd()
		fmt.Fprintf(w, "greeting=%s host=%s port=%s dir=%s",
			os.Getenv("GREETING"), os.Getenv("HOST"), os.Getenv("PORT"), wd)
	}))
	fmt.Fprintln(os.Stderr, err)
	return 1
}

// runFakeShoal starts a task that forks a grandchild, prints the task's
// process group, and runs until its stdin closes or it is killed.
func runFakeShoal() int {
	p := NewProcess(ProcessOptions{})
	task, err := p.Start(context.Background(), TaskSpec{
		ID:          "fake-1",
		Command:     []string{"sh", "-c", "sleep 1000 & sleep 1000"},
		Dir:         "/",
		Address:     "127.0.0.1",
		StopTimeout: 300 * time.Millisecond,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("pgid %d\n", task.(*processTask).pgid)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// waitFor polls cond until it holds, failing the test after timeout. The
// timeouts are generous: the tests start race-enabled binaries on machines
// that may be busy.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, timeout, what, cond)
}

// linuxOnly skips a test that relies on what only Linux has here: /proc,
// or loopback addresses beyond 127.0.0.1 (macOS has them only as lo0
// aliases).
func linuxOnly(t *testing.T, why string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("Linux only: " + why)
	}
}

// proc is a process seen in /proc.
type proc struct {
	pid   int
	comm  string
	state string
}

// groupProcs lists the live processes of process group pgid. Zombies do not
// count: they are dead, and whether they get reaped depends on the init
// process of the machine the tests run on.
func groupProcs(t *testing.T, pgid int) []proc {
	t.Helper()
	linuxOnly(t, "reads /proc")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, group, ok := readStat(pid)
		if ok && group == pgid && p.state != "Z" && p.state != "X" {
			out = append(out, p)
		}
	}
	return out
}

// readStat parses /proc/<pid>/stat: "pid (comm) state ppid pgrp ...".
func readStat(pid int) (p proc, pgrp int, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return proc{}, 0, false // gone meanwhile
	}
	s := string(b)
	open, shut := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || shut < open {
		return proc{}, 0, false
	}
	f := strings.Fields(s[shut+1:])
	if len(f) < 3 {
		return proc{}, 0, false
	}
	pgrp, err = strconv.Atoi(f[2])
	return proc{pid: pid, comm: s[open+1 : shut], state: f[0]}, pgrp, err == nil
}

func countComm(ps []proc, comm string) int {
	n := 0
	for _, p := range ps {
		if p.comm == comm {
			n++
		}
	}
	return n
}
