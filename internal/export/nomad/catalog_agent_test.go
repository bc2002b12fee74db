package nomad

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// catalogDir is the tutorial's example, the app and its stack file.
const catalogDir = "../../../examples/catalog"

// TestAgent_Catalog exports the catalog example (examples/catalog/shoal.yaml)
// and runs it on a real `nomad agent -dev`: the api group's 3 allocations
// (raw_exec) healthy with their HTTP checks passing, the cache (redis-server,
// raw_exec) found by them through Nomad's service discovery, and the load
// balancer's nginx (docker) sending requests to all 3. Then a release whose
// replicas cannot reach Redis, so that their checks fail (503), is run
// under a circuit breaker with rollback: Nomad fails its deployment and
// reverts the job, and the balancer reaches 3 healthy replicas again.
//
// The job is the export's, with the two steps its warnings ask of a user:
// the program is shipped with an artifact block (served by the test on
// loopback), and the nginx image is one the test makes from Debian's nginx
// with `docker import`, because no registry is reachable here (the export
// names nginx:1.27-alpine). The stack file is the example's, with its
// listener on a free port rather than 8080, and the api's circuit breaker
// turned on.
func TestAgent_Catalog(t *testing.T) {
	if os.Getenv("SHOAL_TEST_ENGINES") != "1" {
		t.Skip("runs a real nomad agent -dev: set SHOAL_TEST_ENGINES=1 (make test-engines)")
	}
	if err := exec.Command("docker", "info").Run(); err != nil {
		t.Fatalf("docker info: %v: the load balancer's nginx task needs Docker (apt-get install docker.io)", err)
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("the catalog's cache runs redis-server: apt-get install redis-server")
	}
	start := time.Now()
	nomad := nomadBinary(t)
	programs := buildCatalog(t)
	artifacts := httptest.NewServer(http.FileServer(http.Dir(programs)))
	t.Cleanup(artifacts.Close)
	image := importNginx(t)
	port := freePorts(t, 1)[0]
	lb := fmt.Sprintf("http://127.0.0.1:%d/", port)
	release := func(r catalogChange) string {
		return exportCatalog(t, catalogRelease(t, port, r), artifacts.URL+"/catalog", image)
	}

	a := startAgent(t, nomad, "catalog")
	t.Logf("agent ready in %v", a.ready.Round(10*time.Millisecond))
	t0 := time.Now()
	a.run(t, release(first))
	a.waitDeployment(t, 0, "successful", deployed)
	t.Logf("deployment of version 0 successful in %v", time.Since(t0).Round(10*time.Millisecond))
	a.waitCatalog(t, 0, deployed)
	t.Logf("api: 3 allocations healthy, checks passing, each answering GET / with the catalog, in %v", time.Since(t0).Round(10*time.Millisecond))
	through := waitBalanced(t, lb)
	t.Logf("through nginx on %s: the 3 allocations answered (%v) %v after the job ran", lb, through, time.Since(t0).Round(10*time.Millisecond))

	// The broken release: Nomad fails its deployment at the first failed
	// allocation and registers version 0's job again as version 2.
	balancer := a.runningAlloc(t, "lb-web")
	t1 := time.Now()
	sampled := sampleBalancer(t, lb)
	a.run(t, release(broken))
	d := a.waitDeployment(t, 1, "failed", reverted)
	t.Logf("broken release (job version 1): deployment failed in %v: %s", time.Since(t1).Round(10*time.Millisecond), d.StatusDescription)
	if !strings.Contains(d.StatusDescription, "rolling back to job version 0") {
		t.Errorf("got deployment status description %q, want a roll back to version 0", d.StatusDescription)
	}
	job := a.waitJobVersion(t, 2, reverted)
	if env := catalogRedisURL(job); !strings.Contains(env, `nomadService "catalog-cache"`) {
		t.Errorf("job version 2's api has REDIS_URL %q, want release 1's, from the cache's registration", env)
	}
	a.waitCatalog(t, 2, reverted)
	through = waitBalanced(t, lb)
	answers := sampled()
	t.Logf("reverted: job version 2, 3 healthy allocations reached through nginx (%v), %v after the broken release", through, time.Since(t1).Round(10*time.Millisecond))
	t.Logf("the balancer's answers meanwhile: %v (Nomad's service discovery lists the failing canaries too)", answers)
	// The balancer's group is the same in every release: Nomad keeps its
	// allocation (a change to the job's Meta, say, would replace it).
	if now := a.runningAlloc(t, "lb-web"); now != balancer {
		t.Errorf("the balancer's allocation went from %s to %s: the releases should change only the api group", balancer[:8], now[:8])
	}
	if answers["200"] == 0 {
		t.Errorf("the balancer answered no 200 while the broken release ran: %v; the old allocations should have kept serving", answers)
	}

	// A good release replaces every api allocation: the balancer's
	// configuration follows the registrations, and only the new replicas
	// answer.
	t2 := time.Now()
	a.run(t, release(next))
	a.waitDeployment(t, 3, "successful", deployed)
	a.waitCatalog(t, 3, deployed)
	fresh := waitBalanced(t, lb)
	for by := range fresh {
		if through[by] != 0 {
			t.Errorf("replica %s of the reverted release still answered through the balancer after the next release", by)
		}
	}
	t.Logf("next release (job version 3): 3 new allocations reached through nginx (%v), %v after it was run", fresh, time.Since(t2).Round(10*time.Millisecond))
	t.Logf("whole test %v", time.Since(start).Round(10*time.Millisecond))
}

