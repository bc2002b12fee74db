package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what one wrk --latency run printed.
type wrkResult struct {
	Requests     int64   `json:"requests"`
	Seconds      float64 `json:"seconds"`
	RPS          float64 `json:"requests_per_second"`
	P50ms        float64 `json:"p50_ms"`
	P99ms        float64 `json:"p99_ms"`
	Non2xx       int64   `json:"non_2xx_3xx"`
	SocketErrors int64   `json:"socket_errors"`
}

// parseWrk reads the output of wrk --latency.
func parseWrk(r io.Reader) (wrkResult, error) {
	var w wrkResult
	var sawRequests, sawP50, sawP99 bool
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 4 && f[1] == "requests" && f[2] == "in":
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return w, fmt.Errorf("requests %q: %v", f[0], err)
			}
			d, err := parseWrkDuration(strings.TrimSuffix(f[3], ","))
			if err != nil {
				return w, err
			}
			w.Requests, w.Seconds, sawRequests = n, d.Seconds(), true
		case len(f) == 2 && f[0] == "50%":
			d, err := parseWrkDuration(f[1])
			if err != nil {
				return w, err
			}
			w.P50ms, sawP50 = ms(d), true
		case len(f) == 2 && f[0] == "99%":
			d, err := parseWrkDuration(f[1])
			if err != nil {
				return w, err
			}
			w.P99ms, sawP99 = ms(d), true
		case len(f) >= 2 && f[0] == "Requests/sec:":
			w.RPS, _ = strconv.ParseFloat(f[1], 64)
		case len(f) >= 2 && f[0] == "Non-2xx":
			w.Non2xx, _ = strconv.ParseInt(f[len(f)-1], 10, 64)
		case len(f) >= 3 && f[0] == "Socket" && f[1] == "errors:":
			// Socket errors: connect 0, read 0, write 0, timeout 0
			for i := 3; i < len(f); i += 2 {
				n, err := strconv.ParseInt(strings.TrimSuffix(f[i], ","), 10, 64)
				if err != nil {
					return w, fmt.Errorf("socket errors %q: %v", sc.Text(), err)
				}
				w.SocketErrors += n
			}
		}
	}
	if err := sc.Err(); err != nil {
		return w, err
	}
	if !sawRequests || !sawP50 || !sawP99 {
		return w, errors.New("not the output of wrk --latency (no requests or latency distribution)")
	}
	if w.RPS == 0 && w.Seconds > 0 {
		w.RPS = float64(w.Requests) / w.Seconds
	}
	return w, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// parseWrkDuration reads wrk's times: 812.00us, 1.25ms, 10.00s, 1.00m, 2.00h.
func parseWrkDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}}
	for _, u := range units {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				break
			}
			return time.Duration(f * float64(u.unit)), nil
		}
	}
	return 0, fmt.Errorf("time %q: not one of wrk's", s)
}

// A runRecord is one line of the runs file bench/lb.sh writes, tab-separated:
// balancer, workload id, workload label, round, CPU clock ticks the
// balancer's processes used during the run, ticks per second, the file
// holding wrk's output and, optionally, the connections the backends
// accepted during the run and the ticks core 0 was busy with anything but
// the balancer.
type runRecord struct {
	balancer, workload, label string
	round                     int
	cpuSeconds                float64
	backendConns              int64   // -1: not known
	otherSeconds              float64 // NaN: not known
	wrk                       wrkResult
}

