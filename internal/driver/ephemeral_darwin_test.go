package driver

import "testing"

// macOS always has the sysctls; their values are a valid range.
func TestKernelEphemeralRange_Sysctl(t *testing.T) {
	lo, hi, err := KernelEphemeralRange()
	if err != nil || lo < 1 || lo > hi || hi > 65535 {
		t.Errorf("KernelEphemeralRange() = %d, %d, %v; want the sysctls' valid range", lo, hi, err)
	}
}
