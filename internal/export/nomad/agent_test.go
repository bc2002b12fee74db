//go:build linux

package nomad

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/shoalhq/shoal/internal/export"
)

// The end-to-end test runs a real Nomad: `nomad agent -dev` built from the
// pinned MPL-2.0 module (.ci/engines-nomad.sh), on loopback only. It is
// heavy (a Nomad build the first time, ~5 min), so it runs only with
// SHOAL_TEST_ENGINES=1 (`make test-engines`), never in `make test`.
const (
	// agentReady bounds the agent's start: ready in ~2 s.
	agentReady = 60 * time.Second
	// deployed bounds a deployment: 3 allocations healthy in seconds.
	deployed = 2 * time.Minute
	// reverted bounds a broken deployment's failure and revert. Under the
	// circuit breaker the export sets progress_deadline to 0: the first
	// failed allocation fails the deployment, once Nomad's restart policy
	// has restarted its crashing task twice, 15 s apart (~35 s).
	reverted = 3 * time.Minute
)

// nomadBinary is $SHOAL_NOMAD, else nomad on PATH.
func nomadBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SHOAL_NOMAD"); p != "" {
		return p
	}
	p, err := exec.LookPath("nomad")
	if err != nil {
		t.Fatalf("no nomad: set SHOAL_NOMAD to the binary .ci/engines-nomad.sh prints (make test-engines does)")
	}
	return p
}

// TestAgent_DeployAndAutoRevert exports testdata/agent/stack.yaml (3
// replicas of a process in a target group with an HTTP health check, a
// circuit breaker with rollback), runs it with `nomad job run -json` on a
// real dev agent, waits for 3 allocations whose Nomad checks pass, then
// runs a release that crashes and waits for Nomad to fail its deployment
// and revert the job to the release before, healthy again.
//
// Why not the catalog example: its load balancer is an nginx docker task
// whose image cannot be pulled here, and its program and Redis would have to
// be installed at the paths the job names; this stack exercises the same
// mappings (raw_exec, dynamic port, HTTP check, update stanza, auto_revert)
// with a program the test builds.
func TestAgent_DeployAndAutoRevert(t *testing.T) {
	if os.Getenv("SHOAL_TEST_ENGINES") != "1" {
		t.Skip("runs a real nomad agent -dev: set SHOAL_TEST_ENGINES=1 (make test-engines)")
	}
	start := time.Now()
	nomad := nomadBinary(t)
	server := buildServer(t)
	a := startAgent(t, nomad, "e2e")
	t.Logf("agent ready in %v", a.ready.Round(10*time.Millisecond))

	// Release 1: 3 healthy allocations, and the daemon's system job.
	t0 := time.Now()
	jobFile, daemonsFile := exportStack(t, server, "v1", "")
	a.run(t, jobFile)
	a.run(t, daemonsFile)
	a.waitDeployment(t, 0, "successful", deployed)
	a.waitHealthy(t, "web", 0, answers("v1"), deployed)
	t.Logf("release v1 (job version 0): 3 allocations healthy, checks passing, in %v", time.Since(t0).Round(10*time.Millisecond))
	a.waitSystem(t, "e2e-daemons", "agent", deployed)
	t.Logf("the daemon's system job e2e-daemons: its allocation on the client running, its check passing, %v after release v1", time.Since(t0).Round(10*time.Millisecond))

	// Release 2 crashes: the deployment fails, Nomad reverts to version 0's
	// job as version 2.
	t1 := time.Now()
	jobFile, _ = exportStack(t, server, "v2", "1")
	a.run(t, jobFile)
	d := a.waitDeployment(t, 1, "failed", reverted)
	t.Logf("release v2 (job version 1): deployment failed in %v: %s", time.Since(t1).Round(10*time.Millisecond), d.StatusDescription)
	if !strings.Contains(d.StatusDescription, "rolling back to job version 0") {
		t.Errorf("got deployment status description %q, want a roll back to version 0", d.StatusDescription)
	}
	job := a.waitJobVersion(t, 2, reverted)
	env := job.TaskGroups[0].Tasks[0].Env
	if env["VERSION"] != "v1" || env["CRASH"] != "" {
		t.Errorf("got job version 2 with env %v, want release v1's (VERSION=v1, no CRASH)", env)
	}
	a.waitHealthy(t, "web", 2, answers("v1"), reverted)
	t.Logf("reverted to v1 (job version 2), 3 allocations healthy, %v after the broken release; whole test %v",
		time.Since(t1).Round(10*time.Millisecond), time.Since(start).Round(10*time.Millisecond))
}

