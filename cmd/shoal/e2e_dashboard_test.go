package main

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shoalhq/shoal/internal/agent"
)

// TestEndToEnd_Dashboard drives the dashboard of the bundled example in a
// headless Chromium: refused without the token, it shows every running
// task; a task stopped with its button goes and its replacement comes,
// healthy, and scaling api to 5 shows 5 healthy targets, all without
// reloading the page, while the events list receives the ECS sentences.
// With SHOAL_SCREENSHOTS=1 it writes docs/img/dashboard*.png.
func TestEndToEnd_Dashboard(t *testing.T) {
	chromium := needChromium(t)
	ex := newExample(t)
	up := ex.up(t)
	st := waitSteady(t, up, ex.bin, ex.state)
	u, err := url.Parse(st.Dashboard)
	if err != nil || u.Query().Get("token") == "" {
		t.Fatalf("shoal status: dashboard %q, want a URL with a token", st.Dashboard)
	}
	if !strings.Contains(up.out.String(), "shoal: dashboard at "+st.Dashboard) {
		t.Errorf("shoal up did not print the dashboard's URL:\n%s", up.out)
	}
	bare := *u
	bare.RawQuery = ""
	resp, err := http.Get(bare.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET %s without the token: got %d, want 401", bare.String(), resp.StatusCode)
	}

	b := newBrowser(t, chromium)
	step(t, b, "size the window", chromedp.EmulateViewport(1400, 900))
	step(t, b, "open the dashboard without the token", chromedp.Navigate(bare.String()))
	if text := step(t, b, "read the page", chromedp.Evaluate[string](`document.body.innerText`)); !strings.Contains(text, "Open the URL `shoal up` printed") {
		t.Errorf("the page without the token says %q, want it to say to open the URL shoal up printed", text)
	}
	step(t, b, "open the dashboard", chromedp.Navigate(st.Dashboard))
	// A mark the page keeps until it is reloaded.
	step(t, b, "mark the page", chromedp.Evaluate[bool](`window.notReloaded = true`))

	tasks := shoalPS(t, ex.bin, ex.state)
	for _, task := range tasks {
		waitPage(t, b, "task "+task.ID+" shown", `document.querySelector('[data-task="`+task.ID+`"]') !== null`)
	}
	waitPage(t, b, "3 healthy api targets", healthyTargets("api", 3))
	// The tutorial's two groups: alb on the listener, instances on the
	// tasks, said to be not enforced with isolation none.
	waitPage(t, b, "the security groups", `document.querySelector('[data-listener="web/0"] .sg')?.textContent === "alb" &&
		document.querySelector('[data-secgroup="instances"]')?.textContent.includes("the instances (not enforced")`)
	screenshot(t, b, "dashboard.png")

	api := serviceTasks(tasks, "api")
	victim := api[0].ID
	step(t, b, "click the stop button of "+victim, chromedp.Click(chromedp.CSS(`[data-stop="`+victim+`"]`)))
	waitPage(t, b, "task "+victim+" gone", `document.querySelector('[data-task="`+victim+`"]') === null`)
	// Its replacement: a fourth api task id, healthy.
	known := `[` + quoteIDs(api) + `]`
	waitPage(t, b, "the replacement of "+victim+" healthy", `[...document.querySelectorAll('[data-task]')].some(e =>
		!`+known+`.includes(e.dataset.task) && e.dataset.health === "healthy")`)
	waitPage(t, b, "the events of the stop", `[...document.querySelectorAll('#events li')].some(e =>
		e.textContent.includes("task `+victim+` stopping: Task stopped from the shoal dashboard"))`)
	waitPage(t, b, "the events of the replacement", `[...document.querySelectorAll('#events li')].some(e =>
		/service api has started 1 tasks/.test(e.textContent))`)

	step(t, b, "type 5 as api's count", chromedp.SetValue(chromedp.CSS(`[data-service="api"] input`), "5"))
	step(t, b, "click scale", chromedp.Click(chromedp.CSS(`[data-service="api"] button[data-scale]`)))
	waitPage(t, b, "5 healthy api targets", healthyTargets("api", 5))
	waitPage(t, b, "the event of the scaling", `[...document.querySelectorAll('#events li')].some(e =>
		e.textContent.includes("service api desired count set to 5 (was 3)."))`)
	waitPage(t, b, "api steady", `[...document.querySelectorAll('#events li')].some(e =>
		e.textContent.includes("service api has reached a steady state."))`)
	screenshot(t, b, "dashboard-scaled.png")
	step(t, b, "filter the events by service cache", chromedp.SetValue(chromedp.CSS(`#filter`), "cache"))
	step(t, b, "apply the filter", chromedp.Evaluate[bool](`document.getElementById("filter").dispatchEvent(new Event("change"))`))
	if n := step(t, b, "count api events shown", chromedp.Evaluate[int](`[...document.querySelectorAll('#events li')].filter(e => !e.hidden && e.dataset.service === "api").length`)); n != 0 {
		t.Errorf("filtered by cache, %d api events are shown, want 0", n)
	}
	step(t, b, "show every service's events", chromedp.SetValue(chromedp.CSS(`#filter`), ""))
	step(t, b, "apply no filter", chromedp.Evaluate[bool](`document.getElementById("filter").dispatchEvent(new Event("change"))`))

	// Traffic shows in the group's and each target's numbers: rates,
	// and response time percentiles.
	stopLoad := sendLoad(t, st.URLs[0])
	waitPage(t, b, "api's requests per second", `Number(document.querySelector('[data-group="api"] .metrics [data-rps]')?.textContent) > 0`)
	waitPage(t, b, "a median response time on every api target", `[...document.querySelectorAll('[data-group="api"] [data-target]')].length === 5 &&
		[...document.querySelectorAll('[data-group="api"] [data-target]')].every(e => /p50 [0-9]/.test(e.querySelector('[data-latency]')?.textContent))`)
	if os.Getenv("SHOAL_SCREENSHOTS") == "1" { // some history in the charts first
		waitPage(t, b, "8 s of traffic in the charts", `(history["g|api"] || []).length >= 8`)
	}
	screenshot(t, b, "dashboard-traffic.png")
	stopLoad()

	// A task's logs, followed in the page.
	logged := serviceTasks(shoalPS(t, ex.bin, ex.state), "api")[0].ID
	step(t, b, "click logs of "+logged, chromedp.Click(chromedp.CSS(`[data-task="`+logged+`"] button[data-logs]`)))
	waitPage(t, b, "the logs of "+logged, `!document.getElementById("logs").hidden && document.getElementById("log-text").textContent.includes("catalog listening")`)

	// The stack file edited on disk: the page shows the diff, then deploys
	// it; the rollout shows the circuit breaker's count while it runs.
	src, err := os.ReadFile(ex.stack)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), "    desired: 3\n    target_group: api\n", "    desired: 3\n    target_group: api\n    deployment: {circuit_breaker: {enable: true, rollback: true}}\n", 1)
	edited = strings.Replace(edited, "    environment:\n", "    environment:\n      GREETING: hello from the dashboard\n", 1)
	if edited == string(src) || strings.Count(edited, "\n") != strings.Count(string(src), "\n")+2 {
		t.Fatal("the example stack changed shape; update the test's edit")
	}
	if err := os.WriteFile(ex.stack, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	step(t, b, "click deploy stack file", chromedp.Click(chromedp.CSS(`#deploy-open`)))
	waitPage(t, b, "the diff", `[...document.querySelectorAll('#deploy-diff .add')].map(e => e.textContent).join("|").includes("+      GREETING: hello from the dashboard")`)
	screenshot(t, b, "dashboard-deploy.png")
	step(t, b, "watch for the circuit breaker's count", chromedp.Evaluate[bool](`window.sawBreaker = "";
		setInterval(() => { const e = document.querySelector('[data-service="api"] [data-breaker]'); if (e) window.sawBreaker = e.textContent.trim(); }, 20); true`))
	step(t, b, "click deploy", chromedp.Click(chromedp.CSS(`#deploy-go`)))
	waitPage(t, b, "the deploy's answer", `document.getElementById("deploy-result").textContent !== ""`)
	res := step(t, b, "read the deploy's answer", chromedp.Evaluate[string](`document.getElementById("deploy-result").textContent`))
	m := regexp.MustCompile(`^Started: api (\S+) \(catalog:2, replacing catalog:1\)$`).FindStringSubmatch(res)
	if m == nil {
		t.Fatalf("the page answered the deploy with %q, want Started: api DEPLOYMENT (catalog:2, replacing catalog:1)", res)
	}
	waitPage(t, b, "the end of rollout "+m[1], `[...document.querySelectorAll('#events li')].some(e =>
		e.textContent.includes("service api (deployment `+m[1]+`) deployment completed."))`)
	if saw := step(t, b, "read what the breaker showed", chromedp.Evaluate[string](`window.sawBreaker`)); !regexp.MustCompile(`^circuit breaker \d+/3 failed$`).MatchString(saw) {
		t.Errorf("during the rollout the deployment showed %q, want circuit breaker N/3 failed", saw)
	}
	for _, task := range serviceTasks(shoalPS(t, ex.bin, ex.state), "api") {
		if task.TaskDefinition != "catalog:2" {
			t.Errorf("after the deploy from the page, task %s runs %s, want catalog:2", task.ID, task.TaskDefinition)
		}
	}

	if text := step(t, b, "read the error line", chromedp.Evaluate[string](`document.getElementById("error").textContent`)); text != "" {
		t.Errorf("the page shows the error %q", text)
	}
	if !step(t, b, "check the page was not reloaded", chromedp.Evaluate[bool](`window.notReloaded === true`)) {
		t.Error("the page was reloaded")
	}
	up.stop(t)
}

