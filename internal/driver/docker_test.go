package driver

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
	"github.com/google/go-cmp/cmp"
)

// These tests need no engine: they cover what the Docker driver decides
// before and after it talks to one.

func TestDocker_NoEngineSaysHowToStartOne(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "docker.sock"))
	_, err := NewDocker(context.Background(), DockerOptions{Ports: onePort(t, 40000), StateDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "no Docker engine answers at unix://") ||
		!strings.Contains(err.Error(), "`sudo systemctl start docker`, or run `dockerd`") {
		t.Errorf("NewDocker error %v, want it to say how to start an engine", err)
	}
}

func TestDocker_NewDockerWantsPortsAndStateDir(t *testing.T) {
	if _, err := NewDocker(context.Background(), DockerOptions{StateDir: "/x"}); err == nil || !strings.Contains(err.Error(), "DockerOptions.Ports") {
		t.Errorf("no Ports: %v", err)
	}
	if _, err := NewDocker(context.Background(), DockerOptions{Ports: onePort(t, 1)}); err == nil || !strings.Contains(err.Error(), "DockerOptions.StateDir") {
		t.Errorf("no StateDir: %v", err)
	}
}

func TestDocker_CheckLeavesOutTheTasksOwnFields(t *testing.T) {
	spec := TaskSpec{Containers: []ContainerSpec{{Name: "app", Image: "app:1", Essential: true}}}
	if err := (&Docker{}).Check(spec); err != nil {
		t.Errorf("Check of a task definition (no id, no address yet): %v", err)
	}
	if err := checkContainers(spec, true); err == nil {
		t.Error("the check at start accepts a task without id and address")
	}
}

