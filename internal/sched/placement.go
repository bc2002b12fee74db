package sched

import "sort"

// scaleIn picks n tasks to stop: tasks that do not serve before serving
// ones, so that a scale-in never costs a healthy task while another is
// still starting or failing; among those, from the instance with the most
// tasks of the service, so that the ones left stay balanced, newest first.
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
		in := fullestInstance(byInstance, true)
		if in == "" {
			in = fullestInstance(byInstance, false)
		}
		t := byInstance[in][0]
		byInstance[in] = byInstance[in][1:]
		out = append(out, StopOrder{TaskID: t.ID, Reason: "Scaling activity initiated by (service " + svc.Name + ")"})
	}
	return out
}

// stopFirst orders the tasks of one instance for scale-in: not serving
// first, then not yet RUNNING, then newest.
func stopFirst(a, b Task) bool {
	if as, bs := serving(a), serving(b); as != bs {
		return !as
	}
	aRunning, bRunning := a.Status == Running, b.Status == Running
	if aRunning != bRunning {
		return !aRunning
	}
	return a.CreatedAt.After(b.CreatedAt)
}

// fullestInstance is the instance with the most tasks, among those whose
// next task to stop does not serve when notServing is set; ties go to the
// name that sorts last, so that the first instances keep their tasks. ""
// when there is none.
func fullestInstance(byInstance map[string][]Task, notServing bool) string {
	best := ""
	for in, ts := range byInstance {
		if len(ts) == 0 || notServing && serving(ts[0]) {
			continue
		}
		if best == "" || len(ts) > len(byInstance[best]) || (len(ts) == len(byInstance[best]) && in > best) {
			best = in
		}
	}
	return best
}
