package kubernetes

import (
	"fmt"
	"math"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shoalhq/shoal/internal/spec"
)

// autoscalers writes a HorizontalPodAutoscaler per service with target
// tracking: CPU utilization carries over; ALB's request count per target
// needs a metrics adapter, which a cluster does not have by default.
func (x *exporter) autoscalers() {
	for _, name := range sortedKeys(x.s.Services) {
		sv := x.s.Services[name]
		if sv.Autoscaling == nil || sv.SchedulingStrategy == spec.StrategyDaemon {
			continue
		}
		x.autoscaler(x.pods[name], sv.Autoscaling)
	}
}

func (x *exporter) autoscaler(wl *workload, a *spec.Autoscaling) {
	p := wl.svcPath + ".autoscaling"
	var metrics []autoscalingv2.MetricSpec
	scaleIn, anyScaleIn := true, false
	var out, in spec.Duration
	for i, tt := range a.TargetTracking {
		tp := fmt.Sprintf("%s.target_tracking[%d]", p, i)
		m, ok := x.metric(tp, wl, tt)
		if !ok {
			continue
		}
		metrics = append(metrics, m)
		if tt.DisableScaleIn {
			anyScaleIn = true
		} else {
			scaleIn = false
		}
		out, in = max(out, tt.ScaleOutCooldown), max(in, tt.ScaleInCooldown)
	}
	if len(metrics) == 0 {
		x.w.Add(p, "not exported: none of its policies has a metric the autoscaler reads by default; the Deployment keeps desired %d", wl.svc.Desired)
		return
	}
	if a.Period.D() != spec.DefaultScalingPeriod {
		x.w.Add(p+".period", "not carried over: the autoscaler reads metrics-server's averages every 15 s")
	}
	x.w.Add(p, "cooldowns become stabilization windows (scale out %s, scale in %s): the autoscaler takes the lowest (highest) recommendation over the window where ECS waits that long after a scaling", out, in)
	behavior := &autoscalingv2.HorizontalPodAutoscalerBehavior{
		ScaleUp:   &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr(int32(out.D().Seconds()))},
		ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr(int32(in.D().Seconds()))},
	}
	if scaleIn {
		behavior.ScaleDown.SelectPolicy = ptr(autoscalingv2.DisabledPolicySelect)
	} else if anyScaleIn {
		x.w.Add(p, "disable_scale_in of some policies only: the autoscaler scales in when the others ask for it")
	}
	minReplicas := int32(a.Min)
	if minReplicas == 0 {
		minReplicas = 1
		x.w.Add(p+".min", "becomes minReplicas 1: scaling to zero needs the HPAScaleToZero feature gate")
	}
	x.add(orderHPA, wl.name, &autoscalingv2.HorizontalPodAutoscaler{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: metav1.ObjectMeta{Name: wl.name, Labels: x.labels(wl.name)},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: wl.name},
			MinReplicas:    &minReplicas,
			MaxReplicas:    int32(a.Max),
			Metrics:        metrics,
			Behavior:       behavior,
		},
	})
}

// metric is a target tracking policy's metric, when the autoscaler reads
// it without an adapter.
func (x *exporter) metric(p string, wl *workload, tt spec.TargetTracking) (autoscalingv2.MetricSpec, bool) {
	if tt.Metric != spec.MetricCPUUtilization {
		x.w.Add(p, "not carried over: %s comes from the load balancer; the autoscaler needs a metrics adapter for it (an external metric from CloudWatch or the ingress controller's Prometheus metrics)", tt.Metric)
		return autoscalingv2.MetricSpec{}, false
	}
	u := max(int32(math.Round(tt.Target)), 1)
	if float64(u) != tt.Target {
		x.w.Add(p+".target", "becomes averageUtilization %d: Kubernetes takes whole percents", u)
	}
	if wl.td.CPU == 0 && !containersReserveCPU(wl) {
		x.w.Add(p+".metric", "Kubernetes measures utilization against the pods' CPU requests, and the task definition reserves no cpu: give it cpu, or the autoscaler cannot compute it")
	}
	return autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
		Name: "cpu", Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &u},
	}}, true
}

// containersReserveCPU reports whether a task of several containers gives
// each a cpu.
func containersReserveCPU(wl *workload) bool {
	if len(wl.td.Containers) == 0 {
		return false
	}
	for _, c := range wl.td.Containers {
		if c.CPU == 0 {
			return false
		}
	}
	return true
}
