package agent

import (
	"time"

	"github.com/shoalhq/shoal/internal/driver"
	"github.com/shoalhq/shoal/internal/hook"
	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/sched"
	"github.com/shoalhq/shoal/internal/secgroup"
	"github.com/shoalhq/shoal/internal/strategy"
)

// Stack is what the agent runs: plain values with every default filled in.
// Package compile makes one from a stack file; nothing here reads YAML.
type Stack struct {
	// Name of the stack.
	Name string
	// File is the absolute path of the stack file ("" when made in code),
	// and Source its bytes: together the record the store keeps.
	File   string
	Source []byte
	// Instances is how many instances the cluster has, and InstanceCPU and
	// InstanceMemory what each registers (ECS CPU units, MiB).
	Instances                   int
	InstanceCPU, InstanceMemory int
	// LoadBalancer is the load balancer's whole configuration.
	LoadBalancer proxy.Config
	// TaskDefinitions and Services by name.
	TaskDefinitions map[string]TaskDefinition
	Services        map[string]Service
	// Security is the stack's security groups and what each guards.
	Security Security
	// TimeScale divides the bake and wait times of the blue/green, canary
	// and linear deployments this stack starts (0 or 1: as configured),
	// as `shoal deploy --time-scale` asks; it is not part of the file.
	TimeScale float64
}

// Security is the stack's security groups, and which of them guard the
// load balancer, the instances and each service's task ports. A group's
// members are the addresses of what it is named by: the load balancer's
// dialing addresses, the instances' addresses (a task connects from its
// instance's), so a source_group rule admits them.
type Security struct {
	Groups []secgroup.Group
	// Balancer names the groups of every load balancer.
	Balancer []string
	// Instances names the groups of every instance.
	Instances []string
	// Services names each service's own groups, by service.
	Services map[string][]string
}

// TaskDefinition says how to start one copy of an application.
type TaskDefinition struct {
	// Kind names the Runner that starts its tasks (KindProcess).
	Kind string
	// Build is a shell command run once in BuildDir before the first task
	// starts ("": none).
	Build    string
	BuildDir string
	// Image, if set, is built after Build (by the runner, an
	// ImageBuilder) before the first task starts; its containers without
	// an image of their own run it.
	Image *ImageBuild
	// Task is the driver's spec of every task of this definition; the
	// agent adds the task's ID and Address and the SHOAL_ variables to Env.
	Task driver.TaskSpec
	// EnvRefs are the environment values that name other services
	// (${services.NAME.address}), by variable: the agent puts the value
	// together as each task starts, over what Task.Env has.
	EnvRefs map[string]EnvValue
	// CPU (ECS units) and Memory (MiB) each task reserves on its instance.
	CPU, Memory int
}

// EnvValue is an environment value made of text and references to
// services.
type EnvValue []EnvPart

// EnvPart is literal Text, or, when Service is set, the Field (address,
// host or port) of that service's endpoint.
type EnvPart struct {
	Text           string
	Service, Field string
}

// Kinds of task definitions: local processes, and containers run by the
// Docker engine.
const (
	KindProcess = "process"
	KindDocker  = "docker"
)

// ImageBuild is a Docker build of a task definition's image: the context
// folder (absolute) and the Dockerfile in it (relative to it).
type ImageBuild struct {
	Context, Dockerfile string
}

// Service keeps tasks of a task definition running and registered.
type Service struct {
	TaskDefinition string
	Desired        int
	// TargetGroup the service registers its tasks in ("": none).
	TargetGroup string
	// GracePeriod is how long after a task starts its failing health
	// checks are ignored.
	GracePeriod time.Duration
	// DependsOn names the services that must have a healthy task before
	// this one starts any.
	DependsOn []string
	// Daemon runs one task on every ACTIVE instance; Desired is ignored.
	Daemon bool
	// Deployment bounds and guards the rollout of a new revision.
	Deployment DeploymentConfig
	// Strategies and Distinct say where new tasks go.
	Strategies []sched.PlacementStrategy
	Distinct   bool
	// Autoscaling, if set, changes the desired count with the load.
	Autoscaling *Autoscaling
	// Strategy, if set, deploys new revisions blue/green, canary or
	// linear; nil deploys them rolling.
	Strategy *Strategy
}

// Strategy is a blue_green, canary or linear deployment strategy, as
// ECS's deploymentConfiguration and loadBalancers' advancedConfiguration.
type Strategy struct {
	Kind strategy.Kind
	// AlternateTargetGroup is the service's second target group: each
	// deployment's green revision registers in the one the PRIMARY
	// deployment does not use.
	AlternateTargetGroup string
	// ProductionRule is re-weighted between blue and green; TestRule, if
	// set, forwards to green from TEST_TRAFFIC_SHIFT on.
	ProductionRule RuleRef
	TestRule       *RuleRef
	BakeTime       time.Duration
	CanaryPercent  float64
	CanaryBakeTime time.Duration
	StepPercent    float64
	StepBakeTime   time.Duration
	Hooks          []LifecycleHook
	Alarms         []Alarm
}

// RuleRef names a listener's rule by priority; 0 is its default action.
type RuleRef struct {
	Listener string // proxy.ListenerConfig.Name ("web/0")
	Priority int
}

// LifecycleHook is a hook and the stages it runs at.
type LifecycleHook struct {
	Stages []strategy.Stage
	Hook   hook.Hook
}

// Alarm watches a metric of the green revision's target group.
type Alarm struct {
	Name string
	// Metric: HTTPCode_Target_5XX_Count, HTTPCode_ELB_5XX_Count,
	// Target_5XX_Percent or TargetResponseTime; Quantile is
	// TargetResponseTime's statistic (0.99 for p99).
	Metric    string
	Quantile  float64
	Threshold float64
	Period    time.Duration
}

// DeploymentConfig is a service's deployment configuration, as ECS's.
type DeploymentConfig struct {
	MinHealthyPercent int  `json:"minimum_healthy_percent"`
	MaxPercent        int  `json:"maximum_percent"`
	CircuitBreaker    bool `json:"circuit_breaker"`
	Rollback          bool `json:"rollback"`
}

// Autoscaling is a service's target tracking auto scaling.
type Autoscaling struct {
	Min, Max int
	// Period is how long metrics are averaged over before a decision.
	Period   time.Duration
	Policies []ScalingPolicy
}

// ScalingPolicy is one target tracking policy.
type ScalingPolicy struct {
	Metric                            string
	Target                            float64
	ScaleOutCooldown, ScaleInCooldown time.Duration
	DisableScaleIn                    bool
}
