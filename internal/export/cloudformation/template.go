package cloudformation

// The template's own types: only the resources and properties the export
// writes, named as CloudFormation names them. Values that may be an
// intrinsic function (Ref, Fn::GetAtt, Fn::Sub) are of type any.

// Template is a CloudFormation template.
type Template struct {
	AWSTemplateFormatVersion string                `yaml:"AWSTemplateFormatVersion"`
	Description              string                `yaml:"Description"`
	Metadata                 map[string]any        `yaml:"Metadata,omitempty"`
	Parameters               map[string]*Parameter `yaml:"Parameters,omitempty"`
	Resources                map[string]*Resource  `yaml:"Resources"`
	Outputs                  map[string]*Output    `yaml:"Outputs,omitempty"`
}

// Parameter is a template parameter: what the stack file cannot know.
type Parameter struct {
	Type          string   `yaml:"Type"`
	Description   string   `yaml:"Description,omitempty"`
	Default       any      `yaml:"Default,omitempty"`
	AllowedValues []string `yaml:"AllowedValues,omitempty"`
	MinValue      *int     `yaml:"MinValue,omitempty"`
	MinLength     *int     `yaml:"MinLength,omitempty"`
	NoEcho        bool     `yaml:"NoEcho,omitempty"`
}

// Resource is one resource of the template.
type Resource struct {
	Type       string   `yaml:"Type"`
	DependsOn  []string `yaml:"DependsOn,omitempty"`
	Properties any      `yaml:"Properties"`
}

// Output is a template output.
type Output struct {
	Description string `yaml:"Description"`
	Value       any    `yaml:"Value"`
}

// Intrinsic functions.

func ref(id string) any             { return map[string]any{"Ref": id} }
func getAtt(id, attr string) any    { return map[string]any{"Fn::GetAtt": []string{id, attr}} }
func sub(s string) any              { return map[string]any{"Fn::Sub": s} }
func base64(v any) any              { return map[string]any{"Fn::Base64": v} }
func groupID(id string) any         { return getAtt(id, "GroupId") }
func intp(n int) *int               { return &n }
func tags(stack, name string) []Tag { return []Tag{{Key: "Name", Value: stack + "-" + name}} }

// Tag is a resource tag.
type Tag struct {
	Key   string `yaml:"Key"`
	Value any    `yaml:"Value"`
}

// KeyValue is an attribute of a load balancer, target group or listener.
type KeyValue struct {
	Key   string `yaml:"Key"`
	Value string `yaml:"Value"`
}

// EC2

// SecurityGroup is AWS::EC2::SecurityGroup.
type SecurityGroup struct {
	GroupDescription     string        `yaml:"GroupDescription"`
	VpcID                any           `yaml:"VpcId"`
	SecurityGroupIngress []IngressRule `yaml:"SecurityGroupIngress,omitempty"`
	Tags                 []Tag         `yaml:"Tags,omitempty"`
}

// IngressRule is an inline rule of a security group, or with GroupID the
// properties of AWS::EC2::SecurityGroupIngress.
type IngressRule struct {
	GroupID               any    `yaml:"GroupId,omitempty"`
	IPProtocol            string `yaml:"IpProtocol"`
	FromPort              *int   `yaml:"FromPort,omitempty"`
	ToPort                *int   `yaml:"ToPort,omitempty"`
	CidrIP                string `yaml:"CidrIp,omitempty"`
	CidrIPv6              string `yaml:"CidrIpv6,omitempty"`
	SourceSecurityGroupID any    `yaml:"SourceSecurityGroupId,omitempty"`
	Description           string `yaml:"Description,omitempty"`
}

// LaunchTemplate is AWS::EC2::LaunchTemplate.
type LaunchTemplate struct {
	LaunchTemplateData LaunchTemplateData `yaml:"LaunchTemplateData"`
}

