package sched

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// placeInstances are n ACTIVE instances "instance-1"... of 2 vCPU and
// 4 GiB each.
func placeInstances(n int) []Instance {
	var out []Instance
	for i := range n {
		out = append(out, Instance{Name: fmt.Sprint("instance-", i+1), Status: InstanceActive, CPU: 2048, Memory: 4096})
	}
	return out
}

// placeTask is an active task of api on instance.
func placeTask(id, instance string) Task {
	return Task{ID: id, Service: "api", Instance: instance, Status: Running}
}

// placeOn is n placements of api, one per instance named.
func placeOn(instances ...string) []Placement {
	var out []Placement
	for _, in := range instances {
		out = append(out, Placement{Service: "api", Instance: in})
	}
	return out
}

func withStatus(instances []Instance, i int, s InstanceStatus) []Instance {
	instances[i].Status = s
	return instances
}

var (
	spreadInstance = PlacementStrategy{Type: "spread", Field: "instanceId"}
	binpackCPU     = PlacementStrategy{Type: "binpack", Field: "cpu"}
	binpackMemory  = PlacementStrategy{Type: "binpack", Field: "memory"}
	randomly       = PlacementStrategy{Type: "random"}
)

const unableToPlace = "service api was unable to place a task because no container instance met all of its requirements."

func TestPlaceTasks(t *testing.T) {
	tests := []struct {
		name         string
		r            placeRequest
		want         []Placement
		wantUnplaced string
	}{
		{
			name: "nothing asked places nothing",
			r:    placeRequest{Service: "api", N: 0, Instances: placeInstances(2)},
		},
		{
			name: "default strategy spreads over instances in cluster order",
			r:    placeRequest{Service: "api", N: 4, Instances: placeInstances(3)},
			want: placeOn("instance-1", "instance-2", "instance-3", "instance-1"),
		},
		{
			name: "spread starts on the instances with fewest tasks of the service",
			r: placeRequest{
				Service: "api", N: 3, Instances: placeInstances(3), Strategies: []PlacementStrategy{spreadInstance},
				Mine: []Task{placeTask("a", "instance-1"), placeTask("b", "instance-1"), placeTask("c", "instance-3")},
			},
			want: placeOn("instance-2", "instance-3", "instance-2"),
		},
		{
			name: "spread by host is spread by instanceId",
			r: placeRequest{
				Service: "api", N: 2, Instances: placeInstances(2), Strategies: []PlacementStrategy{{Type: "spread", Field: "host"}},
				Mine: []Task{placeTask("a", "instance-1")},
			},
			want: placeOn("instance-2", "instance-1"),
		},
		{
			name: "stopped and stopping tasks do not count for spread",
			r: placeRequest{
				Service: "api", N: 1, Instances: placeInstances(2),
				Mine: []Task{
					{ID: "a", Service: "api", Instance: "instance-1", Status: Stopped},
					{ID: "b", Service: "api", Instance: "instance-1", Status: Running, StopRequested: true},
					placeTask("c", "instance-2"),
				},
			},
			want: placeOn("instance-1"),
		},
		{
			name: "spread ties go to the instance with fewest tasks of all services",
			r:    placeRequest{Service: "api", N: 3, Instances: placeInstances(3), Load: map[string]int{"instance-1": 2, "instance-2": 1}},
			want: placeOn("instance-3", "instance-2", "instance-1"),
		},
		{
			name: "binpack on memory fills the instance with least memory left",
			r: placeRequest{
				Service: "api", N: 3, Need: Reserved{Memory: 1024}, Instances: placeInstances(3), Strategies: []PlacementStrategy{binpackMemory},
				Reservations: map[string]Reserved{"instance-2": {Memory: 2048}, "instance-3": {Memory: 1024}},
			},
			want: placeOn("instance-2", "instance-2", "instance-3"),
		},
		{
			name: "binpack on cpu ignores memory",
			r: placeRequest{
				Service: "api", N: 2, Need: Reserved{CPU: 512, Memory: 256}, Instances: placeInstances(2), Strategies: []PlacementStrategy{binpackCPU},
				Reservations: map[string]Reserved{"instance-1": {CPU: 0, Memory: 3500}, "instance-2": {CPU: 1024}},
			},
			want: placeOn("instance-2", "instance-2"),
		},
		{
			name: "binpack ties go to the next strategy",
			r: placeRequest{
				Service: "api", N: 3, Need: Reserved{CPU: 512}, Instances: placeInstances(3),
				Strategies: []PlacementStrategy{binpackCPU, spreadInstance},
				Mine:       []Task{placeTask("a", "instance-1")},
				Load:       map[string]int{"instance-2": 5},
			},
			// All free the same: spread picks instance-2 or -3, load -3;
			// then -3 has least CPU left.
			want: placeOn("instance-3", "instance-3", "instance-3"),
		},
		{
			name: "draining and stopped instances take no task",
			r: placeRequest{
				Service: "api", N: 3,
				Instances: withStatus(withStatus(placeInstances(3), 0, InstanceDraining), 2, InstanceStopped),
			},
			want: placeOn("instance-2", "instance-2", "instance-2"),
		},
		{
			name: "a task that reserves nothing fits on a full instance",
			r: placeRequest{
				Service: "api", N: 1, Instances: placeInstances(1),
				Reservations: map[string]Reserved{"instance-1": {CPU: 4096, Memory: 8192}},
			},
			want: placeOn("instance-1"),
		},
		{
			name: "tasks placed in the call use up the capacity",
			r: placeRequest{
				Service: "api", N: 5, Need: Reserved{CPU: 1024, Memory: 512}, Instances: placeInstances(2),
			},
			want:         placeOn("instance-1", "instance-2", "instance-1", "instance-2"),
			wantUnplaced: unableToPlace + " The closest matching container-instance instance-1 has insufficient CPU units available.",
		},
		{
			name: "distinctInstance places one task per instance",
			r: placeRequest{
				Service: "api", N: 3, Distinct: true, Instances: placeInstances(3),
				Mine: []Task{placeTask("a", "instance-2")},
			},
			want:         placeOn("instance-1", "instance-3"),
			wantUnplaced: unableToPlace + ` The closest matching container-instance instance-1 encountered error "DistinctInstance placement constraint unsatisfied.".`,
		},
		{
			name:         "no instance in the cluster",
			r:            placeRequest{Service: "api", N: 2},
			wantUnplaced: unableToPlace + " Reason: No Container Instances were found in your cluster.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, unplaced := placeTasks(tt.r)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("placements (-want +got):\n%s", diff)
			}
			if unplaced != tt.wantUnplaced {
				t.Errorf("unplaced: got %q, want %q", unplaced, tt.wantUnplaced)
			}
		})
	}
}

