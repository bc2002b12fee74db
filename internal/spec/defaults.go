package spec

// The decoder calls setDefaults on every value it creates, before it
// decodes the YAML into it, so that what the file says overrides the
// defaults and what it leaves out keeps them. A struct held by value sets
// the defaults of its parts too: a section left out of the file must still
// get them.

// defaulter is a stack type with defaults.
type defaulter interface{ setDefaults() }

func (s *Stack) setDefaults() {
	s.Cluster.setDefaults()
	s.AWSAPI.setDefaults()
	s.Dashboard.setDefaults()
}

func (d *Dashboard) setDefaults() {
	d.Enabled = true
	d.Address = DefaultDashboardAddress
}

func (a *AWSAPI) setDefaults() {
	a.Enabled = true
	a.Address = DefaultAWSAPIAddress
	a.Region = DefaultAWSRegion
}

func (lb *LoadBalancer) setDefaults() {
	lb.IdleTimeout = Duration(DefaultIdleTimeout)
	lb.ClientKeepAlive = Duration(DefaultClientKeepAlive)
	lb.HeaderReadTimeout = Duration(DefaultHeaderReadTimeout)
	lb.DesyncMitigationMode = DefaultDesyncMode
	lb.AccessLog.setDefaults()
	lb.XFFHeaderProcessing = DefaultXFFHeaderProcessing
}

func (a *AccessLog) setDefaults() {
	a.Path = DefaultAccessLogPath
	a.Format = DefaultAccessLogFormat
}

func (l *Listener) setDefaults() {
	l.Address = DefaultListenerAddress
	l.Protocol = DefaultProtocol
	l.Headers.setDefaults()
}

func (h *ListenerHeaders) setDefaults() { h.Server = true }

func (o *OIDCAuthentication) setDefaults() {
	o.Scope = DefaultOIDCScope
	o.SessionCookieName = DefaultSessionCookie
	o.SessionTimeout = Duration(DefaultSessionTimeout)
	o.OnUnauthenticatedRequest = DefaultUnauthenticated
}

func (c *ClaimRequirement) setDefaults() { c.Format = DefaultClaimFormat }

func (tg *TargetGroup) setDefaults() {
	tg.Protocol = DefaultProtocol
	tg.ProtocolVersion = DefaultProtocolVersion
	tg.Algorithm = DefaultAlgorithm
	tg.Stickiness.setDefaults()
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

func (c *Cluster) setDefaults() {
	c.Instances = DefaultInstances
	c.InstanceCPU = DefaultInstanceCPU
	c.InstanceMemory = DefaultInstanceMemory
	c.Isolation = DefaultIsolation
	c.Network = DefaultNetwork
}

func (r *IngressRule) setDefaults() { r.Protocol = DefaultIngressProtocol }

func (hc *ContainerHealthCheck) setDefaults() {
	hc.Interval = Duration(DefaultCHInterval)
	hc.Timeout = Duration(DefaultCHTimeout)
	hc.Retries = DefaultCHRetries
}

func (d *Deployment) setDefaults() {
	d.MinimumHealthyPercent = DefaultMinimumHealthy
	d.MaximumPercent = DefaultMaximumPercent
	d.Strategy = StrategyRolling
	d.Canary.setDefaults()
	d.Linear.setDefaults()
}

func (c *CanaryStep) setDefaults() {
	c.Percent = DefaultCanaryPercent
	c.BakeTime = Duration(DefaultCanaryBakeTime)
}

func (l *LinearSteps) setDefaults() {
	l.StepPercent = DefaultStepPercent
	l.StepBakeTime = Duration(DefaultStepBakeTime)
}

func (h *LifecycleHook) setDefaults() { h.Timeout = Duration(DefaultHookTimeout) }

func (a *Alarm) setDefaults() {
	a.Period = Duration(DefaultAlarmPeriod)
	a.Statistic = DefaultAlarmStatistic
}

func (a *Autoscaling) setDefaults() { a.Period = Duration(DefaultScalingPeriod) }

func (tt *TargetTracking) setDefaults() {
	tt.ScaleOutCooldown = Duration(DefaultCooldown)
	tt.ScaleInCooldown = Duration(DefaultCooldown)
}

// daemonDefaults gives a daemon service ECS's daemon deployment defaults
// (0 % / 100 %: a daemon stops its task on an instance before it starts
// the new one) for the percentages the file does not set. It runs once
// the whole file is decoded, when the strategy is known.
func (s *Stack) daemonDefaults() {
	for name, sv := range s.Services {
		if sv == nil || sv.SchedulingStrategy != StrategyDaemon {
			continue
		}
		path := joinPath("services", name) + ".deployment."
		if !s.src.has(path + "minimum_healthy_percent") {
			sv.Deployment.MinimumHealthyPercent = DaemonMinimumHealthy
		}
		if !s.src.has(path + "maximum_percent") {
			sv.Deployment.MaximumPercent = DaemonMaximumPercent
		}
	}
}

func (td *TaskDefinition) setDefaults() { td.StopTimeout = Duration(DefaultStopTimeout) }

func (sv *Service) setDefaults() {
	sv.Desired = DefaultDesired
	sv.SchedulingStrategy = StrategyReplica
	sv.Deployment.setDefaults()
}

func (st *Stickiness) setDefaults() {
	st.Type = DefaultStickinessType
	st.Duration = Duration(DefaultStickinessDuration)
}

func (gs *GroupStickiness) setDefaults() { gs.Duration = Duration(DefaultGroupStickiness) }

func (r *RedirectAction) setDefaults() {
	r.Protocol, r.Host, r.Port, r.Path, r.Query = "#{protocol}", "#{host}", "#{port}", "/#{path}", "#{query}"
}

func (f *FixedResponseAction) setDefaults() { f.ContentType = DefaultContentType }

func (w *WeightedTargetGroup) setDefaults() { w.Weight = DefaultWeight }

func (c *Container) setDefaults() { c.Essential = true }

func (m *PortMapping) setDefaults() { m.Protocol = DefaultPortProtocol }

func (d *ContainerDependency) setDefaults() { d.Condition = DefaultDependsCondition }