// catalogChange is a release of the catalog's stack file.
type catalogChange int

const (
	first  catalogChange = iota // the example, with a circuit breaker
	broken                      // REDIS_URL where nothing listens
	next                        // the first with another cache TTL
)

// catalogRelease is the catalog example's stack file with its listener on
// port and the api's circuit breaker on (with rollback), changed for a
// release: a broken one points REDIS_URL at a port where nothing listens,
// so that GET /, the health check, answers 503; the next one sets
// another cache TTL.
func catalogRelease(t *testing.T, port int, change catalogChange) []byte {
	t.Helper()
	file := filepath.Join(catalogDir, "shoal.yaml")
	source, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	replace := func(old, new string) {
		t.Helper()
		if !bytes.Contains(source, []byte(old)) {
			t.Fatalf("%s: no %q to replace", file, old)
		}
		source = bytes.ReplaceAll(source, []byte(old), []byte(new))
	}
	replace("port: 8080", fmt.Sprintf("port: %d", port)) // the listener's, and the rules that admit it
	replace("    depends_on: [cache]         # starts once the cache is up\n",
		"    depends_on: [cache]\n    deployment:\n      circuit_breaker: {enable: true, rollback: true}\n")
	switch change {
	case broken:
		replace("REDIS_URL: redis://${services.cache.address}/0", "REDIS_URL: redis://127.0.0.1:1/0")
	case next:
		replace("      DATABASE_URL: sqlite:catalog.db\n", "      DATABASE_URL: sqlite:catalog.db\n      CACHE_TTL: 10s\n")
	}
	return source
}

// runningAlloc is the ID of the one running allocation of a group.
func (a *agent) runningAlloc(t *testing.T, group string) string {
	t.Helper()
	var allocs []*api.AllocationListStub
	if err := a.get("/v1/job/"+a.job+"/allocations", &allocs); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, al := range allocs {
		if al.TaskGroup == group && al.ClientStatus == "running" {
			ids = append(ids, al.ID)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("got %d running allocations of %s (%v), want 1", len(ids), group, ids)
	}
	return ids[0]
}

// catalogRedisURL is how a job's api task gets REDIS_URL: its env value, or
// the template that renders it.
func catalogRedisURL(job *api.Job) string {
	for _, g := range job.TaskGroups {
		if *g.Name != "api" {
			continue
		}
		for _, tk := range g.Tasks {
			if v, ok := tk.Env["REDIS_URL"]; ok {
				return v
			}
			for _, tm := range tk.Templates {
				if tm.EmbeddedTmpl != nil && strings.Contains(*tm.EmbeddedTmpl, "REDIS_URL=") {
					return *tm.EmbeddedTmpl
				}
			}
		}
	}
	return ""
}

// waitCatalog waits for 3 healthy api allocations of a job version that
// answer GET / with the catalog.
func (a *agent) waitCatalog(t *testing.T, version uint64, within time.Duration) {
	t.Helper()
	a.waitHealthy(t, "api", version, func(resp *http.Response, body []byte) error { return catalogList(resp, body) }, within)
}

// waitBalanced waits until requests to the balancer have been answered with
// the catalog by 3 replicas (their X-Served-By: the balancer's upstream holds
// only the api's registrations), and returns how many each answered.
func waitBalanced(t *testing.T, lb string) map[string]int {
	t.Helper()
	through := map[string]int{}
	poll(t, deployed, "the load balancer sending requests to 3 allocations", func() (bool, string) {
		resp, err := client.Get(lb)
		if err != nil {
			return false, err.Error()
		}
		body, _ := readAll(resp)
		if err := catalogList(resp, body); err != nil {
			return false, fmt.Sprintf("%s: %v", lb, err)
		}
		through[resp.Header.Get("X-Served-By")]++
		return len(through) == 3, fmt.Sprintf("served by %v", through)
	})
	return through
}

// sampleBalancer sends a request to the balancer every 100 ms until the
// returned function is called, which stops it and returns how many answers
// had each status ("200", "503", …), and how many requests failed, by
// error.
func sampleBalancer(t *testing.T, lb string) func() map[string]int {
	t.Helper()
	counts := map[string]int{}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			resp, err := client.Get(lb)
			if err != nil {
				counts[err.Error()]++
				continue
			}
			_, _ = readAll(resp)
			counts[strconv.Itoa(resp.StatusCode)]++
		}
	}()
	var once sync.Once
	finish := func() map[string]int {
		once.Do(func() { close(stop); <-done })
		return counts
	}
	t.Cleanup(func() { finish() })
	return finish
}

