package awsapi

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/compile"
	"github.com/shoalhq/shoal/internal/driver"
	"github.com/shoalhq/shoal/internal/spec"
)

// Task definitions: RegisterTaskDefinition, DescribeTaskDefinition,
// ListTaskDefinitions, DeregisterTaskDefinition, and the mapping between
// ECS's task definition JSON and agent.TaskDefinition, both ways.
//
// shoal runs a task definition as a local process (its Docker driver has
// not landed): one container per task definition, whose entryPoint and
// command are the argv. The container's name is not kept: describing a
// revision names its container after the family, as a revision registered
// from the stack file has no other name.

// ecsContainerDefinition is a container definition as shoal reads and
// writes it.
type ecsContainerDefinition struct {
	Name              string            `json:"name"`
	EntryPoint        []string          `json:"entryPoint,omitempty"`
	Command           []string          `json:"command"`
	WorkingDirectory  string            `json:"workingDirectory,omitempty"`
	Environment       []ecsKeyValuePair `json:"environment"`
	PortMappings      []ecsPortMapping  `json:"portMappings"`
	HealthCheck       *ecsHealthCheck   `json:"healthCheck,omitempty"`
	StopTimeout       *int              `json:"stopTimeout,omitempty"`
	CPU               int               `json:"cpu"`
	Memory            *int              `json:"memory,omitempty"`
	MemoryReservation *int              `json:"memoryReservation,omitempty"`
	Essential         *bool             `json:"essential,omitempty"`
}

type ecsKeyValuePair struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type ecsPortMapping struct {
	ContainerPort *int   `json:"containerPort,omitempty"`
	HostPort      *int   `json:"hostPort,omitempty"`
	Protocol      string `json:"protocol,omitempty"`
}

type ecsHealthCheck struct {
	Command     []string `json:"command"`
	Interval    *int     `json:"interval,omitempty"`
	Timeout     *int     `json:"timeout,omitempty"`
	Retries     *int     `json:"retries,omitempty"`
	StartPeriod *int     `json:"startPeriod,omitempty"`
}

// ecsTaskDefinitionJSON is a revision as DescribeTaskDefinition shows it.
type ecsTaskDefinitionJSON struct {
	TaskDefinitionArn       string                   `json:"taskDefinitionArn"`
	Family                  string                   `json:"family"`
	Revision                int                      `json:"revision"`
	Status                  string                   `json:"status"`
	ContainerDefinitions    []ecsContainerDefinition `json:"containerDefinitions"`
	CPU                     string                   `json:"cpu,omitempty"`
	Memory                  string                   `json:"memory,omitempty"`
	NetworkMode             string                   `json:"networkMode"`
	RequiresCompatibilities []string                 `json:"requiresCompatibilities"`
	Compatibilities         []string                 `json:"compatibilities"`
	Volumes                 []struct{}               `json:"volumes"`
	PlacementConstraints    []struct{}               `json:"placementConstraints"`
	RegisteredAt            *epoch                   `json:"registeredAt,omitempty"`
	DeregisteredAt          *epoch                   `json:"deregisteredAt,omitempty"`
}

// ECS's limits and defaults of a container health check (seconds).
const (
	healthIntervalDefault, healthIntervalMin, healthIntervalMax = 30, 5, 300
	healthTimeoutDefault, healthTimeoutMin, healthTimeoutMax    = 5, 2, 60
	healthRetriesDefault, healthRetriesMin, healthRetriesMax    = 3, 1, 10
	healthStartPeriodMax                                        = 300
)

// Other limits: the stack file's (docs/stack.md).
const (
	stopTimeoutDefault = 30 // seconds, as ECS
	stopTimeoutMax     = 120
	cpuMax             = 16384  // CPU units
	memoryMax          = 122880 // MiB
)