// TestPlaceTasks_Unplaced pins the ECS sentence for each cause.
func TestPlaceTasks_Unplaced(t *testing.T) {
	full := map[string]Reserved{"instance-1": {CPU: 2048, Memory: 4096}, "instance-2": {CPU: 2048, Memory: 4096}}
	tests := []struct {
		name string
		r    placeRequest
		want string
	}{
		{
			name: "no instance at all",
			r:    placeRequest{Service: "api", N: 1},
			want: unableToPlace + " Reason: No Container Instances were found in your cluster.",
		},
		{
			name: "no ACTIVE instance",
			r:    placeRequest{Service: "api", N: 1, Instances: withStatus(withStatus(placeInstances(2), 0, InstanceDraining), 1, InstanceStopped)},
			want: unableToPlace + " Reason: No ACTIVE container instances were found in your cluster (instance-1 is DRAINING, instance-2 is STOPPED).",
		},
		{
			name: "not enough memory",
			r:    placeRequest{Service: "api", N: 1, Need: Reserved{Memory: 8192}, Instances: placeInstances(2)},
			want: unableToPlace + " The closest matching container-instance instance-1 has insufficient memory available.",
		},
		{
			name: "not enough CPU",
			r:    placeRequest{Service: "api", N: 1, Need: Reserved{CPU: 4096}, Instances: placeInstances(2)},
			want: unableToPlace + " The closest matching container-instance instance-1 has insufficient CPU units available.",
		},
		{
			name: "CPU is named before memory",
			r:    placeRequest{Service: "api", N: 1, Need: Reserved{CPU: 1, Memory: 1}, Instances: placeInstances(1), Reservations: full},
			want: unableToPlace + " The closest matching container-instance instance-1 has insufficient CPU units available.",
		},
		{
			name: "distinctInstance",
			r: placeRequest{
				Service: "api", N: 1, Distinct: true, Instances: placeInstances(2),
				Mine: []Task{placeTask("a", "instance-1"), placeTask("b", "instance-2")},
			},
			want: unableToPlace + ` The closest matching container-instance instance-1 encountered error "DistinctInstance placement constraint unsatisfied.".`,
		},
		{
			name: "the closest matching instance fails the fewest requirements",
			r: placeRequest{
				Service: "api", N: 1, Distinct: true, Need: Reserved{CPU: 1024, Memory: 1024},
				Instances:    placeInstances(3),
				Mine:         []Task{placeTask("a", "instance-1"), placeTask("b", "instance-3")},
				Reservations: map[string]Reserved{"instance-1": {CPU: 2048, Memory: 4096}, "instance-2": {Memory: 4000}, "instance-3": {CPU: 2048}},
			},
			// instance-1 fails three, instance-3 two, instance-2 one.
			want: unableToPlace + " The closest matching container-instance instance-2 has insufficient memory available.",
		},
		{
			name: "the closest matching instance is an ACTIVE one",
			r: placeRequest{
				Service: "api", N: 1, Need: Reserved{Memory: 4096},
				Instances:    withStatus(placeInstances(2), 0, InstanceDraining),
				Reservations: map[string]Reserved{"instance-2": {Memory: 1}},
			},
			want: unableToPlace + " The closest matching container-instance instance-2 has insufficient memory available.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, unplaced := placeTasks(tt.r)
			if len(got) != 0 {
				t.Errorf("got placements %v, want none", got)
			}
			if unplaced != tt.want {
				t.Errorf("got %q, want %q", unplaced, tt.want)
			}
		})
	}
}

