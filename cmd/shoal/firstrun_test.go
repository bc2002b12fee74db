package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/testkit"
)

// maxSilence is the longest a first run may print nothing.
const maxSilence = 5 * time.Second

// TestFirstRun_ColdCaches runs README's first command, `go run -v
// ./cmd/shoal up -f examples/catalog/shoal.yaml`, as on a fresh machine:
// empty Go build and module caches. It must print something at least every
// 5 seconds until the stack is up, and it reports how long the first 200
// takes. It takes minutes and downloads modules, so it runs only with
// SHOAL_TEST_COLD=1 (make first-run).
func TestFirstRun_ColdCaches(t *testing.T) {
	if os.Getenv("SHOAL_TEST_COLD") == "" {
		t.Skip("a cold first run takes minutes: run it with SHOAL_TEST_COLD=1 (make first-run)")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "run", "-v", "./cmd/shoal", "up", "-f", exampleStack(t, dir), "--state-dir", filepath.Join(dir, "state"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"GOCACHE="+filepath.Join(dir, "gocache"),
		"GOMODCACHE="+filepath.Join(dir, "gomodcache"),
		"GOFLAGS=-modcacherw", // so that the test can remove the module cache
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // go run and shoal, stopped together
	lines := &timedLines{}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	go lines.read(pr)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(time.Minute):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})

	listener := regexp.MustCompile(`shoal: open (http://\S+)`)
	var url string
	testkit.Poll(t, 15*time.Minute, "the stack to be up", func() (bool, error) {
		select {
		case err := <-done:
			done <- err
			return false, fmt.Errorf("go run exited: %v", err)
		default:
		}
		m := listener.FindStringSubmatch(lines.text())
		if m != nil {
			url = m[1]
		}
		return m != nil, nil
	}, lines.text)
	up := time.Since(start)
	testkit.WaitFor(t, time.Minute, "a 200 from "+url, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	first200 := time.Since(start)
	gap, after := lines.longestGap(start)
	t.Logf("cold first run: first line after %v, stack up after %v, first 200 after %v; longest silence %v (after %q); %d lines",
		lines.first(start).Round(time.Millisecond), up.Round(time.Second), first200.Round(time.Second), gap.Round(time.Millisecond), after, lines.count())
	if gap > maxSilence {
		t.Errorf("the first run printed nothing for %v after %q: want a line at least every %v", gap.Round(time.Millisecond), after, maxSilence)
	}
}

// timedLines records each line of output with when it came.
type timedLines struct {
	mu    sync.Mutex
	lines []string
	at    []time.Time
}

func (l *timedLines) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		l.mu.Lock()
		l.lines = append(l.lines, sc.Text())
		l.at = append(l.at, time.Now())
		l.mu.Unlock()
	}
}

func (l *timedLines) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func (l *timedLines) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

func (l *timedLines) first(start time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.at) == 0 {
		return 0
	}
	return l.at[0].Sub(start)
}

// longestGap is the longest time without a line, from start, and the line
// before it.
func (l *timedLines) longestGap(start time.Time) (time.Duration, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	prev, prevLine := start, "(start)"
	var gap time.Duration
	after := ""
	for i, at := range l.at {
		if d := at.Sub(prev); d > gap {
			gap, after = d, prevLine
		}
		prev, prevLine = at, l.lines[i]
	}
	return gap, after
}
