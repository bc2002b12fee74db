package spec

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// ignoreSource leaves out of comparisons where a stack was read from.
var ignoreSource = cmp.Options{
	cmpopts.IgnoreUnexported(Stack{}),
	cmpopts.IgnoreFields(Stack{}, "File", "Dir"),
}

func secs(n float64) Duration { return Duration(n * float64(time.Second)) }

// The defaults written out by hand, not with setDefaults, so that a
// changed default fails a test.
func defaultHealthCheck() HealthCheck {
	return HealthCheck{
		Path: "/", Port: "traffic-port", Interval: secs(30), Timeout: secs(5),
		HealthyThreshold: 5, UnhealthyThreshold: 2, Matcher: MustMatcher("200"),
	}
}

func defaultTargetGroup() *TargetGroup {
	return &TargetGroup{Protocol: "http", ProtocolVersion: "HTTP1", Algorithm: "round_robin",
		Stickiness:  Stickiness{Type: "lb_cookie", Duration: secs(86400)},
		HealthCheck: defaultHealthCheck(), DeregistrationDelay: secs(300)}
}

func defaultService(td string) *Service {
	return &Service{TaskDefinition: td, Desired: 1, SchedulingStrategy: "replica", Deployment: defaultDeployment()}
}

func defaultDeployment() Deployment {
	return Deployment{MinimumHealthyPercent: 100, MaximumPercent: 200, Strategy: "rolling",
		Canary: CanaryStep{Percent: 5, BakeTime: Duration(10 * time.Minute)},
		Linear: LinearSteps{StepPercent: 10, StepBakeTime: Duration(6 * time.Minute)}}
}

