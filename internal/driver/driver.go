// Package driver runs tasks: it turns a TaskSpec into a running process (or,
// later, a container) with a dynamic host port, captures its output and stops
// it the ECS way: SIGTERM, then SIGKILL after the stop timeout.
//
// Drivers only carry out; deciding what runs where is the scheduler's job, and
// ordering a stop after the load balancer has drained is the agent's.
package driver

import (
	"context"
	"errors"
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
	// Namespace is the path of the network namespace the task and its
	// health checks run in ("/run/netns/shoal-catalog-instance-1"), where
	// Address is; "": this host's (Linux only).
	Namespace string
	// ContainerPort is the port the application listens on inside its
	// container (0: none given). A container driver maps the task's dynamic
	// host port to it, as ECS does with host port 0 in bridge mode. The
	// process driver has no port mapping: the task listens on the host
	// port it gets in PORT, and ContainerPort is given to it only as
	// SHOAL_CONTAINER_PORT, for apps that log or check it.
	ContainerPort int
	// Containers, when set, make the task a set of containers that the
	// Docker driver runs (an ECS task definition's containerDefinitions);
	// Command, Dir, HealthCheck and the process fields are then unused.
	// The target is the host port mapped to ContainerPort of the first
	// container that maps it (else the first mapping of the first
	// container that has one).
	Containers []ContainerSpec `json:",omitempty"`
	// Labels are added to every container of the task, on top of the
	// driver's own (shoal.task, shoal.stack, shoal.state-dir).
	Labels map[string]string `json:",omitempty"`
	// Output, if set, gets the task's output (stdout and stderr
	// interleaved) as it comes, on top of the capture Logs reads. Writes
	// to it must not block for long: the task waits for them.
	Output io.Writer
	// StopTimeout is how long the task has after SIGTERM before SIGKILL;
	// 0 sends SIGKILL right after SIGTERM. The stack's default (30 s, as
	// ECS) is filled in before it gets here.
	StopTimeout time.Duration
	// HealthCheck, if set, is the container health check the driver runs
	// while the task runs (the healthCheck of an ECS container
	// definition); Task.Health reports its status. Nil: no check, and the
	// status stays HealthUnknown. Start fails when it is not valid (see
	// HealthCheck.Validate).
	HealthCheck *HealthCheck `json:",omitempty"`
	// OnHealth, if set, is called with the new status on every change of
	// the task's health status, from the goroutine that runs the checks:
	// it must return quickly (the next check waits for it) and must not
	// wait for the task (Stop, Done), which waits for the checks to end.
	// Every call returns before Done is closed. Being code, not
	// configuration, it is left out when a TaskSpec is encoded as JSON.
	OnHealth func(ContainerHealth) `json:"-"`
}

// ContainerSpec is one container of a task, as an ECS container
// definition in bridge network mode.
type ContainerSpec struct {
	// Name is unique within the task ("app"); Image the image to run
	// ("catalog:1", "127.0.0.1:5000/catalog:1"). An image that is not
	// present is pulled.
	Name, Image string
	// Command and EntryPoint override the image's CMD and ENTRYPOINT when
	// set; WorkingDir its WORKDIR, User its USER.
	Command, EntryPoint []string
	WorkingDir, User    string
	// Env is the container's environment, on top of the image's.
	Env map[string]string
	// PortMappings publish container ports on the instance's address; a
	// HostPort of 0 takes a dynamic host port from the driver's allocator,
	// as ECS does in bridge mode.
	PortMappings []PortMapping
	// CPU is in ECS units (1024 = one vCPU: cpu shares), Memory the hard
	// limit and MemoryReservation the soft one, in MiB; 0: none.
	CPU, Memory, MemoryReservation int
	// Essential containers stop the whole task when they exit; a task
	// needs at least one.
	Essential bool
	// DependsOn makes the container start only once others reached a
	// condition: START, COMPLETE, SUCCESS or HEALTHY.
	DependsOn []ContainerDependency
	// HealthCheck is the container's health check, run by the engine;
	// Command is Docker's form (["CMD-SHELL", "curl -f …"] or ["CMD", …]).
	HealthCheck *HealthCheck
	// StopTimeout is the container's time between SIGTERM and SIGKILL;
	// 0: the task's.
	StopTimeout time.Duration
}

// PortMapping publishes ContainerPort on the instance's address at
// HostPort (0: dynamic), over Protocol ("tcp", the default, or "udp").
type PortMapping struct {
	ContainerPort, HostPort int
	Protocol                string
}

// ContainerDependency is one entry of a container's dependsOn.
type ContainerDependency struct {
	Container string
	// Condition is START, COMPLETE, SUCCESS or HEALTHY, as ECS's.
	Condition string
}