func readRuns(path string) ([]runRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var runs []runRecord
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if strings.TrimSpace(text) == "" || strings.HasPrefix(text, "#") {
			continue
		}
		c := strings.Split(text, "\t")
		if len(c) < 7 || len(c) > 9 {
			return nil, fmt.Errorf("%s:%d: want 7 to 9 tab-separated columns, got %d", path, line, len(c))
		}
		round, err1 := strconv.Atoi(c[3])
		ticks, err2 := strconv.ParseFloat(c[4], 64)
		hz, err3 := strconv.ParseFloat(c[5], 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, line, err)
		}
		if hz <= 0 {
			return nil, fmt.Errorf("%s:%d: ticks per second %v", path, line, hz)
		}
		conns, other := int64(-1), math.NaN()
		if len(c) >= 8 {
			n, err := strconv.ParseInt(c[7], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %v", path, line, err)
			}
			conns = n
		}
		if len(c) >= 9 {
			t, err := strconv.ParseFloat(c[8], 64)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %v", path, line, err)
			}
			other = max(t, 0) / hz // tick sampling can make it a little negative
		}
		wf := c[6]
		if !filepath.IsAbs(wf) {
			wf = filepath.Join(filepath.Dir(path), wf)
		}
		out, err := os.Open(wf)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, line, err)
		}
		w, err := parseWrk(out)
		out.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", wf, err)
		}
		runs = append(runs, runRecord{balancer: c[0], workload: c[1], label: c[2], round: round, cpuSeconds: ticks / hz, backendConns: conns, otherSeconds: other, wrk: w})
	}
	return runs, sc.Err()
}

// result is a balancer's figures on one workload: the median of its rounds
// for each figure on its own, and the errors summed over the rounds.
type result struct {
	Balancer     string   `json:"balancer"`
	Workload     string   `json:"workload"`
	Label        string   `json:"label"`
	Rounds       int      `json:"rounds"`
	USPerReq     float64  `json:"cpu_us_per_request"`
	RPS          float64  `json:"requests_per_second"`
	P50ms        float64  `json:"p50_ms"`
	P99ms        float64  `json:"p99_ms"`
	Non2xx       int64    `json:"non_2xx_3xx"`
	SocketErrors int64    `json:"socket_errors"`
	BackendConns *float64 `json:"backend_connections_opened,omitempty"`
	Core0Other   *float64 `json:"core0_other_percent,omitempty"`
	USVsNginx    *float64 `json:"cpu_us_per_request_vs_nginx,omitempty"`
	P99VsNginx   *float64 `json:"p99_vs_nginx,omitempty"`
	PerRound     []round  `json:"per_round"`
}

type round struct {
	Round        int     `json:"round"`
	USPerReq     float64 `json:"cpu_us_per_request"`
	CPUSec       float64 `json:"cpu_seconds"`
	BackendConns int64   `json:"backend_connections_opened"` // -1: not known
	Core0Other   float64 `json:"core0_other_percent"`        // -1: not known
	wrkResult
}

// median of the values that are numbers; NaN when none is.
func median(xs []float64) float64 {
	s := slices.DeleteFunc(slices.Clone(xs), math.IsNaN)
	if len(s) == 0 {
		return math.NaN()
	}
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// summarize groups runs by workload then balancer, in the order they first
// appear, and fills in the ratios to nginx's figures.
func summarize(runs []runRecord) []*result {
	var results []*result
	index := map[[2]string]*result{}
	var workloads, balancers []string
	for _, r := range runs {
		k := [2]string{r.workload, r.balancer}
		res := index[k]
		if res == nil {
			res = &result{Balancer: r.balancer, Workload: r.workload, Label: r.label}
			index[k] = res
			results = append(results, res)
			if !slices.Contains(workloads, r.workload) {
				workloads = append(workloads, r.workload)
			}
			if !slices.Contains(balancers, r.balancer) {
				balancers = append(balancers, r.balancer)
			}
		}
		us := math.NaN()
		if r.wrk.Requests > 0 {
			us = r.cpuSeconds * 1e6 / float64(r.wrk.Requests)
		}
		other := -1.0
		if !math.IsNaN(r.otherSeconds) && r.wrk.Seconds > 0 {
			other = 100 * r.otherSeconds / r.wrk.Seconds
		}
		res.PerRound = append(res.PerRound, round{Round: r.round, USPerReq: us, CPUSec: r.cpuSeconds,
			BackendConns: r.backendConns, Core0Other: other, wrkResult: r.wrk})
	}
	for _, res := range results {
		var us, rps, p50, p99, conns, other []float64
		for _, rd := range res.PerRound {
			if rd.BackendConns >= 0 {
				conns = append(conns, float64(rd.BackendConns))
			}
			if rd.Core0Other >= 0 {
				other = append(other, rd.Core0Other)
			}
			us = append(us, rd.USPerReq)
			rps = append(rps, rd.RPS)
			p50 = append(p50, rd.P50ms)
			p99 = append(p99, rd.P99ms)
			res.Non2xx += rd.Non2xx
			res.SocketErrors += rd.SocketErrors
		}
		res.Rounds = len(res.PerRound)
		res.USPerReq, res.RPS, res.P50ms, res.P99ms = median(us), median(rps), median(p50), median(p99)
		if len(conns) > 0 {
			m := median(conns)
			res.BackendConns = &m
		}
		if len(other) > 0 {
			m := median(other)
			res.Core0Other = &m
		}
	}
	for _, res := range results {
		if ref := index[[2]string{res.Workload, "nginx"}]; ref != nil {
			res.USVsNginx = ratio(res.USPerReq, ref.USPerReq)
			res.P99VsNginx = ratio(res.P99ms, ref.P99ms)
		}
	}
	// Order: by workload, then by balancer, each as first seen.
	slices.SortStableFunc(results, func(a, b *result) int {
		if c := slices.Index(workloads, a.Workload) - slices.Index(workloads, b.Workload); c != 0 {
			return c
		}
		return slices.Index(balancers, a.Balancer) - slices.Index(balancers, b.Balancer)
	})
	return results
}

func ratio(a, b float64) *float64 {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return nil
	}
	r := a / b
	return &r
}