func TestDocker_Check(t *testing.T) {
	hc := &HealthCheck{Command: []string{"CMD", "true"}, Interval: time.Second, Timeout: time.Second, Retries: 1}
	ok := func() TaskSpec {
		return TaskSpec{ID: "api-1", Address: "127.0.0.1", Containers: []ContainerSpec{
			{Name: "db", Image: "db:1", Essential: true, HealthCheck: hc},
			{Name: "migrate", Image: "app:1"},
			{Name: "web", Image: "app:1", Essential: true, PortMappings: []PortMapping{{ContainerPort: 8080}},
				DependsOn: []ContainerDependency{{Container: "db", Condition: DependHealthy}, {Container: "migrate", Condition: DependSuccess}}},
		}}
	}
	tests := []struct {
		name   string
		change func(*TaskSpec)
		want   []string // parts of the error; none: no error
	}{
		{name: "valid", change: func(*TaskSpec) {}},
		{name: "no containers", change: func(s *TaskSpec) { s.Containers = nil }, want: []string{"task api-1: no containers"}},
		{name: "no essential", change: func(s *TaskSpec) { s.Containers[0].Essential, s.Containers[2].Essential = false, false },
			want: []string{"no essential container: mark at least one essential"}},
		{name: "repeated name", change: func(s *TaskSpec) { s.Containers[1].Name = "db" },
			want: []string{`container name "db" is used twice`}},
		{name: "bad name", change: func(s *TaskSpec) { s.Containers[1].Name = "my job" },
			want: []string{`container name "my job": use letters, digits`}},
		{name: "no image", change: func(s *TaskSpec) { s.Containers[1].Image = "" }, want: []string{`container "migrate": no image`}},
		{name: "unknown dependency", change: func(s *TaskSpec) { s.Containers[2].DependsOn[0].Container = "cache" },
			want: []string{`container "web": depends on "cache", which is not a container of the task`}},
		{name: "unknown condition", change: func(s *TaskSpec) { s.Containers[2].DependsOn[0].Condition = "READY" },
			want: []string{`condition "READY": use START, COMPLETE, SUCCESS or HEALTHY`}},
		{name: "healthy without check", change: func(s *TaskSpec) { s.Containers[0].HealthCheck = nil },
			want: []string{`depends on "db" being HEALTHY, but "db" has no health check`}},
		{name: "success on essential", change: func(s *TaskSpec) { s.Containers[1].Essential = true },
			want: []string{`depends on "migrate" with SUCCESS, but "migrate" is essential`}},
		{name: "cycle", change: func(s *TaskSpec) {
			s.Containers[0].DependsOn = []ContainerDependency{{Container: "web", Condition: DependStart}}
		}, want: []string{`the dependencies of containers "db", "web" form a cycle`}},
		{name: "self", change: func(s *TaskSpec) {
			s.Containers[1].DependsOn = []ContainerDependency{{Container: "migrate", Condition: DependStart}}
		}, want: []string{`container "migrate": depends on itself`}},
		{name: "bad port", change: func(s *TaskSpec) { s.Containers[2].PortMappings[0].ContainerPort = 0 },
			want: []string{"container port 0 is not in 1-65535"}},
		{name: "bad protocol", change: func(s *TaskSpec) { s.Containers[2].PortMappings[0].Protocol = "sctp" },
			want: []string{`protocol "sctp": use tcp or udp`}},
		{name: "bad health check", change: func(s *TaskSpec) { s.Containers[0].HealthCheck = &HealthCheck{Command: []string{"x"}} },
			want: []string{`container "db": health check: interval 0s is not positive`}},
		{name: "several problems", change: func(s *TaskSpec) { s.Address, s.Containers[1].Image = "", "" },
			want: []string{"no address", `container "migrate": no image`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := ok()
			tt.change(&spec)
			err := checkContainers(spec, true)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check passed, want an error saying %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestDocker_StartOrder(t *testing.T) {
	dep := func(names ...string) []ContainerDependency {
		var ds []ContainerDependency
		for _, n := range names {
			ds = append(ds, ContainerDependency{Container: n, Condition: DependStart})
		}
		return ds
	}
	cs := []ContainerSpec{
		{Name: "side", DependsOn: dep("web")},
		{Name: "web", DependsOn: dep("db", "migrate")},
		{Name: "migrate", DependsOn: dep("db")},
		{Name: "db"},
		{Name: "log"},
	}
	order, err := startOrder(cs)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range order {
		names = append(names, cs[i].Name)
	}
	if want := []string{"db", "migrate", "web", "side", "log"}; !slices.Equal(names, want) {
		t.Errorf("order %q, want %q", names, want)
	}
}

func TestDocker_ContainerExit(t *testing.T) {
	tests := []struct {
		name          string
		code          int
		oom, stopSent bool
		want          Exit
		wantString    string
	}{
		{name: "exit 0", code: 0, want: Exit{Code: 0}, wantString: "exit code 0"},
		{name: "exit 3", code: 3, stopSent: true, want: Exit{Code: 3}, wantString: "exit code 3"},
		{name: "stopped, term", code: 143, stopSent: true, want: Exit{Code: -1, Signal: "SIGTERM"}, wantString: "killed by SIGTERM"},
		{name: "stopped, kill", code: 137, stopSent: true, want: Exit{Code: -1, Signal: "SIGKILL"}, wantString: "killed by SIGKILL"},
		{name: "137 not sent by shoal", code: 137, want: Exit{Code: 137}, wantString: "exit code 137"},
		{name: "oom", code: 137, oom: true, want: Exit{Code: 137, Reason: oomReason},
			wantString: "OutOfMemoryError: Container killed due to memory usage (exit code 137)"},
		{name: "out of signal range", code: 200, stopSent: true, want: Exit{Code: 200}, wantString: "exit code 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := containerExit(tt.code, tt.oom, tt.stopSent)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("containerExit (-want +got):\n%s", diff)
			}
			if got.String() != tt.wantString {
				t.Errorf("String() = %q, want %q", got.String(), tt.wantString)
			}
		})
	}
}

func TestDocker_HealthFromEngine(t *testing.T) {
	pass := &container.HealthcheckResult{ExitCode: 0}
	fail := &container.HealthcheckResult{ExitCode: 1, Output: "unhealthy: status 500\n"}
	timeout := &container.HealthcheckResult{ExitCode: -1, Output: "Health check exceeded timeout (2s)"}
	tests := []struct {
		name        string
		h           *container.Health
		want        ContainerHealth
		wantFailure string
	}{
		{name: "none", h: nil, want: HealthUnknown},
		{name: "starting", h: &container.Health{Status: container.Starting}, want: HealthUnknown},
		{name: "healthy", h: &container.Health{Status: container.Healthy, Log: []*container.HealthcheckResult{pass}}, want: HealthHealthy},
		{name: "healthy after a failure", h: &container.Health{Status: container.Healthy, Log: []*container.HealthcheckResult{fail, pass}},
			want: HealthHealthy, wantFailure: "exit status 1: unhealthy: status 500"},
		{name: "unhealthy", h: &container.Health{Status: container.Unhealthy, Log: []*container.HealthcheckResult{fail, timeout}},
			want: HealthUnhealthy, wantFailure: "Health check exceeded timeout (2s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, failure := dockerHealth(tt.h)
			if got != tt.want || failure != tt.wantFailure {
				t.Errorf("dockerHealth = %s, %q; want %s, %q", got, failure, tt.want, tt.wantFailure)
			}
		})
	}
}

func TestDocker_ContainerConfig(t *testing.T) {
	hc := &HealthCheck{Command: []string{"/app", "check"}, Interval: time.Second, Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, Retries: 4}
	spec := TaskSpec{ID: "api-1", Address: "127.0.0.2", ContainerPort: 9090, StopTimeout: 1500 * time.Millisecond,
		Labels: map[string]string{"team": "blue", labelTask: "spoofed"},
		Containers: []ContainerSpec{{
			Name: "web", Image: "app:1", Essential: true, Command: []string{"serve"}, EntryPoint: []string{"/app"},
			WorkingDir: "/srv", User: "1000", Env: map[string]string{"B": "2", "A": "1"},
			PortMappings: []PortMapping{{ContainerPort: 8080, HostPort: 80}, {ContainerPort: 9090}, {ContainerPort: 53, HostPort: 5353, Protocol: "udp"}},
			CPU:          512, Memory: 64, MemoryReservation: 32, HealthCheck: hc,
		}}}
	d := &Docker{ports: onePort(t, 40000), stack: "shop", stateDir: "/var/lib/shoal"}
	task, err := d.newTask(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer task.releasePorts()
	if task.Addr() != "127.0.0.2:40000" {
		t.Errorf("Addr() = %q, want the dynamic port mapped to 9090", task.Addr())
	}
	config, host := task.containerConfig(task.containers[0])
	stop := 2
	wantConfig := &container.Config{
		Image: "app:1", Cmd: []string{"serve"}, Entrypoint: []string{"/app"}, WorkingDir: "/srv", User: "1000",
		Env: []string{"A=1", "B=2", "PORT=9090"},
		Labels: map[string]string{"team": "blue", labelTask: "api-1", labelStack: "shop",
			labelStateDir: "/var/lib/shoal", labelContainer: "web"},
		ExposedPorts: nat.PortSet{"8080/tcp": {}, "9090/tcp": {}, "53/udp": {}},
		StopTimeout:  &stop,
		Healthcheck: &container.HealthConfig{Test: []string{"CMD", "/app", "check"}, Interval: time.Second,
			Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, Retries: 4},
	}
	if diff := cmp.Diff(wantConfig, config); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	wantHost := &container.HostConfig{
		NetworkMode: "bridge",
		PortBindings: nat.PortMap{
			"8080/tcp": {{HostIP: "127.0.0.2", HostPort: "80"}},
			"9090/tcp": {{HostIP: "127.0.0.2", HostPort: "40000"}},
			"53/udp":   {{HostIP: "127.0.0.2", HostPort: "5353"}},
		},
		ExtraHosts: []string{"host.docker.internal:host-gateway"},
		Resources:  container.Resources{CPUShares: 512, Memory: 64 << 20, MemorySwap: 64 << 20, MemoryReservation: 32 << 20},
	}
	if diff := cmp.Diff(wantHost, host); diff != "" {
		t.Errorf("host config (-want +got):\n%s", diff)
	}
}

// onePort is an allocator of port alone, which it takes as free.
func onePort(t *testing.T, port int) *PortAllocator {
	t.Helper()
	return NewPortAllocator(port, port, func(string, int) (bool, error) { return true, nil })
}

func TestDocker_TargetAndPort(t *testing.T) {
	tests := []struct {
		name          string
		containerPort int
		containers    []ContainerSpec
		wantAddr      string
		wantMain      string
		wantPORT      map[string]string // container → PORT ("": none)
	}{
		{name: "first mapping of ContainerPort", containerPort: 9090,
			containers: []ContainerSpec{
				{Name: "proxy", Essential: true, PortMappings: []PortMapping{{ContainerPort: 80, HostPort: 8000}}},
				{Name: "app", PortMappings: []PortMapping{{ContainerPort: 9090, HostPort: 9000}}},
			},
			wantAddr: "127.0.0.1:9000", wantMain: "app", wantPORT: map[string]string{"proxy": "80", "app": "9090"}},
		{name: "else the first mapping", containerPort: 0,
			containers: []ContainerSpec{
				{Name: "job", Essential: true},
				{Name: "app", PortMappings: []PortMapping{{ContainerPort: 3000, HostPort: 3001}, {ContainerPort: 4000, HostPort: 4001}}},
			},
			wantAddr: "127.0.0.1:3001", wantMain: "app", wantPORT: map[string]string{"job": "", "app": "3000"}},
		{name: "no mapping: the first essential", containerPort: 8080,
			containers: []ContainerSpec{{Name: "side"}, {Name: "worker", Essential: true, Env: map[string]string{"PORT": "1"}}},
			wantAddr:   "", wantMain: "worker", wantPORT: map[string]string{"side": "", "worker": "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &Docker{ports: onePort(t, 40000)}
			task, err := d.newTask(TaskSpec{ID: "t", Address: "127.0.0.1", ContainerPort: tt.containerPort, Containers: tt.containers})
			if err != nil {
				t.Fatal(err)
			}
			if task.Addr() != tt.wantAddr || task.main.spec.Name != tt.wantMain {
				t.Errorf("Addr() %q, main %q; want %q, %q", task.Addr(), task.main.spec.Name, tt.wantAddr, tt.wantMain)
			}
			for name, want := range tt.wantPORT {
				env := task.containerEnv(task.container(name))
				got := ""
				for _, kv := range env {
					if v, ok := strings.CutPrefix(kv, "PORT="); ok {
						got = v
					}
				}
				if got != want {
					t.Errorf("container %s: PORT %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestDocker_NewTaskReleasesPortsWhenOut(t *testing.T) {
	ports := onePort(t, 40000)
	d := &Docker{ports: ports}
	_, err := d.newTask(TaskSpec{ID: "t", Address: "127.0.0.1", Containers: []ContainerSpec{
		{Name: "a", Essential: true, PortMappings: []PortMapping{{ContainerPort: 80}, {ContainerPort: 81}}},
	}})
	if err == nil || !strings.Contains(err.Error(), "no free host port") {
		t.Fatalf("newTask error %v, want no free host port", err)
	}
	if n := len(ports.used); n != 0 {
		t.Errorf("ports still allocated on %d addresses", n)
	}
}

func TestDocker_StopSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int{0: 0, -time.Second: 0, time.Millisecond: 1, time.Second: 1, 1500 * time.Millisecond: 2, 30 * time.Second: 30} {
		if got := stopSeconds(d); got != want {
			t.Errorf("stopSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestDocker_LineWriterPrefixesWholeLines(t *testing.T) {
	logs := NewLogBuffer(0)
	var out bytes.Buffer
	sink := newLogSink(logs, &out)
	web := &lineWriter{sink: sink, prefix: []byte("web | ")}
	db := &lineWriter{sink: sink, prefix: []byte("db | ")}
	write := func(w *lineWriter, s string) {
		if _, err := w.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	write(web, "listen")
	write(db, "ready\nwaiting ")
	write(web, "ing\nserving\n")
	write(db, "for clients")
	db.Flush()
	want := "db | ready\nweb | listening\nweb | serving\ndb | waiting for clients\n"
	if got, _ := logs.Read(0); string(got) != want {
		t.Errorf("logs %q, want %q", got, want)
	}
	if out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
}

func TestDocker_LineWriterWithoutPrefixPassesOutputAsItComes(t *testing.T) {
	logs := NewLogBuffer(0)
	w := &lineWriter{sink: newLogSink(logs, nil)}
	_, _ = w.Write([]byte("a\nb"))
	if got, _ := logs.Read(0); string(got) != "a\nb" {
		t.Errorf("logs %q, want %q", got, "a\nb")
	}
}

func TestDocker_CopyMessages(t *testing.T) {
	stream := `{"status":"Pulling from library/redis","id":"7"}
{"status":"Downloading","progressDetail":{"current":1,"total":2},"progress":"[=>  ]","id":"abc"}
{"status":"Digest: sha256:0123"}
{"stream":"Step 1/2 : FROM scratch\n"}
{"aux":{"ID":"sha256:42"}}
`
	var out bytes.Buffer
	if err := copyMessages(strings.NewReader(stream), &out); err != nil {
		t.Fatal(err)
	}
	want := "7: Pulling from library/redis\nDigest: sha256:0123\nStep 1/2 : FROM scratch\n"
	if out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	failed := `{"stream":"Step 2/2 : RUN false\n"}
{"errorDetail":{"code":1,"message":"The command '/bin/sh -c false' returned a non-zero code: 1"},"error":"The command '/bin/sh -c false' returned a non-zero code: 1"}
`
	err := copyMessages(strings.NewReader(failed), &out)
	if err == nil || err.Error() != "The command '/bin/sh -c false' returned a non-zero code: 1" {
		t.Errorf("error %v, want the engine's message", err)
	}
}

func TestDocker_Dockerignore(t *testing.T) {
	rules := parseDockerignore(`
# comment
*.log
/node_modules
**/secret.txt
docs/*.md
!docs/README.md
build
!build/keep
`)
	tests := map[string]bool{
		"app.log":                 true,
		"sub/app.log":             false, // *.log matches at the top only, as in Docker
		"node_modules":            true,
		"node_modules/x/index.js": true,
		"secret.txt":              true,
		"a/b/secret.txt":          true,
		"docs/guide.md":           true,
		"docs/README.md":          false,
		"docs/sub/guide.md":       false,
		"build/out.bin":           true,
		"build/keep":              false,
		"main.go":                 false,
	}
	for path, want := range tests {
		if got := ignored(rules, path); got != want {
			t.Errorf("ignored(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestDocker_BuildTagFollowsWhatIsSent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "My App")
	write := func(name, data string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Dockerfile", "FROM scratch\nCOPY . /\n")
	write("main.go", "package main")
	write(".dockerignore", "tmp\n")
	write("tmp/cache", "1")
	tag := func() string {
		t.Helper()
		bc, err := readBuildContext(dir, "")
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(bc.files, "tmp/cache") || !slices.Contains(bc.files, "main.go") {
			t.Errorf("files %q: want main.go sent, tmp/cache not", bc.files)
		}
		return bc.tag()
	}
	first := tag()
	if !strings.HasPrefix(first, "shoal-build/my-app:") || len(first) != len("shoal-build/my-app:")+12 {
		t.Errorf("tag %q, want shoal-build/my-app:<12 hex>", first)
	}
	write("tmp/cache", "2")
	if got := tag(); got != first {
		t.Errorf("an ignored file changed the tag: %q, then %q", first, got)
	}
	write("main.go", "package main // changed")
	if got := tag(); got == first {
		t.Errorf("a changed file kept the tag %q", got)
	}
	second := tag()
	write("Dockerfile", "FROM scratch\nCOPY main.go /\n")
	if got := tag(); got == second {
		t.Errorf("a changed Dockerfile kept the tag %q", got)
	}
}

func TestDocker_BuildDockerfileOutsideTheContext(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "ctx")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	df := filepath.Join(root, "build.Dockerfile")
	if err := os.WriteFile(df, []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bc, err := readBuildContext(dir, df)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(bc.dockerfileName, ".dockerfile.") || string(bc.dockerfile) != "FROM scratch\n" {
		t.Errorf("Dockerfile sent as %q with %q, want under .dockerfile.<hash>", bc.dockerfileName, bc.dockerfile)
	}
	if _, err := readBuildContext(dir, "missing"); err == nil || !strings.Contains(err.Error(), "read the Dockerfile") {
		t.Errorf("a missing Dockerfile gave %v", err)
	}
}

func TestDocker_BridgeGateway(t *testing.T) {
	tests := []struct {
		c    network.IPAMConfig
		want string
	}{
		{network.IPAMConfig{Subnet: "172.17.0.0/16"}, "172.17.0.1"},
		{network.IPAMConfig{Subnet: "10.1.0.0/16", Gateway: "10.1.0.5"}, "10.1.0.5"},
		{network.IPAMConfig{Subnet: "fd00::/64"}, ""},
	}
	for _, tt := range tests {
		gw, ok := bridgeGateway(tt.c)
		if got := gw.String(); (ok || tt.want != "") && got != tt.want {
			t.Errorf("bridgeGateway(%+v) = %s, want %q", tt.c, got, tt.want)
		}
	}
}

func TestDocker_ImageName(t *testing.T) {
	for in, want := range map[string]string{"api": "api", "My App": "my-app", "__": "app", "svc.v2": "svc-v2"} {
		if got := imageName(in); got != want {
			t.Errorf("imageName(%q) = %q, want %q", in, got, want)
		}
	}
}
