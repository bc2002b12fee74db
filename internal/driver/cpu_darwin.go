package driver

import (
	"errors"
	"fmt"
	"time"
)

// CPUTime is not measured on macOS yet: it has no /proc, and the per-process
// usage of another process's children needs libproc. The error wraps
// errors.ErrUnsupported.
func (t *processTask) CPUTime() (time.Duration, error) {
	return 0, fmt.Errorf("task %s: cpu time on macOS: %w", t.id, errors.ErrUnsupported)
}
