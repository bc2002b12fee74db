package sched

import (
	"math/bits"
	"math/rand/v2"
	"strings"
)

// InstanceStatus is a container instance's status, with the ECS names.
type InstanceStatus string

// Container instance statuses. Only ACTIVE instances take new tasks.
const (
	InstanceActive   InstanceStatus = "ACTIVE"
	InstanceDraining InstanceStatus = "DRAINING" // keeps its tasks until they are replaced, takes no new one
	InstanceStopped  InstanceStatus = "STOPPED"  // failed or stopped: runs nothing (shoal's simulated instance failure)
)

// Instance is one container instance with its registered capacity.
type Instance struct {
	Name   string
	Status InstanceStatus
	// CPU is in ECS cpu units (1024 = 1 vCPU), Memory in MiB.
	CPU, Memory int
}

// PlacementStrategy is one ECS placement strategy.
type PlacementStrategy struct {
	// Type is "spread", "binpack" or "random".
	Type string
	// Field is "instanceId" (or "host", the same) for spread, "cpu" or
	// "memory" for binpack, and unused for random. A field placeTasks does
	// not know ranks every instance equal, as spreading on an attribute
	// all instances share does.
	Field string
}

// Reserved is what a task reserves on its instance.
type Reserved struct {
	CPU, Memory int
}

// placeRequest asks for N new tasks of one service.
type placeRequest struct {
	Service string
	N       int
	// Need is what each new task reserves (0: nothing of that resource, so
	// it fits even on a full instance).
	Need Reserved
	// Strategies are applied in order: the first decides, the next break
	// its ties, as ECS does. Empty means spread by instanceId.
	Strategies []PlacementStrategy
	// Distinct is the distinctInstance constraint: no two tasks of Mine on
	// one instance.
	Distinct bool
	// Instances are the whole cluster, in cluster order; only ACTIVE ones
	// take new tasks.
	Instances []Instance
	// Mine are the service's tasks that count for spread and
	// distinctInstance; only active ones (see activeTasks) count.
	Mine []Task
	// Reservations is what every active task of every service already
	// reserves on each instance.
	Reservations map[string]Reserved
	// Load is the number of active tasks of all services on each instance:
	// the last tie break, fewest first, then cluster order.
	Load map[string]int
	// Seed drives the random strategy. The caller derives it from the
	// time, so that placeTasks stays pure and a placement can be replayed.
	Seed uint64
}

// placeTasks places up to r.N tasks of r.Service, one at a time: each goes
// to the best feasible instance under r.Strategies, and counts for the next
// pick (its service's spread, its reservation, the load). It changes
// nothing it is given: a caller placing another service after this one adds
// the placements to its own Load and Reservations.
//
// A feasible instance is ACTIVE, has the free CPU and memory the task
// needs, and, under distinctInstance, runs no task of the service. When no
// instance is feasible, placeTasks stops and unplaced says why, in the
// words of the ECS service event (empty when all r.N are placed).
func placeTasks(r placeRequest) (out []Placement, unplaced string) {
	if r.N <= 0 {
		return nil, ""
	}
	c := newPlaceCluster(r)
	for range r.N {
		i, ok := c.pick()
		if !ok {
			return out, c.unplaced()
		}
		c.add(i)
		out = append(out, Placement{Service: r.Service, Instance: r.Instances[i].Name})
	}
	return out, ""
}

// placeCluster is the state of one placeTasks call, per instance in cluster
// order: what is free, how many tasks of the service and of all services
// run there.
type placeCluster struct {
	r          placeRequest
	strategies []PlacementStrategy
	free       []Reserved
	mine       []int
	load       []int
	// rng and keys serve the random strategy (rng nil without one): keys
	// are drawn anew for every pick.
	rng  *rand.Rand
	keys []int
}

func newPlaceCluster(r placeRequest) *placeCluster {
	c := &placeCluster{r: r, strategies: r.Strategies}
	if len(c.strategies) == 0 {
		c.strategies = []PlacementStrategy{{Type: "spread", Field: "instanceId"}}
	}
	index := make(map[string]int, len(r.Instances))
	for i, in := range r.Instances {
		index[in.Name] = i
		res := r.Reservations[in.Name]
		c.free = append(c.free, Reserved{CPU: in.CPU - res.CPU, Memory: in.Memory - res.Memory})
		c.load = append(c.load, r.Load[in.Name])
	}
	c.mine = make([]int, len(r.Instances))
	for _, t := range activeTasks(r.Mine) {
		if i, ok := index[t.Instance]; ok {
			c.mine[i]++
		}
	}
	for _, st := range c.strategies {
		if st.Type == "random" {
			c.rng = rand.New(rand.NewPCG(r.Seed, 0x73686f616c)) // "shoal"
			c.keys = make([]int, len(r.Instances))
		}
	}
	return c
}

