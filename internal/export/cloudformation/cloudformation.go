// Package cloudformation exports a stack as one AWS CloudFormation
// template: the tutorial's architecture on AWS. An ECS cluster on an Auto
// Scaling group of EC2 instances (the ECS-optimized AMI, the agent joining
// the cluster), a task definition per task definition (bridge mode, host
// port 0), a service per service, the Application Load Balancer with its
// listeners, rules and target groups, the security groups, Application Auto
// Scaling policies, and ElastiCache for a Redis backing service.
//
// What the stack file cannot know (the VPC, its subnets, the AMI, the
// instance type and count, an image URI per task definition, certificate
// ARNs) are parameters. Every setting that does not carry over exactly is a
// warning at its line, and a comment at the top of the template.
package cloudformation

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/shoalhq/shoal/internal/export"
	"github.com/shoalhq/shoal/internal/spec"
)

// The parameters every template has.
const (
	paramVpc           = "VpcId"
	paramSubnets       = "Subnets"
	paramAMI           = "EcsAmiId"
	paramInstanceType  = "InstanceType"
	paramInstanceCount = "InstanceCount"
	paramCacheNodeType = "CacheNodeType"
	// DefaultAMIParameter is the SSM parameter of the current
	// ECS-optimized Amazon Linux 2023 AMI.
	DefaultAMIParameter = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
	// DefaultCacheNodeType is the ElastiCache node of a Redis service.
	DefaultCacheNodeType = "cache.t3.micro"
)