var registerTaskDefinitionMembers = members{
	"family": used, "containerDefinitions": used, "cpu": used, "memory": used,
	"tags":             ignored,
	"executionRoleArn": ignored, // the ECS agent's role, for images and secrets, which shoal refuses anyway
	"networkMode": refusedUnless(isValue("bridge"),
		"shoal's tasks use bridge networking: each gets a dynamic host port, as ECS with host port 0"),
	"requiresCompatibilities": refusedUnless(isValue([]string{"EC2"}),
		"shoal's cluster runs the EC2 launch type on its own instances"),
	"taskRoleArn":                   refused("shoal has no IAM: tasks run with your own environment, AWS credentials included"),
	"volumes":                       refused("shoal's tasks are local processes, without volumes: they use the files of this machine"),
	"placementConstraints":          refused("set the service's placement_constraints in the stack file"),
	"proxyConfiguration":            refused("shoal has no App Mesh proxy"),
	"inferenceAccelerators":         refused("shoal has no inference accelerators"),
	"ipcMode":                       refused("shoal's tasks are local processes, without IPC namespaces"),
	"pidMode":                       refused("shoal's tasks are local processes, without PID namespaces"),
	"ephemeralStorage":              refused("ephemeral storage is Fargate's; shoal's tasks use this machine's disk"),
	"runtimePlatform":               refused("shoal's tasks run on this machine's operating system and architecture"),
	"enableFaultInjection":          refused("shoal has no fault injection; `shoal instances stop` simulates an instance failure"),
	"trustedExecutionConfiguration": refused("shoal has no trusted execution"),
}

var containerDefinitionMembers = members{
	"name": used, "entryPoint": used, "command": used, "workingDirectory": used, "environment": used,
	"portMappings": used, "healthCheck": used, "stopTimeout": used, "cpu": used, "memory": used,
	"memoryReservation": used, "essential": used, "image": used, // refused with ClientException, see register
	"dockerLabels":          ignored,
	"versionConsistency":    ignored, // how an image tag resolves; shoal refuses images
	"credentialSpecs":       refused("shoal's tasks are local processes, without Active Directory credentials"),
	"dependsOn":             refused("shoal runs one container per task; order services with depends_on in the stack file"),
	"disableNetworking":     refused("shoal's tasks are local processes and always share this machine's network"),
	"dnsSearchDomains":      refused("shoal's tasks use this machine's DNS settings"),
	"dnsServers":            refused("shoal's tasks use this machine's DNS settings"),
	"dockerSecurityOptions": refused("shoal's tasks are local processes, not Docker containers"),
	"environmentFiles":      refused("list the variables in environment instead"),
	"extraHosts":            refused("shoal's tasks use this machine's /etc/hosts"),
	"firelensConfiguration": refused("shoal keeps each task's output itself: see `shoal logs`"),
	"hostname":              refused("shoal's tasks share this machine's hostname"),
	"interactive":           refused("shoal's tasks have no standard input"),
	"links":                 refused("links are Docker's; a task reaches a service through ${services.NAME.address} in its environment"),
	"linuxParameters":       refused("shoal's tasks are local processes, not Docker containers"),
	"logConfiguration":      refused("shoal keeps each task's output itself: see `shoal logs`"),
	"mountPoints":           refused("shoal's tasks are local processes, without volumes: they use the files of this machine"),
	"privileged":            refused("shoal's tasks run as your user"),
	"pseudoTerminal":        refused("shoal's tasks have no terminal"),
	"readonlyRootFilesystem": refused(
		"shoal's tasks are local processes and use this machine's file system"),
	"repositoryCredentials": refused("shoal runs no images: give entryPoint/command"),
	"resourceRequirements":  refused("shoal has no GPUs or inference accelerators to reserve"),
	"restartPolicy":         refusedUnless(isDisabled, "shoal's services replace a task whose process exits; a container is not restarted in place"),
	"secrets":               refused("shoal has no Secrets Manager or Parameter Store: give the values in environment"),
	"startTimeout":          refused("shoal runs one container per task, without container dependencies"),
	"systemControls":        refused("shoal's tasks are local processes, without their own kernel parameters"),
	"ulimits":               refused("shoal's tasks run with your user's limits"),
	"user":                  refused("shoal's tasks run as your user"),
	"volumesFrom":           refused("shoal's tasks are local processes, without volumes"),
}

