package awsapi

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/shoalhq/shoal/internal/agent"
)

var ctx = context.Background()

func TestECSClusters(t *testing.T) {
	client, _, _ := serve(t, newShop())
	list, err := client.ListClusters(ctx, &ecs.ListClustersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{testARN("cluster/shop")}, list.ClusterArns); diff != "" {
		t.Errorf("ListClusters (-want +got):\n%s", diff)
	}
	d, err := client.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"shop", testARN("cluster/shop"), "prod"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Clusters) != 2 {
		t.Fatalf("DescribeClusters gave %d clusters, want 2 (by name and by ARN)", len(d.Clusters))
	}
	c := d.Clusters[0]
	got := []any{*c.ClusterArn, *c.ClusterName, *c.Status, c.RegisteredContainerInstancesCount, c.RunningTasksCount, c.PendingTasksCount, c.ActiveServicesCount}
	want := []any{testARN("cluster/shop"), "shop", "ACTIVE", int32(2), int32(3), int32(1), int32(2)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cluster (-want +got):\n%s", diff)
	}
	if len(d.Failures) != 1 || *d.Failures[0].Arn != testARN("cluster/prod") || *d.Failures[0].Reason != "MISSING" {
		t.Errorf("failures = %+v, want prod MISSING", d.Failures)
	}
	// No clusters named: the stack's, as ECS describes its default one.
	d, err = client.DescribeClusters(ctx, &ecs.DescribeClustersInput{})
	if err != nil || len(d.Clusters) != 1 || *d.Clusters[0].ClusterName != "shop" {
		t.Errorf("DescribeClusters without clusters = %+v, %v; want shop", d, err)
	}
}

// Every operation that takes a cluster takes it omitted, by name or by
// ARN, and answers ClusterNotFoundException for any other.
func TestECSClusterNotFound(t *testing.T) {
	client, _, _ := serve(t, newShop())
	for _, cluster := range []*string{nil, aws.String("shop"), aws.String(testARN("cluster/shop"))} {
		if _, err := client.ListServices(ctx, &ecs.ListServicesInput{Cluster: cluster}); err != nil {
			t.Errorf("ListServices with cluster %v: %v", aws.ToString(cluster), err)
		}
	}
	calls := map[string]func(cluster *string) error{
		"ListServices": func(c *string) error {
			_, err := client.ListServices(ctx, &ecs.ListServicesInput{Cluster: c})
			return err
		},
		"DescribeServices": func(c *string) error {
			_, err := client.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: c, Services: []string{"api"}})
			return err
		},
		"UpdateService": func(c *string) error {
			_, err := client.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: c, Service: aws.String("api"), DesiredCount: aws.Int32(3)})
			return err
		},
		"ListTasks": func(c *string) error { _, err := client.ListTasks(ctx, &ecs.ListTasksInput{Cluster: c}); return err },
		"DescribeTasks": func(c *string) error {
			_, err := client.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: c, Tasks: []string{"api-3f9a1c2b"}})
			return err
		},
		"StopTask": func(c *string) error {
			_, err := client.StopTask(ctx, &ecs.StopTaskInput{Cluster: c, Task: aws.String("api-3f9a1c2b")})
			return err
		},
		"ListContainerInstances": func(c *string) error {
			_, err := client.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: c})
			return err
		},
		"DescribeContainerInstances": func(c *string) error {
			_, err := client.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: c, ContainerInstances: []string{"instance-1"}})
			return err
		},
		"UpdateContainerInstancesState": func(c *string) error {
			_, err := client.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{Cluster: c, ContainerInstances: []string{"instance-1"}, Status: types.ContainerInstanceStatusDraining})
			return err
		},
	}
	for op, call := range calls {
		t.Run(op, func(t *testing.T) {
			for _, other := range []string{"default", testARN("cluster/prod"), "arn:aws:ecs:us-east-1:" + AccountID + ":cluster/shop"} {
				wantAPIError(t, call(aws.String(other)), "ClusterNotFoundException", "Cluster not found.", "shop")
			}
		})
	}
}