// LaunchTemplateData is what each instance starts with.
type LaunchTemplateData struct {
	ImageID            any            `yaml:"ImageId"`
	InstanceType       any            `yaml:"InstanceType"`
	IamInstanceProfile map[string]any `yaml:"IamInstanceProfile"`
	SecurityGroupIDs   []any          `yaml:"SecurityGroupIds,omitempty"`
	UserData           any            `yaml:"UserData"`
	MetadataOptions    map[string]any `yaml:"MetadataOptions,omitempty"`
}

// AutoScalingGroup is AWS::AutoScaling::AutoScalingGroup.
type AutoScalingGroup struct {
	MinSize           any            `yaml:"MinSize"`
	MaxSize           any            `yaml:"MaxSize"`
	DesiredCapacity   any            `yaml:"DesiredCapacity"`
	VPCZoneIdentifier any            `yaml:"VPCZoneIdentifier"`
	LaunchTemplate    map[string]any `yaml:"LaunchTemplate"`
	Tags              []ASGTag       `yaml:"Tags,omitempty"`
}

// ASGTag is an Auto Scaling group's tag.
type ASGTag struct {
	Key               string `yaml:"Key"`
	Value             string `yaml:"Value"`
	PropagateAtLaunch bool   `yaml:"PropagateAtLaunch"`
}

// IAM

// Role is AWS::IAM::Role.
type Role struct {
	AssumeRolePolicyDocument map[string]any `yaml:"AssumeRolePolicyDocument"`
	ManagedPolicyArns        []any          `yaml:"ManagedPolicyArns"`
}

// InstanceProfile is AWS::IAM::InstanceProfile.
type InstanceProfile struct {
	Roles []any `yaml:"Roles"`
}

// ECS

// Cluster is AWS::ECS::Cluster.
type Cluster struct {
	ClusterSettings []map[string]string `yaml:"ClusterSettings,omitempty"`
	Tags            []Tag               `yaml:"Tags,omitempty"`
}

// TaskDefinition is AWS::ECS::TaskDefinition.
type TaskDefinition struct {
	Family                  string                `yaml:"Family"`
	NetworkMode             string                `yaml:"NetworkMode"`
	RequiresCompatibilities []string              `yaml:"RequiresCompatibilities"`
	ExecutionRoleArn        any                   `yaml:"ExecutionRoleArn"`
	CPU                     string                `yaml:"Cpu,omitempty"`
	Memory                  string                `yaml:"Memory,omitempty"`
	ContainerDefinitions    []ContainerDefinition `yaml:"ContainerDefinitions"`
}

// ContainerDefinition is one container of a task definition.
type ContainerDefinition struct {
	Name              string             `yaml:"Name"`
	Image             any                `yaml:"Image"`
	Essential         bool               `yaml:"Essential"`
	EntryPoint        []string           `yaml:"EntryPoint,omitempty"`
	Command           []string           `yaml:"Command,omitempty"`
	WorkingDirectory  string             `yaml:"WorkingDirectory,omitempty"`
	User              string             `yaml:"User,omitempty"`
	CPU               int                `yaml:"Cpu,omitempty"`
	Memory            int                `yaml:"Memory,omitempty"`
	MemoryReservation int                `yaml:"MemoryReservation,omitempty"`
	PortMappings      []PortMapping      `yaml:"PortMappings,omitempty"`
	Environment       []EnvVar           `yaml:"Environment,omitempty"`
	HealthCheck       *HealthCheck       `yaml:"HealthCheck,omitempty"`
	DependsOn         []ContainerDepends `yaml:"DependsOn,omitempty"`
	StopTimeout       *int               `yaml:"StopTimeout,omitempty"`
	LogConfiguration  *LogConfiguration  `yaml:"LogConfiguration,omitempty"`
}

// LogConfiguration sends a container's output to a log driver.
type LogConfiguration struct {
	LogDriver string         `yaml:"LogDriver"`
	Options   map[string]any `yaml:"Options"`
}

// LogGroup is AWS::Logs::LogGroup.
type LogGroup struct {
	RetentionInDays int `yaml:"RetentionInDays"`
}

