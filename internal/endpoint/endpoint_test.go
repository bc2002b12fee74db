package endpoint

import (
	"bufio"
	"io"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/testkit"
)

// echo is a task that answers each line with its name and the line.
func echo(t *testing.T, name string) string {
	return testkit.LineServer(t, name).Addr().String()
}

func ask(t *testing.T, addr, line string) (string, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

func TestEndpoint_ForwardsToThePickedTask(t *testing.T) {
	var target atomic.Value
	target.Store(echo(t, "a"))
	e, err := Listen("cache", "127.0.0.1:0", func() (string, bool) { return target.Load().(string), true }, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if got, err := ask(t, e.Addr(), "PING"); got != "a PING\n" || err != nil {
		t.Fatalf("first task: got %q, %v", got, err)
	}
	// The task is replaced: the endpoint's address stays, the next
	// connection reaches the new task.
	target.Store(echo(t, "b"))
	if got, err := ask(t, e.Addr(), "PING"); got != "b PING\n" || err != nil {
		t.Errorf("after the task moved: got %q, %v", got, err)
	}
}

func TestEndpoint_NoHealthyTaskClosesTheConnection(t *testing.T) {
	e, err := Listen("cache", "127.0.0.1:0", func() (string, bool) { return "", false }, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if got, err := ask(t, e.Addr(), "PING"); err == nil {
		t.Errorf("with no healthy task: got %q, want the connection closed", got)
	}
}

func TestEndpoint_CloseEndsLiveConnectionsAndGoroutines(t *testing.T) {
	addr := echo(t, "a")
	base := runtime.NumGoroutine()
	e, err := Listen("cache", "127.0.0.1:0", func() (string, bool) { return addr, true }, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", e.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "hello\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "a hello") {
		t.Fatalf("through the endpoint: got %q, %v", line, err)
	}
	e.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Errorf("a live connection survived Close")
	}
	testkit.WaitFor(t, 10*time.Second, "the endpoint's goroutines to end", func() bool {
		return runtime.NumGoroutine() <= base+2 // the echo task's own accept and connection
	})
}