func TestECSListServices(t *testing.T) {
	client, _, _ := serve(t, newShop())
	var got []string
	p := ecs.NewListServicesPaginator(client, &ecs.ListServicesInput{MaxResults: aws.Int32(1)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, out.ServiceArns...)
	}
	want := []string{testARN("service/shop/api"), testARN("service/shop/cache")}
	if diff := cmp.Diff(want, got); diff != "" || pages != 2 {
		t.Errorf("ListServices in %d pages (-want +got):\n%s", pages, diff)
	}
	for _, tc := range []struct {
		in   ecs.ListServicesInput
		want []string
	}{
		{ecs.ListServicesInput{SchedulingStrategy: types.SchedulingStrategyDaemon}, []string{testARN("service/shop/cache")}},
		{ecs.ListServicesInput{SchedulingStrategy: types.SchedulingStrategyReplica}, []string{testARN("service/shop/api")}},
		{ecs.ListServicesInput{LaunchType: types.LaunchTypeEc2}, want},
		{ecs.ListServicesInput{LaunchType: types.LaunchTypeFargate}, []string{}},
	} {
		out, err := client.ListServices(ctx, &tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, out.ServiceArns); diff != "" {
			t.Errorf("ListServices %s %s (-want +got):\n%s", tc.in.SchedulingStrategy, tc.in.LaunchType, diff)
		}
	}
	_, err := client.ListServices(ctx, &ecs.ListServicesInput{MaxResults: aws.Int32(101)})
	wantAPIError(t, err, "InvalidParameterException", "maxResults")
	_, err = client.ListServices(ctx, &ecs.ListServicesInput{NextToken: aws.String("!!not base64!!")})
	wantAPIError(t, err, "InvalidParameterException", "nextToken")
}

