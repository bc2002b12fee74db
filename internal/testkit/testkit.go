// Package testkit holds helpers shared by shoal's tests. Only _test.go files
// import it, so none of it is compiled into the shoal binary.
package testkit

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// WaitFor polls cond until it holds, and fails the test with what it was
// waiting for once timeout has passed. Tests wait on conditions, never on
// the passing of time.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	Poll(t, timeout, what, func() (bool, error) { return cond(), nil }, nil)
}

// pollInterval is how often Poll checks; the checks are cheap.
const pollInterval = 5 * time.Millisecond

// Poll calls check until it reports done. It fails the test at once when
// check returns an error (something that will not come right by waiting,
// like the process under test having exited), and when timeout passes. A
// non-nil describe adds what the test knows (output so far, goroutine
// stacks) to the failure message.
func Poll(t testing.TB, timeout time.Duration, what string, check func() (bool, error), describe func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		done, err := check()
		switch {
		case err != nil:
			t.Fatalf("waiting for %s: %v%s", what, err, details(describe))
		case done:
			return
		case time.Now().After(deadline):
			t.Fatalf("timed out after %v waiting for %s%s", timeout, what, details(describe))
		}
		time.Sleep(pollInterval)
	}
}

func details(describe func() string) string {
	if describe == nil {
		return ""
	}
	return "\n" + describe()
}

// Buffer is a bytes.Buffer safe for concurrent writers, for capturing the
// output of a process or of a command running in another goroutine.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// LineServer is a TCP server on 127.0.0.1 that answers each line it reads
// with its name, a space and the line: a stand-in for a task or a backing
// service. It stops when the test ends.
func LineServer(t testing.TB, name string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go ServeLines(ln, name)
	return ln
}

// ServeLines answers, on every connection ln accepts, each line with name,
// a space and the line, until ln is closed.
func ServeLines(ln net.Listener, name string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				io.WriteString(c, name+" "+sc.Text()+"\n")
			}
		}()
	}
}
