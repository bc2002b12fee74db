package driver

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// busyScript keeps a child of the task busy on the CPU (shell builtins
// only, so the time is the child's own) for at most a minute, and the
// task's main process waiting for it.
const busyScript = `sh -c 'end=$(( $(date +%s) + 60 )); while [ $(date +%s) -lt $end ]; do i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; done' & wait`

func cpuTime(t *testing.T, task Task) time.Duration {
	t.Helper()
	d, err := task.CPUTime()
	if err != nil {
		t.Fatalf("CPUTime: %v", err)
	}
	return d
}

// A busy task's CPU time grows; an idle one's, started at the same time,
// stays where it was once started. (Starting costs some: the shim is this
// race-enabled test binary.)
func TestProcess_CPUTime(t *testing.T) {
	p := NewProcess(ProcessOptions{})
	idle := startTask(t, p, shTask(t, `sleep 1000`))
	idleStart := cpuTime(t, idle)
	busy := startTask(t, p, shTask(t, busyScript))
	var last time.Duration
	for _, want := range []time.Duration{300 * time.Millisecond, 600 * time.Millisecond} {
		waitFor(t, startTimeout, fmt.Sprintf("the busy task to use %v of CPU", want), func() bool {
			d := cpuTime(t, busy)
			if d < last {
				t.Fatalf("CPUTime went down from %v to %v", last, d)
			}
			last = d
			return d >= want
		})
	}
	d := cpuTime(t, idle)
	t.Logf("CPUTime: busy task %v, idle task %v once started, %v now", last, idleStart, d)
	if d-idleStart > 100*time.Millisecond {
		t.Errorf("idle task CPUTime went from %v to %v while the busy one used %v; want it to stay", idleStart, d, last)
	}
}

// After the task exits, its CPU time stays at its final value.
func TestProcess_CPUTimeAfterExit(t *testing.T) {
	p := NewProcess(ProcessOptions{})
	task := startTask(t, p, shTask(t, busyScript))
	waitFor(t, startTimeout, "the task to use CPU", func() bool { return cpuTime(t, task) >= 200*time.Millisecond })
	before := cpuTime(t, task)
	task.Stop(context.Background())
	after := cpuTime(t, task)
	if after < before {
		t.Errorf("CPUTime after the task exited = %v, less than %v before", after, before)
	}
	if again := cpuTime(t, task); again != after {
		t.Errorf("CPUTime changed after the task exited: %v, then %v", after, again)
	}
}

func TestParseStatTimes(t *testing.T) {
	tests := []struct {
		name      string
		stat      string
		wantGroup int
		wantTicks uint64
		wantOK    bool
	}{
		{
			name:      "plain",
			stat:      "4242 (sh) S 4241 4241 100 0 -1 4194560 100 0 0 0 7 3 20 10 20 0 1 0 500 2000000 100\n",
			wantGroup: 4241, wantTicks: 40, wantOK: true,
		},
		{
			name:      "comm with spaces and parentheses",
			stat:      "4242 (my (odd) prog) R 1 4242 100 0 -1 0 0 0 0 0 1 2 3 4 20 0",
			wantGroup: 4242, wantTicks: 10, wantOK: true,
		},
		{name: "cut short", stat: "4242 (sh) S 4241 4241 100 0 -1 0 0 0 0 0 7", wantOK: false},
		{name: "no comm", stat: "garbage", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			group, ticks, ok := parseStatTimes([]byte(tt.stat))
			if group != tt.wantGroup || ticks != tt.wantTicks || ok != tt.wantOK {
				t.Errorf("parseStatTimes = %d, %d, %v; want %d, %d, %v", group, ticks, ok, tt.wantGroup, tt.wantTicks, tt.wantOK)
			}
		})
	}
}