func TestECSDescribeServices(t *testing.T) {
	client, _, _ := serve(t, newShop())
	out, err := client.DescribeServices(ctx, &ecs.DescribeServicesInput{
		Cluster:  aws.String("shop"),
		Services: []string{"api", testARN("service/shop/cache"), "web", testARN("service/prod/api")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Services) != 2 {
		t.Fatalf("got %d services, want 2", len(out.Services))
	}
	wantFailures := []string{testARN("service/shop/web") + " MISSING", testARN("service/prod/api") + " MISSING"}
	var failures []string
	for _, f := range out.Failures {
		failures = append(failures, *f.Arn+" "+*f.Reason)
	}
	if diff := cmp.Diff(wantFailures, failures); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}

	api := out.Services[0]
	got := map[string]any{
		"serviceArn": *api.ServiceArn, "serviceName": *api.ServiceName, "clusterArn": *api.ClusterArn, "status": *api.Status,
		"desired": api.DesiredCount, "running": api.RunningCount, "pending": api.PendingCount,
		"launchType": api.LaunchType, "strategy": api.SchedulingStrategy, "taskDefinition": *api.TaskDefinition,
		"createdAt":  *api.CreatedAt,
		"controller": api.DeploymentController.Type,
	}
	want := map[string]any{
		"serviceArn": testARN("service/shop/api"), "serviceName": "api", "clusterArn": testARN("cluster/shop"), "status": "ACTIVE",
		"desired": int32(2), "running": int32(2), "pending": int32(0),
		"launchType": types.LaunchTypeEc2, "strategy": types.SchedulingStrategyReplica, "taskDefinition": testARN("task-definition/catalog:3"),
		"createdAt":  at(10), // the oldest deployment listed
		"controller": types.DeploymentControllerTypeEcs,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("service api (-want +got):\n%s", diff)
	}
	if len(api.LoadBalancers) != 1 || *api.LoadBalancers[0].TargetGroupArn != "arn:aws:elasticloadbalancing:"+testRegion+":"+AccountID+":targetgroup/api/"+(arns{region: testRegion, cluster: "shop"}).id("tg", "api") ||
		*api.LoadBalancers[0].ContainerName != "catalog" || *api.LoadBalancers[0].ContainerPort != 8080 {
		t.Errorf("loadBalancers = %s", jsonOf(api.LoadBalancers))
	}
	dc := api.DeploymentConfiguration
	if *dc.MinimumHealthyPercent != 100 || *dc.MaximumPercent != 200 || !dc.DeploymentCircuitBreaker.Enable || !dc.DeploymentCircuitBreaker.Rollback {
		t.Errorf("deploymentConfiguration = %s", jsonOf(dc))
	}

	// PRIMARY then ACTIVE; the INACTIVE one is left out.
	var deps []string
	for _, d := range api.Deployments {
		deps = append(deps, strings.Join([]string{*d.Id, *d.Status, *d.TaskDefinition, string(d.RolloutState), *d.RolloutStateReason, string(d.LaunchType)}, " "))
	}
	wantDeps := []string{
		depAPINew + " PRIMARY " + testARN("task-definition/catalog:3") + " IN_PROGRESS ECS deployment " + depAPINew + " in progress. EC2",
		depAPIOld + " ACTIVE " + testARN("task-definition/catalog:2") + " COMPLETED ECS deployment " + depAPIOld + " completed. EC2",
	}
	if diff := cmp.Diff(wantDeps, deps); diff != "" {
		t.Errorf("deployments (-want +got):\n%s", diff)
	}
	p := api.Deployments[0]
	if p.DesiredCount != 2 || p.RunningCount != 1 || p.PendingCount != 0 || p.FailedTasks != 1 || !p.CreatedAt.Equal(at(100)) || !p.UpdatedAt.Equal(at(130)) {
		t.Errorf("PRIMARY deployment = %s", jsonOf(p))
	}

	// The service's events, newest first, in ECS's words.
	var events []string
	for _, e := range api.Events {
		events = append(events, e.CreatedAt.UTC().Format("15:04:05")+" "+*e.Message)
		if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(*e.Id) {
			t.Errorf("event id %q is not a UUID", *e.Id)
		}
	}
	wantEvents := []string{
		"10:01:44 task api-df086127 stopped: Essential container in task exited (exit code 1).",
		"10:01:40 service api (deployment " + depAPINew + ") deployment started: catalog:3 replaces catalog:2 (minimum healthy 100%, maximum 200%).",
		"10:00:20 service api has reached a steady state.",
		"10:00:10 service api (deployment " + depAPIOld + ") deployment started: catalog:2.",
	}
	if diff := cmp.Diff(wantEvents, events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}

	cache := out.Services[1]
	if cache.SchedulingStrategy != types.SchedulingStrategyDaemon || len(cache.LoadBalancers) != 0 || cache.LoadBalancers == nil ||
		cache.DesiredCount != 2 || cache.PendingCount != 1 || len(cache.Events) != 1 {
		t.Errorf("service cache = %s", jsonOf(cache))
	}

	_, err = client.DescribeServices(ctx, &ecs.DescribeServicesInput{Services: []string{}})
	wantAPIError(t, err, "InvalidParameterException", "Services cannot be empty.")
}

func TestECSDescribeServicesKeepsAtMost100Events(t *testing.T) {
	b := newShop()
	for i := range 150 {
		b.events = append(b.events, agent.Event{Seq: int64(10 + i), Time: at(200 + i), Service: "cache", Message: "service cache has reached a steady state."})
	}
	client, _, _ := serve(t, b)
	out, err := client.DescribeServices(ctx, &ecs.DescribeServicesInput{Services: []string{"cache"}})
	if err != nil {
		t.Fatal(err)
	}
	ev := out.Services[0].Events
	if len(ev) != 100 || !ev[0].CreatedAt.Equal(at(349)) || !ev[99].CreatedAt.Equal(at(250)) {
		t.Errorf("got %d events from %v to %v; want the newest 100, newest first", len(ev), ev[0].CreatedAt, ev[len(ev)-1].CreatedAt)
	}
}

// `aws ecs wait services-stable` is the SDK's ServicesStable waiter: every
// service has one deployment and runs its desired count.
func TestECSServicesStableWaiter(t *testing.T) {
	b := newShop()
	client, _, _ := serve(t, b)
	waiter := ecs.NewServicesStableWaiter(client, func(o *ecs.ServicesStableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 20*time.Millisecond
	})
	in := &ecs.DescribeServicesInput{Cluster: aws.String("shop"), Services: []string{"api", "cache"}}
	err := waiter.Wait(ctx, in, 300*time.Millisecond)
	if err == nil || strings.Contains(err.Error(), "Failure") {
		t.Fatalf("waiting while api rolls out and cache is short of a task: %v; want the wait to time out", err)
	}

	// The rollout completes: the ACTIVE deployment turns INACTIVE (the
	// agent keeps it in the list here: DescribeServices leaves it out), and
	// cache's second task runs.
	// (New slices: the answers being written may hold the old ones.)
	b.mu.Lock()
	deps := slices.Clone(b.services[0].Deployments)
	deps[1].Status = agent.DeploymentInactive
	deps[0].Running, deps[0].Rollout = 2, "COMPLETED"
	b.services = slices.Clone(b.services)
	b.services[0].Deployments = deps
	b.services[1].Running, b.services[1].Pending = 2, 0
	b.mu.Unlock()
	if err := waiter.Wait(ctx, in, 2*time.Second); err != nil {
		t.Fatalf("waiting for stable services: %v", err)
	}

	in.Services = []string{"api", "web"}
	err = waiter.Wait(ctx, in, 2*time.Second)
	if err == nil || !strings.Contains(err.Error(), "Failure") {
		t.Errorf("waiting for a missing service: %v; want the waiter's failure", err)
	}
}

func TestECSUpdateService(t *testing.T) {
	b := newShop()
	client, _, _ := serve(t, b)
	out, err := client.UpdateService(ctx, &ecs.UpdateServiceInput{
		Cluster: aws.String("shop"), Service: aws.String("api"),
		DesiredCount: aws.Int32(4), TaskDefinition: aws.String("catalog:2"), ForceNewDeployment: true,
		DeploymentConfiguration: &types.DeploymentConfiguration{
			MinimumHealthyPercent:    aws.Int32(50),
			DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: false},
			Strategy:                 types.DeploymentStrategyRolling,
		},
		PropagateTags: types.PropagateTagsService, EnableECSManagedTags: aws.Bool(true), // descriptive: ignored
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []fakeUpdate{{Service: "api", Update: agent.ServiceUpdate{
		Desired: intPtr(4), TaskDefinition: "catalog:2", ForceNewDeployment: true,
		// maximumPercent was not given: the service's stays.
		Deployment: &agent.DeploymentConfig{MinHealthyPercent: 50, MaxPercent: 200, CircuitBreaker: true, Rollback: false},
	}}}
	if diff := cmp.Diff(want, b.updates); diff != "" {
		t.Errorf("updates (-want +got):\n%s", diff)
	}
	// The answer is the service after the change.
	s := out.Service
	if s.DesiredCount != 4 || *s.TaskDefinition != testARN("task-definition/catalog:2") || *s.DeploymentConfiguration.MinimumHealthyPercent != 50 || s.DeploymentConfiguration.DeploymentCircuitBreaker.Rollback {
		t.Errorf("service after UpdateService = %s", jsonOf(s))
	}

	// A family names its latest ACTIVE revision (the agent picks it); an
	// ARN names the revision; the service by ARN.
	b.updates = nil
	for _, tc := range []struct{ ref, want string }{
		{"catalog", "catalog"},
		{testARN("task-definition/catalog:3"), "catalog:3"},
	} {
		if _, err := client.UpdateService(ctx, &ecs.UpdateServiceInput{Service: aws.String(testARN("service/shop/api")), TaskDefinition: aws.String(tc.ref)}); err != nil {
			t.Fatalf("UpdateService taskDefinition %s: %v", tc.ref, err)
		}
		if got := b.updates[len(b.updates)-1].Update.TaskDefinition; got != tc.want {
			t.Errorf("taskDefinition %s reached the agent as %q, want %q", tc.ref, got, tc.want)
		}
	}

	// Nothing to change: nothing reaches the agent, the service is
	// described as it is; the load balancer it has is no change.
	b.updates = nil
	_, err = client.UpdateService(ctx, &ecs.UpdateServiceInput{Service: aws.String("cache"), LoadBalancers: []types.LoadBalancer{}})
	if err != nil || len(b.updates) != 0 {
		t.Errorf("empty UpdateService: %v, %d updates", err, len(b.updates))
	}
	tgARN := "arn:aws:elasticloadbalancing:" + testRegion + ":" + AccountID + ":targetgroup/api/" + (arns{region: testRegion, cluster: "shop"}).id("tg", "api")
	_, err = client.UpdateService(ctx, &ecs.UpdateServiceInput{Service: aws.String("api"), LoadBalancers: []types.LoadBalancer{
		{TargetGroupArn: aws.String(tgARN), ContainerName: aws.String("catalog"), ContainerPort: aws.Int32(8080)},
	}})
	if err != nil || len(b.updates) != 0 {
		t.Errorf("UpdateService with the service's own load balancer: %v, %d updates", err, len(b.updates))
	}
}

func TestECSUpdateServiceErrors(t *testing.T) {
	b := newShop()
	client, _, _ := serve(t, b)
	_, err := client.UpdateService(ctx, &ecs.UpdateServiceInput{Service: aws.String("web"), DesiredCount: aws.Int32(1)})
	wantAPIError(t, err, "ServiceNotFoundException", "Service not found.", "api, cache")
	_, err = client.UpdateService(ctx, &ecs.UpdateServiceInput{Service: aws.String(testARN("service/prod/api")), DesiredCount: aws.Int32(1)})
	wantAPIError(t, err, "ServiceNotFoundException", "Service not found.")

	for _, tc := range []struct {
		in   ecs.UpdateServiceInput
		code string
		says []string
	}{
		{ecs.UpdateServiceInput{NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}}},
			"InvalidParameterException", []string{"networkConfiguration", "bridge"}},
		{ecs.UpdateServiceInput{CapacityProviderStrategy: []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("FARGATE")}}},
			"InvalidParameterException", []string{"capacityProviderStrategy"}},
		{ecs.UpdateServiceInput{PlacementConstraints: []types.PlacementConstraint{{Type: types.PlacementConstraintTypeDistinctInstance}}},
			"InvalidParameterException", []string{"placementConstraints", "stack file"}},
		{ecs.UpdateServiceInput{HealthCheckGracePeriodSeconds: aws.Int32(60)},
			"InvalidParameterException", []string{"healthCheckGracePeriodSeconds"}},
		{ecs.UpdateServiceInput{EnableExecuteCommand: aws.Bool(true)},
			"InvalidParameterException", []string{"enableExecuteCommand"}},
		{ecs.UpdateServiceInput{DeploymentController: &types.DeploymentController{Type: types.DeploymentControllerTypeCodeDeploy}},
			"InvalidParameterException", []string{"deploymentController"}},
		{ecs.UpdateServiceInput{DeploymentConfiguration: &types.DeploymentConfiguration{Strategy: types.DeploymentStrategyBlueGreen}},
			"InvalidParameterException", []string{"deploymentConfiguration.strategy"}},
		{ecs.UpdateServiceInput{DeploymentConfiguration: &types.DeploymentConfiguration{Alarms: &types.DeploymentAlarms{Enable: true, AlarmNames: []string{"5xx"}}}},
			"InvalidParameterException", []string{"deploymentConfiguration.alarms"}},
		{ecs.UpdateServiceInput{DeploymentConfiguration: &types.DeploymentConfiguration{DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, ResetOnHealthyTask: aws.Bool(false)}}},
			"InvalidParameterException", []string{"deploymentConfiguration.deploymentCircuitBreaker.resetOnHealthyTask"}},
		{ecs.UpdateServiceInput{LoadBalancers: []types.LoadBalancer{{TargetGroupArn: aws.String("arn:aws:elasticloadbalancing:eu-west-3:000000000000:targetgroup/web/0123456789abcdef"), ContainerName: aws.String("catalog"), ContainerPort: aws.Int32(8080)}}},
			"InvalidParameterException", []string{"loadBalancers", "target_group"}},
		{ecs.UpdateServiceInput{TaskDefinition: aws.String("catalog:9")}, "ClientException", []string{"TaskDefinition not found."}},
		{ecs.UpdateServiceInput{TaskDefinition: aws.String("nginx")}, "ClientException", []string{"TaskDefinition not found."}},
		{ecs.UpdateServiceInput{TaskDefinition: aws.String("catalog:1")}, "ClientException", []string{"TaskDefinition is inactive"}},
		{ecs.UpdateServiceInput{DesiredCount: aws.Int32(-1)}, "InvalidParameterException", []string{"desiredCount"}},
	} {
		in := tc.in
		in.Service = aws.String("api")
		_, err := client.UpdateService(ctx, &in)
		wantAPIError(t, err, tc.code, tc.says...)
	}
	if len(b.updates) != 0 {
		t.Errorf("refused updates reached the agent: %+v", b.updates)
	}

	// What the agent refuses comes back as InvalidParameterException, with
	// its words; a server failure as ServerException.
	client2, _, _ := serve(t, &refusingBackend{fakeBackend: newShop(), err: agent.ErrInvalid})
	_, err = client2.UpdateService(ctx, &ecs.UpdateServiceInput{Service: aws.String("cache"), DesiredCount: aws.Int32(3)})
	wantAPIError(t, err, "InvalidParameterException", "refused by the agent")
}

