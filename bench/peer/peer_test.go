package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const wrkOutput = `Running 10s test @ http://127.0.0.1:8080/100
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms    1.02ms  30.55ms   90.12%
    Req/Sec    30.12k     1.20k   32.00k    70.00%
  Latency Distribution
     50%  812.00us
     75%    2.40ms
     90%    3.10ms
     99%    1.05s
  300000 requests in 10.00s, 60.00MB read
  Socket errors: connect 1, read 2, write 0, timeout 4
  Non-2xx or 3xx responses: 5
Requests/sec:  30000.00
Transfer/sec:      6.00MB
`

func TestParseWrk(t *testing.T) {
	w, err := parseWrk(strings.NewReader(wrkOutput))
	if err != nil {
		t.Fatal(err)
	}
	want := wrkResult{Requests: 300000, Seconds: 10, RPS: 30000, P50ms: 0.812, P99ms: 1050, Non2xx: 5, SocketErrors: 7}
	if w != want {
		t.Errorf("parseWrk = %+v, want %+v", w, want)
	}
	if _, err := parseWrk(strings.NewReader("unable to connect to 127.0.0.1:1 Connection refused\n")); err == nil {
		t.Error("parseWrk of an error message: no error")
	}
}

func TestParseWrkDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"812.00us": 812 * time.Microsecond, "1.25ms": 1250 * time.Microsecond,
		"10.00s": 10 * time.Second, "1.50m": 90 * time.Second, "2.00h": 2 * time.Hour,
	} {
		if got, err := parseWrkDuration(in); err != nil || got != want {
			t.Errorf("parseWrkDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseWrkDuration("12xs"); err == nil {
		t.Error("parseWrkDuration(12xs): no error")
	}
}

// writeRun writes a wrk output with the given figures and returns its file.
func writeRun(t *testing.T, dir, name string, requests int, rps, p99ms float64) string {
	t.Helper()
	out := strings.NewReplacer(
		"300000 requests", strconv.Itoa(requests)+" requests",
		"Requests/sec:  30000.00", fmt.Sprintf("Requests/sec:  %.2f", rps),
		"99%    1.05s", fmt.Sprintf("99%%    %.2fms", p99ms),
		"Socket errors: connect 1, read 2, write 0, timeout 4\n", "",
		"Non-2xx or 3xx responses: 5\n", "",
	).Replace(wrkOutput)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReport(t *testing.T) {
	dir := t.TempDir()
	var runs strings.Builder
	add := func(balancer, workload, label string, round, ticks, requests int, rps, p99 float64) {
		f := writeRun(t, dir, fmt.Sprintf("%s-%s-%d", balancer, workload, round), requests, rps, p99)
		other := 50 // ticks of other processes on core 0: 5% of the 10 s run
		if balancer == "shoal" {
			other = 200
		}
		fmt.Fprintf(&runs, "%s\t%s\t%s\t%d\t%d\t100\t%s\t64\t%d\n", balancer, workload, label, round, ticks, filepath.Base(f), other)
	}
	// CPU per request: ticks/100 s * 1e6 / requests.
	for round, ticks := range []int{310, 300, 900} { // nginx: 30, 31, 90 µs/req: median 31
		add("nginx", "100b-64", "100 B, 64 conns", round+1, ticks, 100000, 30000, 4)
	}
	add("shoal", "100b-64", "100 B, 64 conns", 1, 496, 100000, 20000, 6) // 49.6 µs/req: 1.6×
	add("caddy", "100b-64", "100 B, 64 conns", 1, 800, 100000, 9000, 20)
	add("httputil", "100b-64", "100 B, 64 conns", 1, 700, 100000, 9000, 20)
	add("nginx", "100b-512", "100 B, 512 conns", 1, 300, 100000, 30000, 10)
	add("shoal", "100b-512", "100 B, 512 conns", 1, 600, 100000, 20000, 25) // p99 2.5×
	add("caddy", "100b-512", "100 B, 512 conns", 1, 500, 100000, 9000, 20)  // less CPU than shoal
	add("httputil", "100b-512", "100 B, 512 conns", 1, 700, 100000, 9000, 20)
	runsFile := filepath.Join(dir, "runs.tsv")
	if err := os.WriteFile(runsFile, []byte(runs.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	jsonFile := filepath.Join(dir, "out.json")
	if code := run([]string{"report", "-runs", runsFile, "-json", jsonFile, "-meta", "commit=abc"}, &out, &errOut); code != 0 {
		t.Fatalf("peer report: exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{
		"100 B, 64 conns    nginx        31.0   1.00×    30000    812us    4.00ms   1.00×       0/0       64      5%",
		"shoal        49.6   1.60×    20000    812us    6.00ms   1.50×       0/0       64     20%",
		"note: something other than the balancer used up to 20% of core 0",
		"shoal CPU/req vs nginx (100 B, 64 conns): 1.60× (goal ≤ 1.6) — met",
		"shoal p99 vs nginx at 512 conns: 2.50× (goal ≤ 2) — not met",
		"shoal vs caddy / httputil on every workload: behind (caddy on 100 B, 512 conns: 60.0 vs 50.0 µs/req)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if b, err := os.ReadFile(jsonFile); err != nil || !bytes.Contains(b, []byte(`"commit": "abc"`)) {
		t.Errorf("JSON output: %v\n%s", err, b)
	}
}

func TestBackend(t *testing.T) {
	srv := httptest.NewServer(newBackendHandler())
	defer srv.Close()
	for path, size := range map[string]int{"/100": 100, "/16k": 16 << 10, "/": 3} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(body) != size || resp.ContentLength != int64(size) {
			t.Errorf("GET %s: %d, %d bytes, Content-Length %d; want 200 and %d", path, resp.StatusCode, len(body), resp.ContentLength, size)
		}
	}
	if resp, err := http.Get(srv.URL + "/nothing"); err != nil || resp.StatusCode != 404 {
		t.Errorf("GET /nothing: %v %v, want 404", resp.StatusCode, err)
	}
}

func TestRoundRobinProxy(t *testing.T) {
	var backends []*url.URL
	for _, name := range []string{"a", "b"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) }))
		defer srv.Close()
		u, _ := url.Parse(srv.URL)
		backends = append(backends, u)
	}
	proxy := httptest.NewServer(roundRobinProxy(backends, 100, nil))
	defer proxy.Close()
	var got string
	for range 4 {
		resp, err := http.Get(proxy.URL + "/100")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got += string(b)
	}
	if got != "abab" {
		t.Errorf("backends answering in turn: %q, want abab", got)
	}
	if _, err := parseBackends(" , "); err == nil {
		t.Error("parseBackends of nothing: no error")
	}
}