func TestPlaceTasks_RandomIsDeterministicPerSeed(t *testing.T) {
	r := placeRequest{Service: "api", N: 20, Instances: placeInstances(4), Strategies: []PlacementStrategy{randomly}, Seed: 42}
	first, _ := placeTasks(r)
	for range 10 {
		again, _ := placeTasks(r)
		if diff := cmp.Diff(first, again); diff != "" {
			t.Fatalf("same seed, different placements (-first +again):\n%s", diff)
		}
	}
	used := map[string]bool{}
	for _, p := range first {
		used[p.Instance] = true
	}
	if len(used) < 2 {
		t.Errorf("20 random placements all went to %v", used)
	}
}

// TestPlaceTasks_RandomSpreadsOverSeeds places one task with each of 3,000
// seeds on 3 equal instances: each should get about a third.
func TestPlaceTasks_RandomSpreadsOverSeeds(t *testing.T) {
	counts := map[string]int{}
	const seeds = 3000
	for seed := range uint64(seeds) {
		r := placeRequest{Service: "api", N: 1, Instances: placeInstances(3), Strategies: []PlacementStrategy{randomly}, Seed: seed}
		got, _ := placeTasks(r)
		counts[got[0].Instance]++
	}
	for _, in := range placeInstances(3) {
		if n := counts[in.Name]; n < seeds/3-150 || n > seeds/3+150 {
			t.Errorf("%s: got %d of %d placements, want about %d", in.Name, n, seeds, seeds/3)
		}
	}
}

func TestPlaceTasks_RandomBreaksTies(t *testing.T) {
	// binpack decides between instance-1 and the rest; random only among
	// the two that tie.
	for seed := range uint64(50) {
		r := placeRequest{
			Service: "api", N: 1, Need: Reserved{CPU: 256}, Instances: placeInstances(3), Seed: seed,
			Strategies:   []PlacementStrategy{binpackCPU, randomly},
			Reservations: map[string]Reserved{"instance-2": {CPU: 1024}, "instance-3": {CPU: 1024}},
		}
		got, _ := placeTasks(r)
		if got[0].Instance == "instance-1" {
			t.Fatalf("seed %d: placed on instance-1, which has the most CPU left", seed)
		}
	}
}

func TestPlaceTasks_DoesNotChangeItsInput(t *testing.T) {
	r := placeRequest{
		Service: "api", N: 3, Need: Reserved{CPU: 256, Memory: 256}, Instances: placeInstances(2),
		Mine:         []Task{placeTask("a", "instance-1")},
		Reservations: map[string]Reserved{"instance-1": {CPU: 256, Memory: 256}},
		Load:         map[string]int{"instance-1": 1},
	}
	res, load := maps.Clone(r.Reservations), maps.Clone(r.Load)
	placeTasks(r)
	if !maps.Equal(res, r.Reservations) || !maps.Equal(load, r.Load) {
		t.Errorf("placeTasks changed its input: reservations %v, load %v", r.Reservations, r.Load)
	}
}

