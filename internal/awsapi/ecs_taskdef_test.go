package awsapi

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/compile"
	"github.com/shoalhq/shoal/internal/driver"
)

var ignoreSDKInternals = cmpopts.IgnoreUnexported(types.ContainerDefinition{}, types.KeyValuePair{}, types.PortMapping{}, types.HealthCheck{})

// ordersContainer is a container definition as a user writes one for
// shoal: every member shoal maps, placeholders and a health check
// included, in the form describing gives back.
func ordersContainer() types.ContainerDefinition {
	return types.ContainerDefinition{
		Name:             aws.String("orders"),
		Command:          []string{"bin/orders", "--listen", ":9090"},
		WorkingDirectory: aws.String("/srv/shop/orders"),
		Environment: []types.KeyValuePair{
			{Name: aws.String("CATALOG_URL"), Value: aws.String("http://${services.api.address}/v1")},
			{Name: aws.String("LOG_LEVEL"), Value: aws.String("info")},
		},
		PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(9090), HostPort: aws.Int32(0), Protocol: types.TransportProtocolTcp}},
		HealthCheck: &types.HealthCheck{
			Command:  []string{"CMD-SHELL", "curl -fs http://$HOST:$PORT/health || exit 1"},
			Interval: aws.Int32(10), Timeout: aws.Int32(3), Retries: aws.Int32(4), StartPeriod: aws.Int32(15),
		},
		StopTimeout:       aws.Int32(20),
		Cpu:               512,
		MemoryReservation: aws.Int32(768),
		Essential:         aws.Bool(true),
	}
}

func TestECSTaskDefinitionRoundTrip(t *testing.T) {
	b := newShop()
	client, _, _ := serve(t, b)
	reg, err := client.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family:               aws.String("orders"),
		ContainerDefinitions: []types.ContainerDefinition{ordersContainer()},
		NetworkMode:          types.NetworkModeBridge, RequiresCompatibilities: []types.Compatibility{types.CompatibilityEc2},
		Tags:             []types.Tag{{Key: aws.String("team"), Value: aws.String("shop")}},
		ExecutionRoleArn: aws.String("arn:aws:iam::000000000000:role/ecsTaskExecutionRole"),
	})
	if err != nil {
		t.Fatal(err)
	}
	td := reg.TaskDefinition
	if *td.TaskDefinitionArn != testARN("task-definition/orders:1") || *td.Family != "orders" || td.Revision != 1 || td.Status != types.TaskDefinitionStatusActive {
		t.Errorf("registered %s", jsonOf(td))
	}

	// What reached the agent.
	env := map[string]string{"CATALOG_URL": "http://${services.api.address}/v1", "LOG_LEVEL": "info"}
	want := agent.TaskDefinition{
		Kind: agent.KindProcess, BuildDir: "/srv/shop/orders", EnvRefs: compile.EnvRefs(env), CPU: 512, Memory: 768,
		Task: driver.TaskSpec{
			Command: []string{"bin/orders", "--listen", ":9090"}, Dir: "/srv/shop/orders", Env: env, ContainerPort: 9090,
			StopTimeout: 20 * time.Second,
			HealthCheck: &driver.HealthCheck{
				Command:  []string{"/bin/sh", "-c", "curl -fs http://$HOST:$PORT/health || exit 1"},
				Interval: 10 * time.Second, Timeout: 3 * time.Second, Retries: 4, StartPeriod: 15 * time.Second,
			},
		},
	}
	last := b.revisions[len(b.revisions)-1]
	if diff := cmp.Diff(want, last.Definition); diff != "" || last.Family != "orders" {
		t.Errorf("agent.TaskDefinition registered as %s (-want +got):\n%s", last.Family, diff)
	}

	// Describing gives the containerDefinitions back.
	for _, ref := range []string{"orders", "orders:1", testARN("task-definition/orders:1")} {
		d, err := client.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(ref)})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]types.ContainerDefinition{ordersContainer()}, d.TaskDefinition.ContainerDefinitions, ignoreSDKInternals); diff != "" {
			t.Errorf("DescribeTaskDefinition %s containerDefinitions (-registered +described):\n%s", ref, diff)
		}
		got := d.TaskDefinition
		if *got.Cpu != "512" || *got.Memory != "768" || got.NetworkMode != types.NetworkModeBridge ||
			!cmp.Equal(got.RequiresCompatibilities, []types.Compatibility{"EC2"}) || !cmp.Equal(got.Compatibilities, []types.Compatibility{"EC2"}) {
			t.Errorf("DescribeTaskDefinition %s = %s", ref, jsonOf(got))
		}
	}
}

