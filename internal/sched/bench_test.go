package sched

import (
	"fmt"
	"testing"
)

// BenchmarkReconcile plans a 1000-task service in the middle of a rollout
// on 10 instances: the work the loop does on every task or health change.
func BenchmarkReconcile(b *testing.B) {
	svc := api(500)
	svc.Deployment, svc.Rollout = "new", RolloutInProgress
	cluster := instances(10)
	var tasks []Task
	for i := range 1000 {
		dep := "old"
		if i%2 == 0 {
			dep = "new"
		}
		tasks = append(tasks, task(fmt.Sprint("t", i), dep, cluster[i%10].Name, HealthHealthy))
	}
	d := Desired{Instances: cluster, Services: []Service{svc}}
	b.ReportAllocs()
	for b.Loop() {
		Reconcile(d, Observed{Tasks: tasks}, at(60))
	}
}