// PortMapping maps a container port to a host port, 0 for a dynamic one.
type PortMapping struct {
	ContainerPort int    `yaml:"ContainerPort"`
	HostPort      int    `yaml:"HostPort"`
	Protocol      string `yaml:"Protocol"`
}

// EnvVar is one environment variable.
type EnvVar struct {
	Name  string `yaml:"Name"`
	Value any    `yaml:"Value"`
}

// HealthCheck is a container health check.
type HealthCheck struct {
	Command     []string `yaml:"Command"`
	Interval    int      `yaml:"Interval"`
	Timeout     int      `yaml:"Timeout"`
	Retries     int      `yaml:"Retries"`
	StartPeriod int      `yaml:"StartPeriod"`
}

// ContainerDepends is a container's dependency on another.
type ContainerDepends struct {
	ContainerName string `yaml:"ContainerName"`
	Condition     string `yaml:"Condition"`
}

// Service is AWS::ECS::Service.
type Service struct {
	Cluster                       any                   `yaml:"Cluster"`
	TaskDefinition                any                   `yaml:"TaskDefinition"`
	LaunchType                    string                `yaml:"LaunchType"`
	SchedulingStrategy            string                `yaml:"SchedulingStrategy"`
	DesiredCount                  *int                  `yaml:"DesiredCount,omitempty"`
	DeploymentConfiguration       DeploymentConfig      `yaml:"DeploymentConfiguration"`
	PlacementStrategies           []Placement           `yaml:"PlacementStrategies,omitempty"`
	PlacementConstraints          []Placement           `yaml:"PlacementConstraints,omitempty"`
	LoadBalancers                 []ServiceLoadBalancer `yaml:"LoadBalancers,omitempty"`
	HealthCheckGracePeriodSeconds *int                  `yaml:"HealthCheckGracePeriodSeconds,omitempty"`
	Tags                          []Tag                 `yaml:"Tags,omitempty"`
}

// DeploymentConfig is a service's rolling update.
type DeploymentConfig struct {
	MinimumHealthyPercent    int             `yaml:"MinimumHealthyPercent"`
	MaximumPercent           int             `yaml:"MaximumPercent"`
	DeploymentCircuitBreaker *CircuitBreaker `yaml:"DeploymentCircuitBreaker,omitempty"`
	Strategy                 string          `yaml:"Strategy,omitempty"`
	BakeTimeInMinutes        *int            `yaml:"BakeTimeInMinutes,omitempty"`
	CanaryConfiguration      *CanaryConfig   `yaml:"CanaryConfiguration,omitempty"`
	LinearConfiguration      *LinearConfig   `yaml:"LinearConfiguration,omitempty"`
}

// CanaryConfig is a canary deployment's first step.
type CanaryConfig struct {
	CanaryPercent           float64 `yaml:"CanaryPercent"`
	CanaryBakeTimeInMinutes int     `yaml:"CanaryBakeTimeInMinutes"`
}

// LinearConfig is a linear deployment's steps.
type LinearConfig struct {
	StepPercent           float64 `yaml:"StepPercent"`
	StepBakeTimeInMinutes int     `yaml:"StepBakeTimeInMinutes"`
}

// CircuitBreaker is ECS's deployment circuit breaker.
type CircuitBreaker struct {
	Enable   bool `yaml:"Enable"`
	Rollback bool `yaml:"Rollback"`
}

// Placement is a placement strategy or constraint.
type Placement struct {
	Type  string `yaml:"Type"`
	Field string `yaml:"Field,omitempty"`
}

// ServiceLoadBalancer registers a service's tasks in a target group.
type ServiceLoadBalancer struct {
	ContainerName         string          `yaml:"ContainerName"`
	ContainerPort         int             `yaml:"ContainerPort"`
	TargetGroupArn        any             `yaml:"TargetGroupArn"`
	AdvancedConfiguration *AdvancedConfig `yaml:"AdvancedConfiguration,omitempty"`
}