func stack(s Stack) *Stack {
	s.Name = "t"
	if s.Cluster.Instances == 0 {
		s.Cluster.Instances = 1
	}
	if s.Cluster.InstanceCPU == 0 {
		s.Cluster.InstanceCPU, s.Cluster.InstanceMemory = 2048, 4096
	}
	if s.Cluster.Isolation == "" {
		s.Cluster.Isolation, s.Cluster.Network = "none", "198.18.0.0/15"
	}
	if s.AWSAPI == (AWSAPI{}) {
		s.AWSAPI = AWSAPI{Enabled: true, Address: "127.0.0.1:0", Region: "us-east-1"}
	}
	if s.Dashboard == (Dashboard{}) {
		s.Dashboard = Dashboard{Enabled: true, Address: "127.0.0.1:0"}
	}
	return &s
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want *Stack
	}{
		{"absent sections get defaults", ``, stack(Stack{})},
		{"null sections keep defaults", "cluster:\ntarget_groups:\n", stack(Stack{})},
		{"empty sections", "cluster: {}\nservices: {}\n",
			stack(Stack{Services: map[string]*Service{}})},
		{"cluster", "cluster: {instances: 3, host_port_range: 20000-20999}",
			stack(Stack{Cluster: Cluster{Instances: 3, HostPortRange: "20000-20999"}})},
		{"target group defaults", "target_groups: {api: {}}",
			stack(Stack{TargetGroups: map[string]*TargetGroup{"api": defaultTargetGroup()}})},
		{"null target group gets defaults", "target_groups:\n  api:\n",
			stack(Stack{TargetGroups: map[string]*TargetGroup{"api": defaultTargetGroup()}})},
		{"health check fields override one by one", "target_groups: {api: {health_check: {interval: 10, matcher: 200-299}}}",
			stack(Stack{TargetGroups: map[string]*TargetGroup{"api": func() *TargetGroup {
				tg := defaultTargetGroup()
				tg.HealthCheck.Interval = secs(10)
				tg.HealthCheck.Matcher = MustMatcher("200-299")
				return tg
			}()}})},
		{"listener defaults", "load_balancers: {web: {listeners: [{port: 80, default_action: {forward: {target_group: a}}}]}}",
			stack(Stack{LoadBalancers: map[string]*LoadBalancer{"web": {IdleTimeout: secs(60), ClientKeepAlive: secs(3600), HeaderReadTimeout: secs(10), DesyncMitigationMode: "defensive", AccessLog: AccessLog{Path: "-", Format: "alb"}, XFFHeaderProcessing: "append", Listeners: []*Listener{{
				Port: 80, Address: "127.0.0.1", Protocol: "http", Headers: ListenerHeaders{Server: true},
				DefaultAction: Action{Forward: &ForwardAction{TargetGroup: "a"}},
			}}}}})},
		{"task definition defaults", "task_definitions: {app: {command: [./app, -v]}}",
			stack(Stack{TaskDefinitions: map[string]*TaskDefinition{"app": {
				Command: Command{"./app", "-v"}, StopTimeout: secs(30)}}})},
		{"string command runs in a shell", "task_definitions: {app: {command: ./app -v}}",
			stack(Stack{TaskDefinitions: map[string]*TaskDefinition{"app": {
				Command: Command{"/bin/sh", "-c", "./app -v"}, StopTimeout: secs(30)}}})},
		{"environment values are kept as written", "task_definitions: {app: {environment: {A: true, B: 4, C: x, D: }}}",
			stack(Stack{TaskDefinitions: map[string]*TaskDefinition{"app": {StopTimeout: secs(30),
				Environment: map[string]string{"A": "true", "B": "4", "C": "x", "D": ""}}}})},
		{"service defaults", "services: {api: {task_definition: app}}",
			stack(Stack{Services: map[string]*Service{"api": defaultService("app")}})},
		{"list elements held by value get defaults", "services: {api: {task_definition: app, autoscaling: {min: 1, max: 4, target_tracking: [{metric: ECSServiceAverageCPUUtilization, target: 50}, {metric: ECSServiceAverageCPUUtilization, target: 70, scale_in_cooldown: 10}]}}}",
			stack(Stack{Services: map[string]*Service{"api": func() *Service {
				svc := defaultService("app")
				svc.Autoscaling = &Autoscaling{Min: 1, Max: 4, Period: Duration(DefaultScalingPeriod), TargetTracking: []TargetTracking{
					{Metric: "ECSServiceAverageCPUUtilization", Target: 50, ScaleOutCooldown: Duration(DefaultCooldown), ScaleInCooldown: Duration(DefaultCooldown)},
					{Metric: "ECSServiceAverageCPUUtilization", Target: 70, ScaleOutCooldown: Duration(DefaultCooldown), ScaleInCooldown: secs(10)},
				}}
				return svc
			}()}})},
		{"service fields", "services: {api: {task_definition: app, desired: 0, target_group: tg, health_check_grace_period: 90}}",
			stack(Stack{Services: map[string]*Service{"api": {TaskDefinition: "app", Desired: 0,
				SchedulingStrategy: "replica", TargetGroup: "tg", HealthCheckGracePeriod: secs(90), Deployment: defaultDeployment()}}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := decode("shoal.yaml", []byte("name: t\n"+tt.yaml))
			if len(errs) > 0 {
				t.Fatalf("got errors:\n%v\nwant none", errs)
			}
			if diff := cmp.Diff(tt.want, got, ignoreSource); diff != "" {
				t.Errorf("stack mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecode_Scalars(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  HealthCheck
	}{
		{"interval in seconds", "interval: 10", hc(func(h *HealthCheck) { h.Interval = secs(10) })},
		{"interval in fractional seconds", "interval: 0.5", hc(func(h *HealthCheck) { h.Interval = secs(0.5) })},
		{"interval as a Go duration", "interval: 1m30s", hc(func(h *HealthCheck) { h.Interval = secs(90) })},
		{"interval as quoted seconds", `interval: "15"`, hc(func(h *HealthCheck) { h.Interval = secs(15) })},
		{"zero interval", "interval: 0", hc(func(h *HealthCheck) { h.Interval = 0 })},
		{"matcher as a number", "matcher: 204", hc(func(h *HealthCheck) { h.Matcher = MustMatcher("204") })},
		{"matcher list", `matcher: "200,202"`, hc(func(h *HealthCheck) { h.Matcher = MustMatcher("200,202") })},
		{"port as a number", "port: 8081", hc(func(h *HealthCheck) { h.Port = "8081" })},
		{"hex threshold", "healthy_threshold: 0x3", hc(func(h *HealthCheck) { h.HealthyThreshold = 3 })},
		{"null keeps the default", "timeout: ~", hc(func(*HealthCheck) {})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := "target_groups: {api: {health_check: {" + tt.value + "}}}"
			got, errs := decode("shoal.yaml", []byte(data))
			if len(errs) > 0 {
				t.Fatalf("got errors:\n%v\nwant none", errs)
			}
			if diff := cmp.Diff(tt.want, got.TargetGroups["api"].HealthCheck); diff != "" {
				t.Errorf("health check mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func hc(change func(*HealthCheck)) HealthCheck {
	h := defaultHealthCheck()
	change(&h)
	return h
}

func TestParse_Catalog(t *testing.T) {
	got, err := Load("testdata/valid/catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := &Stack{
		Name: "catalog",
		LoadBalancers: map[string]*LoadBalancer{"web": {IdleTimeout: secs(60), ClientKeepAlive: secs(3600), HeaderReadTimeout: secs(10), DesyncMitigationMode: "defensive", AccessLog: AccessLog{Path: "-", Format: "alb"}, XFFHeaderProcessing: "append", Listeners: []*Listener{{
			Port: 8080, Address: "127.0.0.1", Protocol: "http", Headers: ListenerHeaders{Server: true},
			DefaultAction: Action{Forward: &ForwardAction{TargetGroup: "api"}},
		}}}},
		TargetGroups: map[string]*TargetGroup{"api": {
			Protocol: "http", ProtocolVersion: "HTTP1", Algorithm: "round_robin", DeregistrationDelay: secs(5),
			Stickiness: Stickiness{Type: "lb_cookie", Duration: secs(86400)},
			HealthCheck: HealthCheck{Path: "/", Port: "traffic-port", Interval: secs(2), Timeout: secs(1),
				HealthyThreshold: 2, UnhealthyThreshold: 2, Matcher: MustMatcher("200")},
		}},
		Cluster:   Cluster{Instances: 2, InstanceCPU: 2048, InstanceMemory: 4096, Isolation: "none", Network: "198.18.0.0/15"},
		AWSAPI:    AWSAPI{Enabled: true, Address: "127.0.0.1:0", Region: "us-east-1"},
		Dashboard: Dashboard{Enabled: true, Address: "127.0.0.1:0"},
		TaskDefinitions: map[string]*TaskDefinition{"catalog": {
			Build: Build{Command: "go build -o bin/catalog ."}, Command: Command{"bin/catalog"}, Port: 3000,
			Environment: map[string]string{"DATABASE_URL": "sqlite:catalog.db"}, StopTimeout: secs(10),
		}},
		Services: map[string]*Service{"api": {TaskDefinition: "catalog", Desired: 3,
			SchedulingStrategy: "replica", TargetGroup: "api", Deployment: defaultDeployment()}},
		File: "testdata/valid/catalog.yaml",
		Dir:  absPath(t, "testdata/valid"),
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(Stack{})); diff != "" {
		t.Errorf("stack mismatch (-want +got):\n%s", diff)
	}
}

func absPath(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func TestParse_FileAndDir(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/valid/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file, wantDir, wantName string
	}{
		{"", wd, filepath.Base(wd)},
		{"shoal.yaml", wd, filepath.Base(wd)},
		{"testdata/valid/minimal.yaml", filepath.Join(wd, "testdata", "valid"), "valid"},
		{"/srv/shop/shoal.yaml", "/srv/shop", "shop"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, err := Parse(tt.file, data)
			if err != nil {
				t.Fatal(err)
			}
			if s.File != tt.file || s.Dir != tt.wantDir || s.Name != tt.wantName {
				t.Errorf("got File %q, Dir %q, Name %q; want %q, %q, %q",
					s.File, s.Dir, s.Name, tt.file, tt.wantDir, tt.wantName)
			}
		})
	}
}

func TestDecode_Positions(t *testing.T) {
	s, err := Load("testdata/valid/catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path      string
		line, col int
	}{
		{"", 1, 1},
		{"services.api.target_group", 33, 5},
		{"target_groups.api", 10, 3},
		{"load_balancers.web.listeners[0]", 5, 9},
		{"load_balancers.web.listeners[0].port", 5, 9},
		{"load_balancers.web.listeners[0].default_action.forward.target_group", 8, 13},
		{"task_definitions.catalog.environment.DATABASE_URL", 27, 7},
		// Left out, so at the parent.
		{"target_groups.api.health_check.port", 11, 5},
		{"load_balancers.web.idle_timeout", 3, 3},
		{"cluster.host_port_range", 19, 1},
	}
	for _, tt := range tests {
		line, col := s.src.position(tt.path)
		if line != tt.line || col != tt.col {
			t.Errorf("position of %q: got %d:%d, want %d:%d", tt.path, line, col, tt.line, tt.col)
		}
	}
}

// Load reads, decodes and validates the stack file at path.
func Load(path string) (*Stack, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}