var portMappingMembers = members{
	"containerPort": used, "hostPort": used, "protocol": used,
	"name": ignored, "appProtocol": ignored, // Service Connect's, which shoal does not have
	"containerPortRange": refused("shoal gives each task one dynamic host port: map one containerPort"),
}

var healthCheckMembers = members{"command": used, "interval": used, "timeout": used, "retries": used, "startPeriod": used}

var keyValuePairMembers = members{"name": used, "value": used}

// familyRE is ECS's rule for a family's and a container's name.
var familyRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

func (a *api) ecsRegisterTaskDefinition(body []byte) (any, *Error) {
	var req struct {
		Family               string            `json:"family"`
		ContainerDefinitions []json.RawMessage `json:"containerDefinitions"`
		CPU                  string            `json:"cpu"`
		Memory               string            `json:"memory"`
	}
	if e := decodeRequest(body, &req, registerTaskDefinitionMembers); e != nil {
		return nil, e
	}
	if !familyRE.MatchString(req.Family) {
		return nil, ecsClientError("Family must be 1 to 255 letters, digits, hyphens and underscores, not %q.", req.Family)
	}
	switch len(req.ContainerDefinitions) {
	case 0:
		return nil, ecsClientError("Container list cannot be empty.")
	case 1:
	default:
		return nil, ecsClientError("shoal runs one container per task definition, and this one has %d: register each container as a task definition of its own, a service each.", len(req.ContainerDefinitions))
	}
	st := a.b.Status()
	if st.Stack == "" {
		return nil, clientError(codeClusterNotFound, "Cluster not found. No stack is running: start one with shoal up.")
	}
	def, e := taskDefinitionFromECS(req.ContainerDefinitions[0], req.CPU, req.Memory, st)
	if e != nil {
		return nil, e
	}
	rev, err := a.b.RegisterTaskDefinition(req.Family, def)
	if err != nil {
		return nil, backendError(err, codeClient, codeClient)
	}
	n := arns{region: a.cfg.Region, cluster: st.Stack}
	return struct {
		TaskDefinition ecsTaskDefinitionJSON `json:"taskDefinition"`
		Tags           []struct{}            `json:"tags"`
	}{n.taskDefinitionJSON(rev), []struct{}{}}, nil
}