// TestPlaceTasks_Invariants places tasks in random clusters and checks each
// placement against an independent account of the cluster: it goes to an
// ACTIVE instance with room and, under distinctInstance, no task of the
// service; it is the best instance under the first strategy; placement
// stops only when no instance is feasible, and says why.
func TestPlaceTasks_Invariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 5000 {
		r := randomPlaceRequest(rng)
		got, unplaced := placeTasks(r)
		again, againUnplaced := placeTasks(r)
		if !cmp.Equal(got, again) || unplaced != againUnplaced {
			t.Fatalf("case %d: two calls with the same request differ: %v %q, then %v %q", i, got, unplaced, again, againUnplaced)
		}
		if err := checkPlacements(r, got, unplaced); err != nil {
			t.Fatalf("case %d: %v\nrequest: %+v\nplaced: %v\nunplaced: %q", i, err, r, got, unplaced)
		}
	}
}

// TestPlaceTasks_SpreadBalances: in a cluster with room, spreading a
// balanced service keeps it balanced: the numbers of its tasks on any two
// ACTIVE instances differ by at most one.
func TestPlaceTasks_SpreadBalances(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 1000 {
		instances := placeInstances(1 + rng.IntN(6))
		for j := range instances {
			if rng.IntN(4) == 0 {
				instances[j].Status = InstanceDraining
			}
		}
		var mine []Task
		base := rng.IntN(3)
		for _, in := range instances {
			for k := range base + rng.IntN(2) {
				mine = append(mine, placeTask(fmt.Sprint(in.Name, "-", k), in.Name))
			}
		}
		r := placeRequest{Service: "api", N: rng.IntN(20), Need: Reserved{CPU: 1, Memory: 1}, Instances: instances, Mine: mine, Load: randomLoad(rng, instances)}
		got, _ := placeTasks(r)
		counts := map[string]int{}
		for _, t := range mine {
			counts[t.Instance]++
		}
		for _, p := range got {
			counts[p.Instance]++
		}
		lo, hi := -1, -1
		for _, in := range instances {
			if in.Status != InstanceActive {
				continue
			}
			if n := counts[in.Name]; lo < 0 || n < lo {
				lo = n
			}
			hi = max(hi, counts[in.Name])
		}
		if hi-lo > 1 {
			t.Fatalf("case %d: tasks per ACTIVE instance %v, from %d to %d", i, counts, lo, hi)
		}
	}
}

// placeStrategies are the strategy lists the random requests draw from.
var placeStrategies = [][]PlacementStrategy{
	nil,
	{spreadInstance},
	{binpackCPU},
	{binpackMemory},
	{randomly},
	{binpackMemory, spreadInstance},
	{spreadInstance, binpackCPU},
	{binpackCPU, randomly},
	{{Type: "spread", Field: "attribute:ecs.availability-zone"}, spreadInstance},
}

func randomPlaceRequest(rng *rand.Rand) placeRequest {
	statuses := []InstanceStatus{InstanceActive, InstanceActive, InstanceActive, InstanceDraining, InstanceStopped}
	var instances []Instance
	for i := range rng.IntN(7) {
		instances = append(instances, Instance{
			Name: fmt.Sprint("instance-", i+1), Status: statuses[rng.IntN(len(statuses))],
			CPU: 1024 * (1 + rng.IntN(4)), Memory: 1024 * (1 + rng.IntN(8)),
		})
	}
	r := placeRequest{
		Service:      "api",
		N:            rng.IntN(13),
		Need:         Reserved{CPU: []int{0, 128, 256, 512, 1024}[rng.IntN(5)], Memory: []int{0, 256, 512, 1024, 2048}[rng.IntN(5)]},
		Strategies:   placeStrategies[rng.IntN(len(placeStrategies))],
		Distinct:     rng.IntN(3) == 0,
		Instances:    instances,
		Reservations: map[string]Reserved{},
		Load:         randomLoad(rng, instances),
		Seed:         rng.Uint64(),
	}
	statusesOfTasks := []Status{Pending, Running, Running, Stopping, Stopped}
	for j := range rng.IntN(10) {
		if len(instances) == 0 {
			break
		}
		in := instances[rng.IntN(len(instances))].Name
		r.Mine = append(r.Mine, Task{ID: fmt.Sprint("t", j), Service: "api", Instance: in, Status: statusesOfTasks[rng.IntN(len(statusesOfTasks))]})
	}
	for _, in := range instances {
		if rng.IntN(2) == 0 {
			r.Reservations[in.Name] = Reserved{CPU: rng.IntN(in.CPU + 512), Memory: rng.IntN(in.Memory + 512)}
		}
	}
	return r
}