// A revision registered from the stack file describes faithfully: its
// shell command and health check, placeholders, a health check of ECS's CMD
// form.
func TestECSDescribeStackRevision(t *testing.T) {
	client, _, _ := serve(t, newShop())
	d, err := client.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("catalog")})
	if err != nil {
		t.Fatal(err)
	}
	want := types.ContainerDefinition{
		Name:             aws.String("catalog"),
		Command:          []string{"bin/catalog", "--listen", ":8080"},
		WorkingDirectory: aws.String("/srv/shop/catalog"),
		Environment: []types.KeyValuePair{
			{Name: aws.String("CACHE_ADDR"), Value: aws.String("${services.cache.address}")},
			{Name: aws.String("GREETING"), Value: aws.String("hello from ${services.cache.host}:${services.cache.port}!")},
			{Name: aws.String("LOG_LEVEL"), Value: aws.String("info")},
		},
		PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080), HostPort: aws.Int32(0), Protocol: types.TransportProtocolTcp}},
		HealthCheck: &types.HealthCheck{
			Command:  []string{"CMD-SHELL", "curl -fs http://$HOST:$PORT/health || exit 1"},
			Interval: aws.Int32(5), Timeout: aws.Int32(2), Retries: aws.Int32(2), StartPeriod: aws.Int32(10),
		},
		StopTimeout:       aws.Int32(10),
		Cpu:               256,
		MemoryReservation: aws.Int32(512),
		Essential:         aws.Bool(true),
	}
	td := d.TaskDefinition
	if diff := cmp.Diff([]types.ContainerDefinition{want}, td.ContainerDefinitions, ignoreSDKInternals); diff != "" {
		t.Errorf("catalog:3 (-want +got):\n%s", diff)
	}
	if td.Revision != 3 || td.Status != types.TaskDefinitionStatusActive || !td.RegisteredAt.Equal(at(99)) || td.DeregisteredAt != nil {
		t.Errorf("catalog:3 = %s", jsonOf(td))
	}
	d, err = client.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("redis:1")})
	if err != nil {
		t.Fatal(err)
	}
	if hc := d.TaskDefinition.ContainerDefinitions[0].HealthCheck; !cmp.Equal(hc.Command, []string{"CMD", "redis-cli", "ping"}) {
		t.Errorf("redis:1 health check command = %v", hc.Command)
	}
	d, err = client.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("catalog:1")})
	if err != nil || d.TaskDefinition.Status != types.TaskDefinitionStatusInactive || !d.TaskDefinition.DeregisteredAt.Equal(at(50)) {
		t.Errorf("catalog:1: %v %s", err, jsonOf(d))
	}
	for _, ref := range []string{"catalog:7", "nginx", "catalog:x", "arn:aws:ecs:us-east-1:" + AccountID + ":task-definition/catalog:3"} {
		_, err = client.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(ref)})
		wantAPIError(t, err, "ClientException", "Unable to describe task definition.")
	}
}

func TestECSRegisterTaskDefinitionMapping(t *testing.T) {
	b := newShop()
	client, _, _ := serve(t, b)
	register := func(in ecs.RegisterTaskDefinitionInput) agent.TaskDefinition {
		t.Helper()
		if _, err := client.RegisterTaskDefinition(ctx, &in); err != nil {
			t.Fatal(err)
		}
		return b.revisions[len(b.revisions)-1].Definition
	}
	// entryPoint and command make the argv; a relative workingDirectory is
	// the stack file's folder's; task-level cpu and memory in either of
	// ECS's forms; defaults: stop timeout 30 s, health check as ECS's.
	def := register(ecs.RegisterTaskDefinitionInput{
		Family: aws.String("worker"), Cpu: aws.String("0.25 vCPU"), Memory: aws.String("1 GB"),
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("worker"), EntryPoint: []string{"python3", "-u"}, Command: []string{"worker.py"},
			WorkingDirectory: aws.String("jobs/worker"), Cpu: 128,
			HealthCheck: &types.HealthCheck{Command: []string{"CMD", "test", "-f", "/tmp/alive"}},
		}},
	})
	want := agent.TaskDefinition{
		Kind: agent.KindProcess, BuildDir: "/srv/shop/jobs/worker", CPU: 256, Memory: 1024,
		Task: driver.TaskSpec{
			Command: []string{"python3", "-u", "worker.py"}, Dir: "/srv/shop/jobs/worker", StopTimeout: 30 * time.Second,
			HealthCheck: &driver.HealthCheck{Command: []string{"test", "-f", "/tmp/alive"}, Interval: 30 * time.Second, Timeout: 5 * time.Second, Retries: 3},
		},
	}
	if diff := cmp.Diff(want, def); diff != "" {
		t.Errorf("worker (-want +got):\n%s", diff)
	}
	// No workingDirectory: the stack file's folder; container memory as
	// the reservation; "1024" and "512" as units.
	def = register(ecs.RegisterTaskDefinitionInput{
		Family: aws.String("worker"), Cpu: aws.String("1024"),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("w"), Command: []string{"./run"}, Memory: aws.Int32(300)}},
	})
	if def.Task.Dir != stackFolder || def.CPU != 1024 || def.Memory != 300 || b.revisions[len(b.revisions)-1].Number != 2 {
		t.Errorf("worker:2 = %+v", def)
	}
}

