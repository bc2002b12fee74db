package strategy

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

// world plays the agent for a deployment: green turns ready a second
// after SCALE_UP starts, blue is gone a second after CLEAN_UP starts,
// hooks pass at once unless failAt names their stage, and an alarm goes
// off once green has alarmAt% of production traffic (0: never).
type world struct {
	failAt  Stage
	alarmAt float64
	breaker Stage
}

// step is what the agent saw at one call: the stage and the weights.
type step struct {
	At         time.Duration // since the start
	Stage      Stage
	Weight     float64
	TestWeight float64
	Hooks      bool // RunHooks was set
}

func (st step) String() string {
	h := ""
	if st.Hooks {
		h = " hooks"
	}
	return fmt.Sprintf("%v %s %g/%g%s", st.At, st.Stage, st.Weight, st.TestWeight, h)
}

// run drives a deployment to its end, and returns the distinct steps the
// agent saw, the final state and effects.
func run(t *testing.T, c Config, w world) ([]string, State, Effects) {
	t.Helper()
	now := t0
	s := Start(now)
	var seen []string
	var lastKey string // the last line seen, without its time
	var e Effects
	stageStart := map[Stage]time.Time{}
	for i := 0; ; i++ {
		if i > 100000 {
			t.Fatalf("no end after 100000 calls: %+v", s)
		}
		if _, ok := stageStart[s.Stage]; !ok {
			stageStart[s.Stage] = now
		}
		o := Observed{
			GreenReady: s.Stage == ScaleUp && now.Sub(stageStart[ScaleUp]) >= time.Second,
			BlueGone:   s.Stage == CleanUp && now.Sub(stageStart[CleanUp]) >= time.Second,
			Hook:       HookPassed,
		}
		if s.Stage == w.failAt {
			o.Hook, o.HookReason = HookFailed, "exit status 1"
		}
		if w.alarmAt > 0 && s.Weight(c) >= w.alarmAt {
			o.Alarm = "green-5xx: 9 5XX in 10s"
		}
		if s.Stage == w.breaker && w.breaker != "" {
			o.Breaker = "ECS deployment circuit breaker: tasks failed to start."
		}
		s, e = Advance(c, s, o, now)
		if _, ok := stageStart[s.Stage]; !ok {
			stageStart[s.Stage] = now
		}
		line := step{At: now.Sub(t0), Stage: s.Stage, Weight: e.Weight, TestWeight: e.TestWeight, Hooks: e.RunHooks != ""}.String()
		if s.Done {
			line = fmt.Sprintf("%v done %g/%g", now.Sub(t0), e.Weight, e.TestWeight)
		}
		if _, key, _ := strings.Cut(line, " "); key != lastKey {
			seen, lastKey = append(seen, line), key
		}
		if s.Done {
			return seen, s, e
		}
		// The agent looks again on every change it observes, a second at
		// the latest here, and at the wake time.
		next := now.Add(time.Second)
		if !e.Wake.IsZero() && e.Wake.After(now) && e.Wake.Before(next) {
			next = e.Wake
		}
		now = next
	}
}

