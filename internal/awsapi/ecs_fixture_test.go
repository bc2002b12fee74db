package awsapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	smithy "github.com/aws/smithy-go"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/compile"
	"github.com/shoalhq/shoal/internal/driver"
	"github.com/shoalhq/shoal/internal/sched"
)

// The ECS tests' stack: "shop", with services api (replica, rolling out
// catalog:3 over catalog:2) and cache (daemon), five tasks (one stopped),
// two instances, four revisions of two families, and events.

// t0 is when the fixture's story starts.
var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func at(seconds int) time.Time { return t0.Add(time.Duration(seconds) * time.Second) }

func atPtr(seconds int) *time.Time {
	t := at(seconds)
	return &t
}

func intPtr(n int) *int { return &n }

// Ids of the fixture's deployments.
const (
	depAPINew   = "ecs-svc/4644568700921811756"
	depAPIOld   = "ecs-svc/7338452379167683235"
	depAPIGone  = "ecs-svc/1111111111111111111"
	depCache    = "ecs-svc/2175269856507945233"
	stackFolder = "/srv/shop"
)

// catalogDef is a revision of the catalog task definition as compile makes
// one from a stack file.
func catalogDef(logLevel string) agent.TaskDefinition {
	env := map[string]string{"CACHE_ADDR": "${services.cache.address}", "LOG_LEVEL": logLevel, "GREETING": "hello from ${services.cache.host}:${services.cache.port}!"}
	return agent.TaskDefinition{
		Kind: agent.KindProcess, BuildDir: stackFolder + "/catalog", EnvRefs: compile.EnvRefs(env), CPU: 256, Memory: 512,
		Task: driver.TaskSpec{
			Command: []string{"bin/catalog", "--listen", ":8080"}, Dir: stackFolder + "/catalog", Env: env,
			ContainerPort: 8080, StopTimeout: 10 * time.Second,
			HealthCheck: &driver.HealthCheck{
				Command:  []string{"/bin/sh", "-c", "curl -fs http://$HOST:$PORT/health || exit 1"},
				Interval: 5 * time.Second, Timeout: 2 * time.Second, StartPeriod: 10 * time.Second, Retries: 2,
			},
		},
	}
}

func redisDef() agent.TaskDefinition {
	return agent.TaskDefinition{
		Kind: agent.KindProcess, BuildDir: stackFolder, Memory: 256,
		Task: driver.TaskSpec{
			Command: []string{"redis-server", "--port", "6379"}, Dir: stackFolder, ContainerPort: 6379,
			StopTimeout: 30 * time.Second,
			HealthCheck: &driver.HealthCheck{Command: []string{"redis-cli", "ping"}, Interval: 30 * time.Second, Timeout: 5 * time.Second, Retries: 3},
		},
	}
}

