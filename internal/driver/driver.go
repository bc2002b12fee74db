// Package driver runs tasks: it turns a TaskSpec into a running process (or,
// later, a container) with a dynamic host port, captures its output and stops
// it the ECS way: SIGTERM, then SIGKILL after the stop timeout.
//
// Drivers only carry out; deciding what runs where is the scheduler's job, and
// ordering a stop after the load balancer has drained is the agent's.
package driver

import (
	"context"
	"fmt"
	"io"
	"time"
)

// TaskSpec is everything a driver needs to start one task.
type TaskSpec struct {
	// ID of the task, unique for the life of the shoal process ("api-3f9a1c2b").
	ID string
	// Command is the argv to run. Command[0] is looked up in PATH when it
	// has no slash, and resolved against Dir when it is relative.
	Command []string
	// Dir is the absolute working directory.
	Dir string
	// Env is added to the environment shoal runs in. The driver adds PORT
	// (the dynamic host port) and HOST (Address) on top.
	Env map[string]string
	// Address is the instance address the task must listen on ("127.0.0.2").
	Address string
	// ContainerPort is the port the application listens on inside its
	// container (0: none given). A container driver maps the task's dynamic
	// host port to it, as ECS does with host port 0 in bridge mode. The
	// process driver has no port mapping: the task listens on the host
	// port it gets in PORT, and ContainerPort is given to it only as
	// SHOAL_CONTAINER_PORT, for apps that log or check it.
	ContainerPort int
	// Output, if set, gets the task's output (stdout and stderr
	// interleaved) as it comes, on top of the capture Logs reads. Writes
	// to it must not block for long: the task waits for them.
	Output io.Writer
	// StopTimeout is how long the task has after SIGTERM before SIGKILL;
	// 0 sends SIGKILL right after SIGTERM. The stack's default (30 s, as
	// ECS) is filled in before it gets here.
	StopTimeout time.Duration
}

// Task is one started task.
type Task interface {
	// Addr is the host address:port the task takes traffic on.
	Addr() string
	// Pid is the process id of the task's main process (0 if not a process).
	Pid() int
	// Done is closed once the task has exited and its host port is released.
	Done() <-chan struct{}
	// Exit is how the task ended; valid once Done is closed.
	Exit() Exit
	// Stop sends SIGTERM, waits up to the stop timeout, then sends SIGKILL,
	// and returns once the task has exited. It is safe to call more than
	// once and after the task exited by itself. A cancelled ctx skips the
	// rest of the timeout and kills at once.
	Stop(ctx context.Context) Exit
	// Logs returns the task's captured output (stdout and stderr
	// interleaved) from offset from, and the offset to continue from. The
	// capture is bounded: when from is older than what is kept, the data
	// starts at the oldest byte kept.
	Logs(from int64) (data []byte, next int64)
}

// Exit is how a task ended.
type Exit struct {
	// Code is the exit code, or -1 when the task was killed by a signal.
	Code int
	// Signal names the signal that killed the task ("SIGKILL"), if any.
	Signal string
	// Err is set when the task could not be waited for at all.
	Err error
}

// String describes the exit the way `docker ps` and ECS do.
func (e Exit) String() string {
	switch {
	case e.Err != nil:
		return e.Err.Error()
	case e.Signal != "":
		return "killed by " + e.Signal
	default:
		return fmt.Sprintf("exit code %d", e.Code)
	}
}
