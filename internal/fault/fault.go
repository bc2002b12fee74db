// Package fault describes the failures shoal can inject into a running
// stack (`shoal fault`, POST /v1/faults): what each kind takes, how a
// request is checked, the table of the active ones with their expiry, and
// the event lines that say when one starts and ends. It is pure: no I/O,
// no clock (the time is passed in); the agent carries the faults out.
package fault

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is what a fault does.
type Kind string

// The fault kinds.
const (
	// KillTask sends SIGKILL to a task (every container of a Docker
	// task): it exits at once, without a drain, and its service replaces
	// it. Instant.
	KillTask Kind = "kill-task"
	// PauseTask stops a task with SIGSTOP (docker pause) for a while, then
	// resumes it with SIGCONT: its health checks time out meanwhile.
	PauseTask Kind = "pause-task"
	// StopInstance stops a container instance as a failed host: its tasks
	// die at once and are replaced elsewhere. With a duration, the
	// instance is activated again when the fault ends; without one it
	// stays STOPPED until `shoal instance activate`.
	StopInstance Kind = "stop-instance"
	// FailHealth makes every health check of one target fail for a while.
	FailHealth Kind = "fail-health"
	// Latency delays a fraction of a target group's requests before they
	// are forwarded, for a while.
	Latency Kind = "latency"
	// Errors answers a fraction of a target group's requests with a 5xx
	// status as if from the target, for a while.
	Errors Kind = "errors"
)

// Kinds are every kind, in the order the docs list them.
var Kinds = []Kind{KillTask, PauseTask, StopInstance, FailHealth, Latency, Errors}

// Limits of a request's values.
const (
	MaxFor        = time.Hour        // the longest a fault lasts
	MaxDelay      = 10 * time.Minute // the longest added latency
	DefaultStatus = 503              // the status of an errors fault that names none
)

// Duration is a time.Duration written in JSON as Go writes durations
// ("30s", "1m30s").
type Duration time.Duration

// MarshalJSON writes d as a string such as "30s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a string such as "30s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"30s\" or \"500ms\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("a duration is a string such as \"30s\" or \"500ms\", got %q", s)
	}
	*d = Duration(v)
	return nil
}

// Request asks for one fault: the body of POST /v1/faults.
type Request struct {
	Kind Kind `json:"kind"`
	// Task is a task's id, or a unique prefix of one (kill-task,
	// pause-task).
	Task string `json:"task,omitempty"`
	// Instance is a container instance's name (stop-instance).
	Instance string `json:"instance,omitempty"`
	// TargetGroup is a target group's name (fail-health, latency, errors).
	TargetGroup string `json:"target_group,omitempty"`
	// Target is a registered target's address:port (fail-health).
	Target string `json:"target,omitempty"`
	// Fraction is the share of the requests a latency or errors fault
	// touches, in (0, 1]. Default (0): 1, every request.
	Fraction float64 `json:"fraction,omitempty"`
	// Delay is the latency added to a request (latency), up to 10m.
	Delay Duration `json:"delay,omitempty"`
	// Status is the status an errors fault answers, 500-599. Default
	// (0): 503.
	Status int `json:"status,omitempty"`
	// For is how long the fault lasts, up to 1h: required by pause-task,
	// fail-health, latency and errors; optional for stop-instance; none
	// for kill-task, which is instant.
	For Duration `json:"for,omitempty"`
}

// Validate checks r as its kind needs, and fills in the defaults
// (Fraction 1, Status 503). Its errors say what to change.
func (r *Request) Validate() error {
	var need []string
	switch r.Kind {
	case KillTask, PauseTask:
		need = []string{"task"}
	case StopInstance:
		need = []string{"instance"}
	case FailHealth:
		need = []string{"target_group", "target"}
	case Latency, Errors:
		need = []string{"target_group"}
	case "":
		return fmt.Errorf("no fault kind: use one of %s", kindList())
	default:
		return fmt.Errorf("unknown fault kind %q: use one of %s", r.Kind, kindList())
	}
	for _, f := range need {
		if r.field(f) == "" {
			return fmt.Errorf("a %s fault needs %s", r.Kind, f)
		}
	}
	for _, f := range []string{"task", "instance", "target_group", "target"} {
		if r.field(f) != "" && !slices.Contains(need, f) {
			return fmt.Errorf("a %s fault takes no %s", r.Kind, f)
		}
	}
	if err := r.checkFor(); err != nil {
		return err
	}
	return r.checkValues()
}