// Export writes the stack as a CloudFormation template,
// "<stack>.cloudformation.yaml". The stack must have been validated
// (spec.Parse), so that its defaults are set.
func Export(s *spec.Stack, _ export.Options) (*export.Document, error) {
	b := newBuilder(s)
	b.build()
	var body bytes.Buffer
	enc := yaml.NewEncoder(&body)
	enc.SetIndent(2)
	if err := enc.Encode(b.t); err != nil {
		return nil, fmt.Errorf("cloudformation: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("cloudformation: %w", err)
	}
	ws := b.w.List()
	var out bytes.Buffer
	fmt.Fprintf(&out, "# %s.cloudformation.yaml: shoal stack %q as AWS CloudFormation (shoal export cloudformation).\n", s.Name, s.Name)
	fmt.Fprintf(&out, "# Deploy: aws cloudformation deploy --template-file %s.cloudformation.yaml --stack-name %s \\\n", s.Name, s.Name)
	fmt.Fprintf(&out, "#   --capabilities CAPABILITY_IAM --parameter-overrides VpcId=vpc-… Subnets=subnet-…,subnet-… (and the image URIs)\n")
	out.WriteString(export.Comment("#", ws))
	out.Write(body.Bytes())
	return &export.Document{Name: s.Name + ".cloudformation.yaml", Data: out.Bytes(), Warnings: ws}, nil
}

// builder fills one template from one stack.
type builder struct {
	s *spec.Stack
	w *export.Warnings
	t *Template
	// used holds every logical ID given, parameters' included: they
	// share one namespace.
	used map[string]bool
	// The logical IDs of the stack's parts, by name.
	groups, targetGroups, loadBalancers, taskDefs, services, caches map[string]string
	// listeners holds each load balancer's listeners' IDs, in order.
	listeners map[string][]string
	// tgUsers lists the listeners and rules that forward to each target
	// group: its services wait for them, as ECS needs the target group
	// to be behind a load balancer.
	tgUsers map[string][]string
	// tgBalancer is the first load balancer forwarding to each target
	// group, for ALBRequestCountPerTarget.
	tgBalancer map[string]string
	// instanceGroups are the security groups of the instances.
	instanceGroups []string
	// lbGroups are the security groups of every load balancer.
	lbGroups []string
}

func newBuilder(s *spec.Stack) *builder {
	return &builder{
		s: s, w: export.NewWarnings(s),
		t: &Template{
			AWSTemplateFormatVersion: "2010-09-09",
			Description:              fmt.Sprintf("shoal stack %s: ECS on EC2%s (shoal export cloudformation)", s.Name, behindALB(s)),
			Parameters:               map[string]*Parameter{},
			Resources:                map[string]*Resource{},
			Outputs:                  map[string]*Output{},
		},
		used:   map[string]bool{},
		groups: map[string]string{}, targetGroups: map[string]string{}, loadBalancers: map[string]string{},
		taskDefs: map[string]string{}, services: map[string]string{}, caches: map[string]string{},
		listeners: map[string][]string{}, tgUsers: map[string][]string{}, tgBalancer: map[string]string{},
	}
}

func behindALB(s *spec.Stack) string {
	if len(s.LoadBalancers) == 0 {
		return ""
	}
	return " behind an Application Load Balancer"
}

// reserve marks the logical IDs every template has as used, before any
// name of the stack is turned into one.
func (b *builder) reserve() {
	for _, id := range []string{paramVpc, paramSubnets, paramAMI, paramInstanceType, paramInstanceCount, paramCacheNodeType,
		idCluster, idInstanceRole, idInstanceProfile, idExecutionRole, idLaunchTemplate, idAutoScalingGroup, idLogGroup, idInfrastructureRole} {
		b.used[id] = true
	}
}

// build adds everything, each part in the order of its names, so that
// logical IDs do not depend on map order.
func (b *builder) build() {
	b.reserve()
	b.baseParameters()
	b.securityGroups()
	b.cacheIDs()
	b.targetGroupIDs()
	b.loadBalancerGroups()
	b.instanceSecurity()
	b.cacheResources()
	b.cluster()
	b.loadBalancerResources()
	b.targetGroupResources()
	b.taskDefinitions()
	b.servicesResources()
	b.outputs()
}

// id returns a new logical ID: name in CamelCase, then suffix; a second
// use of the same ID gets a number.
func (b *builder) id(name, suffix string) string {
	base := camel(name) + suffix
	id := base
	for n := 2; b.used[id]; n++ {
		id = fmt.Sprintf("%s%d", base, n)
	}
	b.used[id] = true
	return id
}

// camel turns a shoal name (letters, digits, - and _) into the letters and
// digits of a logical ID: api-canary is ApiCanary.
func camel(name string) string {
	var sb strings.Builder
	up := true
	for _, r := range name {
		switch {
		case r == '-' || r == '_' || r == '.' || r == ' ':
			up = true
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if up {
				r = unicode.ToUpper(r)
			}
			sb.WriteRune(r)
			up = false
		}
	}
	return sb.String()
}

func (b *builder) resource(id, typ string, props any, dependsOn ...string) *Resource {
	r := &Resource{Type: typ, Properties: props, DependsOn: dependsOn}
	b.t.Resources[id] = r
	return r
}

func (b *builder) param(id string, p *Parameter) {
	b.used[id] = true
	b.t.Parameters[id] = p
}

// baseParameters adds what no stack file says: where and on what the
// cluster runs.
func (b *builder) baseParameters() {
	b.param(paramVpc, &Parameter{Type: "AWS::EC2::VPC::Id", Description: "The VPC of the load balancer, the instances and the caches"})
	b.param(paramSubnets, &Parameter{Type: "List<AWS::EC2::Subnet::Id>", Description: "Subnets of the VPC in at least two Availability Zones, for the load balancer and the instances (public, or private with a NAT gateway, so that the ECS agent reaches ECS)"})
	b.param(paramAMI, &Parameter{Type: "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", Default: DefaultAMIParameter, Description: "The ECS-optimized AMI of the instances"})
	b.param(paramInstanceType, &Parameter{Type: "String", Default: instanceType(b.s.Cluster.InstanceCPU, b.s.Cluster.InstanceMemory),
		Description: fmt.Sprintf("EC2 instance type of the cluster (cluster.instance_cpu %d, instance_memory %d MiB)", b.s.Cluster.InstanceCPU, b.s.Cluster.InstanceMemory)})
	b.param(paramInstanceCount, &Parameter{Type: "Number", Default: b.s.Cluster.Instances, MinValue: intp(1), Description: "How many instances the cluster has (cluster.instances)"})
}

// instanceTypes are the types the instance type parameter's default is
// picked from: the smallest with the CPU and memory the stack's instances
// register.
var instanceTypes = []struct {
	name        string
	vcpu, gibMB int
}{
	{"t3.micro", 2, 1024}, {"t3.small", 2, 2048}, {"t3.medium", 2, 4096}, {"t3.large", 2, 8192},
	{"t3.xlarge", 4, 16384}, {"t3.2xlarge", 8, 32768}, {"m6i.4xlarge", 16, 65536},
	{"m6i.8xlarge", 32, 131072}, {"m6i.12xlarge", 48, 196608}, {"m6i.16xlarge", 64, 262144},
	{"m6i.24xlarge", 96, 393216}, {"r6i.24xlarge", 96, 786432}, {"x2idn.24xlarge", 96, 1572864},
}

func instanceType(cpu, memory int) string {
	for _, it := range instanceTypes {
		if it.vcpu*1024 >= cpu && it.gibMB >= memory {
			return it.name
		}
	}
	return instanceTypes[len(instanceTypes)-1].name
}
