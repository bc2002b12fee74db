package awsapi

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/proxy"
	"github.com/shoalhq/shoal/internal/routing"
)

// elbStack is the test stack's name; elbARNs makes its ARNs.
const elbStack = "shop"

var elbARNs = arns{region: testRegion, cluster: elbStack}

// elbBackend is a stack with two load balancers: "web" with an http
// listener (rules with a weighted forward, a header condition, a fixed
// response, a transform) and an https listener (two certificates, a
// redirect, JWT validation); "internal" with one listener on every
// address. Target groups api (two task targets and a draining one), admin
// (two static targets) and batch (none).
func elbBackend() *fakeBackend {
	hc := proxy.HealthCheckConfig{
		Path: "/health", Interval: 30 * time.Second, Timeout: 5 * time.Second,
		HealthyThreshold: 5, UnhealthyThreshold: 2, Success: proxy.Matcher{{Lo: 200, Hi: 200}},
	}
	adminHC := hc
	adminHC.Port, adminHC.Path, adminHC.Success = 9100, "/", proxy.Matcher{{Lo: 200, Hi: 299}, {Lo: 302, Hi: 302}}
	lb := proxy.Config{
		Listeners: []proxy.ListenerConfig{
			{
				Name: "web/0", Address: "127.0.0.1:8080", Protocol: "http", IdleTimeout: time.Minute,
				Routes: routing.Listener{
					Scheme: "http",
					Rules: []routing.Rule{
						{
							Priority:   20,
							Conditions: []routing.Condition{{Field: routing.HostHeader, Values: []string{"admin.example.com"}}, {Field: routing.HTTPHeader, HeaderName: "X-Env", Values: []string{"prod"}}},
							Action:     routing.Action{Type: routing.Forward, Forward: &routing.ForwardAction{Groups: []routing.WeightedGroup{{Name: "admin", Weight: 1}}}},
						},
						{
							Priority:   10,
							Conditions: []routing.Condition{{Field: routing.PathPattern, Values: []string{"/api/*"}}},
							Action: routing.Action{Type: routing.Forward, Forward: &routing.ForwardAction{
								Groups: []routing.WeightedGroup{{Name: "api", Weight: 80}, {Name: "admin", Weight: 20}}, Stickiness: time.Hour}},
							Transforms: []routing.Transform{{Type: routing.URLRewrite, Regex: "^/api/(.*)$", Replace: "/$1"}},
						},
						{
							Priority: 30,
							Conditions: []routing.Condition{
								{Field: routing.QueryString, Query: []routing.KeyValue{{Key: "debug", Value: "1"}}},
								{Field: routing.HTTPRequestMethod, Values: []string{"GET"}},
								{Field: routing.SourceIP, CIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
							},
							Action: routing.Action{Type: routing.FixedResponse, Fixed: &routing.FixedResponseAction{StatusCode: 404, ContentType: "text/plain", Body: "nope"}},
						},
					},
					Default: routing.Action{Type: routing.Forward, Forward: &routing.ForwardAction{Groups: []routing.WeightedGroup{{Name: "api", Weight: 1}}}},
				},
			},
			{
				Name: "web/1", Address: "127.0.0.1:8443", Protocol: "https", IdleTimeout: time.Minute,
				Certificates: []proxy.Certificate{{CertFile: "/stack/tls/cert.pem", KeyFile: "/stack/tls/key.pem"}, {CertFile: "/stack/tls/other.pem", KeyFile: "/stack/tls/other-key.pem"}},
				Routes: routing.Listener{
					Scheme: "https",
					Rules: []routing.Rule{{
						Priority:   5,
						Conditions: []routing.Condition{{Field: routing.PathPattern, Values: []string{"/old*"}}},
						Action:     routing.Action{Type: routing.Redirect, Redirect: &routing.RedirectAction{Path: "/new", StatusCode: 301}},
					}},
					Default: routing.Action{
						Type: routing.Forward, Forward: &routing.ForwardAction{Groups: []routing.WeightedGroup{{Name: "admin", Weight: 1}}},
						Auth: &routing.AuthAction{JWT: &routing.JWTAction{JWKSURL: "https://idp.example.com/jwks", Issuer: "https://idp.example.com",
							Claims: []routing.ClaimCheck{{Name: "scope", Format: "space-separated-values", Values: []string{"read"}}}}},
					},
				},
			},
			{Name: "internal/0", Address: "[::]:9090", Protocol: "http", IdleTimeout: time.Minute, TargetGroup: "batch"},
		},
		TargetGroups: map[string]proxy.TargetGroupConfig{
			"api":   {HealthCheck: hc, DeregistrationDelay: 300 * time.Second},
			"admin": {HealthCheck: adminHC, DeregistrationDelay: 30 * time.Second, Stickiness: proxy.Stickiness{Type: proxy.LBCookie, Duration: time.Hour}, Targets: []string{"127.0.0.1:9000", "127.0.0.1:9001"}},
			"batch": {Protocol: "https", Algorithm: proxy.LeastOutstandingRequests, HealthCheck: hc, DeregistrationDelay: 300 * time.Second},
		},
	}
	since := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	return &fakeBackend{
		status: agent.Status{Stack: elbStack},
		lb:     lb,
		tasks: []agent.TaskStatus{
			{ID: "0a1b2c3d", Service: "api", Address: "127.0.0.2:41000", TargetGroup: "api", LastStatus: "RUNNING"},
			{ID: "4e5f6a7b", Service: "api", Address: "127.0.0.2:41001", TargetGroup: "api", LastStatus: "RUNNING"},
		},
		targets: []proxy.TargetHealth{
			{Group: "api", Target: "127.0.0.2:41001", State: proxy.StateUnhealthy, Reason: proxy.ReasonResponseCodeMismatch, Description: "Health checks failed with these codes: [500]", Since: since},
			{Group: "api", Target: "127.0.0.2:41000", State: proxy.StateHealthy, Since: since},
			{Group: "api", Target: "127.0.0.3:41002", State: proxy.StateDraining, Reason: proxy.ReasonDeregistrationInProgress, Description: "Target deregistration is in progress", Since: since},
			{Group: "admin", Target: "127.0.0.1:9000", State: proxy.StateHealthy, Since: since},
			{Group: "admin", Target: "127.0.0.1:9001", State: proxy.StateInitial, Reason: proxy.ReasonRegistrationInProgress, Description: "Target registration is in progress", Since: since},
		},
	}
}

func elbClient(t *testing.T) (*fakeBackend, *elbv2.Client) {
	t.Helper()
	b := elbBackend()
	_, c, _ := serve(t, b)
	return b, c
}

// elbCode is the AWS error code of err, which must be an API error.
func elbCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an AWS API error", err, err)
	}
	return ae.ErrorCode()
}

// elbWantCode checks that err is the AWS error code, and that its message
// holds each of the words.
func elbWantCode(t *testing.T, err error, code string, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %s", code)
	}
	if got := elbCode(t, err); got != code {
		t.Fatalf("error code %s (%v); want %s", got, err, code)
	}
	var ae smithy.APIError
	errors.As(err, &ae)
	for _, w := range words {
		if !strings.Contains(ae.ErrorMessage(), w) {
			t.Errorf("message %q does not say %q", ae.ErrorMessage(), w)
		}
	}
}

func (f *fakeBackend) elbConfig() proxy.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return cloneConfig(f.lb)
}

var elbCtx = context.Background()