// AdvancedConfig is what ECS's blue/green, canary and linear deployments
// move traffic with.
type AdvancedConfig struct {
	AlternateTargetGroupArn any `yaml:"AlternateTargetGroupArn"`
	ProductionListenerRule  any `yaml:"ProductionListenerRule"`
	TestListenerRule        any `yaml:"TestListenerRule,omitempty"`
	RoleArn                 any `yaml:"RoleArn"`
}

// Elastic Load Balancing v2

// LoadBalancer is AWS::ElasticLoadBalancingV2::LoadBalancer.
type LoadBalancer struct {
	Type                   string     `yaml:"Type"`
	Scheme                 string     `yaml:"Scheme"`
	IPAddressType          string     `yaml:"IpAddressType,omitempty"`
	Subnets                any        `yaml:"Subnets"`
	SecurityGroups         []any      `yaml:"SecurityGroups"`
	LoadBalancerAttributes []KeyValue `yaml:"LoadBalancerAttributes,omitempty"`
	Tags                   []Tag      `yaml:"Tags,omitempty"`
}

// Listener is AWS::ElasticLoadBalancingV2::Listener.
type Listener struct {
	LoadBalancerArn    any           `yaml:"LoadBalancerArn"`
	Port               int           `yaml:"Port"`
	Protocol           string        `yaml:"Protocol"`
	SslPolicy          string        `yaml:"SslPolicy,omitempty"`
	Certificates       []Certificate `yaml:"Certificates,omitempty"`
	DefaultActions     []Action      `yaml:"DefaultActions"`
	ListenerAttributes []KeyValue    `yaml:"ListenerAttributes,omitempty"`
}

// Certificate names an ACM certificate.
type Certificate struct {
	CertificateArn any `yaml:"CertificateArn"`
}

// ListenerCertificate is AWS::ElasticLoadBalancingV2::ListenerCertificate:
// the SNI certificates beyond the listener's default one.
type ListenerCertificate struct {
	ListenerArn  any           `yaml:"ListenerArn"`
	Certificates []Certificate `yaml:"Certificates"`
}

// ListenerRule is AWS::ElasticLoadBalancingV2::ListenerRule.
type ListenerRule struct {
	ListenerArn any         `yaml:"ListenerArn"`
	Priority    int         `yaml:"Priority"`
	Conditions  []Condition `yaml:"Conditions"`
	Actions     []Action    `yaml:"Actions"`
	Transforms  []Transform `yaml:"Transforms,omitempty"`
}

// Action is a listener's or a rule's action.
type Action struct {
	Type                   string               `yaml:"Type"`
	Order                  int                  `yaml:"Order,omitempty"`
	ForwardConfig          *ForwardConfig       `yaml:"ForwardConfig,omitempty"`
	RedirectConfig         *RedirectConfig      `yaml:"RedirectConfig,omitempty"`
	FixedResponseConfig    *FixedResponseConfig `yaml:"FixedResponseConfig,omitempty"`
	AuthenticateOidcConfig *OidcConfig          `yaml:"AuthenticateOidcConfig,omitempty"`
	JwtValidationConfig    *JwtConfig           `yaml:"JwtValidationConfig,omitempty"`
}

// ForwardConfig forwards to one or more weighted target groups.
type ForwardConfig struct {
	TargetGroups                []WeightedTargetGroup `yaml:"TargetGroups"`
	TargetGroupStickinessConfig *GroupStickiness      `yaml:"TargetGroupStickinessConfig,omitempty"`
}

// WeightedTargetGroup is a target group of a forward and its weight.
type WeightedTargetGroup struct {
	TargetGroupArn any `yaml:"TargetGroupArn"`
	Weight         int `yaml:"Weight"`
}

// GroupStickiness is a forward's target group stickiness.
type GroupStickiness struct {
	Enabled         bool `yaml:"Enabled"`
	DurationSeconds int  `yaml:"DurationSeconds,omitempty"`
}