func randomLoad(rng *rand.Rand, instances []Instance) map[string]int {
	load := map[string]int{}
	for _, in := range instances {
		load[in.Name] = rng.IntN(4)
	}
	return load
}

// placeAccount is an independent account of a cluster during one
// placeTasks call, to check its placements against.
type placeAccount struct {
	r      placeRequest
	placed map[string]int // tasks placed so far, per instance
}

func (a placeAccount) free(in Instance) Reserved {
	res, n := a.r.Reservations[in.Name], a.placed[in.Name]
	return Reserved{CPU: in.CPU - res.CPU - n*a.r.Need.CPU, Memory: in.Memory - res.Memory - n*a.r.Need.Memory}
}

func (a placeAccount) mine(in Instance) int {
	n := a.placed[in.Name]
	for _, t := range a.r.Mine {
		if t.Instance == in.Name && t.Status != Stopped && !t.StopRequested {
			n++
		}
	}
	return n
}

func (a placeAccount) feasible(in Instance) bool {
	free := a.free(in)
	return in.Status == InstanceActive &&
		(a.r.Need.CPU == 0 || free.CPU >= a.r.Need.CPU) &&
		(a.r.Need.Memory == 0 || free.Memory >= a.r.Need.Memory) &&
		(!a.r.Distinct || a.mine(in) == 0)
}

// rank is an instance's rank under the first strategy, lower is better
// (0 for all under random and unknown fields).
func (a placeAccount) rank(in Instance) int {
	first := spreadInstance
	if len(a.r.Strategies) > 0 {
		first = a.r.Strategies[0]
	}
	switch first {
	case spreadInstance:
		return a.mine(in)
	case binpackCPU:
		return a.free(in).CPU
	case binpackMemory:
		return a.free(in).Memory
	}
	return 0
}

func checkPlacements(r placeRequest, got []Placement, unplaced string) error {
	if len(got) > r.N {
		return fmt.Errorf("placed %d tasks, %d asked", len(got), r.N)
	}
	a := placeAccount{r: r, placed: map[string]int{}}
	for k, p := range got {
		if p.Service != r.Service {
			return fmt.Errorf("placement %d is for service %q", k, p.Service)
		}
		in, ok := findInstance(r.Instances, p.Instance)
		if !ok || !a.feasible(in) {
			return fmt.Errorf("placement %d on %s, which is not feasible (%+v, free %+v, mine %d)", k, p.Instance, in, a.free(in), a.mine(in))
		}
		for _, other := range r.Instances {
			if a.feasible(other) && a.rank(other) < a.rank(in) {
				return fmt.Errorf("placement %d on %s (rank %d), %s ranks better (%d)", k, in.Name, a.rank(in), other.Name, a.rank(other))
			}
		}
		a.placed[p.Instance]++
	}
	if len(got) == r.N {
		if unplaced != "" {
			return fmt.Errorf("all placed, yet unplaced %q", unplaced)
		}
		return nil
	}
	for _, in := range r.Instances {
		if a.feasible(in) {
			return fmt.Errorf("stopped after %d of %d with %s still feasible", len(got), r.N, in.Name)
		}
	}
	return checkUnplaced(r, unplaced)
}

func checkUnplaced(r placeRequest, unplaced string) error {
	rest, ok := strings.CutPrefix(unplaced, unableToPlace+" ")
	if !ok {
		return fmt.Errorf("unplaced %q does not start as the ECS event", unplaced)
	}
	active := 0
	for _, in := range r.Instances {
		if in.Status == InstanceActive {
			active++
		}
	}
	switch {
	case len(r.Instances) == 0 && rest == "Reason: No Container Instances were found in your cluster.":
	case len(r.Instances) > 0 && active == 0 && strings.HasPrefix(rest, "Reason: No ACTIVE container instances were found in your cluster ("):
	case active > 0 && strings.HasPrefix(rest, "The closest matching container-instance instance-"):
	default:
		return fmt.Errorf("unplaced %q does not fit a cluster of %d instances, %d ACTIVE", unplaced, len(r.Instances), active)
	}
	return nil
}

func findInstance(instances []Instance, name string) (Instance, bool) {
	for _, in := range instances {
		if in.Name == name {
			return in, true
		}
	}
	return Instance{}, false
}