// refusingBackend fails UpdateService with err.
type refusingBackend struct {
	*fakeBackend
	err error
}

func (r *refusingBackend) UpdateService(name string, u agent.ServiceUpdate) error {
	return &wrapped{msg: "refused by the agent", err: r.err}
}

type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

func TestECSServerException(t *testing.T) {
	client, _, _ := serve(t, &refusingBackend{fakeBackend: newShop(), err: context.DeadlineExceeded})
	_, err := client.UpdateService(ctx, &ecs.UpdateServiceInput{Service: aws.String("api"), DesiredCount: aws.Int32(3)}, func(o *ecs.Options) { o.RetryMaxAttempts = 1 })
	wantAPIError(t, err, "ServerException", "refused by the agent")
}

func TestECSListTasks(t *testing.T) {
	client, _, _ := serve(t, newShop())
	var got []string
	p := ecs.NewListTasksPaginator(client, &ecs.ListTasksInput{Cluster: aws.String("shop"), MaxResults: aws.Int32(1)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, out.TaskArns...)
	}
	running := []string{testARN("task/shop/api-3f9a1c2b"), testARN("task/shop/api-b1425a6f"), testARN("task/shop/cache-77aa0011"), testARN("task/shop/cache-821b274a")}
	if diff := cmp.Diff(running, got); diff != "" || pages != 4 {
		t.Errorf("ListTasks in %d pages (-want +got):\n%s", pages, diff)
	}
	for _, tc := range []struct {
		in   ecs.ListTasksInput
		want []string
	}{
		{ecs.ListTasksInput{DesiredStatus: types.DesiredStatusStopped}, []string{testARN("task/shop/api-df086127")}},
		{ecs.ListTasksInput{DesiredStatus: types.DesiredStatusPending}, []string{}},
		{ecs.ListTasksInput{ServiceName: aws.String("cache")}, running[2:]},
		{ecs.ListTasksInput{Family: aws.String("catalog")}, running[:2]},
		{ecs.ListTasksInput{ContainerInstance: aws.String("instance-2")}, []string{testARN("task/shop/api-b1425a6f"), testARN("task/shop/cache-77aa0011")}},
		{ecs.ListTasksInput{ContainerInstance: aws.String(testARN("container-instance/shop/instance-1"))}, []string{testARN("task/shop/api-3f9a1c2b"), testARN("task/shop/cache-821b274a")}},
		{ecs.ListTasksInput{StartedBy: aws.String(depAPINew)}, running[:1]},
		{ecs.ListTasksInput{LaunchType: types.LaunchTypeFargate}, []string{}},
	} {
		out, err := client.ListTasks(ctx, &tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, out.TaskArns); diff != "" {
			t.Errorf("ListTasks %s (-want +got):\n%s", jsonOf(tc.in), diff)
		}
	}
	_, err := client.ListTasks(ctx, &ecs.ListTasksInput{ServiceName: aws.String("web")})
	wantAPIError(t, err, "ServiceNotFoundException", "Service not found.")
	_, err = client.ListTasks(ctx, &ecs.ListTasksInput{DaemonName: aws.String("monitoring")})
	wantAPIError(t, err, "InvalidParameterException", "daemonName")
}

