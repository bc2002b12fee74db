package driver

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testNamespace creates a network namespace for the test and removes it
// when the test ends; it skips where namespaces cannot be created (not
// root), never in CI, which runs as root.
func testNamespace(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("shoal-drvtest-%x", rand.Uint32())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("ip netns add: %v: %s", err, out)
		}
		t.Skipf("network namespaces cannot be created here (run as root to test isolated mode): ip netns add: %v: %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "delete", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns delete %s: %v: %s", name, err, out)
		}
	})
	return filepath.Join("/run/netns", name)
}

// inode is the inode of a namespace file: two paths name the same
// namespace when their inodes are equal.
func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func TestProcess_TaskAndHealthCheckRunInTheNamespace(t *testing.T) {
	ns := testNamespace(t)
	want := inode(t, ns)
	if own := inode(t, "/proc/self/ns/net"); own == want {
		t.Fatal("the test's namespace is the new one")
	}
	spec := shTask(t, `echo "net=$(stat -L -c %i /proc/self/ns/net)"; exec sleep 60`)
	spec.Namespace = ns
	spec.HealthCheck = &HealthCheck{
		Command:  []string{"sh", "-c", fmt.Sprintf(`test "$(stat -L -c %%i /proc/self/ns/net)" = %d`, want)},
		Interval: 20 * time.Millisecond, Timeout: 5 * time.Second, Retries: 1,
	}
	task := startTask(t, NewProcess(ProcessOptions{}), spec)
	waitLogs(t, task, fmt.Sprintf("net=%d\n", want))
	waitFor(t, startTimeout, "the health check, run in the namespace, to pass", func() bool {
		h, _ := task.Health()
		return h == HealthHealthy
	})
	// The task keeps its process group, so a stop reaches it all.
	if got := inode(t, fmt.Sprintf("/proc/%d/ns/net", task.Pid())); got != want {
		t.Errorf("task %d is in namespace %d, want %d", task.Pid(), got, want)
	}
}

func TestProcess_MissingNamespaceFailsTheStart(t *testing.T) {
	spec := shTask(t, "exit 0")
	spec.Namespace = "/run/netns/shoal-no-such-namespace"
	task, err := NewProcess(ProcessOptions{}).Start(t.Context(), spec)
	if err == nil {
		waitDone(t, task)
		t.Fatal("a task started in a namespace that does not exist")
	}
	if !strings.Contains(err.Error(), "network namespace is gone") || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("error %q does not say the start failed", err)
	}
}
