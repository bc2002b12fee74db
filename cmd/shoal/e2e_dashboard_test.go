package main

import (
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

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
	if !step(t, b, "check the page was not reloaded", chromedp.Evaluate[bool](`window.notReloaded === true`)) {
		t.Error("the page was reloaded")
	}
	up.stop(t)
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
