package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/fault"
)

// faultNow is the time the fake backend's faults start at.
var faultNow = time.Date(2026, 12, 2, 7, 30, 0, 0, time.UTC)

// InjectFault checks req as the agent does, against one task (api-1),
// one instance (i-1) and one target group (api, with 127.0.0.2:4000).
func (f *fakeBackend) InjectFault(req fault.Request) (fault.Fault, error) {
	if err := req.Validate(); err != nil {
		return fault.Fault{}, fmt.Errorf("%w: %v", agent.ErrInvalid, err)
	}
	switch {
	case req.Task != "" && req.Task != "api-1":
		return fault.Fault{}, fmt.Errorf("%w: no task %q", agent.ErrNotFound, req.Task)
	case req.Instance != "" && req.Instance != "i-1":
		return fault.Fault{}, fmt.Errorf("%w: no instance %q", agent.ErrNotFound, req.Instance)
	case req.TargetGroup != "" && req.TargetGroup != "api":
		return fault.Fault{}, fmt.Errorf("%w: no target group %q", agent.ErrNotFound, req.TargetGroup)
	case req.Target != "" && req.Target != "127.0.0.2:4000":
		return fault.Fault{}, fmt.Errorf("%w: no target %s in target group api", agent.ErrNotFound, req.Target)
	}
	return f.faults.Add(req, faultNow), nil
}

func (f *fakeBackend) Faults() []fault.Fault { return f.faults.Active() }

func (f *fakeBackend) RemoveFault(id string) error {
	if _, ok := f.faults.Remove(id); !ok {
		return fmt.Errorf("%w: no active fault %q", agent.ErrNotFound, id)
	}
	return nil
}

func TestAPI_FaultsRoundTrip(t *testing.T) {
	b := &fakeBackend{}
	c, _ := serve(t, b)
	ctx := context.Background()
	f, err := c.InjectFault(ctx, fault.Request{Kind: fault.Errors, TargetGroup: "api", Fraction: 0.5, For: fault.Duration(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if f.ID != "f-1" || f.Status != 503 || f.Fraction != 0.5 || !f.Until.Equal(faultNow.Add(time.Minute)) {
		t.Errorf("got %+v", f)
	}
	list, err := c.Faults(ctx)
	if err != nil || len(list) != 1 || list[0].ID != "f-1" {
		t.Errorf("faults: got %+v, %v", list, err)
	}
	if err := c.RemoveFault(ctx, "f-1"); err != nil {
		t.Fatal(err)
	}
	list, err = c.Faults(ctx)
	if err != nil || list == nil || len(list) != 0 {
		t.Errorf("faults after rm: got %#v, %v; want an empty list", list, err)
	}
}

// Each bad request is a 4xx with a message saying what is wrong, and
// leaves no fault behind.
func TestAPI_FaultBadInputIs4xxAndChangesNothing(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		status                   int
		msg                      string
	}{
		{"unknown task", "POST", "/v1/faults", `{"kind":"kill-task","task":"web-9"}`, 404, `no task "web-9"`},
		{"unknown instance", "POST", "/v1/faults", `{"kind":"stop-instance","instance":"i-9"}`, 404, `no instance "i-9"`},
		{"unknown target group", "POST", "/v1/faults", `{"kind":"errors","target_group":"web","for":"1m"}`, 404, `no target group "web"`},
		{"fault on a target that does not exist", "POST", "/v1/faults", `{"kind":"fail-health","target_group":"api","target":"127.0.0.9:1","for":"1m"}`, 404, "no target 127.0.0.9:1"},
		{"negative duration", "POST", "/v1/faults", `{"kind":"pause-task","task":"api-1","for":"-5s"}`, 400, "needs a duration"},
		{"fraction above 1", "POST", "/v1/faults", `{"kind":"latency","target_group":"api","delay":"1s","fraction":1.5,"for":"1m"}`, 400, "fraction 1.5 is out of range"},
		{"status 200", "POST", "/v1/faults", `{"kind":"errors","target_group":"api","status":200,"for":"1m"}`, 400, "status 200 is out of range"},
		{"unknown kind", "POST", "/v1/faults", `{"kind":"explode"}`, 400, `unknown fault kind "explode"`},
		{"misspelt field", "POST", "/v1/faults", `{"kind":"errors","target_group":"api","fractoin":0.5,"for":"1m"}`, 400, `unknown field "fractoin"`},
		{"duration as a number", "POST", "/v1/faults", `{"kind":"errors","target_group":"api","for":60}`, 400, "a duration is a string"},
		{"not JSON", "POST", "/v1/faults", `kill it`, 400, "request body"},
		{"unknown fault", "DELETE", "/v1/faults/f-7", ``, 404, `no active fault "f-7"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &fakeBackend{}
			w := httptest.NewRecorder()
			Handler(b).ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, bytes.NewBufferString(tt.body)))
			var body errorBody
			json.NewDecoder(w.Body).Decode(&body)
			if w.Code != tt.status || !strings.Contains(body.Error, tt.msg) {
				t.Errorf("got %d %q, want %d and a message containing %q", w.Code, body.Error, tt.status, tt.msg)
			}
			if n := len(b.Faults()); n != 0 {
				t.Errorf("%d faults left behind", n)
			}
		})
	}
}

func TestAPI_FaultErrorsKeepTheirKindThroughTheClient(t *testing.T) {
	c, _ := serve(t, &fakeBackend{})
	ctx := context.Background()
	if _, err := c.InjectFault(ctx, fault.Request{Kind: fault.KillTask, Task: "nope"}); !errors.Is(err, agent.ErrNotFound) {
		t.Errorf("unknown task: got %v, want ErrNotFound", err)
	}
	if _, err := c.InjectFault(ctx, fault.Request{Kind: fault.Errors, TargetGroup: "api", Status: 404, For: fault.Duration(time.Minute)}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("status 404: got %v, want ErrBadRequest", err)
	}
	if err := c.RemoveFault(ctx, "f-3"); !errors.Is(err, agent.ErrNotFound) {
		t.Errorf("unknown fault: got %v, want ErrNotFound", err)
	}
}
