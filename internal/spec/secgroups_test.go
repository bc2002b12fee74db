package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shoalhq/shoal/internal/secgroup"
)

const tutorialGroups = `
security_groups:
  alb:
    ingress:
      - {port: 80, cidr: 0.0.0.0/0}
      - {port: 443, cidr: "::/0"}
  instances:
    ingress:
      - {protocol: all, source_group: alb}
      - {port: 22, cidr: 0.0.0.0/0}
  ping:
    ingress:
      - {protocol: icmp, cidr: "::/0"}
load_balancers:
  web:
    security_groups: [alb]
    listeners:
      - port: 8080
        default_action: {forward: {target_group: api}}
target_groups:
  api: {}
cluster:
  security_groups: [instances]
services:
  api:
    task_definition: app
    target_group: api
    security_groups: [ping]
task_definitions:
  app:
    command: [app]
`

func TestStack_Warnings_TaskPortsOpenToTheWorld(t *testing.T) {
	s, err := Parse("shoal.yaml", []byte(tutorialGroups))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(s.Warnings().Error(), "\n")
	want := []string{
		`shoal.yaml:10:20: security_groups.instances.ingress[1].cidr: this rule opens the instances' task ports to the whole internet (0.0.0.0/0): let only the load balancer in, with source_group naming its group`,
		`shoal.yaml:13:26: security_groups.ping.ingress[0].cidr: this rule opens service api's task ports to the whole internet (::/0): let only the load balancer in, with source_group naming its group`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

func TestStack_SecurityGroupList(t *testing.T) {
	s, err := Parse("shoal.yaml", []byte(tutorialGroups))
	if err != nil {
		t.Fatal(err)
	}
	groups, err := s.SecurityGroupList()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range groups {
		for _, r := range g.Ingress {
			got = append(got, g.Name+": "+r.String())
		}
	}
	want := []string{
		"alb: tcp 80 from 0.0.0.0/0",
		"alb: tcp 443 from ::/0",
		"instances: all traffic from group alb",
		"instances: tcp 22 from 0.0.0.0/0",
		"ping: icmp from ::/0",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	if _, err := secgroup.NewSet(groups, nil); err != nil {
		t.Errorf("the model refuses what the stack accepted: %v", err)
	}
}

func TestStack_Warnings_NoneWithoutGroups(t *testing.T) {
	s, err := Parse("shoal.yaml", []byte("services: {api: {task_definition: app}}\ntask_definitions: {app: {command: [app]}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if w := s.Warnings(); len(w) != 0 {
		t.Errorf("warnings for a stack without groups: %v", w)
	}
}

func TestParse_ECSTaskDefinitionFile(t *testing.T) {
	dir := t.TempDir()
	json := `{"family": "catalog", "containerDefinitions": [{"name": "catalog", "image": "catalog:1",
  "portMappings": [{"containerPort": 3000}], "logConfiguration": {"logDriver": "awslogs"}}]}`
	if err := os.WriteFile(filepath.Join(dir, "td.json"), []byte(json), 0o644); err != nil {
		t.Fatal(err)
	}
	stack := "services: {api: {task_definition: app}}\ntask_definitions:\n  app:\n    ecs_task_definition: td.json\n    memory: 64\n"
	s, err := Parse(filepath.Join(dir, "shoal.yaml"), []byte(stack))
	if err != nil {
		t.Fatal(err)
	}
	td := s.TaskDefinitions["app"]
	if len(td.Containers) != 1 || td.Containers[0].Image != "catalog:1" || td.Containers[0].PortMappings[0].ContainerPort != 3000 || !td.Containers[0].Essential {
		t.Errorf("containers = %+v, want the JSON's one", td.Containers)
	}
	w := s.Warnings().Error()
	if !strings.Contains(w, "td.json:2:") || !strings.Contains(w, "containerDefinitions[0].logConfiguration") {
		t.Errorf("warnings = %q, want logConfiguration at its line of td.json", w)
	}

	// A file that is not there is an error at ecs_task_definition.
	_, err = Parse(filepath.Join(dir, "shoal.yaml"), []byte(strings.Replace(stack, "td.json", "nope.json", 1)))
	if err == nil || !strings.Contains(err.Error(), "shoal.yaml:4:5: task_definitions.app.ecs_task_definition: cannot read the ECS task definition") {
		t.Errorf("Parse with a missing file = %v", err)
	}
}
