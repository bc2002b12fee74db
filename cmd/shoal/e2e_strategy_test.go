package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/strategy"
	"github.com/shoalhq/shoal/internal/testkit"
)

// The tests of this file run the real binary on a stack of their own
// (testdata/strategy.yaml.tmpl): testdata/versionapp, which says its
// release in X-Version, as service api in target group api-blue, deployed
// to api-green by ECS's canary, linear and blue/green strategies. The bake
// times are production-like (minutes) and `shoal deploy --time-scale 60`
// runs them in seconds. While a deployment runs, hey puts load on the
// production listener and a sampler of the test's own records the release
// and status of each of its answers, with the time: the deployment's
// timeline (`shoal deployments api --json`) then says which share of
// production traffic green should have had at each moment, and the
// samples say which it had.

// strategyScale is the --time-scale of every deploy: a minute is a second.
const strategyScale = 60

// TestEndToEnd_CanaryDeployment deploys a canary (10 % for 10 min, then
// 100 %, blue kept 1 min) under load: `shoal deploy` says COMPLETED, green
// answers its configured share of production requests within each step
// (within 5 points), and no request fails.
func TestEndToEnd_CanaryDeployment(t *testing.T) {
	ex := newStrategyExample(t, strategyStack{Strategy: "canary", CanaryPercent: 10, CanaryBake: "10m", BakeTime: "1m"})
	up, st := ex.up(t)
	prod := st.URLs[0]
	v2 := ex.write(t, "v2.yaml", func(s *strategyStack) { s.Release = "2" })

	run := ex.deploy(t, prod, v2)
	run.logf(t)
	if run.code != 0 || !strings.Contains(run.out, "COMPLETED") {
		t.Fatalf("shoal deploy --time-scale %d -f v2.yaml: exit %d, want 0 and COMPLETED:\n%s", strategyScale, run.code, run.out)
	}
	checkShares(t, run, []float64{10, 100})
	run.checkNoFailure(t)
	ex.stop(t, up)
}

// TestEndToEnd_LinearDeployment deploys linearly (25 % more every 6 min)
// under load: green answers 25, 50, 75 and 100 % of production requests
// at each step (within 5 points), and no request fails.
func TestEndToEnd_LinearDeployment(t *testing.T) {
	ex := newStrategyExample(t, strategyStack{Strategy: "linear", StepPercent: 25, StepBake: "6m", BakeTime: "1m"})
	up, st := ex.up(t)
	prod := st.URLs[0]
	v2 := ex.write(t, "v2.yaml", func(s *strategyStack) { s.Release = "2" })

	run := ex.deploy(t, prod, v2)
	run.logf(t)
	if run.code != 0 || !strings.Contains(run.out, "COMPLETED") {
		t.Fatalf("shoal deploy --time-scale %d -f v2.yaml: exit %d, want 0 and COMPLETED:\n%s", strategyScale, run.code, run.out)
	}
	checkShares(t, run, []float64{25, 50, 75, 100})
	run.checkNoFailure(t)
	ex.stop(t, up)
}

