package driver

import (
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
// shim, or the shell-style 128+signo.
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
		{"128+SIGTERM", exited(143), Exit{Code: -1, Signal: "SIGTERM"}},
		{"128+SIGKILL", exited(137), Exit{Code: -1, Signal: "SIGKILL"}},
		{"above the signals", exited(200), Exit{Code: 200}},
		{"shim killed by SIGKILL", killed(syscall.SIGKILL), Exit{Code: -1, Signal: "SIGKILL"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, exitFromShim(tt.ws)); diff != "" {
			t.Errorf("%s: exit (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestSignalName(t *testing.T) {
	tests := map[syscall.Signal]string{
		syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGKILL: "SIGKILL",
		syscall.SIGSEGV: "SIGSEGV", syscall.SIGTERM: "SIGTERM", syscall.SIGCHLD: "SIGCHLD",
		syscall.SIGSYS: "SIGSYS", 34: "SIG34", 0: "SIG0",
	}
	for sig, want := range tests {
		if got := signalName(sig); got != want {
			t.Errorf("signalName(%d) = %q, want %q", int(sig), got, want)
		}
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
