package cli

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/fault"
	"github.com/shoalhq/shoal/internal/proxy"
)

// faultBackend keeps the faults it is given in a real table, and the
// requests as they came.
type faultBackend struct {
	*fixedBackend
	mu       sync.Mutex
	table    fault.Table
	requests []fault.Request
}

func (b *faultBackend) InjectFault(req fault.Request) (fault.Fault, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.requests = append(b.requests, req)
	if err := req.Validate(); err != nil {
		return fault.Fault{}, fmt.Errorf("%w: %v", agent.ErrInvalid, err)
	}
	if req.TargetGroup != "" && req.TargetGroup != "api" {
		return fault.Fault{}, fmt.Errorf("%w: no target group %q: the target groups are [api]", agent.ErrNotFound, req.TargetGroup)
	}
	return b.table.Add(req, t0), nil
}

func (b *faultBackend) Faults() []fault.Fault {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.table.Active()
}

func (b *faultBackend) RemoveFault(id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.table.Remove(id); !ok {
		return fmt.Errorf("%w: no active fault %q", agent.ErrNotFound, id)
	}
	return nil
}

func TestFault_InjectListRemove(t *testing.T) {
	b := &faultBackend{fixedBackend: newFixedBackend()}
	state, _ := serveAdmin(t, b)
	ctx := context.Background()

	code, out, errOut := run(t, ctx, "fault", "errors", "api", "--status", "502", "--fraction", "0.25", "--for", "1m", "--state-dir", state)
	if code != 0 || errOut != "" {
		t.Fatalf("fault errors: exit %d, stderr %q", code, errOut)
	}
	if want := "fault f-1: target-group api answers 25% of its requests with 502 until 12:01:00.\nend it sooner with: shoal fault rm f-1\n"; out != want {
		t.Errorf("got %q, want %q", out, want)
	}
	if code, _, errOut := run(t, ctx, "fault", "health", "api", "127.0.0.2:4000", "--for", "30s", "--state-dir", state); code != 0 {
		t.Fatalf("fault health: exit %d, stderr %q", code, errOut)
	}
	if code, out, _ := run(t, ctx, "fault", "kill", "api-1f0c", "--state-dir", state); code != 0 || !strings.Contains(out, "task api-1f0c killed (SIGKILL)") {
		t.Errorf("fault kill: exit %d, %q", code, out)
	}
	want := []fault.Request{
		{Kind: fault.Errors, TargetGroup: "api", Status: 502, Fraction: 0.25, For: fault.Duration(time.Minute)},
		{Kind: fault.FailHealth, TargetGroup: "api", Target: "127.0.0.2:4000", For: fault.Duration(30 * time.Second)},
		{Kind: fault.KillTask, Task: "api-1f0c"},
	}
	if diff := cmp.Diff(want, b.requests); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}

	code, out, _ = run(t, ctx, "fault", "ls", "--state-dir", state)
	if code != 0 || !strings.Contains(out, "f-1") || !strings.Contains(out, "502 on 25%") || !strings.Contains(out, "api 127.0.0.2:4000") {
		t.Errorf("fault ls: exit %d:\n%s", code, out)
	}
	if code, out, _ := run(t, ctx, "fault", "rm", "f-1", "--state-dir", state); code != 0 || out != "fault f-1 removed\n" {
		t.Errorf("fault rm: exit %d, %q", code, out)
	}
	code, out, _ = run(t, ctx, "fault", "ls", "--json", "--state-dir", state)
	if code != 0 || !strings.Contains(out, `"id": "f-2"`) || strings.Contains(out, `"f-1"`) {
		t.Errorf("fault ls --json after rm: exit %d:\n%s", code, out)
	}
}

func TestFault_ErrorsAreClear(t *testing.T) {
	b := &faultBackend{fixedBackend: newFixedBackend()}
	state, _ := serveAdmin(t, b)
	ctx := context.Background()
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"unknown target group", []string{"errors", "web", "--for", "1m"}, 1, `no target group "web"`},
		{"no duration", []string{"pause", "api-1"}, 1, "needs a duration"},
		{"status 404", []string{"errors", "api", "--status", "404", "--for", "1m"}, 1, "status 404 is out of range"},
		{"fraction 0", []string{"latency", "api", "--delay", "1s", "--fraction", "0", "--for", "1m"}, 2, "--fraction 0"},
		{"missing target", []string{"health", "api", "--for", "1m"}, 2, "takes TARGET_GROUP TARGET"},
		{"unknown subcommand", []string{"melt", "api"}, 2, `unknown fault subcommand "melt"`},
		{"unknown fault", []string{"rm", "f-9"}, 1, `no active fault "f-9"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := run(t, ctx, append(append([]string{"fault"}, tt.args...), "--state-dir", state)...)
			if code != tt.code || !strings.Contains(errOut, tt.msg) {
				t.Errorf("got exit %d, stderr %q; want %d and %q", code, errOut, tt.code, tt.msg)
			}
		})
	}
	if got := b.Faults(); len(got) != 0 {
		t.Errorf("faults left: %v", got)
	}
}

// targetsWithFault is a backend whose one target has a fault on it.
type targetsWithFault struct{ *faultBackend }

func (b targetsWithFault) Targets() []proxy.TargetHealth {
	return []proxy.TargetHealth{{Group: "api", Target: "127.0.0.2:4000", State: proxy.StateUnhealthy,
		Reason: proxy.ReasonFailedHealthChecks, Description: "Health checks failed", Fault: "health checks fail"}}
}

func TestFault_TargetsMarksTheFault(t *testing.T) {
	state, _ := serveAdmin(t, targetsWithFault{&faultBackend{fixedBackend: newFixedBackend()}})
	code, out, errOut := run(t, context.Background(), "targets", "--state-dir", state)
	if code != 0 || !strings.Contains(out, "FAULT: health checks fail; Health checks failed") {
		t.Errorf("exit %d, stderr %q:\n%s", code, errOut, out)
	}
}