// buildServer builds testdata/agent/server into a temp dir.
func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "server")
	out, err := exec.Command("go", "build", "-o", bin, "./testdata/agent/server").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./testdata/agent/server: %v\n%s", err, out)
	}
	return bin
}

// exportStack exports testdata/agent/stack.yaml for one release and writes
// its two jobs to temp files: the stack's, and the daemon's system job.
func exportStack(t *testing.T, server, version, crash string) (job, daemons string) {
	t.Helper()
	const file = "testdata/agent/stack.yaml"
	source, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	source = []byte(strings.NewReplacer("[SERVER]", "["+strconv.Quote(server)+"]",
		`"VERSION"`, strconv.Quote(version), `"CRASH"`, strconv.Quote(crash)).Replace(string(source)))
	doc := exportSource(t, file, source)
	if len(doc.More) != 1 {
		t.Fatalf("got %d more documents, want the daemon's system job", len(doc.More))
	}
	dir := t.TempDir()
	write := func(d *export.Document) string {
		path := filepath.Join(dir, d.Name)
		if err := os.WriteFile(path, d.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	return write(doc), write(doc.More[0])
}

// agent is a running `nomad agent -dev`, for one job.
type agent struct {
	bin   string
	addr  string // http://127.0.0.1:PORT
	job   string // the job's ID: its stack's name
	ready time.Duration
	log   string
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// startAgent starts the agent on loopback for a job and waits until its
// client is ready with raw_exec (and docker when Docker answers). t.Cleanup
// stops it and everything it started.
func startAgent(t *testing.T, nomad, job string) *agent {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 3)
	drivers := "docker,exec,java,qemu"
	docker := exec.Command("docker", "info").Run() == nil
	if docker {
		drivers = "exec,java,qemu"
	}
	config := fmt.Sprintf(`bind_addr = "127.0.0.1"
data_dir = %q
disable_update_check = true
log_level = "DEBUG"
ports {
  http = %d
  rpc  = %d
  serf = %d
}
advertise {
  http = "127.0.0.1"
  rpc  = "127.0.0.1"
  serf = "127.0.0.1"
}
server {
  enabled          = true
  bootstrap_expect = 1
}
client {
  enabled           = true
  network_interface = "lo"
  options = {
    "fingerprint.denylist" = "env_aws,env_gce,env_azure,env_digitalocean"
    "driver.denylist"      = %q
  }
}
plugin "raw_exec" {
  config {
    enabled = true
  }
}
consul {
  auto_advertise   = false
  server_auto_join = false
  client_auto_join = false
}
`, data, ports[0], ports[1], ports[2], drivers)
	cfg := filepath.Join(dir, "agent.hcl")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &agent{bin: nomad, addr: fmt.Sprintf("http://127.0.0.1:%d", ports[0]), job: job, log: filepath.Join(dir, "agent.log")}
	logf, err := os.Create(a.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nomad, "agent", "-dev", "-config", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: its plugins (logmon, executors) are killed
	// with it if it does not stop them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		defer logf.Close()
		// In dev mode the agent destroys its allocations as it stops.
		var allocs []*api.AllocationListStub
		_ = a.get("/v1/allocations", &allocs)
		stopping := time.Now()
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Logf("nomad agent did not stop in 60 s after SIGINT: killing its process group")
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		killLeftovers(t, nomad, data)
		removeContainers(t, allocs)
		unmountUnder(t, data)
		t.Logf("agent stopped in %v", time.Since(stopping).Round(10*time.Millisecond))
		if t.Failed() {
			if b, err := os.ReadFile(a.log); err == nil {
				t.Logf("agent log (last 8 KiB):\n%s", tail(b, 8<<10))
			}
		}
	})

	poll(t, agentReady, "the agent's client ready with raw_exec", func() (bool, string) {
		select {
		case err := <-done:
			done <- err
			b, _ := os.ReadFile(a.log)
			t.Fatalf("nomad agent exited: %v\n%s", err, tail(b, 8<<10))
		default:
		}
		var nodes []*api.NodeListStub
		if err := a.get("/v1/nodes", &nodes); err != nil {
			return false, err.Error()
		}
		if len(nodes) != 1 {
			return false, fmt.Sprintf("%d nodes", len(nodes))
		}
		n := nodes[0]
		if n.Status != "ready" {
			return false, "node " + n.Status
		}
		want := []string{"raw_exec"}
		if docker {
			want = append(want, "docker")
		}
		for _, name := range want {
			if d := n.Drivers[name]; d == nil || !d.Detected || !d.Healthy {
				return false, fmt.Sprintf("driver %s: %+v", name, d)
			}
		}
		return true, ""
	})
	a.ready = time.Since(began)
	return a
}

// killLeftovers kills, by pid, what the agent may have left running: the
// tasks' processes (raw_exec runs them in their task directories, under
// its data dir) and this agent's Nomad plugins (whose command lines name
// its data dir).
func killLeftovers(t *testing.T, nomad, data string) {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.HasPrefix(cwd, data+"/") || (exe == nomad && bytes.Contains(cmdline, []byte(data))) {
			t.Logf("killing leftover pid %d (%s)", pid, exe)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// unmountUnder unmounts what Nomad mounted under dir (a task's secrets
// directory is a tmpfs when it runs as root), so that t.TempDir's removal
// succeeds.
func unmountUnder(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return
	}
	lines := strings.Split(string(b), "\n")
	for i := len(lines) - 1; i >= 0; i-- { // the innermost first
		f := strings.Fields(lines[i])
		if len(f) > 1 && strings.HasPrefix(f[1], dir+"/") {
			if err := syscall.Unmount(f[1], syscall.MNT_DETACH); err != nil {
				t.Logf("unmount %s: %v", f[1], err)
			}
		}
	}
}

// tail is the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// poll calls cond every 100 ms until it reports true or within has passed,
// and then fails the test with cond's last word.
func poll(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		ok, why := cond()
		if ok {
			return
		}
		last = why
		select {
		case <-deadline.C:
			t.Fatalf("waited %v for %s; last: %s", within, what, last)
		case <-tick.C:
		}
	}
}

// client bounds every request to the agent.
var client = &http.Client{Timeout: 5 * time.Second}

// get decodes the agent's JSON answer to GET path.
func (a *agent) get(path string, v any) error {
	resp, err := client.Get(a.addr + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, bytes.TrimSpace(b))
	}
	return json.Unmarshal(b, v)
}

