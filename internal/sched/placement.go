package sched

import "sort"

// instanceLoad counts the active tasks of every service on each instance.
func instanceLoad(instances []string, tasks []Task) map[string]int {
	load := make(map[string]int, len(instances))
	for _, in := range instances {
		load[in] = 0
	}
	for _, t := range activeTasks(tasks) {
		load[t.Instance]++
	}
	return load
}

// place picks instances for n new tasks of a service, spreading them as the
// ECS "spread by instance" strategy does: the instance with the fewest tasks
// of this service first, then the one with the fewest tasks overall, then
// cluster order. It updates load with the tasks it places.
func place(service string, instances []string, load map[string]int, active []Task, n int) []Placement {
	if len(instances) == 0 {
		return nil
	}
	mine := make(map[string]int, len(instances))
	for _, t := range active {
		mine[t.Instance]++
	}
	out := make([]Placement, 0, n)
	for range n {
		best := instances[0]
		for _, in := range instances[1:] {
			if mine[in] < mine[best] || (mine[in] == mine[best] && load[in] < load[best]) {
				best = in
			}
		}
		mine[best]++
		load[best]++
		out = append(out, Placement{Service: service, Instance: best})
	}
	return out
}

// scaleIn picks n tasks to stop so that the ones left stay balanced across
// instances: always from the instance with the most tasks of the service,
// tasks not yet serving before serving ones, newest first.
func scaleIn(svc Service, active []Task, n int) []StopOrder {
	byInstance := make(map[string][]Task)
	for _, t := range active {
		byInstance[t.Instance] = append(byInstance[t.Instance], t)
	}
	for _, ts := range byInstance {
		sort.SliceStable(ts, func(i, j int) bool { return stopFirst(ts[i], ts[j]) })
	}
	out := make([]StopOrder, 0, n)
	for range n {
		in := fullestInstance(byInstance)
		t := byInstance[in][0]
		byInstance[in] = byInstance[in][1:]
		out = append(out, StopOrder{TaskID: t.ID, Reason: "Scaling activity initiated by (service " + svc.Name + ")"})
	}
	return out
}

// stopFirst orders the tasks of one instance for scale-in.
func stopFirst(a, b Task) bool {
	aServing, bServing := a.Status == Running, b.Status == Running
	if aServing != bServing {
		return !aServing
	}
	return a.CreatedAt.After(b.CreatedAt)
}

// fullestInstance is the instance with the most tasks; ties go to the name
// that sorts last, so that the first instances keep their tasks.
func fullestInstance(byInstance map[string][]Task) string {
	best := ""
	for in, ts := range byInstance {
		if best == "" || len(ts) > len(byInstance[best]) || (len(ts) == len(byInstance[best]) && in > best) {
			best = in
		}
	}
	return best
}