func find(results []*result, workload, balancer string) *result {
	for _, r := range results {
		if r.Workload == workload && r.Balancer == balancer {
			return r
		}
	}
	return nil
}

// goal is one of the targets the performance issue sets, as a line.
type goal struct {
	Name  string   `json:"name"`
	Value *float64 `json:"value,omitempty"`
	Limit float64  `json:"limit,omitempty"`
	Met   *bool    `json:"met,omitempty"`
	Text  string   `json:"text"`
}

func goals(results []*result) []goal {
	var gs []goal
	ratioGoal := func(name, text, workload string, limit float64, pick func(*result) *float64) {
		g := goal{Name: name, Limit: limit}
		var v *float64
		if s := find(results, workload, "shoal"); s != nil {
			v = pick(s)
		}
		if v == nil {
			g.Text = fmt.Sprintf("%s: n/a (goal ≤ %g; needs shoal and nginx figures)", text, limit)
		} else {
			met := *v <= limit
			g.Value, g.Met = v, &met
			g.Text = fmt.Sprintf("%s: %.2f× (goal ≤ %g) — %s", text, *v, limit, metWord(met))
		}
		gs = append(gs, g)
	}
	ratioGoal("cpu_per_request_vs_nginx_100b_64", "shoal CPU/req vs nginx (100 B, 64 conns)", "100b-64", 1.6,
		func(r *result) *float64 { return r.USVsNginx })
	ratioGoal("p99_vs_nginx_512", "shoal p99 vs nginx at 512 conns", "100b-512", 2,
		func(r *result) *float64 { return r.P99VsNginx })

	// Ahead means less CPU per request than both Go peers on every workload.
	g := goal{Name: "ahead_of_caddy_and_httputil"}
	var behind, missing []string
	seen := map[string]bool{}
	for _, r := range results {
		if r.Balancer != "shoal" {
			continue
		}
		seen[r.Workload] = true
		for _, peer := range []string{"caddy", "httputil"} {
			p := find(results, r.Workload, peer)
			switch {
			case p == nil || math.IsNaN(p.USPerReq) || math.IsNaN(r.USPerReq):
				missing = append(missing, peer+" on "+r.Label)
			case r.USPerReq >= p.USPerReq:
				behind = append(behind, fmt.Sprintf("%s on %s: %.1f vs %.1f µs/req", peer, r.Label, r.USPerReq, p.USPerReq))
			}
		}
	}
	prefix := "shoal vs caddy / httputil on every workload"
	switch {
	case len(seen) == 0:
		g.Text = prefix + ": n/a (no shoal figures)"
	case len(behind) > 0:
		met := false
		g.Met = &met
		g.Text = prefix + ": behind (" + strings.Join(behind, "; ") + ")"
	case len(missing) > 0:
		g.Text = prefix + ": n/a (missing " + strings.Join(missing, ", ") + ")"
	default:
		met := true
		g.Met = &met
		g.Text = prefix + ": ahead (less CPU per request than both, on all " + strconv.Itoa(len(seen)) + " workloads)"
	}
	return append(gs, g)
}