// run runs `nomad job run -json -detach FILE` against the agent.
func (a *agent) run(t *testing.T, file string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, a.bin, "job", "run", "-json", "-detach", file)
	cmd.Env = append(os.Environ(), "NOMAD_ADDR="+a.addr)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("nomad job run -json %s: %v\n%s", filepath.Base(file), err, out)
	}
	t.Logf("nomad job run -json -detach %s: %s", filepath.Base(file), bytes.TrimSpace(out))
}

// waitDeployment waits for the job's deployment of a job version to reach
// status, and returns it.
func (a *agent) waitDeployment(t *testing.T, version uint64, status string, within time.Duration) *api.Deployment {
	t.Helper()
	var found *api.Deployment
	poll(t, within, fmt.Sprintf("the deployment of job version %d %s", version, status), func() (bool, string) {
		var ds []*api.Deployment
		if err := a.get("/v1/job/"+a.job+"/deployments", &ds); err != nil {
			return false, err.Error()
		}
		for _, d := range ds {
			if d.JobVersion == version {
				found = d
				return d.Status == status, fmt.Sprintf("deployment %s: %s (%s)", d.ID, d.Status, d.StatusDescription)
			}
		}
		return false, fmt.Sprintf("no deployment of version %d among %d", version, len(ds))
	})
	return found
}

// waitJobVersion waits for the job to be at a version, and returns it.
func (a *agent) waitJobVersion(t *testing.T, version uint64, within time.Duration) *api.Job {
	t.Helper()
	var job api.Job
	poll(t, within, fmt.Sprintf("job version %d", version), func() (bool, string) {
		if err := a.get("/v1/job/"+a.job, &job); err != nil {
			return false, err.Error()
		}
		return *job.Version == version, fmt.Sprintf("version %d", *job.Version)
	})
	return &job
}

// checkResult is an entry of GET /v1/allocation/ID/checks (Nomad's
// structs.CheckQueryResult; the api module has no type for it).
type checkResult struct {
	Status string
	Output string
	Check  string
}