// catalogList checks an answer to the catalog's GET /: 200, a JSON list,
// and the replica that served it.
func catalogList(resp *http.Response, body []byte) error {
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body))
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		return fmt.Errorf("GET / is not the catalog's JSON list: %v: %q", err, body)
	}
	if resp.Header.Get("X-Served-By") == "" {
		return fmt.Errorf("no X-Served-By")
	}
	return nil
}

// readAll reads and closes a response's body.
func readAll(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err := b.ReadFrom(resp.Body)
	return b.Bytes(), err
}

// buildCatalog builds the catalog's program into a temp dir, as catalog.
func buildCatalog(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "catalog"), ".")
	cmd.Dir = catalogDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build in %s: %v\n%s", catalogDir, err, out)
	}
	return dir
}

// importNginx makes a Docker image of Debian's nginx and the libraries it
// links (docker import of a root made from the host's files), tagged with
// a name of the test's own, and removes it when the test ends.
func importNginx(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the load balancer's image is made from the host's nginx: apt-get install nginx-light")
	}
	root := t.TempDir()
	files := []string{bin}
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		t.Fatalf("ldd %s: %v", bin, err)
	}
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "/") {
			files = append(files, f)
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f) // through symlinks, as the loader finds them
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// What Debian's nginx opens: its temp, log and pid paths, and the user
	// its workers run as.
	for _, d := range []string{"etc/nginx", "var/lib/nginx", "var/log/nginx", "run", "var/lock", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, text := range map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tag := "shoal-test-nginx:" + strconv.Itoa(os.Getpid())
	tar := exec.Command("tar", "-C", root, "-c", ".")
	imp := exec.Command("docker", "import", "-c", fmt.Sprintf(`CMD [%q, "-g", "daemon off;"]`, bin), "-", tag)
	pipe, err := tar.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	imp.Stdin = pipe
	var stderr bytes.Buffer
	imp.Stderr = &stderr
	if err := tar.Start(); err != nil {
		t.Fatal(err)
	}
	if err := imp.Run(); err != nil {
		t.Fatalf("docker import: %v\n%s", err, stderr.Bytes())
	}
	if err := tar.Wait(); err != nil {
		t.Fatalf("tar: %v", err)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", tag).Run() })
	return tag
}

// exportCatalog exports a release of the catalog's stack file, ships the
// api's program from program (an artifact, into local/bin where raw_exec
// finds the command bin/catalog), runs the balancer's nginx from image,
// and writes the job to a temp file.
func exportCatalog(t *testing.T, source []byte, program, image string) string {
	t.Helper()
	file := filepath.Join(catalogDir, "shoal.yaml")
	doc := exportSource(t, file, source)
	var req struct{ Job *api.Job }
	if err := json.Unmarshal(doc.Data, &req); err != nil {
		t.Fatal(err)
	}
	task := func(group, name string) *api.Task {
		for _, g := range req.Job.TaskGroups {
			for _, tk := range g.Tasks {
				if *g.Name == group && tk.Name == name {
					return tk
				}
			}
		}
		t.Fatalf("the catalog's job has no task %s in group %s", name, group)
		return nil
	}
	apiTask := task("api", "api")
	if apiTask.Config["command"] != "bin/catalog" {
		t.Fatalf("api task command %v, want bin/catalog", apiTask.Config["command"])
	}
	apiTask.Artifacts = append(apiTask.Artifacts, &api.TaskArtifact{GetterSource: new(program), RelativeDest: new("local/bin/")})
	nginx := task("lb-web", "nginx")
	t.Logf("the balancer's image: %s, for the export's %v", image, nginx.Config["image"])
	nginx.Config["image"] = image
	data, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), doc.Name)
	if err := os.WriteFile(out, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}
