package agent

import (
	"errors"
	"testing"

	"github.com/shoalhq/shoal/internal/driver"
)

func TestTasks_StoppedTaskShowsHowItExited(t *testing.T) {
	h := newHarness(t)
	h.run(t, testStack(3))
	waitFor(t, "3 running tasks", h.running(3))
	for _, ts := range h.agent.Tasks(false) {
		if ts.ExitCode != nil || ts.ExitSignal != "" {
			t.Errorf("running task %s: exit code %v, signal %q; want neither", ts.ID, ts.ExitCode, ts.ExitSignal)
		}
	}
	started := h.runner.started()
	killed, failed, clean := started[0], started[1], started[2]
	killed.die(driver.Exit{Code: -1, Signal: "SIGKILL"})
	failed.die(driver.Exit{Code: 3})
	clean.die(driver.Exit{Code: 0})
	waitFor(t, "3 stopped tasks", func() bool {
		n := 0
		for _, ts := range h.agent.Tasks(true) {
			if ts.LastStatus == "STOPPED" {
				n++
			}
		}
		return n == 3
	})
	type exit struct {
		code   int // -1: none
		signal string
		text   string
	}
	want := map[string]exit{
		killed.addr: {-1, "SIGKILL", "killed by SIGKILL"},
		failed.addr: {3, "", "exit code 3"},
		clean.addr:  {0, "", "exit code 0"},
	}
	for _, ts := range h.agent.Tasks(true) {
		w, ok := want[ts.Address]
		if !ok || ts.LastStatus != "STOPPED" {
			continue
		}
		got := exit{-1, ts.ExitSignal, ts.Exit}
		if ts.ExitCode != nil {
			got.code = *ts.ExitCode
		}
		if got != w {
			t.Errorf("task %s at %s: got %+v, want %+v", ts.ID, ts.Address, got, w)
		}
	}
}

func TestFindTask(t *testing.T) {
	tasks := []TaskStatus{
		{ID: "api-1f0c9a2e"}, {ID: "api-1f77b0e1"}, {ID: "api-5e6f7a8b", LastStatus: "STOPPED"}, {ID: "web-0a1b2c3d"},
	}
	for ref, want := range map[string]string{
		"api-1f0c9a2e": "api-1f0c9a2e", // an id
		"api-1f0":      "api-1f0c9a2e", // unique prefixes
		"api-5":        "api-5e6f7a8b", // of a stopped task too
		"w":            "web-0a1b2c3d",
	} {
		got, err := FindTask(tasks, ref)
		if err != nil || got.ID != want {
			t.Errorf("FindTask(%q): got %q, %v; want %q", ref, got.ID, err, want)
		}
	}
	for ref, want := range map[string]error{"api-1f": ErrAmbiguous, "api": ErrAmbiguous, "api-9": ErrNotFound, "": ErrNotFound, "api-1f0c9a2e0": ErrNotFound} {
		_, err := FindTask(tasks, ref)
		if !errors.Is(err, want) {
			t.Errorf("FindTask(%q): got %v, want %v", ref, err, want)
		}
	}
	_, err := FindTask(tasks, "api-")
	if want := `ambiguous task id prefix "api-": it matches 3 tasks: api-1f0c9a2e, api-1f77b0e1, api-5e6f7a8b`; err == nil || err.Error() != want {
		t.Errorf("FindTask(api-): got %v, want %q", err, want)
	}
	// An exact id wins over the longer ids it is a prefix of.
	got, err := FindTask([]TaskStatus{{ID: "api-1f0c9a2e1"}, {ID: "api-1f0c9a2e"}}, "api-1f0c9a2e")
	if err != nil || got.ID != "api-1f0c9a2e" {
		t.Errorf("exact id among longer ones: got %q, %v", got.ID, err)
	}
}
