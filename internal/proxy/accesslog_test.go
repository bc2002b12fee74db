package proxy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shoalhq/shoal/internal/routing"
)

// albFields are the fields of ALB's access log entry, in the order its
// documentation lists them
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html).
var albFields = []string{
	"type", "time", "elb", "client:port", "target:port",
	"request_processing_time", "target_processing_time", "response_processing_time",
	"elb_status_code", "target_status_code", "received_bytes", "sent_bytes",
	"request", "user_agent", "ssl_cipher", "ssl_protocol", "target_group_arn",
	"trace_id", "domain_name", "chosen_cert_arn", "matched_rule_priority",
	"request_creation_time", "actions_executed", "redirect_url", "error_reason",
	"target:port_list", "target_status_code_list", "classification",
	"classification_reason", "conn_trace_id",
}

// splitALB splits an ALB access log line at spaces, a double-quoted field
// being one field (with \" and \\ escapes), and names the fields.
func splitALB(t *testing.T, line string) map[string]string {
	t.Helper()
	var fields []string
	for i := 0; i < len(line); {
		if line[i] == '"' {
			var b strings.Builder
			j := i + 1
			for ; j < len(line) && line[j] != '"'; j++ {
				if line[j] == '\\' && j+1 < len(line) {
					j++
				}
				b.WriteByte(line[j])
			}
			if j >= len(line) {
				t.Fatalf("unterminated quoted field in %q", line)
			}
			fields = append(fields, b.String())
			i = j + 1
		} else {
			j := strings.IndexByte(line[i:], ' ')
			if j < 0 {
				j = len(line) - i
			}
			fields = append(fields, line[i:i+j])
			i += j
		}
		if i < len(line) {
			if line[i] != ' ' {
				t.Fatalf("no space after field %d of %q", len(fields), line)
			}
			i++
		}
	}
	if len(fields) != len(albFields) {
		t.Fatalf("%d fields, want %d: %q", len(fields), len(albFields), line)
	}
	out := map[string]string{}
	for i, f := range fields {
		out[albFields[i]] = f
	}
	return out
}

// logConfig is a listener logging to path in format: its default action
// forwards to api, rule 10 answers /fixed, rule 20 redirects /old, rule 30
// forwards /down to a group whose target refuses connections.
func logConfig(path, format string) Config {
	forward := func(g string) routing.Action {
		return routing.Action{Type: routing.Forward, Forward: &routing.ForwardAction{Groups: []routing.WeightedGroup{{Name: g, Weight: 1}}}}
	}
	path1 := func(p string) []routing.Condition {
		return []routing.Condition{{Field: routing.PathPattern, Values: []string{p}}}
	}
	return Config{
		Listeners: []ListenerConfig{{
			Name: "web/0", Address: "127.0.0.1:0", IdleTimeout: defaultIdle,
			AccessLog: &AccessLogConfig{Path: path, Format: format, LoadBalancer: "web", ID: "0123456789abcdef"},
			Routes: routing.Listener{Default: forward("api"), Rules: []routing.Rule{
				{Priority: 10, Conditions: path1("/fixed"), Action: routing.Action{Type: routing.FixedResponse,
					Fixed: &routing.FixedResponseAction{StatusCode: 418, ContentType: "text/plain", Body: "teapot"}}},
				{Priority: 20, Conditions: path1("/old"), Action: routing.Action{Type: routing.Redirect,
					Redirect: &routing.RedirectAction{Protocol: "#{protocol}", Host: "#{host}", Port: "#{port}", Path: "/new", Query: "#{query}", StatusCode: 301}}},
				{Priority: 30, Conditions: path1("/down"), Action: forward("down")},
			}},
		}},
		TargetGroups: map[string]TargetGroupConfig{"api": testGroup(), "down": failFastGroup()},
	}
}

