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
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/shoalhq/shoal/internal/export"
	"github.com/shoalhq/shoal/internal/spec"
)

// catalogDir is the tutorial's example, the app and its stack file.
const catalogDir = "../../../examples/catalog"

// TestAgent_Catalog exports the catalog example (examples/catalog/shoal.yaml)
// and runs it on a real `nomad agent -dev`: the api group's 3 allocations
// (raw_exec) healthy with their HTTP checks passing, the cache (redis-server,
// raw_exec) found by them through Nomad's service discovery, and the load
// balancer's nginx (docker) sending requests to all 3.
//
// The job is the export's, with the two steps its warnings ask of a user:
// the program is shipped with an artifact block (served by the test on
// loopback), and the nginx image is one the test makes from Debian's nginx
// with `docker import`, because no registry is reachable here (the export
// names nginx:1.27-alpine). The listener's port is a free one rather than
// the example's 8080.
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
	job := exportCatalog(t, port, artifacts.URL+"/catalog", image)

	a := startAgent(t, nomad, "catalog")
	t.Logf("agent ready in %v", a.ready.Round(10*time.Millisecond))
	t0 := time.Now()
	a.run(t, job)
	a.waitDeployment(t, 0, "successful", deployed)
	t.Logf("deployment of version 0 successful in %v", time.Since(t0).Round(10*time.Millisecond))
	served := map[string]bool{}
	a.waitHealthy(t, "api", 0, func(resp *http.Response, body []byte) error {
		if err := catalogList(resp, body); err != nil {
			return err
		}
		served[resp.Header.Get("X-Served-By")] = true
		return nil
	}, deployed)
	t.Logf("api: 3 allocations healthy, checks passing, each answering GET / with the catalog, in %v", time.Since(t0).Round(10*time.Millisecond))

	// Through the balancer: nginx's upstreams are rendered from the api's
	// registrations, so it reaches every one of them.
	lb := fmt.Sprintf("http://127.0.0.1:%d/", port)
	through := map[string]int{}
	poll(t, deployed, "the load balancer sending requests to the 3 allocations", func() (bool, string) {
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
	for by := range through {
		if !served[by] {
			t.Errorf("the balancer's request was served by %q, not one of the api's registered allocations %v", by, served)
		}
	}
	t.Logf("through nginx on %s: the 3 allocations answered (%v); whole test %v", lb, through, time.Since(start).Round(10*time.Millisecond))
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

// exportCatalog exports the catalog example with its listener on port,
// ships the api's program from program (an artifact, into local/bin where
// raw_exec finds the command bin/catalog), runs the balancer's nginx from
// image, and writes the job to a temp file.
func exportCatalog(t *testing.T, port int, program, image string) string {
	t.Helper()
	file := filepath.Join(catalogDir, "shoal.yaml")
	source, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(source, []byte("port: 8080")) {
		t.Fatalf("%s: no listener on port 8080 to move to a free port", file)
	}
	source = bytes.ReplaceAll(source, []byte("8080"), []byte(strconv.Itoa(port)))
	s, err := spec.Parse(file, source)
	if err != nil {
		t.Fatalf("parsing %s: %v", file, err)
	}
	doc, err := Export(s, export.Options{})
	if err != nil {
		t.Fatalf("exporting %s: %v", file, err)
	}
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