func newShop() *fakeBackend {
	exit1 := 1
	return &fakeBackend{
		status: agent.Status{Stack: "shop", File: stackFolder + "/shoal.yaml", Listeners: []string{"127.0.0.1:8080"}},
		services: []agent.ServiceStatus{
			{
				Name: "api", SchedulingStrategy: "replica", TaskDefinition: "catalog:3",
				Desired: 2, Running: 2, Healthy: 2, TargetGroup: "api",
				DeploymentConfig: agent.DeploymentConfig{MinHealthyPercent: 100, MaxPercent: 200, CircuitBreaker: true, Rollback: true},
				Deployments: []agent.DeploymentStatus{
					{Deployment: agent.Deployment{ID: depAPINew, Status: agent.DeploymentPrimary, TaskDefinition: "catalog:3", TargetGroup: "api",
						Rollout: sched.RolloutInProgress, Reason: "ECS deployment " + depAPINew + " in progress.", FailedTasks: 1,
						CreatedAt: at(100), UpdatedAt: at(130)}, Desired: 2, Running: 1},
					{Deployment: agent.Deployment{ID: depAPIOld, Status: agent.DeploymentActive, TaskDefinition: "catalog:2", TargetGroup: "api",
						Rollout: sched.RolloutCompleted, Reason: "ECS deployment " + depAPIOld + " completed.",
						CreatedAt: at(10), UpdatedAt: at(100)}, Running: 1},
					// An INACTIVE one never reaches DescribeServices.
					{Deployment: agent.Deployment{ID: depAPIGone, Status: agent.DeploymentInactive, TaskDefinition: "catalog:1",
						Rollout: sched.RolloutCompleted, CreatedAt: at(1), UpdatedAt: at(10)}},
				},
			},
			{
				Name: "cache", SchedulingStrategy: "daemon", TaskDefinition: "redis:1",
				Desired: 2, Running: 1, Pending: 1, Healthy: 1,
				DeploymentConfig: agent.DeploymentConfig{MinHealthyPercent: 0, MaxPercent: 100},
				Deployments: []agent.DeploymentStatus{
					{Deployment: agent.Deployment{ID: depCache, Status: agent.DeploymentPrimary, TaskDefinition: "redis:1",
						Rollout: sched.RolloutCompleted, Reason: "ECS deployment " + depCache + " completed.",
						CreatedAt: at(5), UpdatedAt: at(20)}, Desired: 2, Running: 1, Pending: 1},
				},
			},
		},
		tasks: []agent.TaskStatus{
			{ID: "api-3f9a1c2b", Service: "api", TaskDefinition: "catalog:3", Instance: "instance-1", Address: "127.0.0.2:40001", Pid: 4242,
				LastStatus: "RUNNING", DesiredStatus: "RUNNING", Health: "healthy", TargetGroup: "api", ContainerPort: 8080,
				ContainerHealth: "HEALTHY", CreatedAt: at(101), StartedAt: atPtr(103)},
			{ID: "api-b1425a6f", Service: "api", TaskDefinition: "catalog:2", Instance: "instance-2", Address: "127.0.0.3:40002", Pid: 4100,
				LastStatus: "RUNNING", DesiredStatus: "RUNNING", Health: "healthy", TargetGroup: "api", ContainerPort: 8080,
				CreatedAt: at(11), StartedAt: atPtr(12)},
			{ID: "api-df086127", Service: "api", TaskDefinition: "catalog:3", Instance: "instance-2", Address: "127.0.0.3:40003",
				LastStatus: "STOPPED", DesiredStatus: "STOPPED", TargetGroup: "api", ContainerPort: 8080,
				CreatedAt: at(101), StartedAt: atPtr(102), StoppedAt: atPtr(104),
				StopCode: agent.StopEssentialContainerExited, StoppedReason: "Essential container in task exited",
				Exit: "exit code 1", ExitCode: &exit1},
			{ID: "cache-821b274a", Service: "cache", TaskDefinition: "redis:1", Instance: "instance-1", Address: "127.0.0.2:40004", Pid: 3900,
				LastStatus: "RUNNING", DesiredStatus: "RUNNING", ContainerPort: 6379, CreatedAt: at(6), StartedAt: atPtr(7)},
			{ID: "cache-77aa0011", Service: "cache", TaskDefinition: "redis:1", Instance: "instance-2",
				LastStatus: "PENDING", DesiredStatus: "RUNNING", CreatedAt: at(120)},
		},
		instances: []agent.InstanceStatus{
			{Name: "instance-1", Address: "127.0.0.2", Status: "ACTIVE", RunningTasks: 2, RegisteredCPU: 2048, RegisteredMemory: 4096,
				RemainingCPU: 1792, RemainingMemory: 3328, AgentConnected: true},
			{Name: "instance-2", Address: "127.0.0.3", Status: "DRAINING", RunningTasks: 1, PendingTasks: 1, RegisteredCPU: 2048, RegisteredMemory: 4096,
				RemainingCPU: 1792, RemainingMemory: 3328, AgentConnected: true},
		},
		revisions: []agent.FamilyRevision{
			{Family: "catalog", Revision: agent.Revision{Number: 1, Definition: catalogDef("debug"), Status: agent.RevisionInactive, RegisteredAt: at(0), DeregisteredAt: at(50)}},
			{Family: "catalog", Revision: agent.Revision{Number: 2, Definition: catalogDef("warn"), Status: agent.RevisionActive, RegisteredAt: at(9)}},
			{Family: "catalog", Revision: agent.Revision{Number: 3, Definition: catalogDef("info"), RegisteredAt: at(99)}}, // "": a record from before statuses
			{Family: "redis", Revision: agent.Revision{Number: 1, Definition: redisDef(), Status: agent.RevisionActive, RegisteredAt: at(4)}},
		},
		events: []agent.Event{
			{Seq: 1, Time: at(5), Service: "cache", Message: "service cache (deployment " + depCache + ") deployment started: redis:1."},
			{Seq: 2, Time: at(10), Service: "api", Message: "service api (deployment " + depAPIOld + ") deployment started: catalog:2."},
			{Seq: 3, Time: at(20), Service: "api", Message: "service api has reached a steady state."},
			{Seq: 4, Time: at(50), Message: "container instance instance-2: ACTIVE → DRAINING."},
			{Seq: 5, Time: at(100), Service: "api", Message: "service api (deployment " + depAPINew + ") deployment started: catalog:3 replaces catalog:2 (minimum healthy 100%, maximum 200%)."},
			{Seq: 6, Time: at(104), Service: "api", Task: "api-df086127", Message: "task api-df086127 stopped: Essential container in task exited (exit code 1)."},
		},
	}
}

// wantAPIError checks that err is the AWS error code, with a message
// holding each of parts.
func wantAPIError(t *testing.T, err error, code string, parts ...string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v, want an AWS API error %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("error code = %s (%s), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
	for _, p := range parts {
		if !strings.Contains(ae.ErrorMessage(), p) {
			t.Errorf("%s message %q does not say %q", code, ae.ErrorMessage(), p)
		}
	}
}

// rawECS sends a signed JSON 1.1 request for op with body, as a client that
// is not an SDK would.
func rawECS(t *testing.T, srv *httptest.Server, op, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ecsContentType)
	req.Header.Set("X-Amz-Target", ecsTargetPrefix+op)
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: testCredentials.AccessKeyID, SecretAccessKey: testCredentials.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), ecsSigningName, testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// arn of the fixture's resources in the test region.
func testARN(resource string) string {
	return "arn:aws:ecs:" + testRegion + ":" + AccountID + ":" + resource
}