// TestAccessLog_FieldsOfEachAction logs a forward, a fixed response, a
// redirect and a 502 to a file, in both formats, and checks each line's
// fields by ALB's list.
func TestAccessLog_FieldsOfEachAction(t *testing.T) {
	byFormat := map[string][]map[string]string{}
	for _, format := range []string{FormatALB, FormatJSON} {
		t.Run(format, func(t *testing.T) {
			bk := newBackend(t, "a")
			down := refusedAddr(t)
			path := filepath.Join(t.TempDir(), "access.log")
			lb := New(Options{})
			if err := lb.Apply(context.Background(), logConfig(path, format)); err != nil {
				t.Fatal(err)
			}
			if err := lb.Register("api", bk.addr); err != nil {
				t.Fatal(err)
			}
			if err := lb.Register("down", down); err != nil {
				t.Fatal(err)
			}
			settleTargets(t, lb)
			base := "http://" + lb.ListenerAddrs()[0]
			port := lb.ListenerAddrs()[0][strings.LastIndexByte(lb.ListenerAddrs()[0], ':')+1:]
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for _, c := range []struct {
				path string
				code int
			}{{"/items?x=1", 200}, {"/fixed", 418}, {"/old?q=2", 301}, {"/down", 502}} {
				req, _ := http.NewRequest(http.MethodGet, base+c.path, nil)
				req.Header.Set("User-Agent", `curl/8 "quoted"`)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != c.code {
					t.Fatalf("%s: status %d, want %d", c.path, resp.StatusCode, c.code)
				}
			}
			if err := lb.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("access log:\n%s", data)
			lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			if len(lines) != 4 {
				t.Fatalf("%d lines, want 4:\n%s", len(lines), data)
			}
			var entries []map[string]string
			for _, line := range lines {
				if format == FormatALB {
					entries = append(entries, splitALB(t, line))
					continue
				}
				var m map[string]string
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("%v: %s", err, line)
				}
				if len(m) != len(albFields) {
					t.Fatalf("%d fields, want %d: %s", len(m), len(albFields), line)
				}
				if !strings.HasPrefix(line, `{"type":`) || !strings.HasSuffix(line, `"conn_trace_id":"-"}`) {
					t.Errorf("fields out of ALB's order: %s", line)
				}
				entries = append(entries, m)
			}
			byFormat[format] = entries
			host := "127.0.0.1:" + port
			want := []map[string]string{
				{"elb_status_code": "200", "target_status_code": "200", "target:port": bk.addr, "matched_rule_priority": "0",
					"actions_executed": "forward", "request": "GET http://" + host + "/items?x=1 HTTP/1.1",
					"target_group_arn": "api", "error_reason": "-", "redirect_url": "-", "target:port_list": bk.addr, "target_status_code_list": "200"},
				{"elb_status_code": "418", "target_status_code": "-", "target:port": "-", "matched_rule_priority": "10",
					"actions_executed": "fixed-response", "request": "GET http://" + host + "/fixed HTTP/1.1",
					"target_group_arn": "-", "request_processing_time": "-1", "target_processing_time": "-1", "response_processing_time": "-1"},
				{"elb_status_code": "301", "target_status_code": "-", "target:port": "-", "matched_rule_priority": "20",
					"actions_executed": "redirect", "request": "GET http://" + host + "/old?q=2 HTTP/1.1",
					"redirect_url": "http://127.0.0.1:" + port + "/new?q=2"},
				{"elb_status_code": "502", "target_status_code": "-", "target:port": down, "matched_rule_priority": "30",
					"actions_executed": "forward", "request": "GET http://" + host + "/down HTTP/1.1", "target_group_arn": "down",
					"error_reason": "TargetConnectionErrorCode", "request_processing_time": "-1", "target_processing_time": "-1", "response_processing_time": "-1"},
			}
			stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)
			secs := regexp.MustCompile(`^(-1|\d+\.\d{6})$`)
			for i, e := range entries {
				common := map[string]string{"type": "http", "elb": "app/web/0123456789abcdef", "user_agent": `curl/8 "quoted"`,
					"ssl_cipher": "-", "ssl_protocol": "-", "domain_name": "-", "chosen_cert_arn": "-",
					"classification": "-", "classification_reason": "-", "conn_trace_id": "-"}
				for k, v := range want[i] {
					common[k] = v
				}
				for k, v := range common {
					if e[k] != v {
						t.Errorf("line %d: %s is %q, want %q", i+1, k, e[k], v)
					}
				}
				for _, k := range []string{"time", "request_creation_time"} {
					if !stamp.MatchString(e[k]) {
						t.Errorf("line %d: %s %q is not ISO 8601 with microseconds", i+1, k, e[k])
					}
				}
				for _, k := range []string{"request_processing_time", "target_processing_time", "response_processing_time"} {
					if !secs.MatchString(e[k]) {
						t.Errorf("line %d: %s %q: want seconds with 6 decimals, or -1", i+1, k, e[k])
					}
				}
				if !strings.HasPrefix(e["client:port"], "127.0.0.1:") || e["received_bytes"] == "0" || e["sent_bytes"] == "0" {
					t.Errorf("line %d: client %q, received %q, sent %q", i+1, e["client:port"], e["received_bytes"], e["sent_bytes"])
				}
			}
			if e := entries[0]; e["request_processing_time"] == "-1" || e["target_processing_time"] == "-1" || !strings.HasPrefix(e["trace_id"], "Root=1-") {
				t.Errorf("forward: processing times %s %s %s, trace %q", e["request_processing_time"], e["target_processing_time"], e["response_processing_time"], e["trace_id"])
			}
		})
	}
	// Both formats give the same values but those of the moment and the
	// connection.
	alb, js := byFormat[FormatALB], byFormat[FormatJSON]
	for i := range min(len(alb), len(js)) {
		for _, k := range albFields {
			switch k {
			case "time", "request_creation_time", "client:port", "target:port", "target:port_list", "trace_id",
				"request", "redirect_url", "request_processing_time", "target_processing_time", "response_processing_time":
				continue
			}
			if alb[i][k] != js[i][k] {
				t.Errorf("line %d: %s is %q in alb, %q in json", i+1, k, alb[i][k], js[i][k])
			}
		}
	}
}

