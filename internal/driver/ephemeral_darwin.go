package driver

import (
	"fmt"
	"syscall"
)

// The range macOS uses when its sysctls do not tell (its default, IANA's
// dynamic ports).
const (
	darwinEphemeralLo = 49152
	darwinEphemeralHi = 65535
)

// kernelEphemeralRange reads macOS's ephemeral port range from the sysctls
// net.inet.ip.portrange.first and .last, defaulting to 49152-65535 (see
// KernelEphemeralRange). Both are 4-byte ints; SysctlUint32 reads them
// whole, where Sysctl would drop a trailing zero byte as if it ended a
// string.
func kernelEphemeralRange() (lo, hi int, err error) {
	first, err := syscall.SysctlUint32("net.inet.ip.portrange.first")
	if err != nil {
		return darwinEphemeralLo, darwinEphemeralHi, fmt.Errorf("sysctl net.inet.ip.portrange.first: %w", err)
	}
	last, err := syscall.SysctlUint32("net.inet.ip.portrange.last")
	if err != nil {
		return darwinEphemeralLo, darwinEphemeralHi, fmt.Errorf("sysctl net.inet.ip.portrange.last: %w", err)
	}
	if first < 1 || first > last || last > 65535 {
		return darwinEphemeralLo, darwinEphemeralHi, fmt.Errorf("ephemeral port range %d-%d: want two ports, low then high", first, last)
	}
	return int(first), int(last), nil
}
