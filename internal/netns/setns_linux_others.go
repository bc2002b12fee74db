//go:build linux && !amd64 && !386

package netns

import "syscall"

// sysSetns is setns(2)'s number, which the syscall package has on every
// Linux architecture but amd64 and 386.
const sysSetns = syscall.SYS_SETNS