// taskDefinitionFromECS maps a container definition and the task-level cpu
// and memory to what the agent runs. st gives the folder relative working
// directories start from and the services placeholders may name.
func taskDefinitionFromECS(raw json.RawMessage, taskCPU, taskMemory string, st agent.Status) (agent.TaskDefinition, *Error) {
	const at = "containerDefinitions[0]."
	var cd struct {
		ecsContainerDefinition
		Image        string            `json:"image"`
		PortMappings []json.RawMessage `json:"portMappings"`
		HealthCheck  json.RawMessage   `json:"healthCheck"`
		Environment  []json.RawMessage `json:"environment"`
	}
	if err := json.Unmarshal(raw, &cd); err != nil {
		return agent.TaskDefinition{}, serializationError(at, err)
	}
	if cd.Image != "" {
		return agent.TaskDefinition{}, ecsClientError("shoal does not support %simage yet: it runs task definitions as local processes until its Docker driver lands. Give the container's entryPoint and/or command instead (the argv of the process, run in workingDirectory), and leave image out.", at)
	}
	if e := containerDefinitionMembers.check(at, raw); e != nil {
		return agent.TaskDefinition{}, e
	}
	if !familyRE.MatchString(cd.Name) {
		return agent.TaskDefinition{}, ecsClientError("Container.name must be 1 to 255 letters, digits, hyphens and underscores, not %q.", cd.Name)
	}
	if cd.Essential != nil && !*cd.Essential {
		return agent.TaskDefinition{}, ecsClientError("Container %s must be essential: it is the task's only container.", cd.Name)
	}
	argv := slices.Concat(cd.EntryPoint, cd.Command)
	if len(argv) == 0 || argv[0] == "" {
		return agent.TaskDefinition{}, ecsClientError("Container %s has no command: shoal runs the process entryPoint and command give (for example \"command\": [\"bin/app\", \"--port\", \"8080\"]).", cd.Name)
	}
	def := agent.TaskDefinition{Kind: agent.KindProcess, Task: driver.TaskSpec{Command: argv}}

	dir := cd.WorkingDirectory
	if !filepath.IsAbs(dir) {
		if st.File == "" {
			return agent.TaskDefinition{}, ecsClientError("Container %s: give an absolute workingDirectory: the stack has no file whose folder a relative one starts from.", cd.Name)
		}
		dir = filepath.Join(filepath.Dir(st.File), dir)
	}
	def.Task.Dir, def.BuildDir = filepath.Clean(dir), filepath.Clean(dir)

	env, e := environmentFromECS(at, cd.Environment, st)
	if e != nil {
		return agent.TaskDefinition{}, e
	}
	def.Task.Env, def.EnvRefs = env, compile.EnvRefs(env)

	switch len(cd.PortMappings) {
	case 0:
	case 1:
		port, e := portMappingFromECS(at+"portMappings[0].", cd.PortMappings[0])
		if e != nil {
			return agent.TaskDefinition{}, e
		}
		def.Task.ContainerPort = port
	default:
		return agent.TaskDefinition{}, ecsClientError("Container %s has %d portMappings: shoal gives each task one dynamic host port, so map at most one containerPort.", cd.Name, len(cd.PortMappings))
	}

	if !emptyJSON(cd.HealthCheck) {
		hc, e := healthCheckFromECS(at+"healthCheck.", cd.HealthCheck)
		if e != nil {
			return agent.TaskDefinition{}, e
		}
		def.Task.HealthCheck = hc
	}

	stop := stopTimeoutDefault
	if cd.StopTimeout != nil {
		stop = *cd.StopTimeout
		if stop < 0 || stop > stopTimeoutMax {
			return agent.TaskDefinition{}, ecsClientError("Container %s: stopTimeout must be 0 to %d seconds, not %d.", cd.Name, stopTimeoutMax, stop)
		}
	}
	def.Task.StopTimeout = time.Duration(stop) * time.Second

	cpu, e := reservation("cpu", taskCPU, parseCPU, cd.CPU, nil, cpuMax)
	if e != nil {
		return agent.TaskDefinition{}, e
	}
	memory, e := reservation("memory", taskMemory, parseMemory, 0, cmp.Or(cd.MemoryReservation, cd.Memory), memoryMax)
	if e != nil {
		return agent.TaskDefinition{}, e
	}
	def.CPU, def.Memory = cpu, memory
	return def, nil
}

// reservation is the task's cpu or memory: the task-level value when given
// (a string, parsed by parse), else the container's.
func reservation(name, task string, parse func(string) (int, bool), container int, containerPtr *int, hi int) (int, *Error) {
	n := container
	if containerPtr != nil {
		n = *containerPtr
	}
	if task != "" {
		v, ok := parse(task)
		if !ok {
			return 0, ecsClientError("Invalid %s %q: give %s.", name, task, map[string]string{
				"cpu": `CPU units ("256", "1024") or vCPUs ("0.25 vCPU", "1 vCPU")`, "memory": `MiB ("512") or GB ("1 GB", "0.5GB")`}[name])
		}
		if n > v {
			return 0, ecsClientError("The container's %s (%d) is more than the task's (%d).", name, n, v)
		}
		n = v
	}
	if n < 0 || n > hi {
		return 0, ecsClientError("%s must be 0 to %d, not %d.", name, hi, n)
	}
	return n, nil
}