// sendLoad sends GETs to url, one every 20 ms, until the returned stop
// is called (at the latest when the test ends), for at most a minute.
func sendLoad(t *testing.T, url string) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		deadline := time.After(time.Minute)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-deadline:
				return
			case <-tick.C:
			}
			if resp, err := http.Get(url); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	})
	var once sync.Once
	stop = func() { once.Do(func() { close(done); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// TestEndToEnd_DashboardFaults injects a fault from the dashboard of the
// bundled example: "fail health 30s" on an api target turns it unhealthy
// and marks it, the active-faults panel lists the fault, and its undo
// button ends it, the target healthy again; the events list says when the
// fault started and ended. All without reloading the page.
//
// The example's api service replaces a task whose target turns unhealthy
// at once, as ECS does (docs/faults.md): the page would see the target go
// rather than come back. Here api has a health check grace period, so
// that its unhealthy task is kept and the undo shows it healthy again.
func TestEndToEnd_DashboardFaults(t *testing.T) {
	chromium := needChromium(t)
	ex := newExample(t)
	src, err := os.ReadFile(ex.stack)
	if err != nil {
		t.Fatal(err)
	}
	const service = "    target_group: api\n    depends_on"
	if !strings.Contains(string(src), service) {
		t.Fatalf("example stack no longer contains %q; update the test", service)
	}
	withGrace := strings.Replace(string(src), service, "    target_group: api\n    health_check_grace_period: 10m\n    depends_on", 1)
	if err := os.WriteFile(ex.stack, []byte(withGrace), 0o644); err != nil {
		t.Fatal(err)
	}
	up := ex.up(t)
	st := waitSteady(t, up, ex.bin, ex.state)
	b := newBrowser(t, chromium)
	step(t, b, "size the window", chromedp.EmulateViewport(1400, 900))
	step(t, b, "open the dashboard", chromedp.Navigate(st.Dashboard))
	step(t, b, "mark the page", chromedp.Evaluate[bool](`window.notReloaded = true`))
	waitPage(t, b, "3 healthy api targets", healthyTargets("api", 3))
	waitPage(t, b, "no active fault", `document.getElementById("faults").textContent.trim() === "none"`)

	target := step(t, b, "pick an api target", chromedp.Evaluate[string](`document.querySelector('[data-group="api"] [data-target]').dataset.target`))
	row := `[data-group="api"] [data-target="` + target + `"]`
	step(t, b, "click fail health 30s on "+target, chromedp.Click(chromedp.CSS(row+` button[data-inject="fail-health"]`)))
	started := "target " + target + " in target-group api fails its health checks"
	waitPage(t, b, "the panel lists the fault", `[...document.querySelectorAll('#faults [data-fault-id]')].some(e => e.textContent.includes("`+started+`"))`)
	id := step(t, b, "read the fault's id", chromedp.Evaluate[string](`document.querySelector('#faults [data-fault-id]').dataset.faultId`))
	waitPage(t, b, target+" marked by "+id, `document.querySelector('`+row+`')?.dataset.fault === "`+id+`"`)
	waitPage(t, b, target+" unhealthy", `document.querySelector('`+row+`')?.dataset.state === "unhealthy"`)
	waitPage(t, b, "the event of the fault's start", `[...document.querySelectorAll('#events li')].some(e =>
		e.textContent.includes("fault `+id+`: `+started+` until "))`)
	screenshot(t, b, "dashboard-faults.png")

	step(t, b, "click undo", chromedp.Click(chromedp.CSS(`#faults [data-fault-id="`+id+`"] button[data-undo]`)))
	waitPage(t, b, "the panel empty", `document.querySelector('#faults [data-fault-id]') === null`)
	waitPage(t, b, target+" no longer marked", `document.querySelector('`+row+`') !== null && !document.querySelector('`+row+`').dataset.fault`)
	waitPage(t, b, target+" healthy again", `document.querySelector('`+row+`')?.dataset.state === "healthy"`)
	waitPage(t, b, "the event of the fault's end", `[...document.querySelectorAll('#events li')].some(e =>
		e.textContent.includes("fault `+id+` removed: target `+target+` in target-group api takes its health checks again."))`)

	// A task killed from the page (SIGKILL, no drain) goes, and its
	// service replaces it with a healthy one.
	api := serviceTasks(shoalPS(t, ex.bin, ex.state), "api")
	victim := api[0].ID
	step(t, b, "click kill on "+victim, chromedp.Click(chromedp.CSS(`[data-task="`+victim+`"] button[data-inject="kill-task"]`)))
	waitPage(t, b, "task "+victim+" gone", `document.querySelector('[data-task="`+victim+`"]') === null`)
	known := `[` + quoteIDs(api) + `]`
	waitPage(t, b, "the replacement of "+victim+" healthy", `[...document.querySelectorAll('[data-task]')].some(e =>
		!`+known+`.includes(e.dataset.task) && e.dataset.health === "healthy")`)
	waitPage(t, b, "3 healthy api targets", healthyTargets("api", 3))
	if text := step(t, b, "read the error line", chromedp.Evaluate[string](`document.getElementById("error").textContent`)); text != "" {
		t.Errorf("the page shows the error %q", text)
	}
	if !step(t, b, "check the page was not reloaded", chromedp.Evaluate[bool](`window.notReloaded === true`)) {
		t.Error("the page was reloaded")
	}
	up.stop(t)
}

// needChromium returns the path of Chromium: without it the test is
// skipped, or fails on CI (CI set), which must have it.
func needChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "the dashboard test drives a headless browser: install chromium (apt-get install chromium)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// waitPage waits until a JavaScript expression holds on the page.
func waitPage(t *testing.T, b *browser, what, expr string) {
	t.Helper()
	step(t, b, "wait for "+what, chromedp.Poll[bool](expr))
}

// healthyTargets is an expression: group shows n healthy targets.
func healthyTargets(group string, n int) string {
	return `document.querySelectorAll('[data-group="` + group + `"] [data-state="healthy"]').length === ` + strconv.Itoa(n)
}

func quoteIDs(tasks []agent.TaskStatus) string {
	q := make([]string, len(tasks))
	for i, task := range tasks {
		q[i] = strconv.Quote(task.ID)
	}
	return strings.Join(q, ",")
}

// screenshot writes the page into docs/img/name when SHOAL_SCREENSHOTS=1,
// so that ordinary runs leave the files in git alone.
func screenshot(t *testing.T, b *browser, name string) {
	t.Helper()
	if os.Getenv("SHOAL_SCREENSHOTS") != "1" {
		return
	}
	png := step(t, b, "screenshot "+name, chromedp.CaptureScreenshot())
	dir := filepath.Join("..", "..", "docs", "img")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