// RedirectConfig is a redirect action.
type RedirectConfig struct {
	Protocol   string `yaml:"Protocol"`
	Host       string `yaml:"Host"`
	Port       string `yaml:"Port"`
	Path       string `yaml:"Path"`
	Query      string `yaml:"Query"`
	StatusCode string `yaml:"StatusCode"`
}

// FixedResponseConfig is a fixed-response action.
type FixedResponseConfig struct {
	StatusCode  string `yaml:"StatusCode"`
	ContentType string `yaml:"ContentType"`
	MessageBody string `yaml:"MessageBody,omitempty"`
}

// OidcConfig is an authenticate-oidc action.
type OidcConfig struct {
	Issuer                           string            `yaml:"Issuer"`
	AuthorizationEndpoint            string            `yaml:"AuthorizationEndpoint"`
	TokenEndpoint                    string            `yaml:"TokenEndpoint"`
	UserInfoEndpoint                 string            `yaml:"UserInfoEndpoint"`
	ClientID                         string            `yaml:"ClientId"`
	ClientSecret                     any               `yaml:"ClientSecret"`
	Scope                            string            `yaml:"Scope"`
	SessionCookieName                string            `yaml:"SessionCookieName"`
	SessionTimeout                   string            `yaml:"SessionTimeout"`
	OnUnauthenticatedRequest         string            `yaml:"OnUnauthenticatedRequest"`
	AuthenticationRequestExtraParams map[string]string `yaml:"AuthenticationRequestExtraParams,omitempty"`
}

// JwtConfig is a jwt-validation action.
type JwtConfig struct {
	JwksEndpoint     string     `yaml:"JwksEndpoint"`
	Issuer           string     `yaml:"Issuer"`
	AdditionalClaims []JwtClaim `yaml:"AdditionalClaims,omitempty"`
}

// JwtClaim is a claim a token must carry.
type JwtClaim struct {
	Name   string   `yaml:"Name"`
	Format string   `yaml:"Format"`
	Values []string `yaml:"Values"`
}

// Condition is a rule condition.
type Condition struct {
	Field                   string        `yaml:"Field"`
	HostHeaderConfig        *ValuesConfig `yaml:"HostHeaderConfig,omitempty"`
	PathPatternConfig       *ValuesConfig `yaml:"PathPatternConfig,omitempty"`
	HTTPHeaderConfig        *HeaderConfig `yaml:"HttpHeaderConfig,omitempty"`
	HTTPRequestMethodConfig *ValuesConfig `yaml:"HttpRequestMethodConfig,omitempty"`
	QueryStringConfig       *QueryConfig  `yaml:"QueryStringConfig,omitempty"`
	SourceIPConfig          *ValuesConfig `yaml:"SourceIpConfig,omitempty"`
}

// ValuesConfig is a condition's list of values.
type ValuesConfig struct {
	Values []string `yaml:"Values"`
}

// HeaderConfig is an http-header condition.
type HeaderConfig struct {
	HTTPHeaderName string   `yaml:"HttpHeaderName"`
	Values         []string `yaml:"Values"`
}

// QueryConfig is a query-string condition.
type QueryConfig struct {
	Values []QueryValue `yaml:"Values"`
}

// QueryValue is a query-string condition's pair.
type QueryValue struct {
	Key   string `yaml:"Key,omitempty"`
	Value string `yaml:"Value"`
}

// Transform is a rule transform.
type Transform struct {
	Type                    string         `yaml:"Type"`
	HostHeaderRewriteConfig *RewriteConfig `yaml:"HostHeaderRewriteConfig,omitempty"`
	URLRewriteConfig        *RewriteConfig `yaml:"UrlRewriteConfig,omitempty"`
}

// RewriteConfig is a transform's rewrites.
type RewriteConfig struct {
	Rewrites []Rewrite `yaml:"Rewrites"`
}

// Rewrite is one regex and its replacement.
type Rewrite struct {
	Regex   string `yaml:"Regex"`
	Replace string `yaml:"Replace"`
}

