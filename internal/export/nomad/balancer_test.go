package nomad

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/shoalhq/shoal/internal/export"
	"github.com/shoalhq/shoal/internal/spec"
	"github.com/shoalhq/shoal/internal/testkit"
)

// balancerStack has a listener of every kind of rule, on ports nginx
// takes from the template's env (port 0: dynamic).
const balancerStack = `name: lbtest
load_balancers:
  web:
    security_groups: [alb]
    listeners:
      - port: 0
        rules:
          - priority: 10
            conditions: {path_pattern: ["/admin*"]}
            action: {fixed_response: {status_code: 418, content_type: application/json, message_body: '{"cost":"$5"}'}}
          - priority: 20
            conditions:
              host_header: ["*.green.test"]
              http_request_method: [GET]
            action: {forward: {target_group: green}}
          - priority: 30
            conditions:
              http_header: {name: X-Split, values: ["y*"]}
              query_string: [{key: split, value: "1"}]
              source_ip: [127.0.0.0/8]
            action:
              forward: {target_groups: [{name: blue, weight: 1}, {name: green, weight: 1}]}
        default_action: {forward: {target_group: blue}}
      - port: 0
        default_action:
          redirect: {protocol: HTTPS, port: "8443", status_code: HTTP_301}
  closed:
    security_groups: [office]
    listeners:
      - port: 0
        default_action: {forward: {target_group: blue}}
target_groups:
  blue: {}
  green: {}
security_groups:
  alb:
    ingress: [{port: all, cidr: 127.0.0.0/8}]
  office:
    ingress: [{port: all, cidr: 203.0.113.0/24}]
task_definitions:
  app: {image: app:1, port: 3000}
services:
  blue: {task_definition: app, target_group: blue}
  green: {task_definition: app, target_group: green}
`

// TestBalancer_RoutesAsTheListeners runs nginx with each exported
// balancer's configuration, rendered as Nomad would with the services'
// registrations at test servers, and sends it requests of every rule.
func TestBalancer_RoutesAsTheListeners(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx is not installed (apt-get install nginx-light)")
	}
	s, err := spec.Parse("shoal.yaml", []byte(balancerStack))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Export(s, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	job := decode(t, doc.Data)
	targets := map[string]string{
		"lbtest-blue":  backend(t, "blue"),
		"lbtest-green": backend(t, "green"),
	}
	web := startNginx(t, nginx, *groupNamed(t, job, "lb-web").Tasks[0].Templates[0].EmbeddedTmpl, targets, 2)
	closed := startNginx(t, nginx, *groupNamed(t, job, "lb-closed").Tasks[0].Templates[0].EmbeddedTmpl, targets, 1)

	for _, tc := range []struct {
		name, listener, path, host string
		header                     map[string]string
		method                     string
		wantCode                   int
		wantBody, wantHeader       string
	}{
		{name: "default action", listener: web[0], path: "/items", wantCode: 200, wantBody: "blue"},
		{name: "fixed response, $ kept", listener: web[0], path: "/admin/users", wantCode: 418, wantBody: `{"cost":"$5"}`, wantHeader: "application/json"},
		{name: "host and method", listener: web[0], path: "/x", host: "a.green.test", wantCode: 200, wantBody: "green"},
		{name: "host, wrong method", listener: web[0], path: "/x", host: "a.green.test", method: "POST", wantCode: 200, wantBody: "blue"},
		{name: "lowest priority first", listener: web[0], path: "/admin", host: "a.green.test", wantCode: 418},
		{name: "header without the query", listener: web[0], path: "/q", header: map[string]string{"X-Split": "yes"}, wantCode: 200, wantBody: "blue"},
		{name: "redirect", listener: web[1], path: "/a/b?c=1", wantCode: 301, wantHeader: "https://127.0.0.1:8443/a/b?c=1"},
		{name: "security group refuses", listener: closed[0], path: "/", wantCode: 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, header := get(t, tc.listener, tc.method, tc.path, tc.host, tc.header)
			if code != tc.wantCode || tc.wantBody != "" && body != tc.wantBody || tc.wantHeader != "" && header != tc.wantHeader {
				t.Errorf("got %d %q (%q), want %d %q (%q)", code, body, header, tc.wantCode, tc.wantBody, tc.wantHeader)
			}
		})
	}

	// The weighted forward sends requests to both, by weight.
	seen := map[string]int{}
	for range 40 {
		_, body, _ := get(t, web[0], "", "/s?split=1", "", map[string]string{"X-Split": "yes"})
		seen[body]++
	}
	if seen["blue"] < 5 || seen["green"] < 5 || seen["blue"]+seen["green"] != 40 {
		t.Errorf("got %v from 40 weighted requests, want both blue and green, about half each", seen)
	}
}

// backend is a test server that answers its name.
func backend(t *testing.T, name string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// startNginx renders a balancer's template with the registrations of
// targets (Nomad service name → host:port) and n listener ports, runs
// nginx with it until the test ends, and returns the listeners' addresses.
func startNginx(t *testing.T, nginx, conf string, targets map[string]string, n int) []string {
	t.Helper()
	ports := map[string]string{}
	var addrs []string
	for i := range n {
		port := freePort(t)
		ports[fmt.Sprintf("NOMAD_PORT_l%d", i)] = port
		addrs = append(addrs, "127.0.0.1:"+port)
	}
	funcs := template.FuncMap{
		"nomadService": func(name string) []registration {
			host, port, _ := net.SplitHostPort(targets[name])
			var p int
			fmt.Sscan(port, &p)
			return []registration{{host, p}}
		},
		"env": func(name string) string { return ports[name] },
	}
	var b bytes.Buffer
	if err := template.Must(template.New("nginx.conf").Funcs(funcs).Parse(conf)).Execute(&b, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "nginx.conf")
	rendered := "pid " + filepath.Join(dir, "nginx.pid") + ";\n" + b.String()
	rendered = strings.Replace(rendered, "http {", "http {\n    client_body_temp_path "+dir+"/body;\n    proxy_temp_path "+dir+"/proxy;", 1)
	if err := os.WriteFile(path, []byte(rendered), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, nginx, "-e", "stderr", "-p", dir, "-c", path, "-g", "daemon off; master_process off;")
	var stderr testkit.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	for _, addr := range addrs {
		testkit.Poll(t, 5*time.Second, "nginx listening on "+addr, func() (bool, error) {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
			}
			return err == nil, nil
		}, func() string { return "nginx's stderr:\n" + stderr.String() })
	}
	return addrs
}

// get sends one request and returns the status, the body, and the
// Content-Type or Location header.
func get(t *testing.T, addr, method, path, host string, header map[string]string) (int, string, string) {
	t.Helper()
	if method == "" {
		method = "GET"
	}
	req, err := http.NewRequest(method, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	h := resp.Header.Get("Location")
	if h == "" {
		h = resp.Header.Get("Content-Type")
	}
	return resp.StatusCode, string(body), h
}

// freePort is a port nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}