func TestELBDescribeLoadBalancers(t *testing.T) {
	_, c := elbClient(t)
	out, err := c.DescribeLoadBalancers(elbCtx, &elbv2.DescribeLoadBalancersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.LoadBalancers) != 2 {
		t.Fatalf("%d load balancers; want internal and web", len(out.LoadBalancers))
	}
	internal, web := out.LoadBalancers[0], out.LoadBalancers[1]
	if *internal.LoadBalancerName != "internal" || *web.LoadBalancerName != "web" {
		t.Fatalf("load balancers %s, %s; want internal, web (by name)", *internal.LoadBalancerName, *web.LoadBalancerName)
	}
	if got, want := *web.LoadBalancerArn, elbARNs.loadBalancerARN("web"); got != want {
		t.Errorf("ARN %s; want %s", got, want)
	}
	if *web.DNSName != "127.0.0.1" || *internal.DNSName != "localhost" {
		t.Errorf("DNS names %s and %s; want 127.0.0.1 and localhost (for ::)", *web.DNSName, *internal.DNSName)
	}
	if web.Scheme != types.LoadBalancerSchemeEnumInternetFacing || web.Type != types.LoadBalancerTypeEnumApplication ||
		web.State.Code != types.LoadBalancerStateEnumActive || web.IpAddressType != types.IpAddressTypeIpv4 {
		t.Errorf("scheme %s, type %s, state %s, ip type %s", web.Scheme, web.Type, web.State.Code, web.IpAddressType)
	}
	if v := *web.VpcId; len(v) != 21 || !strings.HasPrefix(v, "vpc-") || v != *internal.VpcId {
		t.Errorf("VPC %q; want vpc- and 17 hex digits, the same for both", v)
	}
	if web.CreatedTime == nil || web.CreatedTime.IsZero() || len(web.AvailabilityZones) != 1 || *web.AvailabilityZones[0].ZoneName != testRegion+"a" {
		t.Errorf("created %v, zones %+v", web.CreatedTime, web.AvailabilityZones)
	}

	byName, err := c.DescribeLoadBalancers(elbCtx, &elbv2.DescribeLoadBalancersInput{Names: []string{"web"}})
	if err != nil || len(byName.LoadBalancers) != 1 || *byName.LoadBalancers[0].LoadBalancerArn != *web.LoadBalancerArn {
		t.Fatalf("by name: %v %+v", err, byName)
	}
	byARN, err := c.DescribeLoadBalancers(elbCtx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{*internal.LoadBalancerArn}})
	if err != nil || len(byARN.LoadBalancers) != 1 || *byARN.LoadBalancers[0].LoadBalancerName != "internal" {
		t.Fatalf("by ARN: %v %+v", err, byARN)
	}

	_, err = c.DescribeLoadBalancers(elbCtx, &elbv2.DescribeLoadBalancersInput{Names: []string{"web", "nope"}})
	elbWantCode(t, err, "LoadBalancerNotFound", "nope", "internal, web")
	other := arns{region: "us-west-2", cluster: elbStack}.loadBalancerARN("web")
	_, err = c.DescribeLoadBalancers(elbCtx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{other}})
	elbWantCode(t, err, "LoadBalancerNotFound", other)
	otherStack := arns{region: testRegion, cluster: "other"}.loadBalancerARN("web")
	_, err = c.DescribeLoadBalancers(elbCtx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{otherStack}})
	elbWantCode(t, err, "LoadBalancerNotFound")
	_, err = c.DescribeLoadBalancers(elbCtx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{"web"}})
	elbWantCode(t, err, "ValidationError", "not a valid load balancer ARN")
	_, err = c.DescribeLoadBalancers(elbCtx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{*web.LoadBalancerArn}, Names: []string{"web"}})
	elbWantCode(t, err, "ValidationError")
}

func TestELBPagination(t *testing.T) {
	_, c := elbClient(t)

	// Target groups, one at a time with Marker.
	var names []string
	var marker *string
	for i := 0; ; i++ {
		out, err := c.DescribeTargetGroups(elbCtx, &elbv2.DescribeTargetGroupsInput{PageSize: aws.Int32(1), Marker: marker})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.TargetGroups) != 1 {
			t.Fatalf("page %d has %d target groups; want 1", i, len(out.TargetGroups))
		}
		names = append(names, *out.TargetGroups[0].TargetGroupName)
		if out.NextMarker == nil {
			break
		}
		if i > 5 {
			t.Fatal("pages never end")
		}
		marker = out.NextMarker
	}
	if want := []string{"admin", "api", "batch"}; !slices.Equal(names, want) {
		t.Errorf("target groups %v; want %v", names, want)
	}

	// The SDK's paginator.
	names = nil
	p := elbv2.NewDescribeTargetGroupsPaginator(c, &elbv2.DescribeTargetGroupsInput{PageSize: aws.Int32(1)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(elbCtx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, tg := range out.TargetGroups {
			names = append(names, *tg.TargetGroupName)
		}
	}
	if pages != 3 || !slices.Equal(names, []string{"admin", "api", "batch"}) {
		t.Errorf("paginator: %d pages, %v", pages, names)
	}

	// Load balancers, and a listener's rules (the default rule last).
	lbs := elbv2.NewDescribeLoadBalancersPaginator(c, &elbv2.DescribeLoadBalancersInput{PageSize: aws.Int32(1)})
	var lbNames []string
	for lbs.HasMorePages() {
		out, err := lbs.NextPage(elbCtx)
		if err != nil {
			t.Fatal(err)
		}
		for _, lb := range out.LoadBalancers {
			lbNames = append(lbNames, *lb.LoadBalancerName)
		}
	}
	if !slices.Equal(lbNames, []string{"internal", "web"}) {
		t.Errorf("load balancers %v", lbNames)
	}
	var priorities []string
	marker = nil
	for {
		out, err := c.DescribeRules(elbCtx, &elbv2.DescribeRulesInput{ListenerArn: aws.String(elbARNs.listenerARN("web", 0)), PageSize: aws.Int32(1), Marker: marker})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Rules {
			priorities = append(priorities, *r.Priority)
		}
		if marker = out.NextMarker; marker == nil {
			break
		}
	}
	if want := []string{"10", "20", "30", "default"}; !slices.Equal(priorities, want) {
		t.Errorf("rules %v; want %v", priorities, want)
	}

	_, err := c.DescribeTargetGroups(elbCtx, &elbv2.DescribeTargetGroupsInput{PageSize: aws.Int32(0)})
	elbWantCode(t, err, "ValidationError", "pageSize")
	_, err = c.DescribeLoadBalancers(elbCtx, &elbv2.DescribeLoadBalancersInput{PageSize: aws.Int32(401)})
	elbWantCode(t, err, "ValidationError", "less than or equal to 400")
	_, err = c.DescribeTargetGroups(elbCtx, &elbv2.DescribeTargetGroupsInput{Marker: aws.String("not-a-marker")})
	elbWantCode(t, err, "ValidationError", "Marker")
}

func TestELBDescribeListeners(t *testing.T) {
	_, c := elbClient(t)
	out, err := c.DescribeListeners(elbCtx, &elbv2.DescribeListenersInput{LoadBalancerArn: aws.String(elbARNs.loadBalancerARN("web"))})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Listeners) != 2 {
		t.Fatalf("%d listeners; want 2", len(out.Listeners))
	}
	http, https := out.Listeners[0], out.Listeners[1]
	if *http.ListenerArn != elbARNs.listenerARN("web", 0) || *http.LoadBalancerArn != elbARNs.loadBalancerARN("web") ||
		*http.Port != 8080 || http.Protocol != types.ProtocolEnumHttp || len(http.Certificates) != 0 || http.SslPolicy != nil {
		t.Errorf("http listener %+v", http)
	}
	if len(http.DefaultActions) != 1 || http.DefaultActions[0].Type != types.ActionTypeEnumForward ||
		*http.DefaultActions[0].TargetGroupArn != elbARNs.targetGroupARN("api") || *http.DefaultActions[0].Order != 1 {
		t.Errorf("http default actions %+v", http.DefaultActions)
	}
	if *https.Port != 8443 || https.Protocol != types.ProtocolEnumHttps || *https.SslPolicy != "ELBSecurityPolicy-TLS13-1-2-2021-06" {
		t.Errorf("https listener %+v", https)
	}
	certARN := elbARNs.certificateARN("/stack/tls/cert.pem")
	if len(https.Certificates) != 1 || *https.Certificates[0].CertificateArn != certARN ||
		!strings.HasPrefix(certARN, "arn:aws:acm:"+testRegion+":000000000000:certificate/") || len(certARN)-strings.LastIndexByte(certARN, '/') != 37 {
		t.Errorf("certificates %+v; want the default one, %s", https.Certificates, certARN)
	}
	if a := https.DefaultActions; len(a) != 2 || a[0].Type != types.ActionTypeEnumJwtValidation || *a[0].Order != 1 ||
		*a[0].JwtValidationConfig.JwksEndpoint != "https://idp.example.com/jwks" || a[0].JwtValidationConfig.AdditionalClaims[0].Values[0] != "read" ||
		a[1].Type != types.ActionTypeEnumForward || *a[1].Order != 2 {
		t.Errorf("https default actions %+v", a)
	}

	byARN, err := c.DescribeListeners(elbCtx, &elbv2.DescribeListenersInput{ListenerArns: []string{elbARNs.listenerARN("internal", 0)}})
	if err != nil || len(byARN.Listeners) != 1 || *byARN.Listeners[0].Port != 9090 ||
		*byARN.Listeners[0].DefaultActions[0].TargetGroupArn != elbARNs.targetGroupARN("batch") {
		t.Fatalf("by ARN: %v %+v", err, byARN)
	}
	_, err = c.DescribeListeners(elbCtx, &elbv2.DescribeListenersInput{})
	elbWantCode(t, err, "ValidationError")
	_, err = c.DescribeListeners(elbCtx, &elbv2.DescribeListenersInput{ListenerArns: []string{elbARNs.listenerARN("web", 7)}})
	elbWantCode(t, err, "ListenerNotFound")
	_, err = c.DescribeListeners(elbCtx, &elbv2.DescribeListenersInput{LoadBalancerArn: aws.String(elbARNs.loadBalancerARN("nope"))})
	elbWantCode(t, err, "LoadBalancerNotFound")

	certs, err := c.DescribeListenerCertificates(elbCtx, &elbv2.DescribeListenerCertificatesInput{ListenerArn: aws.String(elbARNs.listenerARN("web", 1))})
	if err != nil || len(certs.Certificates) != 2 || !*certs.Certificates[0].IsDefault || *certs.Certificates[1].IsDefault ||
		*certs.Certificates[1].CertificateArn != elbARNs.certificateARN("/stack/tls/other.pem") {
		t.Fatalf("listener certificates: %v %+v", err, certs)
	}
}

