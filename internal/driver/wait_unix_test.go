//go:build linux || darwin

package driver

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// WaitExited returns once the child has exited but leaves it a zombie: its
// pid is still taken, and the exit status is still there for Wait.
func TestWaitExited_LeavesZombie(t *testing.T) {
	cmd := exec.Command("sh", "-c", "exit 3")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := WaitExited(cmd.Process.Pid); err != nil {
		t.Fatalf("waitExited: %v", err)
	}
	if err := syscall.Kill(cmd.Process.Pid, 0); err != nil {
		t.Errorf("kill(pid, 0) after waitExited: %v; want the zombie still there", err)
	}
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 3 {
		t.Errorf("Wait after waitExited: %v, exit code %d; want exit code 3", err, code)
	}
}

// A stopped child has not exited: waitExited keeps waiting until it really
// exits.
func TestWaitExited_IgnoresStoppedChild(t *testing.T) {
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- WaitExited(pid) }()
	select {
	case err := <-done:
		t.Fatalf("waitExited returned %v for a stopped child", err)
	case <-time.After(3 * stoppedPoll):
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("waitExited returned %v for a continued child", err)
	case <-time.After(3 * stoppedPoll):
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("waitExited: %v", err)
		}
	case <-time.After(exitTimeout):
		t.Fatalf("waitExited did not return within %v of SIGKILL", exitTimeout)
	}
	_ = cmd.Wait()
	if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("child status %v; want killed by SIGKILL", cmd.ProcessState)
	}
}

func TestWaitExited_NotAChild(t *testing.T) {
	if err := WaitExited(1); err != syscall.ECHILD {
		t.Errorf("waitExited(1) = %v, want ECHILD", err)
	}
}
