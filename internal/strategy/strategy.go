// Package strategy decides the steps of ECS's blue/green, canary and linear
// deployments. Advance is a pure function, as sched.Reconcile: a
// deployment's state, what the agent observed (the green revision's
// health, the hooks' verdicts, the alarms) and the time go in; the next
// state and what to do (start green, the traffic weights, which hooks to
// run, stop blue, roll back, when to look again) come out. The agent
// carries it out: it owns the tasks, the load balancer and the hook calls.
//
// A deployment walks ECS's lifecycle stages, in order:
//
//	PRE_SCALE_UP → SCALE_UP → POST_SCALE_UP → TEST_TRAFFIC_SHIFT →
//	POST_TEST_TRAFFIC_SHIFT → PRE_PRODUCTION_TRAFFIC_SHIFT →
//	PRODUCTION_TRAFFIC_SHIFT → POST_PRODUCTION_TRAFFIC_SHIFT →
//	BAKE_TIME → CLEAN_UP
//
// A stage first does its part (SCALE_UP starts the green revision at full
// size and waits for it to be healthy; TEST_TRAFFIC_SHIFT sends the test
// listener's traffic to green; PRODUCTION_TRAFFIC_SHIFT moves production
// traffic by the strategy's steps, each step held for its bake time, its
// hooks run at every step, as ECS's;
// BAKE_TIME keeps blue running for an instant rollback; CLEAN_UP stops
// blue), then runs its lifecycle hooks, and ends once they all passed. A
// failed hook, an alarm, or the circuit breaker before CLEAN_UP rolls the
// deployment back: every request goes to blue again at once.
package strategy

import (
	"fmt"
	"math"
	"time"
)

// Kind is a deployment strategy, as the stack file names it.
type Kind string

// Strategies.
const (
	Rolling   Kind = "rolling"
	BlueGreen Kind = "blue_green"
	Canary    Kind = "canary"
	Linear    Kind = "linear"
)

// Stage is a lifecycle stage, with ECS's name.
type Stage string

// Lifecycle stages, in the order a deployment walks them.
const (
	PreScaleUp                 Stage = "PRE_SCALE_UP"
	ScaleUp                    Stage = "SCALE_UP"
	PostScaleUp                Stage = "POST_SCALE_UP"
	TestTrafficShift           Stage = "TEST_TRAFFIC_SHIFT"
	PostTestTrafficShift       Stage = "POST_TEST_TRAFFIC_SHIFT"
	PreProductionTrafficShift  Stage = "PRE_PRODUCTION_TRAFFIC_SHIFT"
	ProductionTrafficShift     Stage = "PRODUCTION_TRAFFIC_SHIFT"
	PostProductionTrafficShift Stage = "POST_PRODUCTION_TRAFFIC_SHIFT"
	BakeTime                   Stage = "BAKE_TIME"
	CleanUp                    Stage = "CLEAN_UP"
)

// Stages lists the stages in order.
var Stages = []Stage{PreScaleUp, ScaleUp, PostScaleUp, TestTrafficShift, PostTestTrafficShift,
	PreProductionTrafficShift, ProductionTrafficShift, PostProductionTrafficShift, BakeTime, CleanUp}

// HookStages are the stages that take lifecycle hooks, as ECS's: all but
// SCALE_UP, BAKE_TIME and CLEAN_UP.
var HookStages = []Stage{PreScaleUp, PostScaleUp, TestTrafficShift, PostTestTrafficShift,
	PreProductionTrafficShift, ProductionTrafficShift, PostProductionTrafficShift}

// Config is a service's deployment strategy.
type Config struct {
	Kind Kind
	// CanaryPercent of production traffic goes to green first, for
	// CanaryBakeTime (Canary).
	CanaryPercent  float64
	CanaryBakeTime time.Duration
	// StepPercent more of production traffic goes to green every
	// StepBakeTime (Linear).
	StepPercent  float64
	StepBakeTime time.Duration
	// BakeTime is how long blue keeps running once green takes all
	// production traffic.
	BakeTime time.Duration
	// TestListener is set when a test listener rule sends test traffic to
	// green from TEST_TRAFFIC_SHIFT on.
	TestListener bool
	// Hooks are the stages that have lifecycle hooks.
	Hooks []Stage
	// TimeScale divides every bake time (1: as configured), so that a
	// deployment written with production values is rehearsed in seconds.
	TimeScale float64
}

// scaled is d divided by the time scale.
func (c Config) scaled(d time.Duration) time.Duration {
	if c.TimeScale <= 1 {
		return d
	}
	return time.Duration(float64(d) / c.TimeScale)
}

func (c Config) hasHooks(s Stage) bool {
	for _, h := range c.Hooks {
		if h == s {
			return true
		}
	}
	return false
}

// Steps are the production weights of green, in %, that the strategy goes
// through, the last one 100.
func (c Config) Steps() []float64 {
	switch c.Kind {
	case Canary:
		if c.CanaryPercent >= 100 {
			return []float64{100}
		}
		return []float64{c.CanaryPercent, 100}
	case Linear:
		var out []float64
		for w := c.StepPercent; w < 100-1e-9; w += c.StepPercent {
			out = append(out, round(w))
		}
		return append(out, 100)
	}
	return []float64{100}
}

