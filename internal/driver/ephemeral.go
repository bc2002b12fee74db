package driver

// KernelEphemeralRange returns the range the kernel picks ephemeral ports
// from, which is the range ECS uses for dynamic host ports: on Linux
// /proc/sys/net/ipv4/ip_local_port_range (default 32768-60999), on macOS
// the sysctls net.inet.ip.portrange.first and .last (default 49152-65535).
// When the range cannot be read or is not valid it returns the platform's
// default together with the error, so the values are always usable and the
// caller decides whether to mention the error.
func KernelEphemeralRange() (lo, hi int, err error) {
	return kernelEphemeralRange()
}
