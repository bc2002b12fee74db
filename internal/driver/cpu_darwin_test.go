package driver

import (
	"errors"
	"testing"
)

func TestProcess_CPUTimeUnsupported(t *testing.T) {
	p := NewProcess(ProcessOptions{})
	task := startTask(t, p, shTask(t, `sleep 1000`))
	if _, err := task.CPUTime(); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("CPUTime error %v, want one that is errors.ErrUnsupported", err)
	}
}