// TestEndToEnd_CanaryAlarmRollsBack deploys a green revision that fails
// 20 % of its requests as a 10 % canary with an alarm on its target
// group's 5XX percent: the alarm rolls the deployment back, `shoal
// deploy` says so and exits 1, every answer comes from blue afterwards,
// and the requests that failed are no more than the canary's share of
// green's failure rate allows.
func TestEndToEnd_CanaryAlarmRollsBack(t *testing.T) {
	ex := newStrategyExample(t, strategyStack{Strategy: "canary", CanaryPercent: 10, CanaryBake: "10m", BakeTime: "1m",
		Alarms: []stackAlarm{{Name: "green-5xx", Metric: "Target_5XX_Percent", Threshold: 5, Period: "10s"}}})
	up, st := ex.up(t)
	prod := st.URLs[0]
	v2 := ex.write(t, "v2.yaml", func(s *strategyStack) { s.Release, s.FailPercent = "2", 20 })

	run := ex.deploy(t, prod, v2)
	run.logf(t)
	if run.code != 1 || !strings.Contains(run.out, "FAILED") || !strings.Contains(run.out, "green-5xx is in ALARM") {
		t.Fatalf("shoal deploy of a revision failing 20 %% of requests: exit %d, want 1, FAILED and the alarm green-5xx:\n%s", run.code, run.out)
	}
	d := run.deployment
	if !d.Strategy.RolledBack || !strings.Contains(d.Strategy.Reason, "green-5xx") {
		t.Errorf("deployment %s: rolled back %v (%q), want rolled back by the alarm green-5xx", d.ID, d.Strategy.RolledBack, d.Strategy.Reason)
	}
	canary, ok := timelineStep(d, 10)
	if !ok || canary.Outcome != strategy.OutcomeRolledBack {
		t.Fatalf("timeline has no canary step rolled back:\n%s", jsonText(d.Strategy.Timeline))
	}

	// The failures: green's answers only, during the canary. Green gets
	// 10 % of the requests and fails 20 % of them, that is 2 %. The margin:
	// the count of requests green got is binomial (3 standard deviations);
	// each green task's first request fails (n=0), so a task that got g
	// requests failed ceil(g/5), up to 1 more than a fifth (3 tasks: +3);
	// and requests routed in the moment between the rollback's decision
	// and the new weights count as the canary's (its window runs 100 ms
	// past the rollback). hey's requests in the window are estimated from
	// its average rate (it sends at a steady pace).
	failed, failedGreen := 0, 0
	for _, s := range run.samples {
		if !s.ok() {
			failed++
			if s.version == "2" {
				failedGreen++
			}
		}
	}
	from, to := canary.Start, canary.End.Add(100*time.Millisecond)
	sampled := run.count(from, to, func(sample) bool { return true })
	heyRate := float64(run.hey.total()) / run.heyTook.Seconds()
	n := float64(sampled) + heyRate*to.Sub(from).Seconds()
	allowed := int(math.Ceil(0.2*(0.1*n+3*math.Sqrt(0.1*0.9*n)))) + 3
	all := failed + run.hey.failed()
	t.Logf("canary live %v until the alarm: ~%.0f requests (%d sampled, hey at %.0f/s); failed: %d sampled (%d from green) + %d by hey = %d, allowed %d (2%% of %.0f, +3σ, +3 tasks' first request)",
		canary.End.Sub(canary.Start).Round(time.Millisecond), n, sampled, heyRate, failed, failedGreen, run.hey.failed(), all, allowed, n)
	if failed != failedGreen {
		t.Errorf("%d sampled requests failed, %d of them from green: blue's must not fail", failed, failedGreen)
	}
	if all == 0 || all > allowed {
		t.Errorf("%d requests failed during the canary, want 1-%d (the alarm needs failures, and the canary's share bounds them)", all, allowed)
	}
	if after := run.count(run.ended, run.stopped, func(s sample) bool { return s.version != "1" || !s.ok() }); after != 0 {
		t.Errorf("%d of %d answers after the rollback did not come from blue with 200", after, run.count(run.ended, run.stopped, func(sample) bool { return true }))
	}
	checkRevision(t, ex, up, "versionapp:1")
	ex.stop(t, up)
}

// TestEndToEnd_FailingHookRollsBack deploys a canary whose
// PRE_PRODUCTION_TRAFFIC_SHIFT hook fails: the deployment rolls back
// before production traffic ever reaches green, `shoal deploy` says why
// and exits 1, and no request fails or is answered by green.
func TestEndToEnd_FailingHookRollsBack(t *testing.T) {
	ex := newStrategyExample(t, strategyStack{Strategy: "canary", CanaryPercent: 10, CanaryBake: "10m", BakeTime: "1m",
		Hooks: []stackHook{{Stage: "PRE_PRODUCTION_TRAFFIC_SHIFT", Command: []string{"sh", "-c", "echo smoke failed >&2; exit 1"}}}})
	up, st := ex.up(t)
	prod := st.URLs[0]
	v2 := ex.write(t, "v2.yaml", func(s *strategyStack) { s.Release = "2" })

	run := ex.deploy(t, prod, v2)
	run.logf(t)
	if run.code != 1 || !strings.Contains(run.out, "lifecycle hook failed at PRE_PRODUCTION_TRAFFIC_SHIFT") || !strings.Contains(run.out, "smoke failed") {
		t.Fatalf("shoal deploy with a failing hook: exit %d, want 1 naming the hook's stage and its output:\n%s", run.code, run.out)
	}
	if _, ok := timelineStep(run.deployment, 10); ok {
		t.Errorf("the timeline has a production step, want none before the failing hook:\n%s", jsonText(run.deployment.Strategy.Timeline))
	}
	run.checkNoFailure(t)
	if n := run.count(time.Time{}, run.stopped, func(s sample) bool { return s.version != "1" }); n != 0 {
		t.Errorf("%d production answers came from another revision than blue's, want none", n)
	}
	checkRevision(t, ex, up, "versionapp:1")
	ex.stop(t, up)
}