// TestAccessLog_FlushedWithinASecond checks that a line reaches the file
// without another request or a close.
func TestAccessLog_FlushedWithinASecond(t *testing.T) {
	bk := newBackend(t, "a")
	path := filepath.Join(t.TempDir(), "access.log")
	lb := New(Options{})
	defer lb.Close(context.Background())
	if err := lb.Apply(context.Background(), logConfig(path, FormatALB)); err != nil {
		t.Fatal(err)
	}
	if err := lb.Register("api", bk.addr); err != nil {
		t.Fatal(err)
	}
	settleTargets(t, lb)
	resp, err := http.Get("http://" + lb.ListenerAddrs()[0] + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	sent := time.Now()
	for {
		data, _ := os.ReadFile(path)
		if strings.Count(string(data), "\n") == 1 {
			break
		}
		if time.Since(sent) > logFlushInterval+500*time.Millisecond {
			t.Fatalf("no line in the file %v after the request: %q", time.Since(sent), data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAccessLog_DroppedByAChange checks that a configuration without the
// log flushes and closes it, and that the shared writer serves a second
// listener logging to the same path.
func TestAccessLog_DroppedByAChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	lb := New(Options{})
	defer lb.Close(context.Background())
	cfg := logConfig(path, FormatALB)
	second := cfg.Listeners[0]
	second.Name = "web/1"
	cfg.Listeners = append(cfg.Listeners, second)
	if err := lb.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	lb.mu.Lock()
	n := len(lb.logs)
	lb.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d writers for one path, want 1", n)
	}
	for _, addr := range lb.ListenerAddrs() {
		resp, err := http.Get("http://" + addr + "/fixed")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	cfg.Listeners[0].AccessLog, cfg.Listeners[1].AccessLog = nil, nil
	if err := lb.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the dropped log flushed", func() bool {
		data, _ := os.ReadFile(path)
		return strings.Count(string(data), "\n") == 2
	})
}
