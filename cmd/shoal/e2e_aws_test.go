package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// TestEndToEnd_AWSCLI drives the bundled example with Debian's AWS CLI,
// unmodified, through the endpoint `shoal up` serves: the calls act on the
// real tasks and targets.
func TestEndToEnd_AWSCLI(t *testing.T) {
	ex := newExample(t)
	awsCLI := requireAWSCLI(t)
	up := ex.up(t)
	st := waitSteady(t, up, ex.bin, ex.state)
	if st.AWSEndpoint == "" || st.AWSRegion != "us-east-1" {
		t.Fatalf("status: aws_endpoint %q, aws_region %q; want the endpoint and us-east-1", st.AWSEndpoint, st.AWSRegion)
	}
	env := awsEnvOf(t, ex.bin, ex.state)
	if out, err := exec.Command(ex.bin, "aws-env", "--state-dir", ex.state).Output(); err != nil ||
		!strings.Contains(string(out), "export AWS_ENDPOINT_URL="+st.AWSEndpoint+"\n") || !strings.Contains(string(out), "export AWS_ACCESS_KEY_ID=AKIA") {
		t.Errorf("shoal aws-env: %v\n%s", err, out)
	}
	aws := func(args ...string) (string, error) {
		cmd := exec.Command(awsCLI, append([]string{"--endpoint-url", st.AWSEndpoint, "--output", "json"}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	mustAWS := func(args ...string) string {
		t.Helper()
		out, err := aws(args...)
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	// Scale out the way a script would, and wait as scripts do.
	mustAWS("ecs", "update-service", "--cluster", "catalog", "--service", "api", "--desired-count", "5")
	waitFor(t, up, 120*time.Second, "5 healthy targets in describe-target-health", func() bool {
		tgs := mustAWS("elbv2", "describe-target-groups", "--names", "api")
		var groups struct {
			TargetGroups []struct{ TargetGroupArn string }
		}
		if json.Unmarshal([]byte(tgs), &groups) != nil || len(groups.TargetGroups) != 1 {
			t.Fatalf("describe-target-groups --names api:\n%s", tgs)
		}
		var health struct {
			TargetHealthDescriptions []struct{ TargetHealth struct{ State string } }
		}
		out := mustAWS("elbv2", "describe-target-health", "--target-group-arn", groups.TargetGroups[0].TargetGroupArn)
		if err := json.Unmarshal([]byte(out), &health); err != nil {
			t.Fatalf("describe-target-health: %v\n%s", err, out)
		}
		n := 0
		for _, d := range health.TargetHealthDescriptions {
			if d.TargetHealth.State == "healthy" {
				n++
			}
		}
		return n == 5 && len(health.TargetHealthDescriptions) == 5
	})
	mustAWS("ecs", "wait", "services-stable", "--cluster", "catalog", "--services", "api")
	if n := len(serviceTasks(shoalPS(t, ex.bin, ex.state), "api")); n != 5 {
		t.Errorf("shoal ps lists %d api tasks after update-service --desired-count 5", n)
	}

	// Stop one task: the service replaces it, and describe-tasks shows both.
	var listed struct{ TaskArns []string }
	if err := json.Unmarshal([]byte(mustAWS("ecs", "list-tasks", "--cluster", "catalog", "--service-name", "api")), &listed); err != nil || len(listed.TaskArns) != 5 {
		t.Fatalf("list-tasks: %v, %d tasks; want 5", err, len(listed.TaskArns))
	}
	victim := listed.TaskArns[0]
	mustAWS("ecs", "stop-task", "--cluster", "catalog", "--task", victim, "--reason", "rehearsal")
	waitFor(t, up, 90*time.Second, "a replacement RUNNING and the victim STOPPED", func() bool {
		var tasks struct {
			Tasks []struct {
				TaskArn, LastStatus, StopCode, StoppedReason string
				Containers                                   []struct {
					NetworkBindings []struct{ HostPort int }
				}
			}
		}
		args := []string{"ecs", "describe-tasks", "--cluster", "catalog", "--tasks", victim}
		var now struct{ TaskArns []string }
		if json.Unmarshal([]byte(mustAWS("ecs", "list-tasks", "--cluster", "catalog", "--service-name", "api")), &now) != nil {
			return false
		}
		args = append(args, now.TaskArns...)
		if json.Unmarshal([]byte(mustAWS(args...)), &tasks) != nil {
			return false
		}
		stopped, running := false, 0
		for _, task := range tasks.Tasks {
			switch {
			case task.TaskArn == victim:
				stopped = task.LastStatus == "STOPPED" && task.StopCode == "UserInitiated" && task.StoppedReason == "rehearsal"
			case task.LastStatus == "RUNNING":
				if len(task.Containers) == 1 && len(task.Containers[0].NetworkBindings) == 1 && task.Containers[0].NetworkBindings[0].HostPort > 0 {
					running++
				}
			}
		}
		return stopped && running == 5
	})

	// A request signed with a wrong secret is refused as AWS would.
	bad := exec.Command(awsCLI, "--endpoint-url", st.AWSEndpoint, "ecs", "list-clusters")
	bad.Env = append(env, "AWS_SECRET_ACCESS_KEY=wrong-secret-wrong-secret-wrong-secret00")
	out, err := bad.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "InvalidSignatureException") {
		t.Errorf("list-clusters with a wrong secret: err %v, output:\n%s\nwant InvalidSignatureException", err, out)
	}
	up.stop(t)
}

// requireAWSCLI returns the aws command: $SHOAL_TEST_AWS_CLI (.ci/run
// sets Debian's, /usr/bin/aws), else the one on PATH. In CI it must be
// there.
func requireAWSCLI(t *testing.T) string {
	t.Helper()
	if path := os.Getenv("SHOAL_TEST_AWS_CLI"); path != "" {
		return path
	}
	path, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("SHOAL_TEST_REDIS_URL") != "" {
			t.Fatal("aws is not on PATH, and CI must run this test: install it (apt-get install awscli), as .ci/run does")
		}
		t.Skip("this test drives shoal with the AWS CLI: install it (apt-get install awscli) to run it")
	}
	return path
}

// awsEnvOf is the environment `shoal aws-env` gives, on a clean one: no
// AWS profile or credentials of the machine's leak in.
func awsEnvOf(t *testing.T, bin, state string) []string {
	t.Helper()
	out, err := exec.Command(bin, "aws-env", "--json", "--state-dir", state).Output()
	if err != nil {
		t.Fatalf("shoal aws-env: %v", err)
	}
	var vars map[string]string
	if err := json.Unmarshal(out, &vars); err != nil {
		t.Fatalf("shoal aws-env --json: %v\n%s", err, out)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER="}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// TestEndToEnd_AWSSDK drives a running shoal with the AWS SDK for Go v2:
// a task definition registered and deployed through ECS, the load
// balancer changed through ELBv2 (a static target, health check settings,
// a listener's default action), each seen in the traffic, and kept across
// a restart of shoal on the same state directory.
func TestEndToEnd_AWSSDK(t *testing.T) {
	ex := newExample(t)
	up := ex.up(t)
	st := waitSteady(t, up, ex.bin, ex.state)
	ecsc, elb := sdkClients(t, ex.bin, ex.state, st.AWSEndpoint)
	ctx := context.Background()
	listener := "http://" + st.Listeners[0] + "/"

	// A new revision of catalog with one more variable, as a CI job
	// registers one, then deployed; the waiter returns once it is rolled out.
	td, err := ecsc.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("catalog")})
	if err != nil {
		t.Fatal(err)
	}
	cd := td.TaskDefinition.ContainerDefinitions[0]
	cd.Environment = append(cd.Environment, ecstypes.KeyValuePair{Name: aws.String("RELEASE"), Value: aws.String("2")})
	reg, err := ecsc.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("catalog"), ContainerDefinitions: []ecstypes.ContainerDefinition{cd},
	})
	if err != nil {
		t.Fatal(err)
	}
	if reg.TaskDefinition.Revision != 2 {
		t.Fatalf("registered revision %d, want 2", reg.TaskDefinition.Revision)
	}
	if _, err := ecsc.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("catalog"), Service: aws.String("api"),
		TaskDefinition: reg.TaskDefinition.TaskDefinitionArn}); err != nil {
		t.Fatal(err)
	}
	if err := ecs.NewServicesStableWaiter(ecsc).Wait(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("catalog"), Services: []string{"api"}}, 2*time.Minute); err != nil {
		t.Fatalf("services-stable after deploying catalog:2: %v", err)
	}
	for _, task := range serviceTasks(shoalPS(t, ex.bin, ex.state), "api") {
		if task.TaskDefinition != "catalog:2" {
			t.Errorf("task %s runs %s after the rollout, want catalog:2", task.ID, task.TaskDefinition)
		}
	}

	// A server shoal does not run, registered as a static target, turns
	// healthy under the load balancer's own checks, made faster through
	// the API.
	static := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Served-By", "static")
		fmt.Fprint(w, "[]")
	}))
	defer static.Close()
	host, port := splitHostPort(t, static.Listener.Addr().String())
	tgs, err := elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{Names: []string{"api"}})
	if err != nil {
		t.Fatal(err)
	}
	tg := tgs.TargetGroups[0].TargetGroupArn
	if _, err := elb.ModifyTargetGroup(ctx, &elbv2.ModifyTargetGroupInput{TargetGroupArn: tg,
		HealthCheckIntervalSeconds: aws.Int32(5), HealthyThresholdCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := elb.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: tg,
		Targets: []elbtypes.TargetDescription{{Id: aws.String(host), Port: aws.Int32(port)}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, up, 60*time.Second, "the static target healthy", func() bool {
		return targetState(t, elb, tg, host, port) == elbtypes.TargetHealthStateEnumHealthy
	})
	waitFor(t, up, 30*time.Second, "the static target served through the listener", func() bool {
		return get(t, listener, 8)["static"] > 0
	})

	// The listener answers a maintenance page of its own.
	lis, err := elb.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: aws.String(tgs.TargetGroups[0].LoadBalancerArns[0])})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := elb.ModifyListener(ctx, &elbv2.ModifyListenerInput{ListenerArn: lis.Listeners[0].ListenerArn,
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumFixedResponse, FixedResponseConfig: &elbtypes.FixedResponseActionConfig{
			StatusCode: aws.String("503"), ContentType: aws.String("text/plain"), MessageBody: aws.String("maintenance")}}}}); err != nil {
		t.Fatal(err)
	}
	checkMaintenance(t, listener)

	// shoal restarts on the same state directory: everything holds.
	up.stop(t)
	up = startShoal(t, ex.bin, "up", "--state-dir", ex.state)
	st = waitSteady(t, up, ex.bin, ex.state)
	ecsc, elb = sdkClients(t, ex.bin, ex.state, st.AWSEndpoint)
	checkMaintenance(t, "http://"+st.Listeners[0]+"/")
	waitFor(t, up, 60*time.Second, "the static target healthy again after the restart", func() bool {
		return targetState(t, elb, tg, host, port) == elbtypes.TargetHealthStateEnumHealthy
	})
	svc, err := ecsc.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("catalog"), Services: []string{"api"}})
	if err != nil || len(svc.Services) != 1 || !strings.HasSuffix(*svc.Services[0].TaskDefinition, "task-definition/catalog:2") {
		t.Errorf("after the restart: %v; service on %v, want catalog:2", err, jsonText(svc))
	}
	got, err := elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{*tg}})
	if err != nil || *got.TargetGroups[0].HealthCheckIntervalSeconds != 5 {
		t.Errorf("after the restart: %v; health check interval %v, want 5", err, jsonText(got))
	}
	up.stop(t)
}