func TestECSDescribeTasks(t *testing.T) {
	client, _, _ := serve(t, newShop())
	out, err := client.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("shop"), Tasks: []string{
		"api-3f9a1c2b", testARN("task/shop/api-df086127"), "cache-77", "api-00000000", testARN("task/prod/api-3f9a1c2b"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Tasks) != 3 {
		t.Fatalf("got %d tasks, want 3", len(out.Tasks))
	}
	var failures []string
	for _, f := range out.Failures {
		failures = append(failures, *f.Arn+" "+*f.Reason)
	}
	if diff := cmp.Diff([]string{testARN("task/shop/api-00000000") + " MISSING", testARN("task/prod/api-3f9a1c2b") + " MISSING"}, failures); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}

	run := out.Tasks[0]
	got := map[string]any{
		"taskArn": *run.TaskArn, "clusterArn": *run.ClusterArn, "taskDefinitionArn": *run.TaskDefinitionArn,
		"containerInstanceArn": *run.ContainerInstanceArn, "group": *run.Group, "startedBy": *run.StartedBy,
		"lastStatus": *run.LastStatus, "desiredStatus": *run.DesiredStatus, "healthStatus": run.HealthStatus,
		"launchType": run.LaunchType, "cpu": *run.Cpu, "memory": *run.Memory,
		"createdAt": *run.CreatedAt, "startedAt": *run.StartedAt, "stoppedAt": run.StoppedAt,
	}
	want := map[string]any{
		"taskArn": testARN("task/shop/api-3f9a1c2b"), "clusterArn": testARN("cluster/shop"), "taskDefinitionArn": testARN("task-definition/catalog:3"),
		"containerInstanceArn": testARN("container-instance/shop/instance-1"), "group": "service:api", "startedBy": depAPINew,
		"lastStatus": "RUNNING", "desiredStatus": "RUNNING",
		// The container health check's, not the target's.
		"healthStatus": types.HealthStatusHealthy,
		"launchType":   types.LaunchTypeEc2, "cpu": "256", "memory": "512",
		"createdAt": at(101), "startedAt": at(103), "stoppedAt": (*time.Time)(nil),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("running task (-want +got):\n%s", diff)
	}
	c := run.Containers[0]
	if *c.Name != "catalog" || *c.LastStatus != "RUNNING" || c.ExitCode != nil || *c.TaskArn != *run.TaskArn ||
		!strings.HasPrefix(*c.ContainerArn, testARN("container/shop/api-3f9a1c2b/")) || c.HealthStatus != types.HealthStatusHealthy {
		t.Errorf("running task's container = %s", jsonOf(c))
	}
	if diff := cmp.Diff(`[{"BindIP":"127.0.0.2","ContainerPort":8080,"ContainerPortRange":null,"HostPort":40001,"HostPortRange":null,"Protocol":"tcp"}]`, jsonOf(c.NetworkBindings)); diff != "" {
		t.Errorf("networkBindings (-want +got):\n%s", diff)
	}

	stopped := out.Tasks[1]
	sc := stopped.Containers[0]
	if *stopped.LastStatus != "STOPPED" || *stopped.DesiredStatus != "STOPPED" || stopped.StopCode != types.TaskStopCodeEssentialContainerExited ||
		*stopped.StoppedReason != "Essential container in task exited" || !stopped.StoppedAt.Equal(at(104)) ||
		*sc.LastStatus != "STOPPED" || sc.ExitCode == nil || *sc.ExitCode != 1 || sc.Reason != nil {
		t.Errorf("stopped task = %s", jsonOf(stopped))
	}

	pending := out.Tasks[2] // by its id's prefix, as `docker` takes one
	if *pending.TaskArn != testARN("task/shop/cache-77aa0011") || *pending.LastStatus != "PENDING" || *pending.Containers[0].LastStatus != "PENDING" ||
		len(pending.Containers[0].NetworkBindings) != 0 || pending.StartedAt != nil || *pending.Memory != "256" || pending.Cpu != nil {
		t.Errorf("pending task = %s", jsonOf(pending))
	}

	_, err = client.DescribeTasks(ctx, &ecs.DescribeTasksInput{Tasks: []string{}})
	wantAPIError(t, err, "InvalidParameterException", "Tasks cannot be empty.")
}

