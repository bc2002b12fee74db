package driver

import (
	"os"
	"path/filepath"
)

// shimExe is the executable the driver starts task shims from: this very
// binary. macOS has no /proc/self/exe (see exe_linux.go for why Linux uses
// it), so the path is resolved once, when shoal starts: os.Executable, with
// symbolic links resolved, so that a link switched to another version (as
// Homebrew does on upgrade) does not make later shims a different build from
// the driver that speaks their protocol. The trade-off against Linux: if the
// file itself is replaced while shoal runs, later shims run the new file;
// if it is deleted, starting a task fails with "no such file or directory".
// os.Executable cannot fail on macOS in practice (the kernel hands the path
// to every process); if it did, shimExe is empty and starting a task fails
// with "exec: no command".
var shimExe = executable()

func executable() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		return resolved
	}
	return exe
}
