package driver

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// stateOf is the state of the task's own process in /proc ("T": stopped
// by a signal).
func stateOf(t *testing.T, task Task) string {
	t.Helper()
	p, _, _ := readStat(task.Pid())
	return p.state
}

// groupStopped reports whether the whole of process group pgid is stopped:
// every process in it is in state T, except a shell waiting in vfork (state
// D) for a child that SIGSTOP caught between vfork and exec. dash runs simple
// commands that way, so a shell paused mid-loop is often in D, not T, and
// stays so until SIGCONT lets its child exec.
func groupStopped(t *testing.T, pgid int) bool {
	t.Helper()
	ps := groupProcs(t, pgid)
	stopped := 0
	for _, p := range ps {
		switch p.state {
		case "T":
			stopped++
		case "D":
		default:
			return false
		}
	}
	return stopped > 0
}

func TestProcess_PauseResumeStopsAndContinuesTheGroup(t *testing.T) {
	linuxOnly(t, "reads /proc")
	p := NewProcess(ProcessOptions{})
	task := startTask(t, p, shTask(t, `echo ready; while :; do sleep 0.05; done`))
	waitLogs(t, task, "ready")
	s := task.(Signaler)
	pgid := pgidOf(task)
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, startTimeout, "the task's group stopped", func() bool { return groupStopped(t, pgid) })
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, startTimeout, "the task running again", func() bool { return !groupStopped(t, pgid) && stateOf(t, task) != "T" })
	if n := countComm(groupProcs(t, pgid), "sleep"); n > 1 {
		t.Errorf("%d sleeps in the group, want at most 1", n)
	}
}

// Stop of a paused task resumes it first, so that it takes its SIGTERM
// at once rather than at the stop timeout.
func TestProcess_StopResumesPausedTask(t *testing.T) {
	linuxOnly(t, "reads /proc")
	p := NewProcess(ProcessOptions{})
	task := startTask(t, p, shTask(t, `trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done`))
	waitLogs(t, task, "ready")
	if err := task.(Signaler).Pause(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, startTimeout, "the task's group stopped", func() bool { return groupStopped(t, pgidOf(task)) })
	if diff := cmp.Diff(Exit{Code: 7}, task.Stop(context.Background()), exitCmp); diff != "" {
		t.Errorf("Stop() exit (-want +got):\n%s", diff)
	}
}

func TestProcess_KillEndsTaskWithSIGKILL(t *testing.T) {
	p := NewProcess(ProcessOptions{})
	task := startTask(t, p, shTask(t, `trap 'echo got TERM' TERM; echo ready; while :; do sleep 0.05; done`))
	waitLogs(t, task, "ready")
	s := task.(Signaler)
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Exit{Code: -1, Signal: "SIGKILL"}, waitDone(t, task), exitCmp); diff != "" {
		t.Errorf("exit (-want +got):\n%s", diff)
	}
	if err := s.Pause(); !errors.Is(err, errExited) {
		t.Errorf("Pause after the exit: got %v, want errExited", err)
	}
}