// waitSystem waits until a system job has one running allocation of group
// (the dev agent has one client), whose checks pass.
func (a *agent) waitSystem(t *testing.T, job, group string, within time.Duration) {
	t.Helper()
	poll(t, within, fmt.Sprintf("system job %s's allocation running, its checks passing", job), func() (bool, string) {
		var allocs []*api.AllocationListStub
		if err := a.get("/v1/job/"+job+"/allocations", &allocs); err != nil {
			return false, err.Error()
		}
		var running []*api.AllocationListStub
		for _, al := range allocs {
			if al.ClientStatus == "running" && al.TaskGroup == group {
				running = append(running, al)
			}
		}
		if len(running) != 1 {
			return false, fmt.Sprintf("%d running allocations of %s", len(running), group)
		}
		var checks map[string]checkResult
		if err := a.get("/v1/allocation/"+running[0].ID+"/checks", &checks); err != nil {
			return false, err.Error()
		}
		if len(checks) == 0 {
			return false, "no check results yet"
		}
		for _, c := range checks {
			if c.Status != "success" {
				return false, fmt.Sprintf("check %s: %s %s", c.Check, c.Status, c.Output)
			}
		}
		return true, ""
	})
}

// answers is waitHealthy's check of an allocation that answers its
// version on /.
func answers(version string) func(*http.Response, []byte) error {
	return func(_ *http.Response, body []byte) error {
		if got := strings.TrimSpace(string(body)); got != version {
			return fmt.Errorf("answers %q, want %q", got, version)
		}
		return nil
	}
}

// waitHealthy waits until exactly 3 allocations of a group run, all of a
// job version, healthy for the deployment, their Nomad checks passing,
// their service registered, each answering GET / as check wants on its
// registered address.
func (a *agent) waitHealthy(t *testing.T, group string, version uint64, check func(*http.Response, []byte) error, within time.Duration) {
	t.Helper()
	service := a.job + "-" + group
	poll(t, within, fmt.Sprintf("3 healthy allocations of %s, job version %d, answering", group, version), func() (bool, string) {
		var allocs []*api.AllocationListStub
		if err := a.get("/v1/job/"+a.job+"/allocations", &allocs); err != nil {
			return false, err.Error()
		}
		running := map[string]bool{}
		for _, al := range allocs {
			if al.ClientStatus != "running" || al.TaskGroup != group {
				continue
			}
			if al.JobVersion != version {
				return false, fmt.Sprintf("allocation %s of version %d running", al.ID[:8], al.JobVersion)
			}
			if al.DeploymentStatus == nil || al.DeploymentStatus.Healthy == nil || !*al.DeploymentStatus.Healthy {
				return false, fmt.Sprintf("allocation %s not healthy yet", al.ID[:8])
			}
			var checks map[string]checkResult
			if err := a.get("/v1/allocation/"+al.ID+"/checks", &checks); err != nil {
				return false, err.Error()
			}
			if len(checks) == 0 {
				return false, fmt.Sprintf("allocation %s has no check results", al.ID[:8])
			}
			for _, c := range checks {
				if c.Status != "success" {
					return false, fmt.Sprintf("allocation %s check %s: %s %s", al.ID[:8], c.Check, c.Status, c.Output)
				}
			}
			running[al.ID] = true
		}
		if len(running) != 3 {
			return false, fmt.Sprintf("%d allocations running", len(running))
		}
		var regs []*api.ServiceRegistration
		if err := a.get("/v1/service/"+service, &regs); err != nil {
			return false, err.Error()
		}
		answered := 0
		for _, r := range regs {
			if !running[r.AllocID] {
				continue
			}
			if r.Address != "127.0.0.1" {
				t.Fatalf("registration %s on %s: want loopback only", r.ID, r.Address)
			}
			resp, err := client.Get(fmt.Sprintf("http://%s:%d/", r.Address, r.Port))
			if err != nil {
				return false, err.Error()
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err := check(resp, b); err != nil {
				return false, fmt.Sprintf("%s:%d: %v", r.Address, r.Port, err)
			}
			answered++
		}
		return answered == 3, fmt.Sprintf("%d of %d registrations of running allocations answer", answered, len(regs))
	})
}

// removeContainers removes the Docker containers the agent ran for allocs
// and left behind (it removes them itself as it stops, unless it is killed).
func removeContainers(t *testing.T, allocs []*api.AllocationListStub) {
	t.Helper()
	for _, al := range allocs {
		out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=com.hashicorp.nomad.alloc_id="+al.ID).Output()
		if err != nil {
			continue // no Docker
		}
		for _, id := range strings.Fields(string(out)) {
			t.Logf("removing leftover container %s of allocation %s", id, al.ID[:8])
			_ = exec.Command("docker", "rm", "-f", id).Run()
		}
	}
}
