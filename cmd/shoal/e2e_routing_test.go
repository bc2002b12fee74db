package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestEndToEnd_RoutingExample runs examples/routing/shoal.yaml as shipped,
// but for its ports and database: an https listener (the example's
// self-signed certificate, HTTP/2 by ALPN) forwarding 90/10 to api and
// api-canary, a rule answering /admin* with a fixed 404, and an http
// listener redirecting everything to https with 301.
func TestEndToEnd_RoutingExample(t *testing.T) {
	ex := newExample(t)
	dir := filepath.Dir(ex.stack)
	httpsPort, httpPort := freeTCPPort(t), freeTCPPort(t)
	stack := routingStack(t, dir, httpsPort, httpPort)
	up := startShoal(t, ex.bin, "up", "-q", "-f", stack, "--state-dir", ex.state)
	waitSteady(t, up, ex.bin, ex.state)

	client := httpsClient(t)
	base := "https://127.0.0.1:" + strconv.Itoa(httpsPort)
	const n = 300
	canary, h2 := 0, 0
	for range n {
		resp, err := client.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET / over https: %d", resp.StatusCode)
		}
		if strings.HasPrefix(resp.Header.Get("X-Served-By"), "api-canary-") {
			canary++
		}
		if resp.ProtoMajor == 2 {
			h2++
		}
	}
	t.Logf("%d of %d requests went to api-canary (weight 10 of 100); %d used HTTP/2", canary, n, h2)
	if canary < n*5/100 || canary > n*15/100 {
		t.Errorf("api-canary served %d of %d requests, want about 10%% (5-15%%)", canary, n)
	}
	if h2 != n {
		t.Errorf("%d of %d requests used HTTP/2; the https listener must offer it by ALPN", h2, n)
	}

	resp, err := client.Get(base + "/admin/users")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || string(body) != "Not Found" || resp.Header.Get("X-Served-By") != "" {
		t.Errorf("GET /admin/users: %d %q (served by %q), want the load balancer's fixed 404", resp.StatusCode, body, resp.Header.Get("X-Served-By"))
	}

	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = plain.Get(fmt.Sprintf("http://127.0.0.1:%d/items?sort=name", httpPort))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := base + "/items?sort=name"; resp.StatusCode != 301 || resp.Header.Get("Location") != want {
		t.Errorf("http listener: %d to %q, want 301 to %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}

	out, err := exec.Command(ex.bin, "rules", "--state-dir", ex.state).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "path-pattern /admin*") || !strings.Contains(string(out), "api-canary (weight 10, 10%)") {
		t.Errorf("shoal rules: %v\n%s", err, out)
	}
	out, err = exec.Command(ex.bin, "explain", base+"/admin", "--state-dir", ex.state).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "rule 10: matched") || !strings.Contains(string(out), "fixed-response 404") {
		t.Errorf("shoal explain %s/admin: %v\n%s", base, err, out)
	}
	out, err = exec.Command(ex.bin, "explain", base+"/items", "--state-dir", ex.state).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "rule 10: no match") || !strings.Contains(string(out), "target group: api") {
		t.Errorf("shoal explain %s/items: %v\n%s", base, err, out)
	}
	up.stop(t)
}

// routingStack writes the routing example with free ports, absolute paths
// and the database in dir.
func routingStack(t *testing.T, dir string, httpsPort, httpPort int) string {
	t.Helper()
	src, err := os.ReadFile("../../examples/routing/shoal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	example, err := filepath.Abs("../../examples/routing")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	for old, repl := range map[string]string{
		"- port: 8443":                    "- port: " + strconv.Itoa(httpsPort),
		`port: "8443"`:                    `port: "` + strconv.Itoa(httpsPort) + `"`,
		"- port: 8080":                    "- port: " + strconv.Itoa(httpPort),
		"tls/cert.pem":                    filepath.Join(example, "tls/cert.pem"),
		"tls/key.pem":                     filepath.Join(example, "tls/key.pem"),
		"working_dir: ../catalog":         "working_dir: " + filepath.Join(example, "../catalog"),
		"DATABASE_URL: sqlite:routing.db": "DATABASE_URL: sqlite://" + filepath.Join(dir, "routing.db"),
	} {
		if !strings.Contains(s, old) {
			t.Fatalf("examples/routing/shoal.yaml no longer contains %q; update the test", old)
		}
		s = strings.ReplaceAll(s, old, repl)
	}
	path := filepath.Join(dir, "routing.yaml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// httpsClient trusts the example's certificate, and only it.
func httpsClient(t *testing.T) *http.Client {
	t.Helper()
	pem, err := os.ReadFile("../../examples/routing/tls/cert.pem")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// freeTCPPort is a port free on 127.0.0.1 now.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