func TestECSStopTask(t *testing.T) {
	b := newShop()
	client, _, _ := serve(t, b)
	out, err := client.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("shop"), Task: aws.String(testARN("task/shop/api-3f9a1c2b")), Reason: aws.String("rotating keys")})
	if err != nil {
		t.Fatal(err)
	}
	if *out.Task.DesiredStatus != "STOPPED" || out.Task.StopCode != types.TaskStopCodeUserInitiated || *out.Task.StoppedReason != "rotating keys" {
		t.Errorf("StopTask answered %s", jsonOf(out.Task))
	}
	if _, err := client.StopTask(ctx, &ecs.StopTaskInput{Task: aws.String("cache-821b274a")}); err != nil {
		t.Fatal(err)
	}
	// Stopped or stopping already: answered as it is, not stopped again.
	for _, id := range []string{"api-df086127", "api-3f9a1c2b"} {
		out, err := client.StopTask(ctx, &ecs.StopTaskInput{Task: aws.String(id)})
		if err != nil || *out.Task.DesiredStatus != "STOPPED" {
			t.Errorf("StopTask %s again: %v", id, err)
		}
	}
	want := []string{"api-3f9a1c2b rotating keys", "cache-821b274a Task stopped by user"}
	if diff := cmp.Diff(want, b.stopped); diff != "" {
		t.Errorf("stops (-want +got):\n%s", diff)
	}
	_, err = client.StopTask(ctx, &ecs.StopTaskInput{Task: aws.String("api-00000000")})
	wantAPIError(t, err, "InvalidParameterException", "The referenced task was not found")
	_, err = client.StopTask(ctx, &ecs.StopTaskInput{Task: aws.String("api-")})
	wantAPIError(t, err, "InvalidParameterException", "ambiguous")
}

