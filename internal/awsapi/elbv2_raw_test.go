package awsapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// elbRaw sends form to srv as the AWS CLI would, signed with
// testCredentials: POST with the form as body, or GET with it as the
// query string. It returns the status, the request id header, the
// Content-Type and the body.
func elbRaw(t *testing.T, srv *httptest.Server, method string, form url.Values) (status int, id, contentType, body string) {
	t.Helper()
	var req *http.Request
	var err error
	payload := ""
	if method == http.MethodGet {
		req, err = http.NewRequest(method, srv.URL+"/?"+form.Encode(), nil)
	} else {
		payload = form.Encode()
		req, err = http.NewRequest(method, srv.URL+"/", strings.NewReader(payload))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(payload))
	creds := aws.Credentials{AccessKeyID: testCredentials.AccessKeyID, SecretAccessKey: testCredentials.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(elbCtx, creds, req, hex.EncodeToString(sum[:]), elbv2SigningName, testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("X-Amzn-Requestid"), resp.Header.Get("Content-Type"), string(b)
}

func elbForm(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// TestELBXMLEnvelope checks the answer's bytes: the query protocol's
// envelope, namespace, <member> lists and the request id.
func TestELBXMLEnvelope(t *testing.T) {
	_, _, srv := serve(t, elbBackend())
	status, id, ct, body := elbRaw(t, srv, http.MethodPost, elbForm("Action", "DescribeTargetGroupAttributes", "Version", "2015-12-01",
		"TargetGroupArn", elbARNs.targetGroupARN("admin")))
	if status != 200 || ct != "text/xml" || len(id) != 36 {
		t.Fatalf("status %d, Content-Type %q, request id %q", status, ct, id)
	}
	prefix := `<DescribeTargetGroupAttributesResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">` +
		`<DescribeTargetGroupAttributesResult><Attributes><member><Key>stickiness.enabled</Key><Value>true</Value></member>` +
		`<member><Key>deregistration_delay.timeout_seconds</Key><Value>30</Value></member>`
	suffix := `</Attributes></DescribeTargetGroupAttributesResult><ResponseMetadata><RequestId>` + id +
		`</RequestId></ResponseMetadata></DescribeTargetGroupAttributesResponse>`
	if !strings.HasPrefix(body, prefix) || !strings.HasSuffix(body, suffix) {
		t.Errorf("body\n%s\nwant it to start with\n%s\nand end with\n%s", body, prefix, suffix)
	}

	// An operation without a result has an empty result element; an empty
	// list is written as an empty element.
	status, id, _, body = elbRaw(t, srv, http.MethodPost, elbForm("Action", "RegisterTargets", "Version", "2015-12-01",
		"TargetGroupArn", elbARNs.targetGroupARN("admin"), "Targets.member.1.Id", "127.0.0.1", "Targets.member.1.Port", "9005",
		"Targets.member.1.AvailabilityZone", "all"))
	if want := `<RegisterTargetsResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><RegisterTargetsResult></RegisterTargetsResult>` +
		`<ResponseMetadata><RequestId>` + id + `</RequestId></ResponseMetadata></RegisterTargetsResponse>`; status != 200 || body != want {
		t.Errorf("RegisterTargets: %d\n%s\nwant\n%s", status, body, want)
	}
	_, _, _, body = elbRaw(t, srv, http.MethodPost, elbForm("Action", "DescribeTargetHealth", "Version", "2015-12-01",
		"TargetGroupArn", elbARNs.targetGroupARN("batch")))
	if !strings.Contains(body, `<DescribeTargetHealthResult><TargetHealthDescriptions></TargetHealthDescriptions></DescribeTargetHealthResult>`) {
		t.Errorf("empty list: %s", body)
	}

	// GET with the query string, as the query protocol allows; an empty
	// list ("Names=") filters nothing.
	status, _, _, body = elbRaw(t, srv, http.MethodGet, elbForm("Action", "DescribeLoadBalancers", "Version", "2015-12-01", "Names", ""))
	if status != 200 || !strings.Contains(body, "<LoadBalancerName>web</LoadBalancerName>") || !strings.Contains(body, "<LoadBalancerName>internal</LoadBalancerName>") ||
		!strings.Contains(body, "<CreatedTime>") || !strings.Contains(body, "<State><Code>active</Code></State>") {
		t.Errorf("GET DescribeLoadBalancers: %d %s", status, body)
	}
}

// TestELBQueryErrors checks the error envelope, and the protocol's own
// errors: no Action, no or another Version, an operation shoal does not
// implement, parameters it does not take, a server failure.
func TestELBQueryErrors(t *testing.T) {
	b := elbBackend()
	_, _, srv := serve(t, b)
	status, id, ct, body := elbRaw(t, srv, http.MethodPost, elbForm("Action", "CreateLoadBalancer", "Version", "2015-12-01", "Name", "x"))
	want := `<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><Error><Type>Sender</Type>` +
		`<Code>UnsupportedOperation</Code><Message>shoal does not implement elasticloadbalancing:CreateLoadBalancer; see docs/aws-api.md for the operations it serves</Message>` +
		`</Error><RequestId>` + id + `</RequestId></ErrorResponse>`
	if status != 400 || ct != "text/xml" || body != want {
		t.Errorf("unsupported operation: %d %q\n%s\nwant\n%s", status, ct, body, want)
	}

	for _, tc := range []struct {
		form   url.Values
		status int
		code   string
		words  []string
	}{
		{elbForm("Version", "2015-12-01"), 400, "MissingAction", nil},
		{elbForm("Action", "DescribeLoadBalancers"), 400, "MissingParameter", []string{"Version"}},
		{elbForm("Action", "DescribeLoadBalancers", "Version", "2012-06-01"), 400, "InvalidAction", []string{"Could not find operation DescribeLoadBalancers for version 2012-06-01"}},
		{elbForm("Action", "DescribeTargetGroups", "Version", "2015-12-01", "TargetGroupNames.member.1", "api"), 400, "ValidationError", []string{"TargetGroupNames.member.1"}},
		{elbForm("Action", "DescribeTargetHealth", "Version", "2015-12-01"), 400, "ValidationError", []string{"targetGroupArn"}},
		{elbForm("Action", "DeregisterTargets", "Version", "2015-12-01", "TargetGroupArn", elbARNs.targetGroupARN("admin")), 400, "ValidationError", []string{"targets"}},
		{elbForm("Action", "RegisterTargets", "Version", "2015-12-01", "TargetGroupArn", elbARNs.targetGroupARN("admin"),
			"Targets.member.1.Id", "127.0.0.1", "Targets.member.1.Port", "80", "Targets.member.1.QuicServerId", "0x1"), 400, "ValidationError", []string{"Targets.member.1.QuicServerId"}},
		{elbForm("Action", "DescribeTargetGroups", "Version", "2015-12-01", "PageSize", "ten"), 400, "ValidationError", []string{"PageSize"}},
	} {
		status, id, _, body := elbRaw(t, srv, http.MethodPost, tc.form)
		if status != tc.status || !strings.Contains(body, "<Type>Sender</Type><Code>"+tc.code+"</Code>") || !strings.Contains(body, "<RequestId>"+id+"</RequestId>") {
			t.Errorf("%v: %d %s; want %d %s", tc.form, status, body, tc.status, tc.code)
		}
		for _, w := range tc.words {
			if !strings.Contains(body, w) {
				t.Errorf("%v: %s does not say %q", tc.form, body, w)
			}
		}
	}

	// Twice the same parameter.
	form := elbForm("Action", "DescribeLoadBalancers", "Version", "2015-12-01")
	form.Add("Names.member.1", "web")
	form.Add("Names.member.1", "internal")
	if status, _, _, body := elbRaw(t, srv, http.MethodPost, form); status != 400 || !strings.Contains(body, "<Code>ValidationError</Code>") {
		t.Errorf("a parameter given twice: %d %s", status, body)
	}

	// A failure of shoal's own is the Receiver's, 500.
	b.mu.Lock()
	b.modifyErr = fmt.Errorf("disk full")
	b.mu.Unlock()
	status, _, _, body = elbRaw(t, srv, http.MethodPost, elbForm("Action", "ModifyTargetGroup", "Version", "2015-12-01",
		"TargetGroupArn", elbARNs.targetGroupARN("api"), "HealthCheckPath", "/x"))
	if status != 500 || !strings.Contains(body, "<Type>Receiver</Type><Code>InternalFailure</Code><Message>disk full</Message>") {
		t.Errorf("server failure: %d %s", status, body)
	}
}