func (r *Request) field(name string) string {
	switch name {
	case "task":
		return r.Task
	case "instance":
		return r.Instance
	case "target_group":
		return r.TargetGroup
	}
	return r.Target
}

func (r *Request) checkFor() error {
	d := time.Duration(r.For)
	switch {
	case r.Kind == KillTask && d != 0:
		return fmt.Errorf("a kill-task fault is instant: it takes no duration")
	case r.Kind == KillTask:
		return nil
	case r.Kind == StopInstance && d == 0:
		return nil // stays STOPPED until activated
	case d <= 0:
		return fmt.Errorf("a %s fault needs a duration (for) above 0, up to %v; got %v", r.Kind, MaxFor, d)
	case d > MaxFor:
		return fmt.Errorf("duration %v is too long: a fault lasts at most %v", d, MaxFor)
	}
	return nil
}

func (r *Request) checkValues() error {
	if r.Kind != Latency && r.Kind != Errors {
		if r.Fraction != 0 || r.Delay != 0 || r.Status != 0 {
			return fmt.Errorf("a %s fault takes no fraction, delay or status", r.Kind)
		}
		return nil
	}
	if r.Fraction == 0 {
		r.Fraction = 1
	}
	if !(r.Fraction > 0 && r.Fraction <= 1) {
		return fmt.Errorf("fraction %v is out of range: use a number above 0, up to 1 (1: every request)", r.Fraction)
	}
	if r.Kind == Latency {
		d := time.Duration(r.Delay)
		switch {
		case r.Status != 0:
			return fmt.Errorf("a latency fault takes no status")
		case d <= 0 || d > MaxDelay:
			return fmt.Errorf("delay %v is out of range: use a duration above 0, up to %v", d, MaxDelay)
		}
		return nil
	}
	if r.Delay != 0 {
		return fmt.Errorf("an errors fault takes no delay")
	}
	if r.Status == 0 {
		r.Status = DefaultStatus
	}
	if r.Status < 500 || r.Status > 599 {
		return fmt.Errorf("status %d is out of range: use a 5xx status, 500-599", r.Status)
	}
	return nil
}

func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// Fault is one fault injected: active until Until, or done at once (an
// instant one, Until zero).
type Fault struct {
	ID          string   `json:"id"`
	Kind        Kind     `json:"kind"`
	Task        string   `json:"task,omitempty"`
	Instance    string   `json:"instance,omitempty"`
	TargetGroup string   `json:"target_group,omitempty"`
	Target      string   `json:"target,omitempty"`
	Fraction    float64  `json:"fraction,omitempty"`
	Delay       Duration `json:"delay,omitempty"`
	Status      int      `json:"status,omitempty"`
	// Until is when it ends by itself; zero for an instant one.
	Until   time.Time `json:"until,omitzero"`
	Created time.Time `json:"created"`
}

// Instant reports whether f was done at once and is never active.
func (f Fault) Instant() bool { return f.Until.IsZero() }

// Table is the active faults. It does not lock: its owner does.
type Table struct {
	last   int
	active []Fault // in the order they were added
}

// Add makes a fault of r, which Validate has passed (with Task the task's
// full id), at now. A fault with a duration is kept active until it
// expires or is removed; an instant one is only numbered.
func (t *Table) Add(r Request, now time.Time) Fault {
	t.last++
	f := Fault{
		ID: "f-" + strconv.Itoa(t.last), Kind: r.Kind, Task: r.Task, Instance: r.Instance,
		TargetGroup: r.TargetGroup, Target: r.Target, Fraction: r.Fraction, Delay: r.Delay,
		Status: r.Status, Created: now,
	}
	if r.For > 0 {
		f.Until = now.Add(time.Duration(r.For))
		t.active = append(t.active, f)
	}
	return f
}

// Conflict returns the active fault that r would overlap: the same task
// paused, the same instance stopped, the same target failing, or a
// latency or errors fault on the same target group.
func (t *Table) Conflict(r Request) (Fault, bool) {
	for _, f := range t.active {
		if f.overlaps(r) {
			return f, true
		}
	}
	return Fault{}, false
}

func (f Fault) overlaps(r Request) bool {
	switch r.Kind {
	case PauseTask:
		return f.Kind == PauseTask && f.Task == r.Task
	case StopInstance:
		return f.Kind == StopInstance && f.Instance == r.Instance
	case FailHealth:
		return f.Kind == FailHealth && f.TargetGroup == r.TargetGroup && f.Target == r.Target
	case Latency, Errors:
		return (f.Kind == Latency || f.Kind == Errors) && f.TargetGroup == r.TargetGroup
	}
	return false
}

