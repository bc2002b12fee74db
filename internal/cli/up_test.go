package cli

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/agent"
)

func TestStoppingMessage(t *testing.T) {
	tests := []struct {
		in   agent.Stopping
		want string
	}{
		{agent.Stopping{Targets: 3, Drain: 5 * time.Second, Tasks: 3, Timeout: 10 * time.Second},
			"draining 3 targets (up to 5s), then SIGTERM to 3 tasks (up to 10s to exit, then SIGKILL); Ctrl-C again to kill now"},
		{agent.Stopping{Tasks: 1, Timeout: 30 * time.Second},
			"SIGTERM to 1 task (up to 30s to exit, then SIGKILL); Ctrl-C again to kill now"},
		{agent.Stopping{}, "nothing is running"},
	}
	for _, tt := range tests {
		if got := stoppingMessage(tt.in); got != tt.want {
			t.Errorf("stoppingMessage(%+v):\ngot  %s\nwant %s", tt.in, got, tt.want)
		}
	}
}

func TestWithHint(t *testing.T) {
	bind := func(errno syscall.Errno) error {
		return fmt.Errorf("load balancer: listener web/0: listen tcp 127.0.0.1:80: bind: %w", errno)
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"port taken", bind(syscall.EADDRINUSE), "another program is using that address"},
		{"privileged port", bind(syscall.EACCES), "net.ipv4.ip_unprivileged_port_start"},
		{"other", errors.New("boom"), "boom"},
	}
	for _, tt := range tests {
		got := withHint(tt.err, "shoal.yaml").Error()
		if !strings.Contains(got, tt.want) {
			t.Errorf("%s: got %q, want it to contain %q", tt.name, got, tt.want)
		}
		if !errors.Is(withHint(tt.err, "shoal.yaml"), tt.err) {
			t.Errorf("%s: the hint hides the error", tt.name)
		}
	}
}