func TestELBDescribeRules(t *testing.T) {
	_, c := elbClient(t)
	out, err := c.DescribeRules(elbCtx, &elbv2.DescribeRulesInput{ListenerArn: aws.String(elbARNs.listenerARN("web", 0))})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Rules) != 4 {
		t.Fatalf("%d rules; want 4", len(out.Rules))
	}
	r10, r20, r30, def := out.Rules[0], out.Rules[1], out.Rules[2], out.Rules[3]
	if *r10.RuleArn != elbARNs.ruleARN("web", 0, 10) || *r10.Priority != "10" || *r10.IsDefault {
		t.Errorf("rule 10: %s %s %v", *r10.RuleArn, *r10.Priority, *r10.IsDefault)
	}
	if c := r10.Conditions[0]; *c.Field != "path-pattern" || !slices.Equal(c.Values, []string{"/api/*"}) || !slices.Equal(c.PathPatternConfig.Values, []string{"/api/*"}) {
		t.Errorf("rule 10 condition %+v", c)
	}
	a := r10.Actions[0]
	if a.Type != types.ActionTypeEnumForward || a.TargetGroupArn != nil || len(a.ForwardConfig.TargetGroups) != 2 ||
		*a.ForwardConfig.TargetGroups[0].TargetGroupArn != elbARNs.targetGroupARN("api") || *a.ForwardConfig.TargetGroups[0].Weight != 80 ||
		*a.ForwardConfig.TargetGroups[1].Weight != 20 || !*a.ForwardConfig.TargetGroupStickinessConfig.Enabled ||
		*a.ForwardConfig.TargetGroupStickinessConfig.DurationSeconds != 3600 {
		t.Errorf("rule 10 weighted forward %+v", a.ForwardConfig)
	}
	if len(r10.Transforms) != 1 || r10.Transforms[0].Type != types.TransformTypeEnumUrlRewrite || *r10.Transforms[0].UrlRewriteConfig.Rewrites[0].Regex != "^/api/(.*)$" {
		t.Errorf("rule 10 transforms %+v", r10.Transforms)
	}
	if c := r20.Conditions; len(c) != 2 || *c[0].Field != "host-header" || c[0].HostHeaderConfig.Values[0] != "admin.example.com" ||
		*c[1].Field != "http-header" || c[1].Values != nil || *c[1].HttpHeaderConfig.HttpHeaderName != "X-Env" || c[1].HttpHeaderConfig.Values[0] != "prod" {
		t.Errorf("rule 20 conditions %+v", c)
	}
	if a := r20.Actions[0]; *a.TargetGroupArn != elbARNs.targetGroupARN("admin") || *a.ForwardConfig.TargetGroups[0].Weight != 1 || *a.ForwardConfig.TargetGroupStickinessConfig.Enabled {
		t.Errorf("rule 20 forward %+v", a)
	}
	if c := r30.Conditions; len(c) != 3 || *c[0].QueryStringConfig.Values[0].Key != "debug" || *c[0].QueryStringConfig.Values[0].Value != "1" ||
		c[1].HttpRequestMethodConfig.Values[0] != "GET" || c[2].SourceIpConfig.Values[0] != "10.0.0.0/8" {
		t.Errorf("rule 30 conditions %+v", c)
	}
	if f := r30.Actions[0].FixedResponseConfig; r30.Actions[0].Type != types.ActionTypeEnumFixedResponse || *f.StatusCode != "404" || *f.ContentType != "text/plain" || *f.MessageBody != "nope" {
		t.Errorf("rule 30 fixed response %+v", f)
	}
	if *def.Priority != "default" || !*def.IsDefault || len(def.Conditions) != 0 || *def.RuleArn != elbARNs.ruleARN("web", 0, 0) ||
		*def.Actions[0].TargetGroupArn != elbARNs.targetGroupARN("api") {
		t.Errorf("default rule %+v", def)
	}

	https, err := c.DescribeRules(elbCtx, &elbv2.DescribeRulesInput{RuleArns: []string{elbARNs.ruleARN("web", 1, 5)}})
	if err != nil || len(https.Rules) != 1 {
		t.Fatalf("by ARN: %v %+v", err, https)
	}
	if r := https.Rules[0].Actions[0].RedirectConfig; r.StatusCode != types.RedirectActionStatusCodeEnumHttp301 || *r.Path != "/new" ||
		*r.Protocol != "#{protocol}" || *r.Host != "#{host}" || *r.Port != "#{port}" || *r.Query != "#{query}" {
		t.Errorf("redirect %+v", r)
	}
	_, err = c.DescribeRules(elbCtx, &elbv2.DescribeRulesInput{RuleArns: []string{elbARNs.ruleARN("web", 0, 99)}})
	elbWantCode(t, err, "RuleNotFound")
	_, err = c.DescribeRules(elbCtx, &elbv2.DescribeRulesInput{})
	elbWantCode(t, err, "ValidationError")
}