// TestEndToEnd_BlueGreenTestListener deploys blue/green with a test
// listener and a POST_TEST_TRAFFIC_SHIFT hook that asks both listeners
// which release answers: the test listener serves green while production
// still serves blue, and production moves to green only at
// PRODUCTION_TRAFFIC_SHIFT; the deployment completes with no request
// failed.
func TestEndToEnd_BlueGreenTestListener(t *testing.T) {
	// Two hooks at POST_TEST_TRAFFIC_SHIFT each ask both listeners 5
	// times which release answers, and fail unless the test listener says
	// green's: a URL hook served by the test (first: it asks at once, a
	// command takes a while to start), and a command with curl or wget
	// (whichever is installed) that reads SHOAL_TEST_URL and
	// SHOAL_PRODUCTION_URL and writes hook.log in the stack's folder.
	var hookLog struct {
		sync.Mutex
		lines []string
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct {
			Shoal struct{ TestURL, ProductionURL string }
		}
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for range 5 {
			tv, terr := fetch(p.Shoal.TestURL)
			pv, perr := fetch(p.Shoal.ProductionURL)
			if terr != nil || perr != nil {
				http.Error(w, fmt.Sprint(terr, perr), http.StatusBadGateway)
				return
			}
			hookLog.Lock()
			hookLog.lines = append(hookLog.lines, fmt.Sprintf("%.6f url test=%s production=%s", float64(time.Now().UnixMicro())/1e6, tv, pv))
			hookLog.Unlock()
			if tv != "2" {
				http.Error(w, "test listener answered "+tv, http.StatusPreconditionFailed)
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	hooks := []stackHook{{Stage: "POST_TEST_TRAFFIC_SHIFT", URL: srv.URL}}
	get := ""
	if _, err := exec.LookPath("curl"); err == nil {
		get = "curl -fsS"
	} else if _, err := exec.LookPath("wget"); err == nil {
		get = "wget -qO-"
	}
	if get != "" {
		hooks = append(hooks, stackHook{Stage: "POST_TEST_TRAFFIC_SHIFT", Command: []string{"sh", "-c", `for i in 1 2 3 4 5; do
  t=$(` + get + ` "$SHOAL_TEST_URL") && p=$(` + get + ` "$SHOAL_PRODUCTION_URL") || exit 1
  echo "$(date +%s.%N) command test=$t production=$p" >> hook.log
  [ "$t" = 2 ] || { echo "test listener answered $t" >&2; exit 1; }
done`}})
	} else {
		t.Log("neither curl nor wget is installed: the command hook is left out")
	}
	ex := newStrategyExample(t, strategyStack{Strategy: "blue_green", TestListener: true, BakeTime: "1m", Hooks: hooks})
	up, st := ex.up(t)
	if len(st.URLs) != 2 {
		t.Fatalf("listeners %v, want 2: production and test", st.URLs)
	}
	prod := st.URLs[0]
	v2 := ex.write(t, "v2.yaml", func(s *strategyStack) { s.Release = "2" })

	run := ex.deploy(t, prod, v2)
	run.logf(t)
	if run.code != 0 || !strings.Contains(run.out, "COMPLETED") {
		t.Fatalf("shoal deploy --time-scale %d -f v2.yaml: exit %d, want 0 and COMPLETED:\n%s", strategyScale, run.code, run.out)
	}
	if get != "" {
		b, err := os.ReadFile(filepath.Join(ex.dir, "hook.log"))
		if err != nil {
			t.Fatalf("the command hook left no log: %v", err)
		}
		hookLog.lines = append(hookLog.lines, strings.Split(strings.TrimSpace(string(b)), "\n")...)
	}
	d := run.deployment
	hookStage, ok1 := timelineStage(d, strategy.PostTestTrafficShift)
	shift, ok2 := timelineStep(d, 100)
	if !ok1 || !ok2 {
		t.Fatalf("timeline lacks POST_TEST_TRAFFIC_SHIFT or the production shift:\n%s", jsonText(d.Strategy.Timeline))
	}
	t.Logf("POST_TEST_TRAFFIC_SHIFT at %s, production shift at %s; the hooks saw:\n%s",
		hookStage.Start.Format(time.StampMilli), shift.Start.Format(time.StampMilli), strings.Join(hookLog.lines, "\n"))
	if want := 5 * len(hooks); len(hookLog.lines) != want {
		t.Errorf("the hooks asked the listeners %d times, want %d", len(hookLog.lines), want)
	}
	for _, line := range hookLog.lines {
		var secs float64
		var via, tv, pv string
		if _, err := fmt.Sscanf(line, "%f %s test=%s production=%s", &secs, &via, &tv, &pv); err != nil {
			t.Errorf("hook log line %q: %v", line, err)
			continue
		}
		at := time.Unix(0, int64(secs*1e9))
		if tv != "2" || pv != "1" || !at.Before(shift.Start) {
			t.Errorf("%s hook at %s saw test=%s production=%s, want test=2 production=1 before the production shift at %s",
				via, at.Format(time.StampMilli), tv, pv, shift.Start.Format(time.StampMilli))
		}
	}
	// A green answer to production before the shift is impossible
	// (the time of a sample is when its answer came).
	before := run.count(time.Time{}, shift.Start, func(sample) bool { return true })
	if n := run.count(time.Time{}, shift.Start, func(s sample) bool { return s.version != "1" }); n != 0 || before < 200 {
		t.Errorf("%d of %d production answers before the shift came from another revision than blue's, want 0 of at least 200", n, before)
	}
	if n, all := run.count(shift.Start.Add(time.Second), run.stopped, func(s sample) bool { return s.version != "2" }),
		run.count(shift.Start.Add(time.Second), run.stopped, func(sample) bool { return true }); n != 0 || all < 200 {
		t.Errorf("%d of %d production answers from 1 s after the shift came from another revision than green's, want 0 of at least 200", n, all)
	}
	t.Logf("production answers: %d before the shift, all blue", before)
	run.checkNoFailure(t)
	ex.stop(t, up)
}

// strategyStack is what testdata/strategy.yaml.tmpl leaves open.
type strategyStack struct {
	Instances, Desired int
	WorkingDir         string // testdata/versionapp, absolute
	Folder             string // the test's folder, in the tasks' environment, for strays
	Release            string // RELEASE: a new revision
	FailPercent        int    // FAIL_PERCENT: the app fails that share of requests
	Strategy           string // blue_green, canary or linear
	TestListener       bool   // listener 1 and its rule, the test listener
	CanaryPercent      float64
	CanaryBake         string
	StepPercent        float64
	StepBake           string
	BakeTime           string
	Hooks              []stackHook
	Alarms             []stackAlarm
}

type stackHook struct {
	Stage   string
	Command []string // or
	URL     string
}

type stackAlarm struct {
	Name, Metric string
	Threshold    float64
	Period       string
}

var strategyTemplate = template.Must(template.ParseFiles("testdata/strategy.yaml.tmpl"))

// strategyExample is the stack with a freshly built shoal, in a folder of
// the test's own.
type strategyExample struct {
	bin, dir, state, stack string
	v1                     strategyStack
}

func newStrategyExample(t *testing.T, v1 strategyStack) strategyExample {
	t.Helper()
	requireHey(t)
	dir := t.TempDir()
	wd, err := filepath.Abs("testdata/versionapp")
	if err != nil {
		t.Fatal(err)
	}
	v1.Instances, v1.Desired, v1.WorkingDir, v1.Folder, v1.Release = 2, 3, wd, dir+string(filepath.Separator), "1"
	ex := strategyExample{bin: buildShoal(t, dir), dir: dir, state: filepath.Join(dir, "state"), v1: v1}
	ex.stack = ex.write(t, "v1.yaml", nil)
	return ex
}

// write writes the test's stack, changed by change, as name in its folder.
func (ex strategyExample) write(t *testing.T, name string, change func(*strategyStack)) string {
	t.Helper()
	s := ex.v1
	if change != nil {
		change(&s)
	}
	var b bytes.Buffer
	if err := strategyTemplate.Execute(&b, s); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(ex.dir, name)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// up starts `shoal up` on the stack and waits for it to be steady.
func (ex strategyExample) up(t *testing.T) (*shoalProc, agent.Status) {
	t.Helper()
	p := startShoal(t, ex.bin, "up", "-f", ex.stack, "--state-dir", ex.state)
	return p, waitSteady(t, p, ex.bin, ex.state)
}

// stop stops shoal with SIGTERM, and checks that none of its tasks is left.
func (ex strategyExample) stop(t *testing.T, p *shoalProc) {
	t.Helper()
	deployExample{example: example{bin: ex.bin, state: ex.state}, dir: ex.dir}.stop(t, p)
}

// deployRun is one `shoal deploy` under load, and what it left.
type deployRun struct {
	code       int
	out        string
	took       time.Duration
	deployment agent.Deployment // the new revision's, with its timeline
	samples    []sample         // the sampler's, all through the deploy and a bit after
	// ended is when shoal deploy exited, stopped when the sampler did.
	ended, stopped time.Time
	hey            heyReport
	heyTook        time.Duration
}

// deploy runs `shoal deploy --time-scale 60 -f file` while hey and a
// sampler send requests to the production listener url; once it exited,
// the sampler goes on until it has 800 more answers, 3 s or so: what
// production serves afterwards.
func (ex strategyExample) deploy(t *testing.T, url, file string) deployRun {
	t.Helper()
	heyStart := time.Now()
	load := startLoad(t, url, 2*time.Minute, 2, 20)
	s := startSampler(url, 4, 15*time.Millisecond)
	defer s.stop()
	start := time.Now()
	code, out := runShoal(t, ex.bin, ex.state, "deploy", "--time-scale", fmt.Sprint(strategyScale), "-f", file)
	run := deployRun{code: code, out: out, took: time.Since(start), ended: time.Now()}
	testkit.WaitFor(t, 30*time.Second, "800 answers after the deploy", every(50*time.Millisecond, func() bool {
		return s.countSince(run.ended) >= 800
	}))
	run.samples, run.stopped = s.stop(), time.Now()
	run.hey, run.heyTook = load.stop(t), time.Since(heyStart)
	run.deployment = ex.deployment(t, "versionapp:2")
	return run
}

// deployment is the deployment of revision taskDef, as `shoal
// deployments api --json` shows it.
func (ex strategyExample) deployment(t *testing.T, taskDef string) agent.Deployment {
	t.Helper()
	code, out := runShoal(t, ex.bin, ex.state, "deployments", "api", "--json")
	var all []agent.Deployment
	if err := json.Unmarshal([]byte(out), &all); code != 0 || err != nil {
		t.Fatalf("shoal deployments api --json: exit %d, %v:\n%s", code, err, out)
	}
	for _, d := range all {
		if d.TaskDefinition == taskDef && d.Strategy != nil {
			return d
		}
	}
	t.Fatalf("shoal deployments api --json has no deployment of %s with a timeline:\n%s", taskDef, out)
	return agent.Deployment{}
}

func (r deployRun) logf(t *testing.T) {
	t.Helper()
	rate := 0.0
	if len(r.samples) > 0 {
		rate = float64(len(r.samples)) / r.stopped.Sub(r.samples[0].got).Seconds()
	}
	t.Logf("shoal deploy took %v, exit %d; hey: %v; sampler: %d answers (%.0f/s)\nshoal deploy said:\n%s",
		r.took.Round(time.Millisecond), r.code, r.hey, len(r.samples), rate, r.out)
}

// checkNoFailure: every request of hey and of the sampler was answered 200.
func (r deployRun) checkNoFailure(t *testing.T) {
	t.Helper()
	failed := r.count(time.Time{}, r.stopped, func(s sample) bool { return !s.ok() })
	t.Logf("failed requests: %d of %d sampled, %d of %d by hey", failed, len(r.samples), r.hey.failed(), r.hey.total())
	if failed != 0 || r.hey.failed() != 0 {
		for _, s := range r.samples {
			if !s.ok() {
				t.Logf("failed at %s: %d %v", s.got.Format(time.StampMilli), s.code, s.err)
			}
		}
		t.Errorf("%d sampled requests and %d of hey's failed during the deployment, want none (hey: %v)", failed, r.hey.failed(), r.hey)
	}
}

// count counts the samples answered in [from, to) that match.
func (r deployRun) count(from, to time.Time, match func(sample) bool) int {
	n := 0
	for _, s := range r.samples {
		if !s.got.Before(from) && s.got.Before(to) && match(s) {
			n++
		}
	}
	return n
}

// checkShares checks green's share of production answers in the middle of
// each production step (1 s off each end: the weights apply a moment after
// the timeline says, and answers in flight straddle the change): within 5
// points of the step's weight, over at least 200 answers. The last step
// (100 %) lasts past the deployment's end; its window ends with the
// sampler.
func checkShares(t *testing.T, r deployRun, want []float64) {
	t.Helper()
	const trim = time.Second
	var got []float64
	for _, ev := range r.deployment.Strategy.Timeline {
		if ev.Stage != strategy.ProductionTrafficShift {
			continue
		}
		var weight float64
		if _, err := fmt.Sscanf(ev.Detail, "production %g%%", &weight); err != nil {
			t.Fatalf("timeline step %q: %v", ev.Detail, err)
		}
		got = append(got, weight)
		end := ev.End
		if weight == 100 {
			end = r.stopped
		}
		from, to := ev.Start.Add(trim), end.Add(-trim)
		all := r.count(from, to, func(s sample) bool { return s.ok() })
		green := r.count(from, to, func(s sample) bool { return s.ok() && s.version == "2" })
		share := 100 * float64(green) / float64(max(all, 1))
		t.Logf("step %g%%: %v long, green answered %d of %d in its middle %v: %.1f%%",
			weight, end.Sub(ev.Start).Round(time.Millisecond), green, all, to.Sub(from).Round(time.Millisecond), share)
		if all < 200 {
			t.Errorf("step %g%%: %d answers in the middle of its window, want at least 200", weight, all)
		}
		if math.Abs(share-weight) > 5 {
			t.Errorf("step %g%%: green answered %.1f%% of production requests, want within 5 points", weight, share)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("production steps %v, want %v:\n%s", got, want, jsonText(r.deployment.Strategy.Timeline))
	}
}

// timelineStep is the production step of the timeline that gives green weight %.
func timelineStep(d agent.Deployment, weight float64) (strategy.Event, bool) {
	for _, ev := range d.Strategy.Timeline {
		if ev.Stage == strategy.ProductionTrafficShift && ev.Detail == fmt.Sprintf("production %g%%", weight) {
			return ev, true
		}
	}
	return strategy.Event{}, false
}

// timelineStage is the timeline's line of stage s.
func timelineStage(d agent.Deployment, s strategy.Stage) (strategy.Event, bool) {
	for _, ev := range d.Strategy.Timeline {
		if ev.Stage == s {
			return ev, true
		}
	}
	return strategy.Event{}, false
}

// checkRevision: the api's PRIMARY deployment is revision want, COMPLETED,
// and it is the only one.
func checkRevision(t *testing.T, ex strategyExample, up *shoalProc, want string) {
	t.Helper()
	var api agent.ServiceStatus
	waitFor(t, up, 30*time.Second, "api on "+want+" alone", every(200*time.Millisecond, func() bool {
		api = apiService(t, ex.bin, ex.state)
		p := api.Deployments[0]
		return len(api.Deployments) == 1 && p.Status == agent.DeploymentPrimary && string(p.Rollout) == "COMPLETED" &&
			p.TaskDefinition == want && api.Running == 3
	}))
}

// sample is one answer of the production listener.
type sample struct {
	got     time.Time // when the answer came (or the request failed)
	code    int
	version string // X-Version
	err     error
}

func (s sample) ok() bool { return s.err == nil && s.code == http.StatusOK }

// sampler sends requests from workers, each at most one per interval, and
// records every answer, for samplerLimit at most.
type sampler struct {
	mu      sync.Mutex
	samples []sample
	quit    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

// samplerLimit bounds a sampler's load in time, whatever the test does.
const samplerLimit = 3 * time.Minute

func startSampler(url string, workers int, interval time.Duration) *sampler {
	s := &sampler{quit: make(chan struct{})}
	deadline := time.Now().Add(samplerLimit)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	for range workers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				select {
				case <-s.quit:
					return
				case <-tick.C:
				}
				if time.Now().After(deadline) {
					return
				}
				smp := sample{}
				resp, err := client.Get(url)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					smp.code, smp.version = resp.StatusCode, resp.Header.Get("X-Version")
				}
				smp.got, smp.err = time.Now(), err
				s.mu.Lock()
				s.samples = append(s.samples, smp)
				s.mu.Unlock()
			}
		}()
	}
	return s
}

// countSince counts the answers that came from t on.
func (s *sampler) countSince(t time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, smp := range s.samples {
		if !smp.got.Before(t) {
			n++
		}
	}
	return n
}

// stop stops the workers and returns the samples, in the order they came.
func (s *sampler) stop() []sample {
	s.once.Do(func() { close(s.quit) })
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples
}

// fetch GETs url and returns the X-Version of its 200 answer.
func fetch(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return resp.Header.Get("X-Version"), nil
}
