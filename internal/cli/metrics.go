package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/shoalhq/shoal/internal/compile"
	"github.com/shoalhq/shoal/internal/metrics"
	"github.com/shoalhq/shoal/internal/proxy"
)

// metricsEndpoint is the Prometheus endpoint `shoal up` serves.
type metricsEndpoint struct {
	*endpoint
	// URL is where GET /metrics answers, with the port chosen for port 0.
	URL string
}

// listenMetrics binds the metrics address and serves GET /metrics from
// src.
func listenMetrics(cfg compile.Metrics, src metrics.Source, log *slog.Logger) (*metricsEndpoint, error) {
	ln, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w (change metrics.address in the stack file; port 0 picks a free one)", err)
	}
	e := serveEndpoint(ln, metrics.Handler(src), log)
	return &metricsEndpoint{endpoint: e, URL: "http://" + e.addr + "/metrics"}, nil
}

// Close stops serving; scrapes in flight get until ctx is done.
func (e *metricsEndpoint) Close(ctx context.Context) {
	if e != nil {
		e.endpoint.Close(ctx)
	}
}

// The backend is the metrics' source: the load balancer of the running
// stack.
var _ metrics.Source = backend{}

// TargetGroups names the load balancer's configured target groups.
func (b backend) TargetGroups() []string { return b.lb.TargetGroups() }

// GroupMetrics are a target group's counters.
func (b backend) GroupMetrics(group string) (proxy.GroupMetrics, bool) {
	return b.lb.GroupMetrics(group)
}

// TargetMetrics are the counters of each of a target group's targets.
func (b backend) TargetMetrics(group string) map[string]proxy.GroupMetrics {
	return b.lb.TargetMetrics(group)
}

// ConnectionCounts are each load balancer's client connections.
func (b backend) ConnectionCounts() map[string]proxy.ConnectionCounts {
	return b.lb.ConnectionCounts()
}