// stepBake is how long a production step other than the last is held.
func (c Config) stepBake() time.Duration {
	if c.Kind == Canary {
		return c.CanaryBakeTime
	}
	return c.StepBakeTime
}

func round(w float64) float64 { return math.Round(w*10) / 10 }

// Outcome of a stage.
const (
	OutcomeSucceeded  = "SUCCEEDED"
	OutcomeRolledBack = "ROLLED_BACK"
)

// Event is one line of a deployment's timeline: a stage, or one step of
// the production traffic shift.
type Event struct {
	Stage Stage     `json:"stage"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"`
	// Detail says what the step did ("production 10%").
	Detail string `json:"detail,omitempty"`
	// Outcome is "" while it runs, then OutcomeSucceeded or
	// OutcomeRolledBack.
	Outcome string `json:"outcome,omitempty"`
	// Wait is the bake time the step held for, as configured (unscaled):
	// what it takes on AWS.
	Wait time.Duration `json:"wait,omitempty"`
}

// State is a deployment's progress. Its zero value has not started.
type State struct {
	Stage Stage     `json:"stage"`
	Since time.Time `json:"since"`
	// Step is the index in Config.Steps of the production weight green
	// has (-1 before the shift), and StepSince when it got it.
	Step      int       `json:"step"`
	StepSince time.Time `json:"step_since,omitzero"`
	// TestWeight is green's share of test traffic, %.
	TestWeight float64 `json:"test_weight"`
	// Done is set once the deployment ended: completed, or RolledBack
	// with Reason.
	Done       bool    `json:"done,omitempty"`
	RolledBack bool    `json:"rolled_back,omitempty"`
	Reason     string  `json:"reason,omitempty"`
	Timeline   []Event `json:"timeline,omitempty"`
}

// Weight is green's share of production traffic, %.
func (s State) Weight(c Config) float64 {
	if s.Step < 0 || s.RolledBack {
		return 0
	}
	steps := c.Steps()
	return steps[min(s.Step, len(steps)-1)]
}

// Start is the state of a deployment that starts now.
func Start(now time.Time) State {
	s := State{Stage: PreScaleUp, Since: now, Step: -1}
	s.Timeline = []Event{{Stage: PreScaleUp, Start: now}}
	return s
}

// Hook is the verdict of a stage's lifecycle hooks.
type Hook int

// Hook verdicts.
const (
	HookPending Hook = iota // not all have passed yet
	HookPassed
	HookFailed
)

// Observed is what the agent saw, for the current stage.
type Observed struct {
	// GreenReady: green runs its desired count of tasks, all healthy.
	GreenReady bool
	// Hook is the current stage's hooks' verdict, and HookReason why one
	// failed.
	Hook       Hook
	HookReason string
	// Alarm, when set, is the reason an alarm is in ALARM.
	Alarm string
	// Breaker, when set, is why green's circuit breaker tripped.
	Breaker string
	// BlueGone: blue has no task left (CLEAN_UP is over).
	BlueGone bool
}

// Effects is what the agent must do now.
type Effects struct {
	// ScaleGreen lets green start its tasks (not before SCALE_UP).
	ScaleGreen bool
	// KeepBlue keeps blue's tasks running (until CLEAN_UP).
	KeepBlue bool
	// Weight and TestWeight are green's shares of production and test
	// traffic, %; blue has the rest.
	Weight, TestWeight float64
	// RunHooks, when set, is the stage whose hooks must run (or keep
	// running) now, and HookRun names this run of them: it changes at each
	// step of PRODUCTION_TRAFFIC_SHIFT, whose hooks run at every step.
	RunHooks Stage
	HookRun  string
	// Wake is when to call Advance again at the latest (zero: on the next
	// change the agent observes).
	Wake time.Time
	// RollBack, when set, is why the deployment rolls back now: blue is
	// PRIMARY again, green's tasks stop.
	RollBack string
	// Completed is set once blue is gone: the deployment succeeded.
	Completed bool
}

// Advance moves a deployment as far as it can go now, and says what to do.
func Advance(c Config, s State, o Observed, now time.Time) (State, Effects) {
	s.Timeline = append([]Event(nil), s.Timeline...) // the caller's state is not changed
	for !s.Done {
		if reason := failure(s, o); reason != "" {
			s = rollBack(s, reason, now)
			return s, effects(c, s, Effects{RollBack: reason})
		}
		wake, ok := s.stageDone(c, o, now)
		if !ok {
			e := effects(c, s, Effects{Wake: wake})
			if c.hasHooks(s.Stage) && s.hooksDue(c, now) {
				e.RunHooks, e.HookRun = s.Stage, s.hookRun()
			}
			return s, e
		}
		s = s.next(c, now)
		o.Hook, o.HookReason = HookPending, "" // the verdict was the stage's that ended
	}
	return s, effects(c, s, Effects{Completed: !s.RolledBack})
}