func TestAdvance_StrategiesWalkTheStagesWithTheirWeights(t *testing.T) {
	hooks := HookStages
	tests := []struct {
		name string
		c    Config
		want []string
	}{
		{
			name: "blue/green with a test listener and every hook",
			c:    Config{Kind: BlueGreen, BakeTime: 10 * time.Minute, TestListener: true, Hooks: hooks},
			want: []string{
				"0s SCALE_UP 0/0",
				"1s POST_SCALE_UP 0/0 hooks",
				"2s TEST_TRAFFIC_SHIFT 0/100 hooks",
				"3s POST_TEST_TRAFFIC_SHIFT 0/100 hooks",
				"4s PRE_PRODUCTION_TRAFFIC_SHIFT 0/100 hooks",
				"5s PRODUCTION_TRAFFIC_SHIFT 100/100 hooks",
				"6s POST_PRODUCTION_TRAFFIC_SHIFT 100/100 hooks",
				"7s BAKE_TIME 100/100",
				"10m7s CLEAN_UP 100/100",
				"10m8s done 100/100",
			},
		},
		{
			name: "canary 10% for 5 minutes, no hooks, bake time scaled by 60",
			c:    Config{Kind: Canary, CanaryPercent: 10, CanaryBakeTime: 5 * time.Minute, BakeTime: 10 * time.Minute, TimeScale: 60},
			want: []string{
				"0s SCALE_UP 0/0",
				"1s PRODUCTION_TRAFFIC_SHIFT 10/0",
				"6s BAKE_TIME 100/0",
				"16s CLEAN_UP 100/0",
				"17s done 100/0",
			},
		},
		{
			name: "linear 4 × 25% every minute",
			c:    Config{Kind: Linear, StepPercent: 25, StepBakeTime: time.Minute},
			want: []string{
				"0s SCALE_UP 0/0",
				"1s PRODUCTION_TRAFFIC_SHIFT 25/0",
				"1m1s PRODUCTION_TRAFFIC_SHIFT 50/0",
				"2m1s PRODUCTION_TRAFFIC_SHIFT 75/0",
				"3m1s CLEAN_UP 100/0", // no bake time: BAKE_TIME ends as it starts
				"3m2s done 100/0",
			},
		},
		{
			name: "linear 30% steps end with a 10% one",
			c:    Config{Kind: Linear, StepPercent: 30, StepBakeTime: time.Minute},
			want: []string{
				"0s SCALE_UP 0/0",
				"1s PRODUCTION_TRAFFIC_SHIFT 30/0",
				"1m1s PRODUCTION_TRAFFIC_SHIFT 60/0",
				"2m1s PRODUCTION_TRAFFIC_SHIFT 90/0",
				"3m1s CLEAN_UP 100/0",
				"3m2s done 100/0",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, s, e := run(t, tt.c, world{})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
			if !e.Completed || s.RolledBack || e.KeepBlue {
				t.Errorf("end: completed %v, rolled back %v, keep blue %v", e.Completed, s.RolledBack, e.KeepBlue)
			}
			for _, ev := range s.Timeline {
				if ev.Outcome != OutcomeSucceeded || ev.End.Before(ev.Start) {
					t.Errorf("timeline event %+v: want SUCCEEDED with an end", ev)
				}
			}
		})
	}
}

// A pre-scale-up hook holds green back: nothing starts until it passes.
func TestAdvance_PreScaleUpHookHoldsGreen(t *testing.T) {
	c := Config{Kind: BlueGreen, Hooks: []Stage{PreScaleUp}}
	s, e := Advance(c, Start(t0), Observed{Hook: HookPending}, t0)
	if s.Stage != PreScaleUp || e.ScaleGreen || e.RunHooks != PreScaleUp || !e.KeepBlue {
		t.Fatalf("pending PRE_SCALE_UP hook: stage %s, effects %+v", s.Stage, e)
	}
	s, e = Advance(c, s, Observed{Hook: HookPassed}, t0.Add(time.Second))
	if s.Stage != ScaleUp || !e.ScaleGreen {
		t.Fatalf("after the hook passed: stage %s, effects %+v", s.Stage, e)
	}
}

// Rollback from every stage before CLEAN_UP, by a failed hook, an alarm
// or the circuit breaker: all traffic back to blue, blue kept, nothing
// completed; the stage's timeline line says ROLLED_BACK.
func TestAdvance_RollsBackFromEveryStage(t *testing.T) {
	all := slices.Clone(HookStages)
	for _, kind := range []Kind{BlueGreen, Canary, Linear} {
		c := Config{Kind: kind, CanaryPercent: 10, CanaryBakeTime: time.Minute, StepPercent: 25, StepBakeTime: time.Minute,
			BakeTime: time.Minute, TestListener: true, Hooks: all}
		for _, stage := range Stages {
			if stage == CleanUp {
				continue
			}
			for _, cause := range []string{"hook", "breaker"} {
				if cause == "hook" && !slices.Contains(HookStages, stage) {
					continue
				}
				t.Run(fmt.Sprintf("%s/%s/%s", kind, stage, cause), func(t *testing.T) {
					w := world{breaker: stage}
					if cause == "hook" {
						w = world{failAt: stage}
					}
					_, s, e := run(t, c, w)
					if !s.RolledBack || e.RollBack == "" || e.Completed || e.Weight != 0 || e.TestWeight != 0 || !e.KeepBlue {
						t.Fatalf("state %+v, effects %+v: want rolled back, every request to blue", s, e)
					}
					last := s.Timeline[len(s.Timeline)-1]
					if last.Stage != stage || last.Outcome != OutcomeRolledBack {
						t.Errorf("timeline ends with %+v, want %s ROLLED_BACK", last, stage)
					}
					if cause == "hook" && !strings.Contains(s.Reason, string(stage)) {
						t.Errorf("reason %q does not name the stage", s.Reason)
					}
				})
			}
		}
	}
}