// pick is the best feasible instance, if any.
func (c *placeCluster) pick() (best int, ok bool) {
	if c.rng != nil {
		for i := range c.keys {
			c.keys[i] = c.rng.Int()
		}
	}
	best = -1
	for i := range c.r.Instances {
		if c.unmet(i) == 0 && (best < 0 || c.better(i, best)) {
			best = i
		}
	}
	return best, best >= 0
}

// better reports whether instance i ranks before instance j, which comes
// earlier in cluster order.
func (c *placeCluster) better(i, j int) bool {
	for _, st := range c.strategies {
		if a, b := c.score(st, i), c.score(st, j); a != b {
			return a < b
		}
	}
	return c.load[i] < c.load[j]
}

// score ranks instance i under one strategy: lower is better.
func (c *placeCluster) score(st PlacementStrategy, i int) int {
	switch {
	case st.Type == "spread" && (st.Field == "instanceId" || st.Field == "host"):
		return c.mine[i]
	case st.Type == "binpack" && st.Field == "cpu":
		return c.free[i].CPU
	case st.Type == "binpack" && st.Field == "memory":
		return c.free[i].Memory
	case st.Type == "random":
		return c.keys[i]
	}
	return 0
}

// add counts a new task on instance i.
func (c *placeCluster) add(i int) {
	c.free[i].CPU -= c.r.Need.CPU
	c.free[i].Memory -= c.r.Need.Memory
	c.mine[i]++
	c.load[i]++
}

// placeMiss is a set of requirements of a task that an instance fails,
// in the order ECS checks them: resources, then constraints.
type placeMiss uint8

const (
	missActive placeMiss = 1 << iota
	missCPU
	missMemory
	missDistinct
)

// unmet is the set of requirements instance i fails for one more task.
func (c *placeCluster) unmet(i int) placeMiss {
	var q placeMiss
	if c.r.Instances[i].Status != InstanceActive {
		q |= missActive
	}
	if !fitsFree(c.r.Need.CPU, c.free[i].CPU) {
		q |= missCPU
	}
	if !fitsFree(c.r.Need.Memory, c.free[i].Memory) {
		q |= missMemory
	}
	if c.r.Distinct && c.mine[i] > 0 {
		q |= missDistinct
	}
	return q
}

// fitsFree reports whether a task needing need fits in free: a task that
// reserves nothing fits anywhere, even where more than the capacity is
// reserved already.
func fitsFree(need, free int) bool {
	return need <= 0 || need <= free
}

// unplaced is the ECS service event for a task that fits nowhere: the
// reason for the closest matching ACTIVE instance, the one failing the
// fewest requirements (the first in cluster order on ties), or why there is
// none.
func (c *placeCluster) unplaced() string {
	const unable = " was unable to place a task because no container instance met all of its requirements."
	prefix := "service " + c.r.Service + unable
	if len(c.r.Instances) == 0 {
		return prefix + " Reason: No Container Instances were found in your cluster."
	}
	closest := -1
	for i, in := range c.r.Instances {
		if in.Status == InstanceActive && (closest < 0 || c.unmet(i).count() < c.unmet(closest).count()) {
			closest = i
		}
	}
	if closest < 0 {
		return prefix + " Reason: No ACTIVE container instances were found in your cluster (" + c.inactive() + ")."
	}
	return prefix + " The closest matching container-instance " + c.r.Instances[closest].Name + " " + c.unmet(closest).reason() + "."
}

// inactive lists the instances with their status: "instance-1 is
// DRAINING, instance-2 is STOPPED".
func (c *placeCluster) inactive() string {
	var parts []string
	for _, in := range c.r.Instances {
		parts = append(parts, in.Name+" is "+string(in.Status))
	}
	return strings.Join(parts, ", ")
}

// count is how many requirements q holds.
func (q placeMiss) count() int {
	return bits.OnesCount8(uint8(q))
}

// reason ends the ECS sentence for the first requirement in q.
func (q placeMiss) reason() string {
	switch {
	case q&missCPU != 0:
		return "has insufficient CPU units available"
	case q&missMemory != 0:
		return "has insufficient memory available"
	case q&missDistinct != 0:
		return `encountered error "DistinctInstance placement constraint unsatisfied."`
	}
	return "is not ACTIVE"
}
