package driver

// shimExe is the executable the driver starts task shims from: this very
// binary. /proc/self/exe rather than os.Executable(): it still names the
// running binary after the file was replaced or deleted (an upgrade, a
// rebuild while shoal runs), so the shim is always the same build as the
// driver that speaks its protocol.
const shimExe = "/proc/self/exe"