func TestELBDescribeTargetGroups(t *testing.T) {
	_, c := elbClient(t)
	out, err := c.DescribeTargetGroups(elbCtx, &elbv2.DescribeTargetGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	tgs := map[string]types.TargetGroup{}
	for _, tg := range out.TargetGroups {
		tgs[*tg.TargetGroupName] = tg
	}
	api, admin, batch := tgs["api"], tgs["admin"], tgs["batch"]
	if *api.TargetGroupArn != elbARNs.targetGroupARN("api") || api.Protocol != types.ProtocolEnumHttp || *api.Port != 8080 ||
		api.TargetType != types.TargetTypeEnumIp || *api.ProtocolVersion != "HTTP1" || *api.VpcId != elbARNs.vpcID() {
		t.Errorf("api %+v", api)
	}
	if api.HealthCheckProtocol != types.ProtocolEnumHttp || *api.HealthCheckPort != "traffic-port" || !*api.HealthCheckEnabled ||
		*api.HealthCheckIntervalSeconds != 30 || *api.HealthCheckTimeoutSeconds != 5 || *api.HealthyThresholdCount != 5 ||
		*api.UnhealthyThresholdCount != 2 || *api.HealthCheckPath != "/health" || *api.Matcher.HttpCode != "200" {
		t.Errorf("api health check %+v", api)
	}
	if !slices.Equal(api.LoadBalancerArns, []string{elbARNs.loadBalancerARN("web")}) {
		t.Errorf("api load balancers %v", api.LoadBalancerArns)
	}
	if *admin.HealthCheckPort != "9100" || *admin.Matcher.HttpCode != "200-299,302" || *admin.Port != 8080 {
		t.Errorf("admin %+v", admin)
	}
	if batch.Protocol != types.ProtocolEnumHttps || batch.HealthCheckProtocol != types.ProtocolEnumHttps || *batch.Port != 9090 ||
		!slices.Equal(batch.LoadBalancerArns, []string{elbARNs.loadBalancerARN("internal")}) {
		t.Errorf("batch %+v", batch)
	}

	byLB, err := c.DescribeTargetGroups(elbCtx, &elbv2.DescribeTargetGroupsInput{LoadBalancerArn: aws.String(elbARNs.loadBalancerARN("web"))})
	if err != nil || len(byLB.TargetGroups) != 2 || *byLB.TargetGroups[0].TargetGroupName != "admin" || *byLB.TargetGroups[1].TargetGroupName != "api" {
		t.Fatalf("by load balancer: %v %+v", err, byLB)
	}
	byName, err := c.DescribeTargetGroups(elbCtx, &elbv2.DescribeTargetGroupsInput{Names: []string{"batch"}})
	if err != nil || len(byName.TargetGroups) != 1 || *byName.TargetGroups[0].TargetGroupArn != elbARNs.targetGroupARN("batch") {
		t.Fatalf("by name: %v %+v", err, byName)
	}
	_, err = c.DescribeTargetGroups(elbCtx, &elbv2.DescribeTargetGroupsInput{Names: []string{"nope"}})
	elbWantCode(t, err, "TargetGroupNotFound", "nope")
	_, err = c.DescribeTargetGroups(elbCtx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{arns{region: testRegion, cluster: "other"}.targetGroupARN("api")}})
	elbWantCode(t, err, "TargetGroupNotFound")
	_, err = c.DescribeTargetGroups(elbCtx, &elbv2.DescribeTargetGroupsInput{Names: []string{"api"}, TargetGroupArns: []string{elbARNs.targetGroupARN("api")}})
	elbWantCode(t, err, "ValidationError")
}

func elbAttrMap(as []types.TargetGroupAttribute) map[string]string {
	m := map[string]string{}
	for _, a := range as {
		m[*a.Key] = *a.Value
	}
	return m
}

func TestELBDescribeTargetGroupAttributes(t *testing.T) {
	_, c := elbClient(t)
	out, err := c.DescribeTargetGroupAttributes(elbCtx, &elbv2.DescribeTargetGroupAttributesInput{TargetGroupArn: aws.String(elbARNs.targetGroupARN("admin"))})
	if err != nil {
		t.Fatal(err)
	}
	m := elbAttrMap(out.Attributes)
	want := map[string]string{
		"stickiness.enabled": "true", "stickiness.type": "lb_cookie", "stickiness.lb_cookie.duration_seconds": "3600",
		"stickiness.app_cookie.duration_seconds": "86400", "stickiness.app_cookie.cookie_name": "",
		"deregistration_delay.timeout_seconds": "30", "slow_start.duration_seconds": "0", "load_balancing.algorithm.type": "round_robin",
		"load_balancing.algorithm.anomaly_mitigation": "off",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q; want %q", k, m[k], v)
		}
	}
	batch, err := c.DescribeTargetGroupAttributes(elbCtx, &elbv2.DescribeTargetGroupAttributesInput{TargetGroupArn: aws.String(elbARNs.targetGroupARN("batch"))})
	if err != nil {
		t.Fatal(err)
	}
	if m := elbAttrMap(batch.Attributes); m["stickiness.enabled"] != "false" || m["load_balancing.algorithm.type"] != "least_outstanding_requests" {
		t.Errorf("batch attributes %v", m)
	}
	_, err = c.DescribeTargetGroupAttributes(elbCtx, &elbv2.DescribeTargetGroupAttributesInput{TargetGroupArn: aws.String(elbARNs.targetGroupARN("nope"))})
	elbWantCode(t, err, "TargetGroupNotFound")
}