// sdkClients are SDK clients for the running shoal, with the credentials
// `shoal aws-env` gives.
func sdkClients(t *testing.T, bin, state, endpoint string) (*ecs.Client, *elbv2.Client) {
	t.Helper()
	vars := map[string]string{}
	for _, kv := range awsEnvOf(t, bin, state) {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	cfg := aws.Config{
		Region:      vars["AWS_DEFAULT_REGION"],
		Credentials: credentials.NewStaticCredentialsProvider(vars["AWS_ACCESS_KEY_ID"], vars["AWS_SECRET_ACCESS_KEY"], ""),
	}
	return ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.BaseEndpoint = aws.String(endpoint) }),
		elbv2.NewFromConfig(cfg, func(o *elbv2.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

func targetState(t *testing.T, elb *elbv2.Client, tg *string, host string, port int32) elbtypes.TargetHealthStateEnum {
	t.Helper()
	out, err := elb.DescribeTargetHealth(context.Background(), &elbv2.DescribeTargetHealthInput{TargetGroupArn: tg})
	if err != nil {
		t.Fatalf("describe-target-health: %v", err)
	}
	for _, d := range out.TargetHealthDescriptions {
		if *d.Target.Id == host && *d.Target.Port == port {
			return d.TargetHealth.State
		}
	}
	return ""
}

// checkMaintenance checks that the listener answers its own 503.
func checkMaintenance(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || string(body) != "maintenance" {
		t.Errorf("GET %s: %d %q, want the listener's 503 maintenance", url, resp.StatusCode, body)
	}
}

func splitHostPort(t *testing.T, addr string) (string, int32) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return host, int32(n)
}
