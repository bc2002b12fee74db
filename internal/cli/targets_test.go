package cli

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shoalhq/shoal/internal/proxy"
)

// targetsBackend is fixedBackend with targets in every state, one of them
// failing its health checks.
type targetsBackend struct{ *fixedBackend }

func (targetsBackend) Targets() []proxy.TargetHealth {
	return []proxy.TargetHealth{
		{Group: "api", Target: "127.0.0.2:40123", State: "healthy", Since: t1, InFlight: 2},
		{Group: "api", Target: "127.0.0.2:44842", State: "unhealthy", Reason: "Target.FailedHealthChecks",
			Description: "Health checks failed: connection refused at 127.0.0.2:44842: nothing listens there; " +
				"the app must listen on $HOST:$PORT (it may have bound 127.0.0.1, localhost or another port)", Since: t1},
		{Group: "api", Target: "127.0.0.3:40200", State: "draining", Reason: "Target.DeregistrationInProgress",
			Description: "Target deregistration is in progress", Since: t2, InFlight: 1},
		{Group: "web", Target: "127.0.0.3:40311", State: "initial", Reason: "Elb.InitialHealthChecking",
			Description: "Initial health checks in progress", Since: t2},
	}
}

// TestTargets_TableSaysWhyATargetIsNotHealthy: a target that is not healthy
// shows its reason code and description; the description comes last, so
// the other columns stay as narrow as their values.
func TestTargets_TableSaysWhyATargetIsNotHealthy(t *testing.T) {
	state, _ := serveAdmin(t, targetsBackend{newFixedBackend()})
	code, out, errOut := run(t, context.Background(), "targets", "--state-dir", state)
	if code != 0 || errOut != "" {
		t.Errorf("exit %d, stderr %q; want 0 and nothing", code, errOut)
	}
	want := "" +
		"TARGET GROUP  TARGET           STATE      REASON                           IN FLIGHT  DESCRIPTION\n" +
		"api           127.0.0.2:40123  healthy    -                                2          -\n" +
		"api           127.0.0.2:44842  unhealthy  Target.FailedHealthChecks        0          Health checks failed: connection refused at 127.0.0.2:44842: nothing listens there; the app must listen on $HOST:$PORT (it may have bound 127.0.0.1, localhost or another port)\n" +
		"api           127.0.0.3:40200  draining   Target.DeregistrationInProgress  1          Target deregistration is in progress\n" +
		"web           127.0.0.3:40311  initial    Elb.InitialHealthChecking        0          Initial health checks in progress\n"
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
}