func TestELBDescribeTargetHealth(t *testing.T) {
	_, c := elbClient(t)
	out, err := c.DescribeTargetHealth(elbCtx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(elbARNs.targetGroupARN("api"))})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range out.TargetHealthDescriptions {
		got = append(got, fmt.Sprintf("%s:%d %s %s %q hc=%s", *d.Target.Id, *d.Target.Port, d.TargetHealth.State, d.TargetHealth.Reason, aws.ToString(d.TargetHealth.Description), *d.HealthCheckPort))
	}
	want := []string{
		`127.0.0.2:41000 healthy  "" hc=41000`,
		`127.0.0.2:41001 unhealthy Target.ResponseCodeMismatch "Health checks failed with these codes: [500]" hc=41001`,
		`127.0.0.3:41002 draining Target.DeregistrationInProgress "Target deregistration is in progress" hc=41002`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("target health\n got %q\nwant %q", got, want)
	}

	admin, err := c.DescribeTargetHealth(elbCtx, &elbv2.DescribeTargetHealthInput{
		TargetGroupArn: aws.String(elbARNs.targetGroupARN("admin")),
		Targets:        []types.TargetDescription{{Id: aws.String("127.0.0.1"), Port: aws.Int32(9001)}, {Id: aws.String("127.0.0.9"), Port: aws.Int32(80)}},
		Include:        []types.DescribeTargetHealthInputIncludeEnum{types.DescribeTargetHealthInputIncludeEnumAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	d := admin.TargetHealthDescriptions
	if len(d) != 2 || d[0].TargetHealth.State != types.TargetHealthStateEnumInitial || d[0].TargetHealth.Reason != types.TargetHealthReasonEnumRegistrationInProgress ||
		*d[0].HealthCheckPort != "9100" || d[1].TargetHealth.State != types.TargetHealthStateEnumUnused || d[1].TargetHealth.Reason != types.TargetHealthReasonEnumNotRegistered {
		t.Errorf("filtered target health %+v", d)
	}
	_, err = c.DescribeTargetHealth(elbCtx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(elbARNs.targetGroupARN("gone"))})
	elbWantCode(t, err, "TargetGroupNotFound")
}

// TestELBHealthStatesAreALBs checks that proxy's states and reasons are
// the API's own strings.
func TestELBHealthStatesAreALBs(t *testing.T) {
	states := types.TargetHealthStateEnum("").Values()
	for _, s := range []proxy.State{proxy.StateInitial, proxy.StateHealthy, proxy.StateUnhealthy, proxy.StateDraining, proxy.StateUnused} {
		if !slices.Contains(states, types.TargetHealthStateEnum(s)) {
			t.Errorf("state %s is not ALB's", s)
		}
	}
	reasons := types.TargetHealthReasonEnum("").Values()
	for _, r := range []proxy.Reason{proxy.ReasonRegistrationInProgress, proxy.ReasonInitialHealthChecking, proxy.ReasonResponseCodeMismatch,
		proxy.ReasonTimeout, proxy.ReasonFailedHealthChecks, proxy.ReasonDeregistrationInProgress, proxy.ReasonNotRegistered} {
		if !slices.Contains(reasons, types.TargetHealthReasonEnum(r)) {
			t.Errorf("reason %s is not ALB's", r)
		}
	}
}

func TestELBRegisterDeregisterTargets(t *testing.T) {
	b, c := elbClient(t)
	admin := aws.String(elbARNs.targetGroupARN("admin"))
	api := aws.String(elbARNs.targetGroupARN("api"))
	target := func(id string, port int32) types.TargetDescription {
		return types.TargetDescription{Id: aws.String(id), Port: aws.Int32(port)}
	}

	_, err := c.RegisterTargets(elbCtx, &elbv2.RegisterTargetsInput{TargetGroupArn: admin, Targets: []types.TargetDescription{target("127.0.0.1", 9002), target("127.0.0.1", 9000), target("::1", 9003)}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.elbConfig().TargetGroups["admin"].Targets, []string{"127.0.0.1:9000", "127.0.0.1:9001", "127.0.0.1:9002", "[::1]:9003"}; !slices.Equal(got, want) {
		t.Errorf("admin targets %v; want %v", got, want)
	}

	_, err = c.RegisterTargets(elbCtx, &elbv2.RegisterTargetsInput{TargetGroupArn: admin, Targets: []types.TargetDescription{target("10.0.0.1", 80)}})
	elbWantCode(t, err, "InvalidTarget", "127.0.0.0/8")
	_, err = c.RegisterTargets(elbCtx, &elbv2.RegisterTargetsInput{TargetGroupArn: admin, Targets: []types.TargetDescription{target("i-0123456789abcdef0", 80)}})
	elbWantCode(t, err, "InvalidTarget", "IP address")
	_, err = c.RegisterTargets(elbCtx, &elbv2.RegisterTargetsInput{TargetGroupArn: admin, Targets: []types.TargetDescription{{Id: aws.String("127.0.0.1")}}})
	elbWantCode(t, err, "ValidationError", "Port is required")
	_, err = c.RegisterTargets(elbCtx, &elbv2.RegisterTargetsInput{TargetGroupArn: api, Targets: []types.TargetDescription{target("127.0.0.2", 41000)}})
	elbWantCode(t, err, "InvalidTarget", "task 0a1b2c3d of service api")
	_, err = c.RegisterTargets(elbCtx, &elbv2.RegisterTargetsInput{TargetGroupArn: api, Targets: []types.TargetDescription{target("127.0.0.3", 41002)}})
	elbWantCode(t, err, "InvalidTarget", "draining")
	_, err = c.RegisterTargets(elbCtx, &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(elbARNs.targetGroupARN("nope")), Targets: []types.TargetDescription{target("127.0.0.1", 1)}})
	elbWantCode(t, err, "TargetGroupNotFound")

	// Deregistering: static targets go; a task's is refused; one not
	// registered is nothing to do.
	_, err = c.DeregisterTargets(elbCtx, &elbv2.DeregisterTargetsInput{TargetGroupArn: admin, Targets: []types.TargetDescription{target("127.0.0.1", 9000), target("127.0.0.1", 9999)}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.elbConfig().TargetGroups["admin"].Targets, []string{"127.0.0.1:9001", "127.0.0.1:9002", "[::1]:9003"}; !slices.Equal(got, want) {
		t.Errorf("admin targets %v; want %v", got, want)
	}
	before := b.elbConfig()
	_, err = c.DeregisterTargets(elbCtx, &elbv2.DeregisterTargetsInput{TargetGroupArn: api, Targets: []types.TargetDescription{target("127.0.0.2", 41001)}})
	elbWantCode(t, err, "InvalidTarget", "task 4e5f6a7b of service api", "aws ecs stop-task --task 4e5f6a7b", "update-service --service api")
	if !reflect.DeepEqual(before, b.elbConfig()) {
		t.Error("a refused deregistration changed the configuration")
	}
}

func TestELBModifyTargetGroup(t *testing.T) {
	b, c := elbClient(t)
	api := aws.String(elbARNs.targetGroupARN("api"))
	out, err := c.ModifyTargetGroup(elbCtx, &elbv2.ModifyTargetGroupInput{
		TargetGroupArn: api, HealthCheckPath: aws.String("/ready"), HealthCheckPort: aws.String("9200"), HealthCheckProtocol: types.ProtocolEnumHttp,
		HealthCheckIntervalSeconds: aws.Int32(10), HealthCheckTimeoutSeconds: aws.Int32(3), HealthyThresholdCount: aws.Int32(2),
		UnhealthyThresholdCount: aws.Int32(3), Matcher: &types.Matcher{HttpCode: aws.String("200,202-204")}, HealthCheckEnabled: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := proxy.HealthCheckConfig{Path: "/ready", Port: 9200, Interval: 10 * time.Second, Timeout: 3 * time.Second,
		HealthyThreshold: 2, UnhealthyThreshold: 3, Success: proxy.Matcher{{Lo: 200, Hi: 200}, {Lo: 202, Hi: 204}}}
	if got := b.elbConfig().TargetGroups["api"].HealthCheck; !reflect.DeepEqual(got, want) {
		t.Errorf("health check %+v; want %+v", got, want)
	}
	if tg := out.TargetGroups[0]; *tg.HealthCheckPath != "/ready" || *tg.HealthCheckPort != "9200" || *tg.Matcher.HttpCode != "200,202-204" {
		t.Errorf("answer %+v", tg)
	}
	if _, err := c.ModifyTargetGroup(elbCtx, &elbv2.ModifyTargetGroupInput{TargetGroupArn: api, HealthCheckPort: aws.String("traffic-port")}); err != nil {
		t.Fatal(err)
	}
	if b.elbConfig().TargetGroups["api"].HealthCheck.Port != 0 {
		t.Error("traffic-port did not reach the configuration")
	}

	before := b.elbConfig()
	for _, tc := range []struct {
		in    elbv2.ModifyTargetGroupInput
		words []string
	}{
		{elbv2.ModifyTargetGroupInput{HealthCheckIntervalSeconds: aws.Int32(4)}, []string{"healthCheckIntervalSeconds", "greater than or equal to 5"}},
		{elbv2.ModifyTargetGroupInput{HealthCheckTimeoutSeconds: aws.Int32(121)}, []string{"less than or equal to 120"}},
		{elbv2.ModifyTargetGroupInput{HealthCheckTimeoutSeconds: aws.Int32(10)}, []string{"greater than the timeout"}},
		{elbv2.ModifyTargetGroupInput{HealthyThresholdCount: aws.Int32(11)}, nil},
		{elbv2.ModifyTargetGroupInput{UnhealthyThresholdCount: aws.Int32(1)}, nil},
		{elbv2.ModifyTargetGroupInput{HealthCheckProtocol: types.ProtocolEnumHttps}, []string{"HTTP", "shoal deploy"}},
		{elbv2.ModifyTargetGroupInput{HealthCheckEnabled: aws.Bool(false)}, []string{"always checks"}},
		{elbv2.ModifyTargetGroupInput{Matcher: &types.Matcher{HttpCode: aws.String("600")}}, []string{"200-499"}},
		{elbv2.ModifyTargetGroupInput{Matcher: &types.Matcher{GrpcCode: aws.String("0")}}, []string{"GrpcCode"}},
		{elbv2.ModifyTargetGroupInput{HealthCheckPort: aws.String("70000")}, []string{"traffic-port"}},
		{elbv2.ModifyTargetGroupInput{HealthCheckPath: aws.String("health")}, []string{"starts with /"}},
	} {
		tc.in.TargetGroupArn = api
		_, err := c.ModifyTargetGroup(elbCtx, &tc.in)
		elbWantCode(t, err, "ValidationError", tc.words...)
	}
	if !reflect.DeepEqual(before, b.elbConfig()) {
		t.Error("a refused change changed the configuration")
	}
	_, err = c.ModifyTargetGroup(elbCtx, &elbv2.ModifyTargetGroupInput{TargetGroupArn: aws.String(elbARNs.targetGroupARN("gone")), HealthCheckPath: aws.String("/")})
	elbWantCode(t, err, "TargetGroupNotFound")
}

func TestELBModifyTargetGroupAttributes(t *testing.T) {
	b, c := elbClient(t)
	api := aws.String(elbARNs.targetGroupARN("api"))
	attrs := func(kv ...string) []types.TargetGroupAttribute {
		var out []types.TargetGroupAttribute
		for i := 0; i < len(kv); i += 2 {
			out = append(out, types.TargetGroupAttribute{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
		}
		return out
	}
	out, err := c.ModifyTargetGroupAttributes(elbCtx, &elbv2.ModifyTargetGroupAttributesInput{TargetGroupArn: api, Attributes: attrs(
		"stickiness.enabled", "true", "stickiness.type", "app_cookie", "stickiness.app_cookie.cookie_name", "SESSION",
		"stickiness.app_cookie.duration_seconds", "600", "deregistration_delay.timeout_seconds", "0",
		"slow_start.duration_seconds", "60", "load_balancing.algorithm.anomaly_mitigation", "off",
	)})
	if err != nil {
		t.Fatal(err)
	}
	tg := b.elbConfig().TargetGroups["api"]
	if want := (proxy.Stickiness{Type: proxy.AppCookie, Duration: 10 * time.Minute, CookieName: "SESSION"}); tg.Stickiness != want || tg.DeregistrationDelay != 0 || tg.SlowStart != time.Minute {
		t.Errorf("target group %+v", tg)
	}
	if m := elbAttrMap(out.Attributes); len(m) != 14 || m["stickiness.type"] != "app_cookie" || m["slow_start.duration_seconds"] != "60" || m["stickiness.lb_cookie.duration_seconds"] != "86400" {
		t.Errorf("answer %v (%d attributes; want all 14)", m, len(m))
	}
	if _, err := c.ModifyTargetGroupAttributes(elbCtx, &elbv2.ModifyTargetGroupAttributesInput{TargetGroupArn: api, Attributes: attrs(
		"stickiness.enabled", "false", "slow_start.duration_seconds", "0", "load_balancing.algorithm.type", "weighted_random")}); err != nil {
		t.Fatal(err)
	}
	if tg := b.elbConfig().TargetGroups["api"]; tg.Stickiness != (proxy.Stickiness{}) || tg.Algorithm != proxy.WeightedRandom || tg.SlowStart != 0 {
		t.Errorf("target group %+v", tg)
	}

	before := b.elbConfig()
	for _, tc := range []struct {
		kv    []string
		words []string
	}{
		{[]string{"stickiness.nope", "1"}, []string{"stickiness.nope"}},
		{[]string{"load_balancing.algorithm.anomaly_mitigation", "on"}, []string{"anomaly_mitigation", "off"}},
		{[]string{"slow_start.duration_seconds", "10"}, []string{"30 to 900"}},
		{[]string{"slow_start.duration_seconds", "60"}, []string{"round_robin"}}, // the algorithm is weighted_random now
		{[]string{"deregistration_delay.timeout_seconds", "3601"}, []string{"0 to 3600"}},
		{[]string{"stickiness.enabled", "true", "stickiness.type", "app_cookie", "stickiness.app_cookie.cookie_name", ""}, []string{"cookie_name is required"}},
		{[]string{"stickiness.enabled", "true", "stickiness.type", "app_cookie", "stickiness.app_cookie.cookie_name", "AWSALBX"}, []string{"AWSALB"}},
		{[]string{"stickiness.type", "source_ip"}, []string{"lb_cookie"}},
		{[]string{"stickiness.lb_cookie.duration_seconds", "604801"}, []string{"604800"}},
		{[]string{"load_balancing.algorithm.type", "random"}, []string{"round_robin"}},
		{[]string{"stickiness.enabled", "yes"}, []string{"true or false"}},
	} {
		_, err := c.ModifyTargetGroupAttributes(elbCtx, &elbv2.ModifyTargetGroupAttributesInput{TargetGroupArn: api, Attributes: attrs(tc.kv...)})
		elbWantCode(t, err, "ValidationError", tc.words...)
	}
	if !reflect.DeepEqual(before, b.elbConfig()) {
		t.Error("a refused change changed the configuration")
	}
}

func TestELBModifyRule(t *testing.T) {
	b, c := elbClient(t)
	rule10 := aws.String(elbARNs.ruleARN("web", 0, 10))
	api, admin := aws.String(elbARNs.targetGroupARN("api")), aws.String(elbARNs.targetGroupARN("admin"))
	out, err := c.ModifyRule(elbCtx, &elbv2.ModifyRuleInput{
		RuleArn: rule10,
		Conditions: []types.RuleCondition{
			{Field: aws.String("path-pattern"), PathPatternConfig: &types.PathPatternConditionConfig{Values: []string{"/v2/*"}}},
			{Field: aws.String("http-header"), HttpHeaderConfig: &types.HttpHeaderConditionConfig{HttpHeaderName: aws.String("X-Canary"), Values: []string{"1"}}},
		},
		Actions: []types.Action{{Type: types.ActionTypeEnumForward, ForwardConfig: &types.ForwardActionConfig{
			TargetGroups:                []types.TargetGroupTuple{{TargetGroupArn: api, Weight: aws.Int32(0)}, {TargetGroupArn: admin, Weight: aws.Int32(999)}},
			TargetGroupStickinessConfig: &types.TargetGroupStickinessConfig{Enabled: aws.Bool(false)},
		}}},
		ResetTransforms: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := b.elbConfig().Listeners[0].Routes.Rules[1]
	wantRule := routing.Rule{
		Priority: 10,
		Conditions: []routing.Condition{
			{Field: routing.PathPattern, Values: []string{"/v2/*"}},
			{Field: routing.HTTPHeader, HeaderName: "X-Canary", Values: []string{"1"}},
		},
		Action: routing.Action{Type: routing.Forward, Forward: &routing.ForwardAction{Groups: []routing.WeightedGroup{{Name: "api", Weight: 0}, {Name: "admin", Weight: 999}}}},
	}
	if !reflect.DeepEqual(r, wantRule) {
		t.Errorf("rule\n got %+v\nwant %+v", r, wantRule)
	}
	if got := out.Rules[0]; *got.Priority != "10" || got.Conditions[0].Values[0] != "/v2/*" || *got.Actions[0].ForwardConfig.TargetGroups[1].Weight != 999 || len(got.Transforms) != 0 {
		t.Errorf("answer %+v", got)
	}

	// Actions only: the conditions stay; a redirect, then a fixed response
	// after a JWT check on the https listener.
	if _, err := c.ModifyRule(elbCtx, &elbv2.ModifyRuleInput{RuleArn: rule10, Actions: []types.Action{{Type: types.ActionTypeEnumRedirect,
		RedirectConfig: &types.RedirectActionConfig{Protocol: aws.String("HTTPS"), Port: aws.String("8443"), StatusCode: types.RedirectActionStatusCodeEnumHttp302}}}}); err != nil {
		t.Fatal(err)
	}
	if r := b.elbConfig().Listeners[0].Routes.Rules[1]; len(r.Conditions) != 2 || r.Action.Type != routing.Redirect || *r.Action.Redirect != (routing.RedirectAction{Protocol: "HTTPS", Port: "8443", StatusCode: 302}) {
		t.Errorf("rule after the redirect %+v", r)
	}
	if _, err := c.ModifyRule(elbCtx, &elbv2.ModifyRuleInput{RuleArn: aws.String(elbARNs.ruleARN("web", 1, 5)), Actions: []types.Action{
		{Type: types.ActionTypeEnumFixedResponse, Order: aws.Int32(2), FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("410"), MessageBody: aws.String("gone")}},
		{Type: types.ActionTypeEnumJwtValidation, Order: aws.Int32(1), JwtValidationConfig: &types.JwtValidationActionConfig{JwksEndpoint: aws.String("https://idp.example.com/jwks"), Issuer: aws.String("https://idp.example.com")}},
	}, Transforms: []types.RuleTransform{{Type: types.TransformTypeEnumHostHeaderRewrite, HostHeaderRewriteConfig: &types.HostHeaderRewriteConfig{
		Rewrites: []types.RewriteConfig{{Regex: aws.String("^.*$"), Replace: aws.String("internal.example.com")}}}}}}); err != nil {
		t.Fatal(err)
	}
	r5 := b.elbConfig().Listeners[1].Routes.Rules[0]
	if r5.Action.Type != routing.FixedResponse || r5.Action.Fixed.StatusCode != 410 || r5.Action.Auth == nil || r5.Action.Auth.JWT.Issuer != "https://idp.example.com" ||
		len(r5.Transforms) != 1 || r5.Transforms[0].Replace != "internal.example.com" {
		t.Errorf("rule 5 %+v", r5)
	}

	before := b.elbConfig()
	_, err = c.ModifyRule(elbCtx, &elbv2.ModifyRuleInput{RuleArn: aws.String(elbARNs.ruleARN("web", 0, 0)), Actions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: api}}})
	elbWantCode(t, err, "OperationNotPermitted", "ModifyListener")
	_, err = c.ModifyRule(elbCtx, &elbv2.ModifyRuleInput{RuleArn: aws.String(elbARNs.ruleARN("web", 0, 11))})
	elbWantCode(t, err, "RuleNotFound")
	_, err = c.ModifyRule(elbCtx, &elbv2.ModifyRuleInput{RuleArn: rule10, Actions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(elbARNs.targetGroupARN("gone"))}}})
	elbWantCode(t, err, "TargetGroupNotFound")
	_, err = c.ModifyRule(elbCtx, &elbv2.ModifyRuleInput{RuleArn: rule10, Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/a", "/b", "/c", "/d"}}}})
	elbWantCode(t, err, "ValidationError", "rule 10", "at most 3")
	_, err = c.ModifyRule(elbCtx, &elbv2.ModifyRuleInput{RuleArn: rule10, Actions: []types.Action{{Type: types.ActionTypeEnumForward, ForwardConfig: &types.ForwardActionConfig{
		TargetGroups: []types.TargetGroupTuple{{TargetGroupArn: api, Weight: aws.Int32(1000)}}}}}})
	elbWantCode(t, err, "ValidationError", "Weight")
	_, err = c.ModifyRule(elbCtx, &elbv2.ModifyRuleInput{RuleArn: rule10, Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), RegexValues: []string{"^/a$"}}}})
	elbWantCode(t, err, "ValidationError", "RegexValues")
	_, err = c.ModifyRule(elbCtx, &elbv2.ModifyRuleInput{RuleArn: rule10, Actions: []types.Action{{Type: types.ActionTypeEnumJwtValidation, Order: aws.Int32(1),
		JwtValidationConfig: &types.JwtValidationActionConfig{JwksEndpoint: aws.String("https://idp.example.com/jwks"), Issuer: aws.String("x")}},
		{Type: types.ActionTypeEnumForward, Order: aws.Int32(2), TargetGroupArn: api}}})
	elbWantCode(t, err, "InvalidLoadBalancerAction", "HTTPS")
	_, err = c.ModifyRule(elbCtx, &elbv2.ModifyRuleInput{RuleArn: rule10, Actions: []types.Action{{Type: types.ActionTypeEnumAuthenticateCognito}}})
	elbWantCode(t, err, "ValidationError", "cognito")
	if !reflect.DeepEqual(before, b.elbConfig()) {
		t.Error("a refused change changed the configuration")
	}
}

func TestELBModifyListener(t *testing.T) {
	b, c := elbClient(t)
	web0, web1 := aws.String(elbARNs.listenerARN("web", 0)), aws.String(elbARNs.listenerARN("web", 1))
	out, err := c.ModifyListener(elbCtx, &elbv2.ModifyListenerInput{ListenerArn: web0, Port: aws.Int32(8080), Protocol: types.ProtocolEnumHttp,
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumRedirect, RedirectConfig: &types.RedirectActionConfig{
			Protocol: aws.String("HTTPS"), Port: aws.String("8443"), StatusCode: types.RedirectActionStatusCodeEnumHttp301}}}})
	if err != nil {
		t.Fatal(err)
	}
	if d := b.elbConfig().Listeners[0].Routes.Default; d.Type != routing.Redirect || *d.Redirect != (routing.RedirectAction{Protocol: "HTTPS", Port: "8443", StatusCode: 301}) {
		t.Errorf("default action %+v", d)
	}
	if a := out.Listeners[0].DefaultActions[0]; a.Type != types.ActionTypeEnumRedirect || *a.RedirectConfig.Port != "8443" {
		t.Errorf("answer %+v", a)
	}
	// The internal listener's shorthand default gives way to a full one
	// (the shorthand, the stack file's, stays).
	if _, err := c.ModifyListener(elbCtx, &elbv2.ModifyListenerInput{ListenerArn: aws.String(elbARNs.listenerARN("internal", 0)), DefaultActions: []types.Action{
		{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("503"), ContentType: aws.String("application/json"), MessageBody: aws.String("{}")}}}}); err != nil {
		t.Fatal(err)
	}
	if l := b.elbConfig().Listeners[2]; l.TargetGroup != "batch" || l.Routes.Default.Type != routing.FixedResponse || l.Routes.Default.Fixed.StatusCode != 503 {
		t.Errorf("internal listener %+v", l)
	}
	// The same certificates and policy are no change.
	if _, err := c.ModifyListener(elbCtx, &elbv2.ModifyListenerInput{ListenerArn: web1, SslPolicy: aws.String("ELBSecurityPolicy-TLS13-1-2-2021-06"),
		Certificates: []types.Certificate{{CertificateArn: aws.String(elbARNs.certificateARN("/stack/tls/cert.pem"))}}}); err != nil {
		t.Fatal(err)
	}

	// Sign-in with OpenID Connect before the https listener's forward; the
	// client secret kept from the action replaced, the second time.
	oidc := &types.AuthenticateOidcActionConfig{
		Issuer: aws.String("https://idp.example.com"), AuthorizationEndpoint: aws.String("https://idp.example.com/auth"),
		TokenEndpoint: aws.String("http://127.0.0.1:5556/token"), UserInfoEndpoint: aws.String("https://idp.example.com/userinfo"),
		ClientId: aws.String("shoal"), ClientSecret: aws.String("s3cret"), AuthenticationRequestExtraParams: map[string]string{"prompt": "login"},
	}
	forward := types.Action{Type: types.ActionTypeEnumForward, Order: aws.Int32(2), TargetGroupArn: aws.String(elbARNs.targetGroupARN("admin"))}
	if _, err := c.ModifyListener(elbCtx, &elbv2.ModifyListenerInput{ListenerArn: web1, DefaultActions: []types.Action{
		{Type: types.ActionTypeEnumAuthenticateOidc, Order: aws.Int32(1), AuthenticateOidcConfig: oidc}, forward}}); err != nil {
		t.Fatal(err)
	}
	oidc.ClientSecret, oidc.UseExistingClientSecret, oidc.Scope = nil, aws.Bool(true), aws.String("openid email")
	out, err = c.ModifyListener(elbCtx, &elbv2.ModifyListenerInput{ListenerArn: web1, DefaultActions: []types.Action{
		{Type: types.ActionTypeEnumAuthenticateOidc, Order: aws.Int32(1), AuthenticateOidcConfig: oidc}, forward}})
	if err != nil {
		t.Fatal(err)
	}
	if o := b.elbConfig().Listeners[1].Routes.Default.Auth.OIDC; o.ClientSecret != "s3cret" || o.Scope != "openid email" || o.SessionTimeout != 7*24*time.Hour ||
		o.OnUnauthenticatedRequest != "authenticate" || o.ExtraParams["prompt"] != "login" {
		t.Errorf("OIDC action %+v", o)
	}
	if a := out.Listeners[0].DefaultActions[0]; a.Type != types.ActionTypeEnumAuthenticateOidc || a.AuthenticateOidcConfig.ClientSecret != nil ||
		a.AuthenticateOidcConfig.AuthenticationRequestExtraParams["prompt"] != "login" || *a.AuthenticateOidcConfig.SessionCookieName != "AWSELBAuthSessionCookie" {
		t.Errorf("OIDC answer %+v", a.AuthenticateOidcConfig)
	}

	before := b.elbConfig()
	oidc.TokenEndpoint = aws.String("http://idp.example.com/token")
	_, err = c.ModifyListener(elbCtx, &elbv2.ModifyListenerInput{ListenerArn: web1, DefaultActions: []types.Action{
		{Type: types.ActionTypeEnumAuthenticateOidc, Order: aws.Int32(1), AuthenticateOidcConfig: oidc}, forward}})
	elbWantCode(t, err, "ValidationError", "TokenEndpoint", "https")
	oidc.TokenEndpoint = aws.String("https://idp.example.com/token")
	_, err = c.ModifyListener(elbCtx, &elbv2.ModifyListenerInput{ListenerArn: web1, DefaultActions: []types.Action{
		{Type: types.ActionTypeEnumAuthenticateOidc, Order: aws.Int32(2), AuthenticateOidcConfig: oidc}, {Type: types.ActionTypeEnumForward, Order: aws.Int32(1), TargetGroupArn: forward.TargetGroupArn}}})
	elbWantCode(t, err, "InvalidLoadBalancerAction", "last action")
	_, err = c.ModifyListener(elbCtx, &elbv2.ModifyListenerInput{ListenerArn: web0, Port: aws.Int32(9999)})
	elbWantCode(t, err, "ValidationError", "shoal deploy")
	_, err = c.ModifyListener(elbCtx, &elbv2.ModifyListenerInput{ListenerArn: web0, Protocol: types.ProtocolEnumHttps})
	elbWantCode(t, err, "ValidationError", "shoal deploy")
	_, err = c.ModifyListener(elbCtx, &elbv2.ModifyListenerInput{ListenerArn: web1, Certificates: []types.Certificate{{CertificateArn: aws.String("arn:aws:acm:eu-west-3:000000000000:certificate/x")}}})
	elbWantCode(t, err, "ValidationError", "shoal deploy")
	_, err = c.ModifyListener(elbCtx, &elbv2.ModifyListenerInput{ListenerArn: web1, SslPolicy: aws.String("ELBSecurityPolicy-2016-08")})
	elbWantCode(t, err, "ValidationError", "TLS 1.2")
	_, err = c.ModifyListener(elbCtx, &elbv2.ModifyListenerInput{ListenerArn: web0, DefaultActions: []types.Action{{Type: types.ActionTypeEnumRedirect,
		RedirectConfig: &types.RedirectActionConfig{StatusCode: types.RedirectActionStatusCodeEnumHttp301}}}})
	elbWantCode(t, err, "ValidationError", "default action")
	_, err = c.ModifyListener(elbCtx, &elbv2.ModifyListenerInput{ListenerArn: aws.String(elbARNs.listenerARN("web", 3))})
	elbWantCode(t, err, "ListenerNotFound")
	if !reflect.DeepEqual(before, b.elbConfig()) {
		t.Error("a refused change changed the configuration")
	}
}

// TestELBBackendRefusal: when the backend refuses a change as invalid,
// the caller gets ValidationError with its reason and nothing changes.
func TestELBBackendRefusal(t *testing.T) {
	b, c := elbClient(t)
	before := b.elbConfig()
	b.mu.Lock()
	b.modifyErr = fmt.Errorf("%w: listener web/0: target group api speaks HTTP2", agent.ErrInvalid)
	b.mu.Unlock()
	_, err := c.ModifyRule(elbCtx, &elbv2.ModifyRuleInput{RuleArn: aws.String(elbARNs.ruleARN("web", 0, 10)),
		Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/x"}}}})
	elbWantCode(t, err, "ValidationError", "speaks HTTP2")
	_, err = c.RegisterTargets(elbCtx, &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(elbARNs.targetGroupARN("admin")),
		Targets: []types.TargetDescription{{Id: aws.String("127.0.0.1"), Port: aws.Int32(9009)}}})
	elbWantCode(t, err, "ValidationError")
	if !reflect.DeepEqual(before, b.elbConfig()) {
		t.Error("a refused change changed the configuration")
	}

	b.mu.Lock()
	b.modifyErr = errors.New("disk full")
	b.mu.Unlock()
	_, err = c.ModifyTargetGroup(elbCtx, &elbv2.ModifyTargetGroupInput{TargetGroupArn: aws.String(elbARNs.targetGroupARN("api")), HealthCheckPath: aws.String("/x")})
	elbWantCode(t, err, "InternalFailure", "disk full")
}