// TargetGroup is AWS::ElasticLoadBalancingV2::TargetGroup.
type TargetGroup struct {
	TargetType                 string     `yaml:"TargetType"`
	Protocol                   string     `yaml:"Protocol"`
	ProtocolVersion            string     `yaml:"ProtocolVersion"`
	Port                       int        `yaml:"Port"`
	VpcID                      any        `yaml:"VpcId"`
	HealthCheckEnabled         bool       `yaml:"HealthCheckEnabled"`
	HealthCheckProtocol        string     `yaml:"HealthCheckProtocol"`
	HealthCheckPath            string     `yaml:"HealthCheckPath"`
	HealthCheckPort            string     `yaml:"HealthCheckPort"`
	HealthCheckIntervalSeconds int        `yaml:"HealthCheckIntervalSeconds"`
	HealthCheckTimeoutSeconds  int        `yaml:"HealthCheckTimeoutSeconds"`
	HealthyThresholdCount      int        `yaml:"HealthyThresholdCount"`
	UnhealthyThresholdCount    int        `yaml:"UnhealthyThresholdCount"`
	Matcher                    Matcher    `yaml:"Matcher"`
	TargetGroupAttributes      []KeyValue `yaml:"TargetGroupAttributes"`
	Tags                       []Tag      `yaml:"Tags,omitempty"`
}

// Matcher is the codes a health check counts as a pass.
type Matcher struct {
	HTTPCode string `yaml:"HttpCode,omitempty"`
	GrpcCode string `yaml:"GrpcCode,omitempty"`
}

// Application Auto Scaling

// ScalableTarget is AWS::ApplicationAutoScaling::ScalableTarget.
type ScalableTarget struct {
	MinCapacity       int    `yaml:"MinCapacity"`
	MaxCapacity       int    `yaml:"MaxCapacity"`
	ResourceID        any    `yaml:"ResourceId"`
	ScalableDimension string `yaml:"ScalableDimension"`
	ServiceNamespace  string `yaml:"ServiceNamespace"`
}

// ScalingPolicy is AWS::ApplicationAutoScaling::ScalingPolicy.
type ScalingPolicy struct {
	PolicyName                               string         `yaml:"PolicyName"`
	PolicyType                               string         `yaml:"PolicyType"`
	ScalingTargetID                          any            `yaml:"ScalingTargetId"`
	TargetTrackingScalingPolicyConfiguration TrackingConfig `yaml:"TargetTrackingScalingPolicyConfiguration"`
}

// TrackingConfig is a target tracking policy.
type TrackingConfig struct {
	TargetValue                   float64          `yaml:"TargetValue"`
	ScaleOutCooldown              int              `yaml:"ScaleOutCooldown"`
	ScaleInCooldown               int              `yaml:"ScaleInCooldown"`
	DisableScaleIn                bool             `yaml:"DisableScaleIn"`
	PredefinedMetricSpecification PredefinedMetric `yaml:"PredefinedMetricSpecification"`
}

// PredefinedMetric is a policy's metric.
type PredefinedMetric struct {
	PredefinedMetricType string `yaml:"PredefinedMetricType"`
	ResourceLabel        any    `yaml:"ResourceLabel,omitempty"`
}

// ElastiCache

// CacheCluster is AWS::ElastiCache::CacheCluster.
type CacheCluster struct {
	Engine               string `yaml:"Engine"`
	CacheNodeType        any    `yaml:"CacheNodeType"`
	NumCacheNodes        int    `yaml:"NumCacheNodes"`
	Port                 int    `yaml:"Port"`
	CacheSubnetGroupName any    `yaml:"CacheSubnetGroupName"`
	VpcSecurityGroupIDs  []any  `yaml:"VpcSecurityGroupIds"`
	Tags                 []Tag  `yaml:"Tags,omitempty"`
}

// CacheSubnetGroup is AWS::ElastiCache::SubnetGroup.
type CacheSubnetGroup struct {
	Description string `yaml:"Description"`
	SubnetIDs   any    `yaml:"SubnetIds"`
}
