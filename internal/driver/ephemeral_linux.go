package driver

import "os"

// kernelEphemeralRange reads Linux's ephemeral port range, defaulting to
// defaultEphemeralLo-defaultEphemeralHi (see KernelEphemeralRange).
func kernelEphemeralRange() (lo, hi int, err error) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return defaultEphemeralLo, defaultEphemeralHi, err
	}
	return parsePortRange(string(b))
}