// failure is why the deployment must roll back now, if it must.
func failure(s State, o Observed) string {
	if s.Stage == CleanUp {
		return "" // past the bake time, blue is going: too late to go back
	}
	switch {
	case o.Hook == HookFailed:
		return fmt.Sprintf("lifecycle hook failed at %s: %s", s.Stage, o.HookReason)
	case o.Alarm != "":
		return "alarm: " + o.Alarm
	case o.Breaker != "":
		return o.Breaker
	}
	return ""
}

// hookRun names the current run of the stage's hooks.
func (s State) hookRun() string {
	if s.Stage == ProductionTrafficShift {
		return fmt.Sprintf("%s/%d", s.Stage, s.Step)
	}
	return string(s.Stage)
}

// hooksDue reports whether the current stage's hooks run now: once its
// own part is done (for PRODUCTION_TRAFFIC_SHIFT, once green has its
// first share, so that a hook can look at real traffic).
func (s State) hooksDue(c Config, now time.Time) bool {
	switch s.Stage {
	case ScaleUp, BakeTime, CleanUp:
		return false
	case ProductionTrafficShift:
		return s.Step >= 0
	}
	return true
}

// stageDone reports whether the current stage is over; when not, wake is
// when it may be (zero: on the next observation).
func (s *State) stageDone(c Config, o Observed, now time.Time) (wake time.Time, ok bool) {
	hooks := !c.hasHooks(s.Stage) || o.Hook == HookPassed
	switch s.Stage {
	case ScaleUp:
		return time.Time{}, o.GreenReady
	case TestTrafficShift:
		if c.TestListener {
			s.TestWeight = 100
		}
		return time.Time{}, hooks
	case ProductionTrafficShift:
		return s.shift(c, hooks, o.Hook == HookPending, now)
	case BakeTime:
		end := s.Since.Add(c.scaled(c.BakeTime))
		return end, !now.Before(end)
	case CleanUp:
		return time.Time{}, o.BlueGone
	}
	return time.Time{}, hooks
}

// shift moves production traffic one step at a time: the first step at
// once, each next one once the current one baked and its hooks passed;
// the stage is over at 100%, once the last step's hooks passed. (A verdict
// observed belongs to the step it was asked for: the next step's hooks
// have not run yet.)
func (s *State) shift(c Config, hooks, pending bool, now time.Time) (time.Time, bool) {
	steps := c.Steps()
	if s.Step < 0 {
		s.setStep(c, 0, now)
		hooks = !c.hasHooks(ProductionTrafficShift)
	}
	for s.Step < len(steps)-1 {
		if !hooks {
			return time.Time{}, false
		}
		end := s.StepSince.Add(c.scaled(c.stepBake()))
		if now.Before(end) {
			return end, false
		}
		s.setStep(c, s.Step+1, now)
		hooks = !c.hasHooks(ProductionTrafficShift)
	}
	return time.Time{}, hooks
}

// setStep gives green the production weight of step i.
func (s *State) setStep(c Config, i int, now time.Time) {
	if s.Step >= 0 { // the step before ends
		last := &s.Timeline[len(s.Timeline)-1]
		last.End, last.Outcome = now, OutcomeSucceeded
	}
	s.Step, s.StepSince = i, now
	ev := Event{Stage: ProductionTrafficShift, Start: now, Detail: fmt.Sprintf("production %g%%", c.Steps()[i])}
	if i < len(c.Steps())-1 {
		ev.Wait = c.stepBake()
	}
	s.Timeline = append(s.Timeline, ev)
}

// next ends the current stage and starts the following one.
func (s State) next(c Config, now time.Time) State {
	last := &s.Timeline[len(s.Timeline)-1]
	last.End, last.Outcome = now, OutcomeSucceeded
	for i, st := range Stages {
		if st != s.Stage {
			continue
		}
		if i == len(Stages)-1 {
			s.Done = true
			return s
		}
		s.Stage, s.Since = Stages[i+1], now
		ev := Event{Stage: s.Stage, Start: now}
		if s.Stage == BakeTime {
			ev.Wait = c.BakeTime
		}
		if s.Stage != ProductionTrafficShift { // its steps are its lines
			s.Timeline = append(s.Timeline, ev)
		}
		return s
	}
	panic("strategy: unknown stage " + string(s.Stage))
}

// rollBack ends the deployment: every request to blue, green stopped.
func rollBack(s State, reason string, now time.Time) State {
	if n := len(s.Timeline); n > 0 && s.Timeline[n-1].Outcome == "" {
		s.Timeline[n-1].End, s.Timeline[n-1].Outcome = now, OutcomeRolledBack
	}
	s.Done, s.RolledBack, s.Reason, s.TestWeight = true, true, reason, 0
	return s
}

// effects completes e with the weights and the tasks' fate in state s.
func effects(c Config, s State, e Effects) Effects {
	e.Weight, e.TestWeight = s.Weight(c), s.TestWeight
	if s.RolledBack {
		e.Weight, e.TestWeight = 0, 0
	}
	e.ScaleGreen = s.Stage != PreScaleUp && !s.RolledBack
	e.KeepBlue = s.RolledBack || (s.Stage != CleanUp && !s.Done)
	return e
}