// maxOther is the largest share of core 0 used by other processes in any
// run, in percent; -1 when not known.
func maxOther(results []*result) float64 {
	worst := -1.0
	for _, r := range results {
		for _, rd := range r.PerRound {
			worst = max(worst, rd.Core0Other)
		}
	}
	return worst
}

func metWord(met bool) string {
	if met {
		return "met"
	}
	return "not met"
}

func fmtRatio(r *float64) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f×", *r)
}

func fmtMs(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case v < 1:
		return fmt.Sprintf("%.0fus", v*1000)
	case v < 1000:
		return fmt.Sprintf("%.2fms", v)
	default:
		return fmt.Sprintf("%.2fs", v/1000)
	}
}

func fmtFloat(v float64, prec int) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// printTable prints one line per workload and balancer. errors is wrk's
// non-2xx/3xx answers / socket errors, summed over the rounds; be-conns the
// connections the backends accepted during a run (a balancer that keeps its
// connections alive opens few); core0 the share of core 0 that something
// other than the balancer used during a run (other load makes the figures
// less reliable).
func printTable(w io.Writer, results []*result) {
	fmt.Fprintf(w, "%-18s %-9s %7s %7s %8s %8s %9s %7s %9s %8s %7s\n",
		"workload", "balancer", "µs/req", "×nginx", "req/s", "p50", "p99", "×nginx", "errors", "be-conns", "core0")
	last := ""
	for _, r := range results {
		label := r.Label
		if label == last {
			label = ""
		} else if last != "" {
			fmt.Fprintln(w)
		}
		last = r.Label
		conns, other := "-", "-"
		if r.BackendConns != nil {
			conns = fmtFloat(*r.BackendConns, 0)
		}
		if r.Core0Other != nil {
			other = fmtFloat(*r.Core0Other, 0) + "%"
		}
		fmt.Fprintf(w, "%-18s %-9s %7s %7s %8s %8s %9s %7s %9s %8s %7s\n",
			label, r.Balancer, fmtFloat(r.USPerReq, 1), fmtRatio(r.USVsNginx), fmtFloat(r.RPS, 0),
			fmtMs(r.P50ms), fmtMs(r.P99ms), fmtRatio(r.P99VsNginx),
			fmt.Sprintf("%d/%d", r.Non2xx, r.SocketErrors), conns, other)
	}
}

type metaFlag map[string]string

func (m metaFlag) String() string { return "" }
func (m metaFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("%q: want key=value", s)
	}
	m[k] = v
	return nil
}

func runReport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("peer report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	runsPath := fs.String("runs", "", "the runs file bench/lb.sh wrote")
	jsonPath := fs.String("json", "", "also write the results as JSON to this file")
	meta := metaFlag{}
	fs.Var(meta, "meta", "key=value recorded in the JSON output (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *runsPath == "" {
		return errors.New("-runs FILE is required")
	}
	runs, err := readRuns(*runsPath)
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		return errors.New("no runs")
	}
	results := summarize(runs)
	gs := goals(results)
	printTable(stdout, results)
	fmt.Fprintln(stdout)
	for _, g := range gs {
		fmt.Fprintln(stdout, g.Text)
	}
	if worst := maxOther(results); worst >= 10 {
		fmt.Fprintf(stdout, "note: something other than the balancer used up to %.0f%% of core 0 during a run: these figures are indicative only\n", worst)
	}
	if *jsonPath == "" {
		return nil
	}
	for _, r := range results { // JSON has no NaN: 0 where wrk completed no request
		for _, f := range []*float64{&r.USPerReq, &r.RPS, &r.P50ms, &r.P99ms} {
			if math.IsNaN(*f) {
				*f = 0
			}
		}
		for i := range r.PerRound {
			if math.IsNaN(r.PerRound[i].USPerReq) {
				r.PerRound[i].USPerReq = 0
			}
		}
	}
	b, err := json.MarshalIndent(struct {
		Meta    map[string]string `json:"meta"`
		Results []*result         `json:"results"`
		Goals   []goal            `json:"goals"`
	}{meta, results, gs}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(*jsonPath, append(b, '\n'), 0o644)
}