func TestECSRegisterTaskDefinitionErrors(t *testing.T) {
	b := newShop()
	client, _, _ := serve(t, b)
	base := func() types.ContainerDefinition {
		return types.ContainerDefinition{Name: aws.String("web"), Command: []string{"bin/web"}}
	}
	for _, tc := range []struct {
		name   string
		in     ecs.RegisterTaskDefinitionInput
		change func(*types.ContainerDefinition)
		code   string
		says   []string
	}{
		{"image", ecs.RegisterTaskDefinitionInput{}, func(c *types.ContainerDefinition) { c.Image = aws.String("nginx:1.27") },
			"ClientException", []string{"image", "process", "Docker", "entryPoint", "command"}},
		{"no command", ecs.RegisterTaskDefinitionInput{}, func(c *types.ContainerDefinition) { c.Command = nil },
			"ClientException", []string{"no command"}},
		{"host port", ecs.RegisterTaskDefinitionInput{}, func(c *types.ContainerDefinition) {
			c.PortMappings = []types.PortMapping{{ContainerPort: aws.Int32(80), HostPort: aws.Int32(8080)}}
		}, "ClientException", []string{"hostPort", "dynamically"}},
		{"two ports", ecs.RegisterTaskDefinitionInput{}, func(c *types.ContainerDefinition) {
			c.PortMappings = []types.PortMapping{{ContainerPort: aws.Int32(80)}, {ContainerPort: aws.Int32(443)}}
		}, "ClientException", []string{"at most one"}},
		{"udp", ecs.RegisterTaskDefinitionInput{}, func(c *types.ContainerDefinition) {
			c.PortMappings = []types.PortMapping{{ContainerPort: aws.Int32(53), Protocol: types.TransportProtocolUdp}}
		}, "ClientException", []string{"tcp"}},
		{"health interval", ecs.RegisterTaskDefinitionInput{}, func(c *types.ContainerDefinition) {
			c.HealthCheck = &types.HealthCheck{Command: []string{"CMD-SHELL", "true"}, Interval: aws.Int32(1)}
		}, "ClientException", []string{"healthCheck.interval", "5 to 300"}},
		{"health command", ecs.RegisterTaskDefinitionInput{}, func(c *types.ContainerDefinition) {
			c.HealthCheck = &types.HealthCheck{Command: []string{"curl", "-f", "http://localhost/"}}
		}, "ClientException", []string{"CMD-SHELL"}},
		{"reserved variable", ecs.RegisterTaskDefinitionInput{}, func(c *types.ContainerDefinition) {
			c.Environment = []types.KeyValuePair{{Name: aws.String("PORT"), Value: aws.String("80")}}
		}, "ClientException", []string{"PORT is set by shoal"}},
		{"bad placeholder", ecs.RegisterTaskDefinitionInput{}, func(c *types.ContainerDefinition) {
			c.Environment = []types.KeyValuePair{{Name: aws.String("DB"), Value: aws.String("${services.db.address}")}}
		}, "ClientException", []string{"${services.db.address}", "no service"}},
		{"not essential", ecs.RegisterTaskDefinitionInput{}, func(c *types.ContainerDefinition) { c.Essential = aws.Bool(false) },
			"ClientException", []string{"essential"}},
		{"logs", ecs.RegisterTaskDefinitionInput{}, func(c *types.ContainerDefinition) {
			c.LogConfiguration = &types.LogConfiguration{LogDriver: types.LogDriverAwslogs}
		}, "InvalidParameterException", []string{"containerDefinitions[0].logConfiguration", "shoal logs"}},
		{"secrets", ecs.RegisterTaskDefinitionInput{}, func(c *types.ContainerDefinition) {
			c.Secrets = []types.Secret{{Name: aws.String("DB_PASSWORD"), ValueFrom: aws.String("arn:aws:ssm:eu-west-3:000000000000:parameter/db")}}
		}, "InvalidParameterException", []string{"containerDefinitions[0].secrets"}},
		{"awsvpc", ecs.RegisterTaskDefinitionInput{NetworkMode: types.NetworkModeAwsvpc}, nil,
			"InvalidParameterException", []string{"networkMode", "bridge"}},
		{"fargate", ecs.RegisterTaskDefinitionInput{RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate}}, nil,
			"InvalidParameterException", []string{"requiresCompatibilities"}},
		{"task role", ecs.RegisterTaskDefinitionInput{TaskRoleArn: aws.String("arn:aws:iam::000000000000:role/app")}, nil,
			"InvalidParameterException", []string{"taskRoleArn"}},
		{"task cpu", ecs.RegisterTaskDefinitionInput{Cpu: aws.String("a lot")}, nil, "ClientException", []string{"Invalid cpu"}},
		{"container over task", ecs.RegisterTaskDefinitionInput{Memory: aws.String("512")}, func(c *types.ContainerDefinition) { c.MemoryReservation = aws.Int32(1024) },
			"ClientException", []string{"memory"}},
		{"family", ecs.RegisterTaskDefinitionInput{Family: aws.String("my.app")}, nil, "ClientException", []string{"Family"}},
	} {
		in := tc.in
		if in.Family == nil {
			in.Family = aws.String("web")
		}
		c := base()
		if tc.change != nil {
			tc.change(&c)
		}
		in.ContainerDefinitions = []types.ContainerDefinition{c}
		_, err := client.RegisterTaskDefinition(ctx, &in)
		t.Run(tc.name, func(t *testing.T) { wantAPIError(t, err, tc.code, tc.says...) })
	}
	_, err := client.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String("web"), ContainerDefinitions: []types.ContainerDefinition{base(), base()}})
	wantAPIError(t, err, "ClientException", "one container per task definition")
	if n := len(b.revisions); n != 4 {
		t.Errorf("refused registrations reached the agent: %d revisions", n)
	}
}

