package awsapi

import (
	"maps"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ecs/schemas"
	smithy "github.com/aws/smithy-go"
)

// Every member of every request structure shoal serves is declared (read,
// ignored or refused), checked against the SDK's model of ECS: a member
// ECS has must never be ignored only because shoal did not know it, and a
// declared member must be ECS's (no typo that would let the real one
// through).
func TestECSMembersCoverTheModel(t *testing.T) {
	for name, tc := range map[string]struct {
		declared members
		model    *smithy.Schema
	}{
		"ListClusters":                  {listClustersMembers, schemas.ListClustersRequest},
		"DescribeClusters":              {describeClustersMembers, schemas.DescribeClustersRequest},
		"ListServices":                  {listServicesMembers, schemas.ListServicesRequest},
		"DescribeServices":              {describeServicesMembers, schemas.DescribeServicesRequest},
		"UpdateService":                 {updateServiceMembers, schemas.UpdateServiceRequest},
		"DeploymentConfiguration":       {deploymentConfigurationMembers, schemas.DeploymentConfiguration},
		"DeploymentCircuitBreaker":      {circuitBreakerMembers, schemas.DeploymentCircuitBreaker},
		"LoadBalancer":                  {loadBalancerMembers, schemas.LoadBalancer},
		"ListTasks":                     {listTasksMembers, schemas.ListTasksRequest},
		"DescribeTasks":                 {describeTasksMembers, schemas.DescribeTasksRequest},
		"StopTask":                      {stopTaskMembers, schemas.StopTaskRequest},
		"RegisterTaskDefinition":        {registerTaskDefinitionMembers, schemas.RegisterTaskDefinitionRequest},
		"ContainerDefinition":           {containerDefinitionMembers, schemas.ContainerDefinition},
		"PortMapping":                   {portMappingMembers, schemas.PortMapping},
		"HealthCheck":                   {healthCheckMembers, schemas.HealthCheck},
		"KeyValuePair":                  {keyValuePairMembers, schemas.KeyValuePair},
		"DescribeTaskDefinition":        {describeTaskDefinitionMembers, schemas.DescribeTaskDefinitionRequest},
		"ListTaskDefinitions":           {listTaskDefinitionsMembers, schemas.ListTaskDefinitionsRequest},
		"DeregisterTaskDefinition":      {deregisterTaskDefinitionMembers, schemas.DeregisterTaskDefinitionRequest},
		"ListContainerInstances":        {listContainerInstancesMembers, schemas.ListContainerInstancesRequest},
		"DescribeContainerInstances":    {describeContainerInstancesMembers, schemas.DescribeContainerInstancesRequest},
		"UpdateContainerInstancesState": {updateContainerInstancesStateMembers, schemas.UpdateContainerInstancesStateRequest},
	} {
		model := slices.Sorted(maps.Keys(tc.model.Members()))
		if len(model) == 0 {
			t.Errorf("%s: the SDK's model has no members", name)
		}
		for _, m := range model {
			if _, ok := tc.declared[m]; !ok {
				t.Errorf("%s.%s is ECS's but not declared: read it, ignore it (descriptive only) or refuse it", name, m)
			}
		}
		for _, m := range slices.Sorted(maps.Keys(tc.declared)) {
			if !slices.Contains(model, m) {
				t.Errorf("%s.%s is declared but ECS has no such member", name, m)
			}
			if d := tc.declared[m]; d.kind == memberRefused && d.why == "" {
				t.Errorf("%s.%s is refused without saying what to do instead", name, m)
			}
		}
	}
}
