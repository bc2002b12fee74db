package cloudformation

import (
	"fmt"
	"strings"

	"github.com/shoalhq/shoal/internal/spec"
)

// The roles' managed policies and the ID of the resources every template
// has.
const (
	instancePolicy     = "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
	executionPolicy    = "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
	idCluster          = "Cluster"
	idInstanceRole     = "InstanceRole"
	idInstanceProfile  = "InstanceProfile"
	idExecutionRole    = "TaskExecutionRole"
	idLaunchTemplate   = "InstanceLaunchTemplate"
	idAutoScalingGroup = "InstanceAutoScalingGroup"
	idLogGroup         = "LogGroup"
	// LogRetentionDays is how long CloudWatch Logs keeps the tasks'
	// output.
	LogRetentionDays = 30
)

// cluster adds the ECS cluster and its instances: an Auto Scaling group of
// the ECS-optimized AMI whose agent joins the cluster, with the roles the
// agent and the tasks' pulls need.
func (b *builder) cluster() {
	c := b.s.Cluster
	b.resource(idCluster, "AWS::ECS::Cluster", &Cluster{
		ClusterSettings: []map[string]string{{"Name": "containerInsights", "Value": "disabled"}},
		Tags:            tags(b.s.Name, "cluster"),
	})
	b.resource(idInstanceRole, "AWS::IAM::Role", &Role{
		AssumeRolePolicyDocument: assumeRole("ec2.amazonaws.com"),
		ManagedPolicyArns:        []any{sub(instancePolicy)},
	})
	b.resource(idLogGroup, "AWS::Logs::LogGroup", &LogGroup{RetentionInDays: LogRetentionDays})
	b.resource(idInstanceProfile, "AWS::IAM::InstanceProfile", &InstanceProfile{Roles: []any{ref(idInstanceRole)}})
	b.resource(idExecutionRole, "AWS::IAM::Role", &Role{
		AssumeRolePolicyDocument: assumeRole("ecs-tasks.amazonaws.com"),
		ManagedPolicyArns:        []any{sub(executionPolicy)},
	})
	config := []string{"ECS_CLUSTER=${" + idCluster + "}"}
	if c.HostPortRange != "" {
		config = append(config, "ECS_DYNAMIC_HOST_PORT_RANGE="+c.HostPortRange)
	}
	userData := "#!/bin/bash\ncat >> /etc/ecs/ecs.config <<'EOF'\n" + strings.Join(config, "\n") + "\nEOF\n"
	var groups []any
	for _, g := range b.instanceGroups {
		groups = append(groups, groupID(g))
	}
	b.resource(idLaunchTemplate, "AWS::EC2::LaunchTemplate", &LaunchTemplate{LaunchTemplateData: LaunchTemplateData{
		ImageID: ref(paramAMI), InstanceType: ref(paramInstanceType),
		IamInstanceProfile: map[string]any{"Arn": getAtt(idInstanceProfile, "Arn")},
		SecurityGroupIDs:   groups,
		UserData:           base64(sub(userData)),
		// One hop: the instance's credentials stay out of reach of the
		// containers (tasks get their own role's from the ECS agent).
		MetadataOptions: map[string]any{"HttpTokens": "required", "HttpPutResponseHopLimit": 1},
	}})
	b.resource(idAutoScalingGroup, "AWS::AutoScaling::AutoScalingGroup", &AutoScalingGroup{
		MinSize: ref(paramInstanceCount), MaxSize: ref(paramInstanceCount), DesiredCapacity: ref(paramInstanceCount),
		VPCZoneIdentifier: ref(paramSubnets),
		LaunchTemplate:    map[string]any{"LaunchTemplateId": ref(idLaunchTemplate), "Version": getAtt(idLaunchTemplate, "LatestVersionNumber")},
		Tags:              []ASGTag{{Key: "Name", Value: b.s.Name + "-instance", PropagateAtLaunch: true}},
	})
	if c.InstanceCPU != spec.DefaultInstanceCPU || c.InstanceMemory != spec.DefaultInstanceMemory {
		b.w.Add("cluster", "approximate: an instance registers its type's CPU and a little less memory than the type has (the ECS agent keeps some); the InstanceType parameter's default, %s, is the smallest with instance_cpu %d and instance_memory %d MiB",
			instanceType(c.InstanceCPU, c.InstanceMemory), c.InstanceCPU, c.InstanceMemory)
	}
	if c.Isolation == spec.IsolationNetns {
		b.w.Add("cluster.isolation", "not carried over: instances are EC2 instances, each a machine of its own; cluster.network is the VPC's")
	}
}

func assumeRole(service string) map[string]any {
	return map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Effect": "Allow", "Principal": map[string]any{"Service": service}, "Action": "sts:AssumeRole",
		}},
	}
}

// outputs gives each load balancer's DNS name and each listener's URL: the
// tutorial's API URL.
func (b *builder) outputs() {
	b.t.Outputs["ClusterName"] = &Output{Description: "The ECS cluster", Value: ref(idCluster)}
	for _, name := range sortedKeys(b.s.LoadBalancers) {
		lb, id := b.s.LoadBalancers[name], b.loadBalancers[name]
		b.t.Outputs[id+"DNSName"] = &Output{Description: "DNS name of load balancer " + name, Value: getAtt(id, "DNSName")}
		for i, l := range lb.Listeners {
			port := listenerPort(l)
			url := fmt.Sprintf("%s://${%s.DNSName}:%d/", l.Protocol, id, port)
			if (l.Protocol == "http" && port == 80) || (l.Protocol == "https" && port == 443) {
				url = fmt.Sprintf("%s://${%s.DNSName}/", l.Protocol, id)
			}
			b.t.Outputs[b.listeners[name][i]+"URL"] = &Output{Description: fmt.Sprintf("URL of load balancer %s's listener %d", name, i), Value: sub(url)}
		}
	}
	for _, name := range sortedKeys(b.caches) {
		id := b.caches[name]
		b.t.Outputs[id+"Endpoint"] = &Output{Description: "Endpoint of the Redis cache of service " + name,
			Value: sub(fmt.Sprintf("${%s.RedisEndpoint.Address}:${%s.RedisEndpoint.Port}", id, id))}
	}
}
