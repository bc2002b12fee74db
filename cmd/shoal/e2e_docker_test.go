package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/testkit"
)

// TestEndToEnd_DockerExample runs examples/catalog/shoal.docker.yaml: the
// catalog API built into a FROM scratch image through the engine, 3
// containers on dynamic host ports behind the listener. A container killed
// with docker kill is replaced; a stop drains each target before its
// container gets SIGTERM and leaves no container; after shoal is killed
// with SIGKILL, no container of the stack runs 10 s later.
func TestEndToEnd_DockerExample(t *testing.T) {
	ex := newExample(t)
	docker := requireDocker(t)
	ex.stack = dockerStack(t, filepath.Dir(ex.stack))
	up := ex.up(t)
	st := waitSteady(t, up, ex.bin, ex.state)
	url := "http://" + st.Listeners[0] + "/"
	if served := get(t, url, 30); len(served) != 3 {
		t.Fatalf("30 requests were served by %d tasks (%v), want 3 containers", len(served), served)
	}
	tasks := serviceTasks(shoalPS(t, ex.bin, ex.state), "api")
	checkSpread(t, tasks)
	running := stackContainers(t, docker, ex.state, "running")
	if len(running) != 3 {
		t.Fatalf("docker ps shows %d running containers of the stack (%v), want 3", len(running), running)
	}
	for _, task := range tasks {
		host, _, err := net.SplitHostPort(task.Address)
		if err != nil || (host != "127.0.0.2" && host != "127.0.0.3") {
			t.Errorf("task %s's target is %q, want a dynamic host port on its instance's address", task.ID, task.Address)
		}
	}

	victim := tasks[0]
	if out, err := exec.Command(docker, "kill", "shoal-"+victim.ID+"-catalog").CombinedOutput(); err != nil {
		t.Fatalf("docker kill: %v: %s", err, out)
	}
	replacement := waitReplacement(t, up, ex.bin, ex.state, tasks, victim.ID)
	waitServedBy(t, up, url, replacement)

	last := serviceTasks(shoalPS(t, ex.bin, ex.state), "api")
	up.stop(t)
	out := up.out.String()
	for _, task := range last {
		drained := lineWith(out, task.Address, "healthy → draining")
		stopped := lineWith(out, task.ID, "stopped: shoal is shutting down")
		if drained < 0 || stopped < drained {
			t.Errorf("task %s: its target was not drained before its container was stopped (draining at %d, stopped at %d):\n%s", task.ID, drained, stopped, out)
		}
	}
	if left := stackContainers(t, docker, ex.state, ""); len(left) > 0 {
		t.Errorf("containers left after shoal stopped: %v", left)
	}

	// SIGKILL: the watchdog stops them all within 10 s.
	killed := ex.up(t)
	waitSteady(t, killed, ex.bin, ex.state)
	killed.cmd.Process.Kill()
	<-killed.done
	killed.done <- nil
	start := time.Now()
	testkit.WaitFor(t, 10*time.Second, "no running container of the stack after shoal was SIGKILLed", func() bool {
		return len(stackContainers(t, docker, ex.state, "running")) == 0
	})
	t.Logf("the containers stopped %v after SIGKILL", time.Since(start).Round(100*time.Millisecond))
}

// TestEndToEnd_RegistryAndECSTaskDefinition pushes the example's image to
// the registry shoal runs (as the tutorial does to ECR), then deploys the
// tutorial's ECS task definition JSON naming it: the containers pull it
// from the registry and serve through the listener, and validate lists
// the JSON's fields shoal does not implement.
func TestEndToEnd_RegistryAndECSTaskDefinition(t *testing.T) {
	ex := newExample(t)
	docker := requireDocker(t)
	dir := filepath.Dir(ex.stack)
	port := freePort(t)
	registry := "127.0.0.1:" + port
	v1, v2 := ecsStacks(t, dir, registry)
	up := startShoal(t, ex.bin, "up", "-f", v1, "--state-dir", ex.state)
	waitSteady(t, up, ex.bin, ex.state)

	image := registry + "/catalog:1"
	build(t, "CGO_ENABLED=0 go build -o docker/bin/catalog .", "../../examples/catalog")
	for _, args := range [][]string{
		{"build", "-t", image, "../../examples/catalog/docker"},
		{"push", image},
		{"rmi", image}, // the tasks must pull it from the registry
	} {
		if out, err := exec.Command(docker, args...).CombinedOutput(); err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	if out, err := exec.Command(ex.bin, "validate", "-f", v2).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "containerDefinitions[0].logConfiguration: not implemented by shoal") {
		t.Errorf("shoal validate of the ECS stack (%v) does not warn about logConfiguration:\n%s", err, out)
	}
	if code, out := runShoal(t, ex.bin, ex.state, "deploy", "-f", v2); code != 0 {
		t.Fatalf("shoal deploy of the ECS task definition: exit %d\n%s", code, out)
	}
	st := waitSteady(t, up, ex.bin, ex.state)
	url := "http://" + st.Listeners[0] + "/"
	if served := get(t, url, 20); len(served) != 2 {
		t.Errorf("20 requests were served by %d tasks (%v), want the 2 containers of the ECS task definition", len(served), served)
	}
	up.stop(t)
	if left := stackContainers(t, docker, ex.state, ""); len(left) > 0 {
		t.Errorf("containers left after shoal stopped: %v", left)
	}
}

