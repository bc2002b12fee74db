package agent

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/clock/clocktest"
	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/testkit"
)

func TestHealthMessage(t *testing.T) {
	const target = "127.0.0.2:44842"
	change := func(from, to proxy.State, r proxy.Reason, desc string) proxy.HealthChange {
		return proxy.HealthChange{Group: "api", Target: target, From: from, To: to, Reason: r, Description: desc}
	}
	tests := []struct {
		name string
		c    proxy.HealthChange
		want string
	}{
		{"registered", change(proxy.StateUnused, proxy.StateInitial, proxy.ReasonRegistrationInProgress, "Target registration is in progress"),
			"target 127.0.0.2:44842 in target-group api: initial (Elb.RegistrationInProgress: Target registration is in progress)."},
		{"healthy", change(proxy.StateInitial, proxy.StateHealthy, "", ""),
			"target 127.0.0.2:44842 in target-group api: initial → healthy."},
		{"code mismatch", change(proxy.StateHealthy, proxy.StateUnhealthy, proxy.ReasonResponseCodeMismatch, "Health checks failed with these codes: [500]"),
			"target 127.0.0.2:44842 in target-group api: healthy → unhealthy (Target.ResponseCodeMismatch: Health checks failed with these codes: [500])."},
		// The line names the target once.
		{"timeout", change(proxy.StateHealthy, proxy.StateUnhealthy, proxy.ReasonTimeout,
			"Request timed out at 127.0.0.2:44842: no answer to GET /health within the 5s health check timeout"),
			"target 127.0.0.2:44842 in target-group api: healthy → unhealthy (Target.Timeout: Request timed out: no answer to GET /health within the 5s health check timeout)."},
		// A health check port's address is not the target's: it stays.
		{"health check port refused", change(proxy.StateInitial, proxy.StateUnhealthy, proxy.ReasonFailedHealthChecks,
			"Health checks failed: connection refused at 127.0.0.2:8081: nothing listens there; the app must answer health checks on $HOST:8081, the target group's health check port (it may have bound 127.0.0.1, localhost or another port)"),
			"target 127.0.0.2:44842 in target-group api: initial → unhealthy (Target.FailedHealthChecks: Health checks failed: connection refused at 127.0.0.2:8081: nothing listens there; the app must answer health checks on $HOST:8081, the target group's health check port (it may have bound 127.0.0.1, localhost or another port))."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := healthMessage(tt.c); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestHealthMessage_RefusedTarget: the load balancer's own change for a
// target nothing listens on makes a line that says what to do.
func TestHealthMessage_RefusedTarget(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	clk := clocktest.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	changes := make(chan proxy.HealthChange, 16)
	lb := proxy.New(proxy.Options{Clock: clk, OnHealthChange: func(c proxy.HealthChange) { changes <- c }})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		lb.Close(ctx)
	})
	tg := testGroup()
	tg.Targets = []string{addr}
	if err := lb.Apply(context.Background(), proxy.Config{TargetGroups: map[string]proxy.TargetGroupConfig{"api": tg}}); err != nil {
		t.Fatal(err)
	}
	// The first check fails at once; the second, an interval later, makes
	// the target unhealthy.
	testkit.WaitFor(t, 10*time.Second, "the first check", func() bool { return clk.Timers() == 1 })
	clk.Advance(tg.HealthCheck.Interval)
	var got []string
	for len(got) < 2 {
		select {
		case c := <-changes:
			got = append(got, healthMessage(c))
		case <-time.After(10 * time.Second):
			t.Fatalf("health changes: got %q, want 2", got)
		}
	}
	want := "target " + addr + " in target-group api: initial → unhealthy (Target.FailedHealthChecks: " +
		"Health checks failed: connection refused: nothing listens there; " +
		"the app must listen on $HOST:$PORT (it may have bound 127.0.0.1, localhost or another port))."
	if got[1] != want {
		t.Errorf("line:\n got %s\nwant %s", got[1], want)
	}
}
