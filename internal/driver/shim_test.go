package driver

import (
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExitFromReport(t *testing.T) {
	tests := []struct {
		line   string
		want   Exit
		wantOK bool
	}{
		{"exited 0", Exit{Code: 0}, true},
		{"exited 137", Exit{Code: 137}, true},
		{"signaled 9", Exit{Code: -1, Signal: "SIGKILL"}, true},
		{"signaled 15\n", Exit{Code: -1, Signal: "SIGTERM"}, true},
		{"started 1234", Exit{}, false},
		{"failed no such file or directory", Exit{}, false},
		{"", Exit{}, false},
	}
	for _, tt := range tests {
		got, ok := exitFromReport(tt.line)
		if diff := cmp.Diff(tt.want, got); diff != "" || ok != tt.wantOK {
			t.Errorf("exitFromReport(%q) ok %v, want %v; exit (-want +got):\n%s", tt.line, ok, tt.wantOK, diff)
		}
	}
}

// Without a report, the shim's own status decides: a signal that killed the
// shim, or the shell-style 128+signo. The numbers come from the syscall
// constants, which differ between Linux and macOS.
func TestExitFromShim(t *testing.T) {
	exited := func(code int) syscall.WaitStatus { return syscall.WaitStatus(code << 8) }
	killed := func(sig syscall.Signal) syscall.WaitStatus { return syscall.WaitStatus(sig) }
	tests := []struct {
		name string
		ws   syscall.WaitStatus
		want Exit
	}{
		{"exit 0", exited(0), Exit{Code: 0}},
		{"exit 3", exited(3), Exit{Code: 3}},
		{"could not start", exited(shimNoCommand), Exit{Code: 127}},
		{"128+SIGTERM", exited(128 + int(syscall.SIGTERM)), Exit{Code: -1, Signal: "SIGTERM"}},
		{"128+SIGKILL", exited(128 + int(syscall.SIGKILL)), Exit{Code: -1, Signal: "SIGKILL"}},
		{"128+SIGINT", exited(128 + int(syscall.SIGINT)), Exit{Code: -1, Signal: "SIGINT"}},
		{"128+SIGUSR1", exited(128 + int(syscall.SIGUSR1)), Exit{Code: -1, Signal: "SIGUSR1"}},
		{"128+31", exited(128 + 31), Exit{Code: -1, Signal: SignalName(31)}},
		{"above the signals", exited(200), Exit{Code: 200}},
		{"shim killed by SIGKILL", killed(syscall.SIGKILL), Exit{Code: -1, Signal: "SIGKILL"}},
		{"shim killed by SIGTERM", killed(syscall.SIGTERM), Exit{Code: -1, Signal: "SIGTERM"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, exitFromShim(tt.ws)); diff != "" {
			t.Errorf("%s: exit (-want +got):\n%s", tt.name, diff)
		}
	}
}

// The shell-style status decodes the same from real processes: a shell that
// exits 128+signo, and a process the signal really killed.
func TestExitFromShim_RealProcesses(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL} {
		want := Exit{Code: -1, Signal: SignalName(sig)}
		code := 128 + int(sig)
		ws := runStatus(t, exec.Command("sh", "-c", "exit "+strconv.Itoa(code)))
		if diff := cmp.Diff(want, exitFromShim(ws)); diff != "" {
			t.Errorf("sh exiting %d: exit (-want +got):\n%s", code, diff)
		}
	}
	// SIGKILL and SIGTERM only: SIGINT may be ignored by inheritance when
	// the tests run in the background, and the test would hang.
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		cmd := exec.Command("sleep", "1000")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		ws := waitStatus(t, cmd)
		if diff := cmp.Diff(Exit{Code: -1, Signal: SignalName(sig)}, exitFromShim(ws)); diff != "" {
			t.Errorf("sleep killed by %v: exit (-want +got):\n%s", sig, diff)
		}
		var b strings.Builder
		if got, want := reportExit(&b, ws), 128+int(sig); got != want {
			t.Errorf("reportExit for sleep killed by %v = %d, want %d", sig, got, want)
		}
		if e, ok := exitFromReport(b.String()); !ok || e.Signal != SignalName(sig) {
			t.Errorf("report %q read back as %+v, %v; want %s", b.String(), e, ok, SignalName(sig))
		}
	}
}

func runStatus(t *testing.T, cmd *exec.Cmd) syscall.WaitStatus {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return waitStatus(t, cmd)
}

func waitStatus(t *testing.T, cmd *exec.Cmd) syscall.WaitStatus {
	t.Helper()
	var ee *exec.ExitError
	if err := cmd.Wait(); err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return cmd.ProcessState.Sys().(syscall.WaitStatus)
}

// A task killed by a signal is reported by that signal's name, whatever the
// platform numbers it.
func TestProcess_ExitReportingNamesSignals(t *testing.T) {
	for _, name := range []string{"INT", "TERM", "KILL", "USR1"} {
		t.Run(name, func(t *testing.T) {
			p := NewProcess(ProcessOptions{})
			task := startTask(t, p, shTask(t, "kill -"+name+" $$"))
			if diff := cmp.Diff(Exit{Code: -1, Signal: "SIG" + name}, waitDone(t, task), exitCmp); diff != "" {
				t.Errorf("exit (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSignalName(t *testing.T) {
	tests := map[syscall.Signal]string{
		syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGKILL: "SIGKILL",
		syscall.SIGSEGV: "SIGSEGV", syscall.SIGTERM: "SIGTERM", syscall.SIGCHLD: "SIGCHLD",
		syscall.SIGUSR1: "SIGUSR1", syscall.SIGUSR2: "SIGUSR2", syscall.SIGSTOP: "SIGSTOP",
		syscall.SIGSYS: "SIGSYS", syscall.SIGIO: "SIGIO", 34: "SIG34", 0: "SIG0", -1: "SIG-1",
	}
	for sig, want := range tests {
		if got := SignalName(sig); got != want {
			t.Errorf("signalName(%d) = %q, want %q", int(sig), got, want)
		}
	}
}

// Every name in the table is a different signal: the table is keyed by the
// platform's own numbers, so no two names can collide.
func TestSignalNames_Distinct(t *testing.T) {
	seen := map[string]syscall.Signal{}
	for sig, name := range signalNames {
		if !strings.HasPrefix(name, "SIG") || sig < 1 || sig > 31 {
			t.Errorf("signalNames[%d] = %q: want SIG..., for a signal 1-31", int(sig), name)
		}
		if other, ok := seen[name]; ok {
			t.Errorf("%s names both %d and %d", name, int(other), int(sig))
		}
		seen[name] = sig
	}
}

func TestReportExit(t *testing.T) {
	tests := []struct {
		ws       syscall.WaitStatus
		wantLine string
		wantCode int
	}{
		{syscall.WaitStatus(3 << 8), "exited 3\n", 3},
		{syscall.WaitStatus(syscall.SIGTERM), "signaled 15\n", 143},
	}
	for _, tt := range tests {
		var b strings.Builder
		if code := reportExit(&b, tt.ws); code != tt.wantCode || b.String() != tt.wantLine {
			t.Errorf("reportExit(%#x) = %d, wrote %q; want %d, %q", int(tt.ws), code, b.String(), tt.wantCode, tt.wantLine)
		}
	}
}
