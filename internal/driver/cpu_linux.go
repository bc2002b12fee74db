package driver

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/[pid]/stat
// (what `getconf CLK_TCK` prints): the kernel fixes it at 100 in its ABI on
// every architecture Go runs Linux on, whatever its internal HZ.
const clockTicks = 100

// CPUTime is the CPU time used by the task's process group: for each of
// its processes (the shim, the task, its children, zombies not yet reaped)
// its own user and system time, plus that of the children it has reaped,
// read from /proc. Time of a process reaped by something outside the group
// (a child that outlived its parent is reparented) drops out of the sum;
// the result never goes below the most measured before. Once the shim has
// exited, it is the larger of that and the shim's own usage with its
// reaped children's, which the kernel gave when the shim was reaped.
func (t *processTask) CPUTime() (time.Duration, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.shimExited {
		// The group id may name someone else's processes by now.
		select {
		case <-t.done:
			if ps := t.cmd.ProcessState; ps != nil {
				t.cpuSeen = max(t.cpuSeen, ps.UserTime()+ps.SystemTime())
			}
		default:
		}
		return t.cpuSeen, nil
	}
	d, err := groupCPUTime(t.pgid)
	if err != nil {
		return 0, fmt.Errorf("task %s: cpu time: %w", t.id, err)
	}
	t.cpuSeen = max(t.cpuSeen, d)
	return t.cpuSeen, nil
}

// groupCPUTime sums the CPU times, with their reaped children's, of the
// processes in process group pgid. Each CPU second is counted once: a
// reaped child's time moves into its parent's, and a live one's is not in
// its parent's yet.
func groupCPUTime(pgid int) (time.Duration, error) {
	dir, err := os.Open("/proc")
	if err != nil {
		return 0, err
	}
	names, err := dir.Readdirnames(-1)
	dir.Close()
	if err != nil {
		return 0, err
	}
	var ticks uint64
	for _, name := range names {
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		if group, n, ok := parseStatTimes(b); ok && group == pgid {
			ticks += n
		}
	}
	return time.Duration(ticks) * (time.Second / clockTicks), nil
}

// parseStatTimes reads a process's group and its CPU ticks (utime, stime,
// cutime and cstime) from the contents of /proc/[pid]/stat:
// "pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt
// majflt cmajflt utime stime cutime cstime ...". comm may hold spaces and
// parentheses, so the fields are counted from the last ')'.
func parseStatTimes(stat []byte) (pgrp int, ticks uint64, ok bool) {
	shut := bytes.LastIndexByte(stat, ')')
	if shut < 0 {
		return 0, 0, false
	}
	f := bytes.Fields(stat[shut+1:])
	if len(f) < 15 {
		return 0, 0, false
	}
	pgrp, err := strconv.Atoi(string(f[2]))
	if err != nil {
		return 0, 0, false
	}
	for _, field := range f[11:15] {
		n, err := strconv.ParseUint(string(field), 10, 64)
		if err != nil {
			return 0, 0, false
		}
		ticks += n
	}
	return pgrp, ticks, true
}
