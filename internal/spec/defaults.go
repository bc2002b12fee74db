package spec

// The decoder calls setDefaults on every value it creates, before it
// decodes the YAML into it, so that what the file says overrides the
// defaults and what it leaves out keeps them. A struct held by value sets
// the defaults of its parts too: a section left out of the file must still
// get them.

// defaulter is a stack type with defaults.
type defaulter interface{ setDefaults() }

func (s *Stack) setDefaults() { s.Cluster.setDefaults() }

func (lb *LoadBalancer) setDefaults() { lb.IdleTimeout = Duration(DefaultIdleTimeout) }

func (l *Listener) setDefaults() {
	l.Address = DefaultListenerAddress
	l.Protocol = DefaultProtocol
}

func (tg *TargetGroup) setDefaults() {
	tg.Protocol = DefaultProtocol
	tg.Algorithm = DefaultAlgorithm
	tg.HealthCheck.setDefaults()
	tg.DeregistrationDelay = Duration(DefaultDeregistrationDelay)
}

func (hc *HealthCheck) setDefaults() {
	hc.Path = DefaultHealthCheckPath
	hc.Port = TrafficPort
	hc.Interval = Duration(DefaultInterval)
	hc.Timeout = Duration(DefaultTimeout)
	hc.HealthyThreshold = DefaultHealthyThreshold
	hc.UnhealthyThreshold = DefaultUnhealthyThreshold
	hc.Matcher = MustMatcher(DefaultMatcher)
}

func (c *Cluster) setDefaults() { c.Instances = DefaultInstances }

func (td *TaskDefinition) setDefaults() { td.StopTimeout = Duration(DefaultStopTimeout) }

func (sv *Service) setDefaults() {
	sv.Desired = DefaultDesired
	sv.SchedulingStrategy = StrategyReplica
}