func TestECSContainerInstances(t *testing.T) {
	b := newShop()
	client, _, _ := serve(t, b)
	var got []string
	p := ecs.NewListContainerInstancesPaginator(client, &ecs.ListContainerInstancesInput{MaxResults: aws.Int32(1)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out.ContainerInstanceArns...)
	}
	both := []string{testARN("container-instance/shop/instance-1"), testARN("container-instance/shop/instance-2")}
	if diff := cmp.Diff(both, got); diff != "" {
		t.Errorf("ListContainerInstances (-want +got):\n%s", diff)
	}
	out, err := client.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Status: types.ContainerInstanceStatusDraining})
	if err != nil || !slices.Equal(out.ContainerInstanceArns, both[1:]) {
		t.Errorf("DRAINING instances = %v, %v", out, err)
	}
	_, err = client.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Filter: aws.String("attribute:ecs.instance-type == t3.micro")})
	wantAPIError(t, err, "InvalidParameterException", "filter")

	d, err := client.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{ContainerInstances: []string{both[0], "instance-2", "instance-9"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.ContainerInstances) != 2 || len(d.Failures) != 1 || *d.Failures[0].Arn != testARN("container-instance/shop/instance-9") || *d.Failures[0].Reason != "MISSING" {
		t.Fatalf("DescribeContainerInstances = %s", jsonOf(d))
	}
	in := d.ContainerInstances[0]
	if *in.ContainerInstanceArn != both[0] || *in.Status != "ACTIVE" || !in.AgentConnected || in.RunningTasksCount != 2 || in.PendingTasksCount != 0 ||
		!regexp.MustCompile(`^i-[0-9a-f]{17}$`).MatchString(*in.Ec2InstanceId) || *in.Ec2InstanceId == *d.ContainerInstances[1].Ec2InstanceId ||
		*in.VersionInfo.AgentVersion == "" {
		t.Errorf("instance-1 = %s", jsonOf(in))
	}
	resources := func(rs []types.Resource) string {
		var s []string
		for _, r := range rs {
			s = append(s, *r.Name+" "+*r.Type+" "+jsonOf(r.IntegerValue))
		}
		return strings.Join(s, ", ")
	}
	if got := resources(in.RegisteredResources) + " / " + resources(in.RemainingResources); got != "CPU INTEGER 2048, MEMORY INTEGER 4096 / CPU INTEGER 1792, MEMORY INTEGER 3328" {
		t.Errorf("resources = %s", got)
	}
	again, _ := client.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{ContainerInstances: []string{"instance-1"}})
	if *again.ContainerInstances[0].Ec2InstanceId != *in.Ec2InstanceId {
		t.Error("ec2InstanceId changed between calls")
	}

	// A STOPPED instance (shoal's host failure) is ECS's ACTIVE one whose
	// agent is disconnected.
	b.mu.Lock()
	b.instances[1].Status, b.instances[1].AgentConnected = "STOPPED", false
	b.mu.Unlock()
	d, _ = client.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{ContainerInstances: []string{"instance-2"}})
	if in := d.ContainerInstances[0]; *in.Status != "ACTIVE" || in.AgentConnected || !strings.Contains(aws.ToString(in.StatusReason), "STOPPED") {
		t.Errorf("stopped instance = %s", jsonOf(in))
	}
}