// parseCPU reads a task-level cpu: CPU units, or vCPUs ("0.25 vCPU").
func parseCPU(s string) (int, bool) { return parseUnits(s, "vcpu", 1024) }

// parseMemory reads a task-level memory: MiB, or GB ("1 GB").
func parseMemory(s string) (int, bool) { return parseUnits(s, "gb", 1024) }

func parseUnits(s, suffix string, per int) (int, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if num, ok := strings.CutSuffix(s, suffix); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		units := f * float64(per)
		if err != nil || f < 0 || units != math.Trunc(units) {
			return 0, false
		}
		return int(units), true
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// reservedEnv are the variables shoal sets for every task (docs/stack.md).
var reservedEnv = []string{"PORT", "HOST", "SHOAL_TASK_ID", "SHOAL_SERVICE", "SHOAL_INSTANCE", "SHOAL_CONTAINER_PORT"}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func environmentFromECS(at string, items []json.RawMessage, st agent.Status) (map[string]string, *Error) {
	if len(items) == 0 {
		return nil, nil
	}
	env := map[string]string{}
	for i, raw := range items {
		path := fmt.Sprintf("%senvironment[%d].", at, i)
		if e := keyValuePairMembers.check(path, raw); e != nil {
			return nil, e
		}
		var kv ecsKeyValuePair
		if err := json.Unmarshal(raw, &kv); err != nil {
			return nil, serializationError(path, err)
		}
		switch _, dup := env[kv.Name]; {
		case !envNameRE.MatchString(kv.Name):
			return nil, ecsClientError("%q is not a valid environment variable name: use letters, digits and _, not starting with a digit.", kv.Name)
		case slices.Contains(reservedEnv, kv.Name):
			return nil, ecsClientError("%s is set by shoal for every task (as are %s): remove it from environment.", kv.Name, strings.Join(reservedEnv, ", "))
		case dup:
			return nil, ecsClientError("Environment variable %s is given twice.", kv.Name)
		}
		for _, ph := range spec.FindPlaceholders(kv.Value) {
			known := slices.ContainsFunc(st.Services, func(s agent.ServiceStatus) bool { return s.Name == ph.Service })
			switch {
			case ph.Err != "":
				return nil, ecsClientError("Environment variable %s: %s: %s.", kv.Name, ph.Text, ph.Err)
			case !known:
				return nil, ecsClientError("Environment variable %s: %s names no service of the stack.", kv.Name, ph.Text)
			}
		}
		env[kv.Name] = kv.Value
	}
	return env, nil
}

func portMappingFromECS(at string, raw json.RawMessage) (int, *Error) {
	if e := portMappingMembers.check(at, raw); e != nil {
		return 0, e
	}
	var pm ecsPortMapping
	if err := json.Unmarshal(raw, &pm); err != nil {
		return 0, serializationError(at, err)
	}
	switch {
	case pm.ContainerPort == nil || *pm.ContainerPort < 1 || *pm.ContainerPort > 65535:
		return 0, ecsClientError("%scontainerPort must be 1 to 65535.", at)
	case pm.HostPort != nil && *pm.HostPort != 0:
		return 0, ecsClientError("%shostPort must be 0 or left out: shoal assigns host ports dynamically, as ECS does in bridge mode with hostPort 0, and gives each task its own in PORT.", at)
	case pm.Protocol != "" && pm.Protocol != "tcp":
		return 0, ecsClientError("%sprotocol must be tcp: shoal's load balancer and tasks speak TCP only.", at)
	}
	return *pm.ContainerPort, nil
}

func healthCheckFromECS(at string, raw json.RawMessage) (*driver.HealthCheck, *Error) {
	if e := healthCheckMembers.check(at, raw); e != nil {
		return nil, e
	}
	var hc ecsHealthCheck
	if err := json.Unmarshal(raw, &hc); err != nil {
		return nil, serializationError(at, err)
	}
	var argv []string
	switch {
	case len(hc.Command) == 2 && hc.Command[0] == "CMD-SHELL" && hc.Command[1] != "":
		argv = []string{"/bin/sh", "-c", hc.Command[1]}
	case len(hc.Command) >= 2 && hc.Command[0] == "CMD" && hc.Command[1] != "":
		argv = slices.Clone(hc.Command[1:])
	default:
		return nil, ecsClientError(`%scommand must be ["CMD-SHELL", "a shell command"] or ["CMD", "program", "arg", ...], as in ECS.`, at)
	}
	seconds := func(name string, v *int, def, lo, hi int) (time.Duration, *Error) {
		n := def
		if v != nil {
			n = *v
		}
		if n < lo || n > hi {
			return 0, ecsClientError("%s%s must be %d to %d, not %d.", at, name, lo, hi, n)
		}
		return time.Duration(n) * time.Second, nil
	}
	out := &driver.HealthCheck{Command: argv}
	var e *Error
	if out.Interval, e = seconds("interval", hc.Interval, healthIntervalDefault, healthIntervalMin, healthIntervalMax); e != nil {
		return nil, e
	}
	if out.Timeout, e = seconds("timeout", hc.Timeout, healthTimeoutDefault, healthTimeoutMin, healthTimeoutMax); e != nil {
		return nil, e
	}
	if out.StartPeriod, e = seconds("startPeriod", hc.StartPeriod, 0, 0, healthStartPeriodMax); e != nil {
		return nil, e
	}
	retries := healthRetriesDefault
	if hc.Retries != nil {
		retries = *hc.Retries
	}
	if retries < healthRetriesMin || retries > healthRetriesMax {
		return nil, ecsClientError("%sretries must be %d to %d, not %d.", at, healthRetriesMin, healthRetriesMax, retries)
	}
	out.Retries = retries
	return out, nil
}

// The reverse mapping.

// taskDefinitionJSON describes a revision as ECS does.
func (n arns) taskDefinitionJSON(r agent.FamilyRevision) ecsTaskDefinitionJSON {
	def := r.Definition
	out := ecsTaskDefinitionJSON{
		TaskDefinitionArn: n.taskDefinitionARN(r.Family, r.Number), Family: r.Family, Revision: r.Number,
		Status:                  revisionStatus(r),
		ContainerDefinitions:    []ecsContainerDefinition{containerDefinition(r.Family, def)},
		NetworkMode:             "bridge",
		RequiresCompatibilities: []string{"EC2"}, Compatibilities: []string{"EC2"},
		Volumes: []struct{}{}, PlacementConstraints: []struct{}{},
		RegisteredAt: timestamp(r.RegisteredAt), DeregisteredAt: timestamp(r.DeregisteredAt),
	}
	if def.CPU > 0 {
		out.CPU = strconv.Itoa(def.CPU)
	}
	if def.Memory > 0 {
		out.Memory = strconv.Itoa(def.Memory)
	}
	return out
}

// revisionStatus is a revision's status; records made before revisions
// had one are ACTIVE.
func revisionStatus(r agent.FamilyRevision) string { return cmp.Or(r.Status, agent.RevisionActive) }

func containerDefinition(family string, def agent.TaskDefinition) ecsContainerDefinition {
	t := def.Task
	essential := true
	stop := ceilSeconds(t.StopTimeout)
	cd := ecsContainerDefinition{
		Name: family, Command: nonNil(slices.Clone(t.Command)), WorkingDirectory: t.Dir,
		Environment: []ecsKeyValuePair{}, PortMappings: []ecsPortMapping{},
		StopTimeout: &stop, CPU: def.CPU, Essential: &essential,
	}
	if def.Memory > 0 {
		m := def.Memory
		cd.MemoryReservation = &m
	}
	env := maps.Clone(t.Env)
	if env == nil {
		env = map[string]string{}
	}
	for name, v := range def.EnvRefs {
		env[name] = envValueText(v)
	}
	for _, name := range slices.Sorted(maps.Keys(env)) {
		cd.Environment = append(cd.Environment, ecsKeyValuePair{Name: name, Value: env[name]})
	}
	if t.ContainerPort > 0 {
		port, host := t.ContainerPort, 0
		cd.PortMappings = append(cd.PortMappings, ecsPortMapping{ContainerPort: &port, HostPort: &host, Protocol: "tcp"})
	}
	if hc := t.HealthCheck; hc != nil {
		cmd := slices.Concat([]string{"CMD"}, hc.Command)
		if len(hc.Command) == 3 && hc.Command[0] == "/bin/sh" && hc.Command[1] == "-c" {
			cmd = []string{"CMD-SHELL", hc.Command[2]}
		}
		interval, timeout, start, retries := ceilSeconds(hc.Interval), ceilSeconds(hc.Timeout), ceilSeconds(hc.StartPeriod), hc.Retries
		cd.HealthCheck = &ecsHealthCheck{Command: cmd, Interval: &interval, Timeout: &timeout, Retries: &retries, StartPeriod: &start}
	}
	return cd
}

// envValueText writes an environment value back with its placeholders.
func envValueText(v agent.EnvValue) string {
	var b strings.Builder
	for _, p := range v {
		if p.Service == "" {
			b.WriteString(p.Text)
			continue
		}
		b.WriteString("${services." + p.Service + "." + p.Field + "}")
	}
	return b.String()
}

// ceilSeconds is d in whole seconds, rounded up: ECS's fields are whole
// seconds, and the stack file takes shorter durations.
func ceilSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

// parseTaskDefinition splits a task definition reference: "family",
// "family:revision", or its ARN. number is 0 when none is given.
func (n arns) parseTaskDefinition(ref string) (family string, number int, ok bool) {
	if rest, isARN := strings.CutPrefix(ref, n.prefix("ecs")+"task-definition/"); isARN {
		ref = rest
	} else if strings.HasPrefix(ref, "arn:") {
		return "", 0, false
	}
	family, num, hasNum := strings.Cut(ref, ":")
	if !familyRE.MatchString(family) {
		return "", 0, false
	}
	if !hasNum {
		return family, 0, true
	}
	number, err := strconv.Atoi(num)
	if err != nil || number < 1 {
		return "", 0, false
	}
	return family, number, true
}

// findRevision is the revision a reference names; a family alone names its
// latest ACTIVE revision.
func (c ecsCluster) findRevision(ref string) (agent.FamilyRevision, bool) {
	family, number, ok := c.parseTaskDefinition(ref)
	if !ok {
		return agent.FamilyRevision{}, false
	}
	var found agent.FamilyRevision
	for _, r := range c.b.TaskDefinitions() {
		switch {
		case r.Family != family:
		case number != 0 && r.Number == number:
			return r, true
		case number == 0 && revisionStatus(r) == agent.RevisionActive && r.Number > found.Number:
			found = r
		}
	}
	return found, found.Number > 0
}

// taskDefinitionCluster is the cluster for the task definition operations,
// which take no cluster member: the stack's.
func (a *api) taskDefinitionCluster() ecsCluster {
	st := a.b.Status()
	return ecsCluster{arns: arns{region: a.cfg.Region, cluster: st.Stack}, st: st, b: a.b}
}

var describeTaskDefinitionMembers = members{"taskDefinition": used, "include": ignored}

func (a *api) ecsDescribeTaskDefinition(body []byte) (any, *Error) {
	var req struct {
		TaskDefinition string `json:"taskDefinition"`
	}
	if e := decodeRequest(body, &req, describeTaskDefinitionMembers); e != nil {
		return nil, e
	}
	c := a.taskDefinitionCluster()
	r, ok := c.findRevision(req.TaskDefinition)
	if !ok {
		return nil, ecsClientError("Unable to describe task definition. %q names no registered revision (give family, family:revision or its ARN; a family alone names its latest ACTIVE revision).", req.TaskDefinition)
	}
	return struct {
		TaskDefinition ecsTaskDefinitionJSON `json:"taskDefinition"`
		Tags           []struct{}            `json:"tags"`
	}{c.taskDefinitionJSON(r), []struct{}{}}, nil
}

var listTaskDefinitionsMembers = members{"familyPrefix": used, "status": used, "sort": used, "maxResults": used, "nextToken": used}

func (a *api) ecsListTaskDefinitions(body []byte) (any, *Error) {
	var req struct {
		FamilyPrefix string `json:"familyPrefix"`
		Status       string `json:"status"`
		Sort         string `json:"sort"`
		MaxResults   *int   `json:"maxResults"`
		NextToken    string `json:"nextToken"`
	}
	if e := decodeRequest(body, &req, listTaskDefinitionsMembers); e != nil {
		return nil, e
	}
	status := cmp.Or(req.Status, agent.RevisionActive)
	if !slices.Contains([]string{"ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS"}, status) {
		return nil, invalidParameter("status must be ACTIVE, INACTIVE or DELETE_IN_PROGRESS, not %q.", req.Status)
	}
	sign := 1
	switch req.Sort {
	case "", "ASC":
	case "DESC":
		sign = -1
	default:
		return nil, invalidParameter("sort must be ASC or DESC, not %q.", req.Sort)
	}
	var names []string
	for _, r := range a.b.TaskDefinitions() {
		// familyPrefix is the full family, as ECS takes it here.
		if revisionStatus(r) == status && (req.FamilyPrefix == "" || r.Family == req.FamilyPrefix) {
			names = append(names, r.Name())
		}
	}
	compare := func(x, y string) int {
		fx, nx := splitRevision(x)
		fy, ny := splitRevision(y)
		return sign * cmp.Or(strings.Compare(fx, fy), cmp.Compare(nx, ny))
	}
	slices.SortFunc(names, compare)
	out, next, e := page(names, func(s string) string { return s }, compare, req.NextToken, req.MaxResults, 100)
	if e != nil {
		return nil, e
	}
	c := a.taskDefinitionCluster()
	resp := struct {
		TaskDefinitionArns []string `json:"taskDefinitionArns"`
		NextToken          string   `json:"nextToken,omitempty"`
	}{TaskDefinitionArns: []string{}, NextToken: next}
	for _, name := range out {
		resp.TaskDefinitionArns = append(resp.TaskDefinitionArns, c.revisionARN(name))
	}
	return resp, nil
}

var deregisterTaskDefinitionMembers = members{"taskDefinition": used}

func (a *api) ecsDeregisterTaskDefinition(body []byte) (any, *Error) {
	var req struct {
		TaskDefinition string `json:"taskDefinition"`
	}
	if e := decodeRequest(body, &req, deregisterTaskDefinitionMembers); e != nil {
		return nil, e
	}
	c := a.taskDefinitionCluster()
	family, number, ok := c.parseTaskDefinition(req.TaskDefinition)
	switch {
	case !ok:
		return nil, ecsClientError("%q is not a task definition: give family:revision or its ARN.", req.TaskDefinition)
	case number == 0:
		return nil, ecsClientError("A revision must be given: deregister %s:REVISION (ListTaskDefinitions --family-prefix %s lists them).", family, family)
	}
	r, err := a.b.DeregisterTaskDefinition(family, number)
	if err != nil {
		return nil, backendError(err, codeClient, codeClient)
	}
	return struct {
		TaskDefinition ecsTaskDefinitionJSON `json:"taskDefinition"`
	}{c.taskDefinitionJSON(r)}, nil
}
