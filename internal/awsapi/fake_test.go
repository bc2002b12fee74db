package awsapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/proxy"
)

// fakeBackend is a Backend made of plain values, for protocol tests: each
// operation's effect is recorded so a test can check what reached shoal.
// Tests fill the fields before serving; methods lock mu.
type fakeBackend struct {
	mu        sync.Mutex
	status    agent.Status
	services  []agent.ServiceStatus
	tasks     []agent.TaskStatus // running and stopped
	events    []agent.Event
	instances []agent.InstanceStatus
	revisions []agent.FamilyRevision
	lb        proxy.Config
	targets   []proxy.TargetHealth

	// What the operations did, in order.
	updates   []fakeUpdate
	stopped   []string // task ids, with the reason after a space
	actions   []string // "name action"
	modifyErr error    // returned by ModifyLoadBalancer when set
}

type fakeUpdate struct {
	Service string
	Update  agent.ServiceUpdate
}

func (f *fakeBackend) Status() agent.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.status
	st.Services = slices.Clone(f.services)
	return st
}

func (f *fakeBackend) Services() []agent.ServiceStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.services)
}

func (f *fakeBackend) Tasks(all bool) []agent.TaskStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []agent.TaskStatus
	for _, t := range f.tasks {
		if all || t.LastStatus != "STOPPED" {
			out = append(out, t)
		}
	}
	return out
}

func (f *fakeBackend) Events(since int64) []agent.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []agent.Event
	for _, e := range f.events {
		if e.Seq > since {
			out = append(out, e)
		}
	}
	return out
}

func (f *fakeBackend) Instances() []agent.InstanceStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.instances)
}

func (f *fakeBackend) InstanceAction(name, action string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.instances {
		if f.instances[i].Name != name {
			continue
		}
		switch action {
		case "drain":
			f.instances[i].Status = "DRAINING"
		case "activate":
			f.instances[i].Status = "ACTIVE"
		default:
			return fmt.Errorf("%w: unknown action %q", agent.ErrInvalid, action)
		}
		f.actions = append(f.actions, name+" "+action)
		return nil
	}
	return fmt.Errorf("%w: no instance %q", agent.ErrNotFound, name)
}

func (f *fakeBackend) UpdateService(name string, u agent.ServiceUpdate) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.services {
		if f.services[i].Name != name {
			continue
		}
		if u.Desired != nil {
			f.services[i].Desired = *u.Desired
		}
		if u.TaskDefinition != "" {
			f.services[i].TaskDefinition = u.TaskDefinition
		}
		if u.Deployment != nil {
			f.services[i].DeploymentConfig = *u.Deployment
		}
		f.updates = append(f.updates, fakeUpdate{name, u})
		return nil
	}
	return fmt.Errorf("%w: no service %q", agent.ErrNotFound, name)
}

func (f *fakeBackend) StopTask(id, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.tasks {
		if strings.HasPrefix(f.tasks[i].ID, id) && f.tasks[i].LastStatus != "STOPPED" {
			f.tasks[i].DesiredStatus = "STOPPED"
			f.tasks[i].StopCode, f.tasks[i].StoppedReason = "UserInitiated", reason
			f.stopped = append(f.stopped, f.tasks[i].ID+" "+reason)
			return nil
		}
	}
	return fmt.Errorf("%w: no task %q", agent.ErrNotFound, id)
}

func (f *fakeBackend) TaskDefinitions() []agent.FamilyRevision {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.revisions)
}

func (f *fakeBackend) RegisterTaskDefinition(family string, def agent.TaskDefinition) (agent.FamilyRevision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 1
	for _, r := range f.revisions {
		if r.Family == family {
			n = max(n, r.Number+1)
		}
	}
	r := agent.FamilyRevision{Family: family, Revision: agent.Revision{Number: n, Definition: def, Status: agent.RevisionActive}}
	f.revisions = append(f.revisions, r)
	return r, nil
}

func (f *fakeBackend) DeregisterTaskDefinition(family string, number int) (agent.FamilyRevision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range f.revisions {
		if r.Family == family && r.Number == number {
			f.revisions[i].Status = agent.RevisionInactive
			return f.revisions[i], nil
		}
	}
	return agent.FamilyRevision{}, fmt.Errorf("%w: no task definition %s:%d", agent.ErrNotFound, family, number)
}

func (f *fakeBackend) LoadBalancer() proxy.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return cloneConfig(f.lb)
}

func (f *fakeBackend) Targets() []proxy.TargetHealth {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.targets)
}

func (f *fakeBackend) ModifyLoadBalancer(ctx context.Context, change func(*proxy.Config) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.modifyErr != nil {
		return f.modifyErr
	}
	c := cloneConfig(f.lb)
	if err := change(&c); err != nil {
		return err
	}
	f.lb = c
	return nil
}

// cloneConfig copies c deeply enough for a change to one copy not to show
// in the other (target groups and listeners).
func cloneConfig(c proxy.Config) proxy.Config {
	out := proxy.Config{Listeners: slices.Clone(c.Listeners), TargetGroups: map[string]proxy.TargetGroupConfig{}}
	for name, tg := range c.TargetGroups {
		tg.Targets = slices.Clone(tg.Targets)
		tg.HealthCheck.Success = slices.Clone(tg.HealthCheck.Success)
		out.TargetGroups[name] = tg
	}
	for i := range out.Listeners {
		out.Listeners[i].Routes.Rules = slices.Clone(out.Listeners[i].Routes.Rules)
	}
	return out
}

// testCredentials are the keys the test endpoint accepts.
var testCredentials = Credentials{AccessKeyID: "AKIASHOALTEST0000001", SecretAccessKey: "c2hvYWwtdGVzdC1zZWNyZXQta2V5LTAwMDAwMDAw"}

const testRegion = "eu-west-3"

// serve starts the API for b on 127.0.0.1 port 0 and returns SDK clients
// for it, signed with testCredentials.
func serve(t *testing.T, b Backend) (*ecs.Client, *elbv2.Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(Handler(b, Config{Region: testRegion, Credentials: testCredentials}, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	cfg := aws.Config{
		Region:      testRegion,
		Credentials: credentials.NewStaticCredentialsProvider(testCredentials.AccessKeyID, testCredentials.SecretAccessKey, ""),
		HTTPClient:  srv.Client(),
	}
	ec := ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	lc := elbv2.NewFromConfig(cfg, func(o *elbv2.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return ec, lc, srv
}