// requireDocker returns the docker command, or skips where no engine
// answers; never in CI, where .ci/run starts one.
func requireDocker(t *testing.T) string {
	t.Helper()
	docker := "/usr/bin/docker" // Debian's, of the engine .ci/run installs
	if _, err := os.Stat(docker); err != nil {
		docker = "docker"
	}
	out, err := exec.Command(docker, "info", "--format", "{{.ServerVersion}}").CombinedOutput()
	if err == nil {
		return docker
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("no Docker engine: docker info: %v: %s", err, out)
	}
	t.Skipf("no Docker engine (apt-get install docker.io, then start dockerd): docker info: %v: %s", err, strings.TrimSpace(string(out)))
	return ""
}

// stackContainers lists the names of the containers labelled with the
// state directory, in state ("running"), or all when state is "".
func stackContainers(t *testing.T, docker, stateDir, state string) []string {
	t.Helper()
	args := []string{"ps", "-a", "--format", "{{.Names}}", "--filter", "label=shoal.state-dir=" + stateDir}
	if state != "" {
		args = append(args, "--filter", "status="+state)
	}
	out, err := exec.Command(docker, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker ps: %v: %s", err, out)
	}
	return strings.Fields(string(out))
}

// dockerStack writes examples/catalog/shoal.docker.yaml into dir, with the
// listener on a free port (which the load balancer's group admits) and its
// build run in the example's folder.
func dockerStack(t *testing.T, dir string) string {
	t.Helper()
	exampleDir, err := filepath.Abs("../../examples/catalog")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(exampleDir, "shoal.docker.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := replaceAll(t, string(src), map[string]string{
		"- port: 8080":           "- port: 0",
		"{port: 8080, cidr:":     "{port: all, cidr:",
		"      context: docker":  "      context: " + filepath.Join(exampleDir, "docker"),
		"  catalog:\n    build:": "  catalog:\n    working_dir: " + exampleDir + "\n    build:",
	})
	path := filepath.Join(dir, "shoal.docker.yaml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// ecsStacks writes two stacks into dir: v1 runs the registry and the
// cache; v2 adds the api, from examples/catalog/ecs-task-definition.json
// with its image in the test's registry.
func ecsStacks(t *testing.T, dir, registry string) (string, string) {
	t.Helper()
	exampleDir, err := filepath.Abs("../../examples/catalog")
	if err != nil {
		t.Fatal(err)
	}
	td, err := os.ReadFile(filepath.Join(exampleDir, "ecs-task-definition.json"))
	if err != nil {
		t.Fatal(err)
	}
	json := replaceAll(t, string(td), map[string]string{`"127.0.0.1:5000/catalog:1"`: `"` + registry + `/catalog:1"`})
	if err := os.WriteFile(filepath.Join(dir, "ecs-task-definition.json"), []byte(json), 0o644); err != nil {
		t.Fatal(err)
	}
	common := fmt.Sprintf(`name: ecs
registry: {address: %s}
load_balancers:
  web:
    listeners:
      - {port: 0, default_action: {forward: {target_group: api}}}
target_groups:
  api:
    health_check: {interval: 1s, timeout: 500ms, healthy_threshold: 2}
    deregistration_delay: 1s
cluster: {instances: 2}
task_definitions:
  redis:
    command: exec redis-server --bind "$HOST" --port "$PORT" --save "" --appendonly no --protected-mode no
`, registry)
	v1 := common + "services:\n  cache: {task_definition: redis}\n"
	v2 := common + `  catalog:
    ecs_task_definition: ecs-task-definition.json
    environment:
      REDIS_URL: redis://${services.cache.address}/0
services:
  cache: {task_definition: redis}
  api: {task_definition: catalog, desired: 2, target_group: api, depends_on: [cache]}
`
	p1, p2 := filepath.Join(dir, "ecs-v1.yaml"), filepath.Join(dir, "ecs-v2.yaml")
	for path, s := range map[string]string{p1: v1, p2: v2} {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return p1, p2
}

// replaceAll replaces each key of repl in s once, failing when one is not
// there: the example changed, and the test must follow.
func replaceAll(t *testing.T, s string, repl map[string]string) string {
	t.Helper()
	for old, new := range repl {
		if !strings.Contains(s, old) {
			t.Fatalf("the example no longer contains %q; update the test", old)
		}
		s = strings.Replace(s, old, new, 1)
	}
	return s
}

// build runs a shell command in dir.
func build(t *testing.T, command, dir string) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", command, err, out)
	}
}

// freePort is a TCP port free on 127.0.0.1 now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// lineWith is the number of the first line of out holding both a and b
// (events name several tasks or targets on one line), or -1.
func lineWith(out, a, b string) int {
	for i, line := range strings.Split(out, "\n") {
		if strings.Contains(line, a) && strings.Contains(line, b) {
			return i
		}
	}
	return -1
}