func TestECSListTaskDefinitions(t *testing.T) {
	client, _, _ := serve(t, newShop())
	list := func(in ecs.ListTaskDefinitionsInput) []string {
		t.Helper()
		in.MaxResults = aws.Int32(1)
		var got []string
		p := ecs.NewListTaskDefinitionsPaginator(client, &in)
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.TaskDefinitionArns) > 1 {
				t.Fatalf("a page of %d, asked for 1", len(out.TaskDefinitionArns))
			}
			for _, arn := range out.TaskDefinitionArns {
				got = append(got, strings.TrimPrefix(arn, testARN("task-definition/")))
			}
		}
		return got
	}
	for _, tc := range []struct {
		in   ecs.ListTaskDefinitionsInput
		want []string
	}{
		{ecs.ListTaskDefinitionsInput{}, []string{"catalog:2", "catalog:3", "redis:1"}},
		{ecs.ListTaskDefinitionsInput{Sort: types.SortOrderDesc}, []string{"redis:1", "catalog:3", "catalog:2"}},
		{ecs.ListTaskDefinitionsInput{Status: types.TaskDefinitionStatusInactive}, []string{"catalog:1"}},
		{ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String("catalog")}, []string{"catalog:2", "catalog:3"}},
		{ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String("cat")}, nil}, // the full family, as ECS
	} {
		if diff := cmp.Diff(tc.want, list(tc.in)); diff != "" {
			t.Errorf("ListTaskDefinitions %s (-want +got):\n%s", jsonOf(tc.in), diff)
		}
	}
	_, err := client.ListTaskDefinitions(ctx, &ecs.ListTaskDefinitionsInput{Sort: "SIDEWAYS"})
	wantAPIError(t, err, "InvalidParameterException", "sort")
}

func TestECSDeregisterTaskDefinition(t *testing.T) {
	b := newShop()
	client, _, _ := serve(t, b)
	out, err := client.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String(testARN("task-definition/catalog:2"))})
	if err != nil {
		t.Fatal(err)
	}
	if out.TaskDefinition.Status != types.TaskDefinitionStatusInactive || out.TaskDefinition.Revision != 2 || b.revisions[1].Status != agent.RevisionInactive {
		t.Errorf("DeregisterTaskDefinition = %s", jsonOf(out.TaskDefinition))
	}
	_, err = client.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("catalog")})
	wantAPIError(t, err, "ClientException", "revision")
	_, err = client.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("catalog:9")})
	wantAPIError(t, err, "ClientException", "catalog:9")
}