// Remove takes the active fault id out of the table.
func (t *Table) Remove(id string) (Fault, bool) {
	i := slices.IndexFunc(t.active, func(f Fault) bool { return f.ID == id })
	if i < 0 {
		return Fault{}, false
	}
	f := t.active[i]
	t.active = slices.Delete(t.active, i, i+1)
	return f, true
}

// Expire takes out and returns the faults whose time is up at now.
func (t *Table) Expire(now time.Time) []Fault {
	var out []Fault
	t.active = slices.DeleteFunc(t.active, func(f Fault) bool {
		if f.Until.After(now) {
			return false
		}
		out = append(out, f)
		return true
	})
	return out
}

// Next is when the next fault expires; zero when none is active.
func (t *Table) Next() time.Time {
	var next time.Time
	for _, f := range t.active {
		if next.IsZero() || f.Until.Before(next) {
			next = f.Until
		}
	}
	return next
}

// Active lists the active faults, oldest first.
func (t *Table) Active() []Fault { return slices.Clone(t.active) }

// IDs are the active faults' ids, for error messages.
func (t *Table) IDs() []string {
	ids := make([]string, len(t.active))
	for i, f := range t.active {
		ids[i] = f.ID
	}
	return ids
}

// StartMessage is the event line of f's start.
func (f Fault) StartMessage() string {
	until := ""
	if !f.Instant() {
		until = " until " + f.Until.Format(time.TimeOnly)
	}
	switch f.Kind {
	case KillTask:
		return fmt.Sprintf("fault %s: task %s killed (SIGKILL).", f.ID, f.Task)
	case PauseTask:
		return fmt.Sprintf("fault %s: task %s paused (SIGSTOP)%s.", f.ID, f.Task, until)
	case StopInstance:
		return fmt.Sprintf("fault %s: container instance %s stopped, as a failed host%s.", f.ID, f.Instance, until)
	case FailHealth:
		return fmt.Sprintf("fault %s: target %s in target-group %s fails its health checks%s.", f.ID, f.Target, f.TargetGroup, until)
	case Latency:
		return fmt.Sprintf("fault %s: target-group %s delays %s of its requests by %v%s.", f.ID, f.TargetGroup, percent(f.Fraction), time.Duration(f.Delay), until)
	case Errors:
		return fmt.Sprintf("fault %s: target-group %s answers %s of its requests with %d%s.", f.ID, f.TargetGroup, percent(f.Fraction), f.Status, until)
	}
	return fmt.Sprintf("fault %s: %s%s.", f.ID, f.Kind, until)
}

// EndMessage is the event line of f's end: removed on request, or
// expired. gone says that what it acted on went meanwhile (the paused task
// stopped, the target deregistered), leaving nothing to undo.
func (f Fault) EndMessage(removed, gone bool) string {
	how := "ended"
	if removed {
		how = "removed"
	}
	var what string
	switch {
	case gone && f.Task != "":
		what = fmt.Sprintf("task %s had stopped; nothing to resume", f.Task)
	case gone && f.Target != "":
		what = fmt.Sprintf("target %s is no longer in target-group %s; nothing to undo", f.Target, f.TargetGroup)
	}
	if what != "" {
		return fmt.Sprintf("fault %s %s: %s.", f.ID, how, what)
	}
	switch f.Kind {
	case PauseTask:
		what = fmt.Sprintf("task %s resumed (SIGCONT)", f.Task)
	case StopInstance:
		what = fmt.Sprintf("container instance %s is ACTIVE again", f.Instance)
	case FailHealth:
		what = fmt.Sprintf("target %s in target-group %s takes its health checks again", f.Target, f.TargetGroup)
	case Latency:
		what = fmt.Sprintf("target-group %s forwards its requests without added latency again", f.TargetGroup)
	case Errors:
		what = fmt.Sprintf("target-group %s forwards every request to its targets again", f.TargetGroup)
	default:
		what = string(f.Kind) + " is over"
	}
	return fmt.Sprintf("fault %s %s: %s.", f.ID, how, what)
}

// percent writes a fraction as a percentage: 0.5 → "50%".
func percent(f float64) string {
	return strconv.FormatFloat(math.Round(f*10000)/100, 'f', -1, 64) + "%"
}
