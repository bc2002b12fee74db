package agent

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/driver"
	"github.com/shoalhq/shoal/internal/testkit"
)

// dependsStack is testStack with a service cache, without a target group,
// that web depends on and names in its environment.
func dependsStack() *Stack {
	s := testStack(1)
	s.TaskDefinitions["redis"] = TaskDefinition{Kind: KindProcess, Task: driver.TaskSpec{Command: []string{"redis-server"}}}
	s.Services["cache"] = Service{TaskDefinition: "redis", Desired: 1}
	web := s.Services["web"]
	web.DependsOn = []string{"cache"}
	s.Services["web"] = web
	td := s.TaskDefinitions["app"]
	td.EnvRefs = map[string]EnvValue{"REDIS_URL": {{Text: "redis://"}, {Service: "cache", Field: "address"}, {Text: "/0"}}}
	s.TaskDefinitions["app"] = td
	return s
}

// TestAgent_DependentWaitsThenReachesItsDependencyThroughTheEndpoint: web
// starts nothing until the cache's task takes connections; then it starts
// with REDIS_URL naming the cache's endpoint, which forwards to the cache's
// task.
func TestAgent_DependentWaitsThenReachesItsDependencyThroughTheEndpoint(t *testing.T) {
	h := newHarness(t)
	h.run(t, dependsStack())
	waitFor(t, "the cache task RUNNING", h.running(1))
	cache := h.runner.started()[0]
	waitFor(t, "the wait said", func() bool { return hasEvent(h, "service web is waiting for cache to have a healthy task") })
	h.agent.reconcile()
	if n := len(h.runner.started()); n != 1 {
		t.Fatalf("tasks started while the cache takes no connections: got %d, want only the cache's", n)
	}

	// The cache starts listening: its probe (on the fake clock) finds it.
	ln, err := net.Listen("tcp", cache.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go testkit.ServeLines(ln, "cache")
	waitFor(t, "the probe to wait for its next try", func() bool { return h.clock.Timers() > 0 })
	h.clock.Advance(probeEvery)
	waitFor(t, "web started", func() bool { return len(h.runner.started()) == 2 })
	web := h.runner.started()[1]
	url := web.env["REDIS_URL"]
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "redis://"), "/0")
	if !strings.HasPrefix(url, "redis://127.0.0.1:") || addr == cache.addr {
		t.Fatalf("REDIS_URL: got %q, want the cache's endpoint on 127.0.0.1, not its task's address %s", url, cache.addr)
	}
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("dial the cache's endpoint: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "PING\n")
	if line, err := bufio.NewReader(c).ReadString('\n'); line != "cache PING\n" {
		t.Errorf("through the endpoint: got %q, %v; want the cache's answer", line, err)
	}
}

func hasEvent(h *harness, prefix string) bool {
	for _, e := range h.agent.Events(0) {
		if strings.HasPrefix(e.Message, prefix) {
			return true
		}
	}
	return false
}