// HealthCheck is a container health check, as in an ECS container
// definition and Docker's HEALTHCHECK: a command run in the task's
// environment whose exit status tells whether the task is healthy.
//
// The task's status starts HealthUnknown. The command first runs Interval
// after the task started, then Interval after each run ends, in the task's
// working directory with the task's environment (PORT and HOST included),
// in a process group of its own. A run passes when the command exits 0; it
// fails when it exits otherwise, is killed by a signal, cannot be started,
// or runs longer than Timeout (its whole process group is then killed).
// One pass makes the task HealthHealthy; Retries consecutive failures make
// it HealthUnhealthy. A run cut short because the task is stopping counts
// for nothing. Checks stop when Stop is called or the task exits; the
// status then stays as it was.
//
// The values are taken as given: the stack's defaults (ECS: interval 30 s,
// timeout 5 s, 3 retries, no start period) are filled in before a
// HealthCheck gets here.
type HealthCheck struct {
	// Command is the argv of the check. Command[0] is looked up along the
	// task's PATH when it has no slash, and resolved against the task's
	// working directory when it is relative, for every run. ECS's forms
	// have been turned into an argv already: ["CMD-SHELL", "curl -f
	// http://localhost/"] into ["/bin/sh", "-c", "curl -f
	// http://localhost/"], and ["CMD", "curl", "-f", "http://localhost/"]
	// into ["curl", "-f", "http://localhost/"].
	Command []string
	// Interval is the time from the end of one run (or the task's start)
	// to the next run, measured on the driver's clock. Must be positive
	// (ECS: 5 s to 300 s).
	Interval time.Duration
	// Timeout is how long one run may take before it is killed and fails.
	// Must be positive (ECS: 2 s to 60 s).
	Timeout time.Duration
	// StartPeriod is the grace period after the task started, for slow
	// starters: until the task is first healthy, failed runs that start
	// within it do not count toward Retries, though a pass makes the task
	// healthy at once (Docker's semantics). 0: none (ECS: 0 to 300 s).
	StartPeriod time.Duration
	// Retries is how many consecutive failed runs make the task unhealthy.
	// At least 1 (ECS: 1 to 10).
	Retries int
}

// Validate reports what makes h unusable: an empty command, an interval or
// a timeout that is not positive, a negative start period, fewer than one
// retry.
func (h *HealthCheck) Validate() error {
	switch {
	case len(h.Command) == 0 || h.Command[0] == "":
		return errors.New("health check: no command")
	case h.Interval <= 0:
		return fmt.Errorf("health check: interval %v is not positive", h.Interval)
	case h.Timeout <= 0:
		return fmt.Errorf("health check: timeout %v is not positive", h.Timeout)
	case h.StartPeriod < 0:
		return fmt.Errorf("health check: start period %v is negative", h.StartPeriod)
	case h.Retries < 1:
		return fmt.Errorf("health check: retries %d is less than 1", h.Retries)
	}
	return nil
}

// ContainerHealth is the health status of a task's container, named as
// ECS's healthStatus.
type ContainerHealth string

// Container health statuses. A task without a health check stays
// HealthUnknown.
const (
	// HealthUnknown: no check has passed yet, nor have enough failed.
	HealthUnknown ContainerHealth = "UNKNOWN"
	// HealthHealthy: the last run passed, or the failures since have not
	// reached Retries.
	HealthHealthy ContainerHealth = "HEALTHY"
	// HealthUnhealthy: the last Retries runs failed.
	HealthUnhealthy ContainerHealth = "UNHEALTHY"
)

// String returns the status's name.
func (h ContainerHealth) String() string { return string(h) }

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
	// Health is the task's container health status, and what the last
	// failed health check said: why it failed, then the end of its output
	// ("exit status 1: curl: (7) Failed to connect ...", "timed out after
	// 5s"), or "" when none has failed. The message stays after later
	// passes. A task without a health check is HealthUnknown, "".
	Health() (ContainerHealth, string)
	// CPUTime is the CPU time, user and system, that the task's processes
	// have used so far, for autoscaling on average CPU: the rate is the
	// difference between two calls over the time between them. It never
	// decreases, and after the task exited it stays at its final value.
	// It fails, wrapping errors.ErrUnsupported, where the driver cannot
	// measure it.
	CPUTime() (time.Duration, error)
}

// Signaler is a Task that fault injection (`shoal fault kill|pause`) can
// kill and pause. Stop resumes a paused task before its SIGTERM.
type Signaler interface {
	// Kill sends SIGKILL to the task's processes (containers) at once,
	// without a stop: the task exits as if the kernel had killed it.
	Kill() error
	// Pause stops the task's processes (SIGSTOP, docker pause) until
	// Resume or Stop.
	Pause() error
	// Resume lets a paused task run again (SIGCONT, docker unpause).
	Resume() error
}

// Exit is how a task ended.
type Exit struct {
	// Code is the exit code, or -1 when the task was killed by a signal.
	Code int
	// Signal names the signal that killed the task ("SIGKILL"), if any.
	Signal string
	// Err is set when the task could not be waited for at all.
	Err error
	// Reason, when set, is why the task stopped in ECS's words
	// ("OutOfMemoryError: Container killed due to memory usage",
	// "CannotPullContainerError: …"); the exit code or signal still says
	// how it ended.
	Reason string `json:",omitempty"`
}

// String describes the exit the way `docker ps` and ECS do.
func (e Exit) String() string {
	switch {
	case e.Reason != "" && e.Err == nil && e.Signal == "":
		return fmt.Sprintf("%s (exit code %d)", e.Reason, e.Code)
	case e.Reason != "":
		return e.Reason
	case e.Err != nil:
		return e.Err.Error()
	case e.Signal != "":
		return "killed by " + e.Signal
	default:
		return fmt.Sprintf("exit code %d", e.Code)
	}
}
