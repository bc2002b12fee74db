package fault

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRequest_Validate(t *testing.T) {
	tests := []struct {
		name    string
		req     Request
		wantErr string // "" for valid
	}{
		{"kill", Request{Kind: KillTask, Task: "api-1"}, ""},
		{"kill with a duration", Request{Kind: KillTask, Task: "api-1", For: Duration(time.Second)}, "instant"},
		{"no kind", Request{Task: "api-1"}, "no fault kind"},
		{"unknown kind", Request{Kind: "melt", Task: "api-1"}, `unknown fault kind "melt"`},
		{"pause", Request{Kind: PauseTask, Task: "api-1", For: Duration(30 * time.Second)}, ""},
		{"pause without duration", Request{Kind: PauseTask, Task: "api-1"}, "needs a duration"},
		{"pause negative", Request{Kind: PauseTask, Task: "api-1", For: Duration(-time.Second)}, "needs a duration"},
		{"pause too long", Request{Kind: PauseTask, Task: "api-1", For: Duration(2 * time.Hour)}, "at most 1h"},
		{"pause without task", Request{Kind: PauseTask, For: Duration(time.Second)}, "needs task"},
		{"stop instance", Request{Kind: StopInstance, Instance: "i-1"}, ""},
		{"stop instance for", Request{Kind: StopInstance, Instance: "i-1", For: Duration(time.Minute)}, ""},
		{"stop instance with task", Request{Kind: StopInstance, Instance: "i-1", Task: "x"}, "takes no task"},
		{"health", Request{Kind: FailHealth, TargetGroup: "api", Target: "127.0.0.2:1", For: Duration(time.Minute)}, ""},
		{"health without target", Request{Kind: FailHealth, TargetGroup: "api", For: Duration(time.Minute)}, "needs target"},
		{"latency", Request{Kind: Latency, TargetGroup: "api", Delay: Duration(time.Second), For: Duration(time.Minute)}, ""},
		{"latency no delay", Request{Kind: Latency, TargetGroup: "api", For: Duration(time.Minute)}, "delay 0s is out of range"},
		{"latency long delay", Request{Kind: Latency, TargetGroup: "api", Delay: Duration(11 * time.Minute), For: Duration(time.Minute)}, "out of range"},
		{"errors", Request{Kind: Errors, TargetGroup: "api", For: Duration(time.Minute)}, ""},
		{"errors 404", Request{Kind: Errors, TargetGroup: "api", Status: 404, For: Duration(time.Minute)}, "status 404 is out of range"},
		{"errors fraction 1.5", Request{Kind: Errors, TargetGroup: "api", Fraction: 1.5, For: Duration(time.Minute)}, "fraction 1.5"},
		{"errors fraction negative", Request{Kind: Errors, TargetGroup: "api", Fraction: -0.1, For: Duration(time.Minute)}, "fraction -0.1"},
		{"errors with delay", Request{Kind: Errors, TargetGroup: "api", Delay: Duration(time.Second), For: Duration(time.Minute)}, "takes no delay"},
		{"pause with fraction", Request{Kind: PauseTask, Task: "a", Fraction: 0.5, For: Duration(time.Minute)}, "takes no fraction"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestRequest_ValidateFillsDefaults(t *testing.T) {
	r := Request{Kind: Errors, TargetGroup: "api", For: Duration(time.Minute)}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if r.Fraction != 1 || r.Status != 503 {
		t.Errorf("got fraction %v, status %d; want 1 and 503", r.Fraction, r.Status)
	}
}

func TestTable_ExpiryAndRemove(t *testing.T) {
	now := time.Date(2026, 12, 2, 7, 30, 0, 0, time.UTC)
	var tb Table
	kill := tb.Add(Request{Kind: KillTask, Task: "api-1"}, now)
	if kill.ID != "f-1" || !kill.Instant() {
		t.Errorf("got %+v, want instant f-1", kill)
	}
	pause := tb.Add(Request{Kind: PauseTask, Task: "api-2", For: Duration(30 * time.Second)}, now)
	health := tb.Add(Request{Kind: FailHealth, TargetGroup: "api", Target: "a:1", For: Duration(10 * time.Second)}, now)
	if diff := cmp.Diff([]string{"f-2", "f-3"}, tb.IDs()); diff != "" {
		t.Errorf("active (-want +got):\n%s", diff)
	}
	if got := tb.Next(); !got.Equal(now.Add(10 * time.Second)) {
		t.Errorf("next: got %v, want +10s", got)
	}
	if _, ok := tb.Conflict(Request{Kind: FailHealth, TargetGroup: "api", Target: "a:1"}); !ok {
		t.Error("a second health fault on a:1 does not conflict")
	}
	if got := tb.Expire(now.Add(9 * time.Second)); len(got) != 0 {
		t.Errorf("at +9s: got %v expired, want none", got)
	}
	if got := tb.Expire(now.Add(10 * time.Second)); len(got) != 1 || got[0].ID != health.ID {
		t.Errorf("at +10s: got %v expired, want %s", got, health.ID)
	}
	if _, ok := tb.Remove("f-9"); ok {
		t.Error("removed f-9, which does not exist")
	}
	if f, ok := tb.Remove(pause.ID); !ok || f.Task != "api-2" {
		t.Errorf("remove %s: got %+v %v", pause.ID, f, ok)
	}
	if !tb.Next().IsZero() || len(tb.Active()) != 0 {
		t.Errorf("after all ended: next %v, active %v", tb.Next(), tb.Active())
	}
}

func TestFault_Messages(t *testing.T) {
	until := time.Date(2026, 12, 2, 7, 31, 5, 0, time.UTC)
	f := Fault{ID: "f-2", Kind: FailHealth, TargetGroup: "api", Target: "127.0.0.2:41234", Until: until}
	if got, want := f.StartMessage(), "fault f-2: target 127.0.0.2:41234 in target-group api fails its health checks until 07:31:05."; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := f.EndMessage(false, false), "fault f-2 ended: target 127.0.0.2:41234 in target-group api takes its health checks again."; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := f.EndMessage(true, true), "fault f-2 removed: target 127.0.0.2:41234 is no longer in target-group api; nothing to undo."; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	e := Fault{ID: "f-3", Kind: Errors, TargetGroup: "api", Fraction: 0.1, Status: 503, Until: until}
	if got, want := e.StartMessage(), "fault f-3: target-group api answers 10% of its requests with 503 until 07:31:05."; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDuration_JSON(t *testing.T) {
	var r Request
	if err := json.Unmarshal([]byte(`{"kind":"latency","delay":"500ms","for":"1m"}`), &r); err != nil {
		t.Fatal(err)
	}
	if time.Duration(r.Delay) != 500*time.Millisecond || time.Duration(r.For) != time.Minute {
		t.Errorf("got delay %v, for %v", time.Duration(r.Delay), time.Duration(r.For))
	}
	if err := json.Unmarshal([]byte(`{"for":30}`), &r); err == nil {
		t.Error("a number as a duration: no error")
	}
	b, _ := json.Marshal(Fault{ID: "f-1", Delay: Duration(time.Second)})
	if !strings.Contains(string(b), `"delay":"1s"`) {
		t.Errorf("got %s, want delay 1s", b)
	}
}