func TestECSUpdateContainerInstancesState(t *testing.T) {
	b := newShop()
	client, _, _ := serve(t, b)
	out, err := client.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{
		Cluster: aws.String("shop"), Status: types.ContainerInstanceStatusDraining,
		ContainerInstances: []string{testARN("container-instance/shop/instance-1"), "instance-7"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ContainerInstances) != 1 || *out.ContainerInstances[0].Status != "DRAINING" ||
		len(out.Failures) != 1 || *out.Failures[0].Arn != testARN("container-instance/shop/instance-7") || *out.Failures[0].Reason != "MISSING" {
		t.Errorf("UpdateContainerInstancesState DRAINING = %s", jsonOf(out))
	}
	if _, err := client.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{
		Status: types.ContainerInstanceStatusActive, ContainerInstances: []string{"instance-2"},
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"instance-1 drain", "instance-2 activate"}, b.actions); diff != "" {
		t.Errorf("instance actions (-want +got):\n%s", diff)
	}
	_, err = client.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{
		Status: types.ContainerInstanceStatusDeregistering, ContainerInstances: []string{"instance-2"},
	})
	wantAPIError(t, err, "InvalidParameterException", "ACTIVE or DRAINING")
}

func TestECSUnsupportedOperation(t *testing.T) {
	client, _, _ := serve(t, newShop())
	_, err := client.CreateService(ctx, &ecs.CreateServiceInput{ServiceName: aws.String("web")})
	wantAPIError(t, err, "UnsupportedOperation", "ecs:CreateService")
}

// The JSON 1.1 error shape, seen from a client that is not an SDK: the
// code in X-Amzn-Errortype and in __type, with message.
func TestECSRawJSONErrorShape(t *testing.T) {
	_, _, srv := serve(t, newShop())
	for _, tc := range []struct {
		op, body, code string
		status         int
		says           string
	}{
		{"DescribeServices", `{"services": ["api"`, "SerializationException", 400, "not valid JSON"},
		{"DescribeServices", `["api"]`, "SerializationException", 400, "the request body must be an object, not a JSON array"},
		{"UpdateService", `{"service": "api", "desiredCount": "three"}`, "SerializationException", 400, "member desiredCount must be an integer, not a JSON string"},
		{"UpdateService", `{"service": "api", "loadBalancers": [{"loadBalancerName": "classic"}]}`, "InvalidParameterException", 400, "loadBalancers[0].loadBalancerName"},
		{"UpdateService", `{"service": "web", "desiredCount": 3}`, "ServiceNotFoundException", 400, "Service not found."},
		{"ListServices", `{"cluster": "prod"}`, "ClusterNotFoundException", 400, "Cluster not found."},
		{"RunTask", `{}`, "UnsupportedOperation", 400, "ecs:RunTask"},
	} {
		resp, body := rawECS(t, srv, tc.op, tc.body)
		var got struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%s %s: body %q is not JSON: %v", tc.op, tc.body, body, err)
		}
		if resp.StatusCode != tc.status || resp.Header.Get("X-Amzn-Errortype") != tc.code || got.Type != tc.code || !strings.Contains(got.Message, tc.says) ||
			resp.Header.Get("Content-Type") != "application/x-amz-json-1.1" || resp.Header.Get("X-Amzn-Requestid") == "" {
			t.Errorf("%s %s: %d %v %s; want %d %s saying %q", tc.op, tc.body, resp.StatusCode, resp.Header, body, tc.status, tc.code, tc.says)
		}
	}

	// Unknown members are ignored, as AWS does; timestamps are epoch
	// seconds, as JSON numbers.
	resp, body := rawECS(t, srv, "DescribeTasks", `{"tasks": ["api-3f9a1c2b"], "someFutureMember": {"x": 1}}`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"createdAt":1772359301,`) || !strings.Contains(string(body), `"startedAt":1772359303,`) {
		t.Errorf("DescribeTasks: %d %s", resp.StatusCode, body)
	}
	// An empty body is an empty request.
	resp, body = rawECS(t, srv, "ListClusters", ``)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"clusterArns":["`+testARN("cluster/shop")+`"]`) {
		t.Errorf("ListClusters with no body: %d %s", resp.StatusCode, body)
	}
}

// jsonOf shows v in failure messages.
func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