func TestAdvance_AlarmDuringTheCanaryRollsBack(t *testing.T) {
	c := Config{Kind: Canary, CanaryPercent: 10, CanaryBakeTime: 5 * time.Minute, BakeTime: time.Minute}
	got, s, _ := run(t, c, world{alarmAt: 10})
	want := []string{"0s SCALE_UP 0/0", "1s PRODUCTION_TRAFFIC_SHIFT 10/0", "2s done 0/0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(s.Reason, "alarm: green-5xx") {
		t.Errorf("reason %q", s.Reason)
	}
}

func TestAdvance_CleanUpIsTooLateToRollBack(t *testing.T) {
	c := Config{Kind: BlueGreen}
	s := State{Stage: CleanUp, Since: t0, Step: 0, Timeline: []Event{{Stage: CleanUp, Start: t0}}}
	s, e := Advance(c, s, Observed{Alarm: "late", BlueGone: true}, t0)
	if s.RolledBack || !e.Completed {
		t.Errorf("an alarm at CLEAN_UP: state %+v, effects %+v; want completed", s, e)
	}
}

func TestAdvance_DoesNotChangeTheCallersState(t *testing.T) {
	c := Config{Kind: Linear, StepPercent: 50, StepBakeTime: time.Minute}
	s := Start(t0)
	before := fmt.Sprintf("%+v", s)
	Advance(c, s, Observed{GreenReady: true, Hook: HookPassed}, t0.Add(time.Hour))
	if after := fmt.Sprintf("%+v", s); after != before {
		t.Errorf("Advance changed its argument:\n%s\n%s", before, after)
	}
}

func TestSteps(t *testing.T) {
	for _, c := range []struct {
		c    Config
		want []float64
	}{
		{Config{Kind: BlueGreen}, []float64{100}},
		{Config{Kind: Canary, CanaryPercent: 10}, []float64{10, 100}},
		{Config{Kind: Canary, CanaryPercent: 100}, []float64{100}},
		{Config{Kind: Canary, CanaryPercent: 0.5}, []float64{0.5, 100}},
		{Config{Kind: Linear, StepPercent: 33.3}, []float64{33.3, 66.6, 99.9, 100}},
		{Config{Kind: Linear, StepPercent: 100}, []float64{100}},
	} {
		if got := c.c.Steps(); !slices.Equal(got, c.want) {
			t.Errorf("%+v: steps %v, want %v", c.c, got, c.want)
		}
	}
}

// Hooks at PRODUCTION_TRAFFIC_SHIFT run at every step, as ECS's, and a
// step waits for them.
func TestAdvance_ProductionHooksRunAtEveryStep(t *testing.T) {
	c := Config{Kind: Linear, StepPercent: 50, StepBakeTime: time.Minute, Hooks: []Stage{ProductionTrafficShift}}
	s := Start(t0)
	var runs []string
	now := t0
	for i := 0; i < 10 && !s.Done; i++ {
		o := Observed{GreenReady: true, BlueGone: true}
		var e Effects
		s, e = Advance(c, s, o, now) // the hooks of this step have not answered
		if e.HookRun != "" {
			runs = append(runs, fmt.Sprintf("%s at %g%%", e.HookRun, e.Weight))
			s, e = Advance(c, s, Observed{GreenReady: true, Hook: HookPassed, BlueGone: true}, now.Add(2*time.Minute))
		}
		now = now.Add(2 * time.Minute)
	}
	want := []string{"PRODUCTION_TRAFFIC_SHIFT/0 at 50%", "PRODUCTION_TRAFFIC_SHIFT/1 at 100%"}
	if diff := cmp.Diff(want, runs); diff != "" || !s.Done || s.RolledBack {
		t.Errorf("hook runs (-want +got):\n%s\nstate %+v", diff, s)
	}
}
