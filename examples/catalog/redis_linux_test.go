package main

import (
	"os/exec"
	"syscall"
)

// dieWithTests has the kernel kill cmd if the test binary dies first (a
// timeout's panic, a SIGKILL), when no t.Cleanup runs to stop it.
func dieWithTests(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
