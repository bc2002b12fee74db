package driver

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
)

// healthPoll is how often a running task's main container is asked for
// its health status. The engine runs the checks; shoal only reads their
// outcome, so this bounds how late a change is seen.
const healthPoll = 500 * time.Millisecond

// startHealthPoll starts polling the main container's health status, when
// it has a health check.
func (t *dockerTask) startHealthPoll() {
	if t.main == nil || t.main.spec.HealthCheck == nil {
		return
	}
	t.poller.Go(func() { t.pollHealth(t.healthCtx) })
}

// pollHealth reads the main container's health status every healthPoll
// until ctx is done (the task is ending).
func (t *dockerTask) pollHealth(ctx context.Context) {
	timer := t.d.clock.NewTimer(healthPoll)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C():
		}
		ins, err := t.d.cli.ContainerInspect(ctx, t.main.id)
		if err == nil && ins.State != nil && ctx.Err() == nil {
			t.observeHealth(dockerHealth(ins.State.Health))
		}
		timer.Reset(healthPoll)
	}
}

// observeHealth records a status read from the engine and calls OnHealth
// when it changed. A failure is kept until a newer one replaces it.
func (t *dockerTask) observeHealth(status ContainerHealth, failure string) {
	t.mu.Lock()
	from := t.health
	t.health = status
	if failure != "" {
		t.failure = failure
	}
	t.mu.Unlock()
	if status == from {
		return
	}
	t.d.log.Debug("task health changed", "task", t.spec.ID, "health", status, "last_failure", failure)
	if t.spec.OnHealth != nil {
		t.spec.OnHealth(status)
	}
}

// Health is the main container's health status as last polled, and what
// its last failed check said.
func (t *dockerTask) Health() (ContainerHealth, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.health, t.failure
}

// dockerHealth maps the engine's health state to shoal's: starting (or no
// check) is HealthUnknown. The failure is the last failed probe in the
// engine's log (it keeps the last five): its exit status and output, or
// only the output when the probe could not run or timed out (the engine's
// exit code -1, whose output says why).
func dockerHealth(h *container.Health) (ContainerHealth, string) {
	if h == nil {
		return HealthUnknown, ""
	}
	status := HealthUnknown
	switch h.Status {
	case container.Healthy:
		status = HealthHealthy
	case container.Unhealthy:
		status = HealthUnhealthy
	}
	for i := len(h.Log) - 1; i >= 0; i-- {
		if r := h.Log[i]; r != nil && r.ExitCode != 0 {
			return status, probeFailure(r)
		}
	}
	return status, ""
}

// probeFailure words a failed probe as the process driver words a failed
// check: why, then the end of its output.
func probeFailure(r *container.HealthcheckResult) string {
	out := strings.TrimSpace(r.Output)
	if len(out) > healthOutputBytes {
		out = out[len(out)-healthOutputBytes:]
	}
	if r.ExitCode < 0 {
		return out
	}
	if out == "" {
		return fmt.Sprintf("exit status %d", r.ExitCode)
	}
	return fmt.Sprintf("exit status %d: %s", r.ExitCode, out)
}
