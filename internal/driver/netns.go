package driver

import (
	"os/exec"
)

// A task of an isolated instance runs in that instance's network
// namespace, and so do its health checks (they must reach the task where
// it listens, as Docker runs HEALTHCHECK inside the container). Go cannot
// switch a child's network namespace between fork and exec, so the driver
// starts this very binary as netnsExecName: it enters the namespace on
// its one locked thread and execs the real command, which keeps that
// namespace, the same process id and process group, and every inherited
// descriptor (the shim's lifeline and report pipes included):
//
//	argv:  shoal-netns-exec <namespace path> <path> <argv0> [args...]
const netnsExecName = "shoal-netns-exec"

// inNamespace makes cmd run in the network namespace at path ("" leaves
// it in this host's).
func inNamespace(cmd *exec.Cmd, path string) {
	if path == "" {
		return
	}
	cmd.Args = append([]string{netnsExecName, path, cmd.Path}, cmd.Args...)
	cmd.Path = shimExe
}
