package spec

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestError_Error(t *testing.T) {
	tests := []struct {
		name string
		err  Error
		want string
	}{
		{"everything", Error{File: "shoal.yaml", Line: 12, Column: 5, Path: "services.api.target_group", Msg: "no target group"},
			"shoal.yaml:12:5: services.api.target_group: no target group"},
		{"no path", Error{File: "shoal.yaml", Line: 1, Column: 1, Msg: "empty"}, "shoal.yaml:1:1: empty"},
		{"no column", Error{File: "shoal.yaml", Line: 3, Msg: "invalid YAML"}, "shoal.yaml:3: invalid YAML"},
		{"no position", Error{File: "shoal.yaml", Msg: "the stack is empty"}, "shoal.yaml: the stack is empty"},
		{"no file", Error{Line: 2, Column: 3, Path: "cluster", Msg: "bad"}, "2:3: cluster: bad"},
		{"built in code", Error{Path: "services.api", Msg: "bad"}, "services.api: bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParse_SeveralErrorsOnDistinctLines(t *testing.T) {
	_, err := Parse("shoal.yaml", readFile(t, "testdata/invalid/several_errors.yaml"))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("got %T, want ErrorList", err)
	}
	if len(list) < 5 {
		t.Fatalf("got %d errors, want at least 5:\n%v", len(list), err)
	}
	for i := 1; i < len(list); i++ {
		if list[i].Line <= list[i-1].Line {
			t.Errorf("error %d is on line %d after line %d, want each on a later line:\n%v",
				i, list[i].Line, list[i-1].Line, err)
		}
	}
}

func TestParse_ErrorsAs(t *testing.T) {
	_, err := Parse("shoal.yaml", []byte("services:\n  api:\n    task_definition: app\n"))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T, want an error holding *Error", err)
	}
	want := &Error{File: "shoal.yaml", Line: 3, Column: 5, Path: "services.api.task_definition",
		Msg: `no task definition named "app": define it under task_definitions`}
	if diff := cmp.Diff(want, e); diff != "" {
		t.Errorf("error mismatch (-want +got):\n%s", diff)
	}
}

func TestStack_Validate(t *testing.T) {
	valid := func() *Stack {
		s := &Stack{
			TaskDefinitions: map[string]*TaskDefinition{"app": {Command: Command{"./app"}}},
			Services:        map[string]*Service{"api": {TaskDefinition: "app"}},
		}
		s.setDefaults()
		s.TaskDefinitions["app"].setDefaults()
		s.Services["api"].setDefaults()
		return s
	}
	tests := []struct {
		name   string
		change func(*Stack)
		want   string
	}{
		{"valid", func(*Stack) {}, ""},
		{"empty stack", func(s *Stack) { s.Services = nil },
			"the stack has no services and no load balancers: add a service (see examples/catalog/shoal.yaml)"},
		{"dangling reference", func(s *Stack) { s.Services["api"].TaskDefinition = "ap" },
			`services.api.task_definition: no task definition named "ap" (did you mean "app"?)`},
		{"nil entry", func(s *Stack) { s.Services["web"] = nil },
			`services.web: "web" has no settings`},
		{"zero values", func(s *Stack) { s.Cluster = Cluster{}; s.TaskDefinitions["app"] = &TaskDefinition{} },
			"cluster.instances: instances 0 is out of range: use 1-250\n" +
				"cluster.instance_cpu: instance_cpu 0 is out of range: use 128-196608\n" +
				"cluster.instance_memory: instance_memory 0 is out of range: use 128-1572864\n" +
				`task_definitions.app.command: command is required: write the command that starts the task, like [bin/app] or "python app.py", or give an image to run`},
		{"metrics on every interface", func(s *Stack) { s.Metrics.Address = ":9100" }, ""},
		{"metrics on IPv6 loopback, a free port", func(s *Stack) { s.Metrics.Address = "[::1]:0" }, ""},
		{"metrics without a port", func(s *Stack) { s.Metrics.Address = "127.0.0.1" },
			`metrics.address: address "127.0.0.1": write host:port, like 127.0.0.1:9100 (port 0 picks a free one), or leave it out to serve no metrics`},
		{"metrics on a host name", func(s *Stack) { s.Metrics.Address = "metrics.example.com:9100" },
			`metrics.address: address "metrics.example.com:9100": the host must be an IP address of this machine or localhost, like 127.0.0.1:9100 (this machine only) or 0.0.0.0:9100 (every interface)`},
		{"metrics port out of range", func(s *Stack) { s.Metrics.Address = "localhost:65536" },
			`metrics.address: address "localhost:65536": port "65536": use 0-65535 (0 picks a free one)`},
		{"dashboard on a remote address", func(s *Stack) { s.Dashboard.Address = "0.0.0.0:8000" },
			`dashboard.address: address "0.0.0.0:8000" is not a loopback address: the dashboard drives the stack and travels unencrypted, so shoal serves it only on this machine (127.0.0.1, ::1, localhost) unless allow_remote: true`},
		{"dashboard on a remote address, allowed", func(s *Stack) { s.Dashboard = Dashboard{Address: "0.0.0.0:8000", AllowRemote: true} }, ""},
		{"dashboard without a port", func(s *Stack) { s.Dashboard.Address = "127.0.0.1" },
			`dashboard.address: address "127.0.0.1": write host:port, like 127.0.0.1:8000 (port 0 picks a free one)`},
		{"zero health check", func(s *Stack) {
			s.TargetGroups = map[string]*TargetGroup{"tg": {Protocol: "http", Algorithm: "round_robin"}}
		},
			`target_groups.tg.protocol_version: protocol_version "": use HTTP1, HTTP2 or GRPC` + "\n" +
				`target_groups.tg.health_check.path: path "" must start with /, like "/"` + "\n" +
				`target_groups.tg.health_check.port: port "" must be traffic-port or a number 1-65535` + "\n" +
				"target_groups.tg.health_check.interval: interval 0s is out of range: use 100ms to 300s\n" +
				"target_groups.tg.health_check.timeout: timeout 0s is out of range: use 100ms to 120s\n" +
				"target_groups.tg.health_check.healthy_threshold: healthy_threshold 0 is out of range: use 2-10\n" +
				"target_groups.tg.health_check.unhealthy_threshold: unhealthy_threshold 0 is out of range: use 2-10\n" +
				"target_groups.tg.health_check.matcher: matcher is empty: write codes like 200, 200,202 or 200-299"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := valid()
			tt.change(s)
			got := ""
			if err := s.Validate(); err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClosest(t *testing.T) {
	names := []string{"target_group", "task_definition", "desired", "health_check_grace_period"}
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"targt_group", "target_group", true},
		{"tagret_group", "target_group", true},
		{"TargetGroup", "target_group", true},
		{"desird", "desired", true},
		{"replicas", "", false},
		{"x", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := closest(tt.in, names)
		if got != tt.want || ok != tt.ok {
			t.Errorf("closest(%q): got %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
