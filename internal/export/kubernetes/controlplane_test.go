//go:build linux

package kubernetes

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/shoalhq/shoal/internal/export"
)

// The versions of the engines .ci/engines-kubernetes.sh builds, each in a
// directory of SHOAL_ENGINES_DIR named after it.
const (
	engineKubernetes = "v1.36.3" // kube-apiserver, kube-controller-manager, kube-scheduler
	engineEtcd       = "v3.6.16"
	engineKwok       = "v0.8.0"
)

// Bounds of the waits.
const (
	startTimeout   = 3 * time.Minute
	rolloutTimeout = 3 * time.Minute
)

// TestExport_ControlPlane checks the manifests against a real control
// plane: etcd, kube-apiserver, kube-controller-manager and kube-scheduler
// built from the pinned modules, with 2 nodes simulated by kwok, all on
// 127.0.0.1. Every object of the catalog example and of testdata/shop.yaml,
// plain and for the AWS Load Balancer Controller, passes a server-side
// dry-run with strict field validation; the catalog applied for real runs
// its api Deployment's 3 pods on the kwok nodes, and a changed image rolls
// out; shop applied for real has its HPA and NetworkPolicies accepted.
// It runs only with SHOAL_TEST_ENGINES=1 (make test-engines).
func TestExport_ControlPlane(t *testing.T) {
	if os.Getenv("SHOAL_TEST_ENGINES") != "1" {
		t.Skip("set SHOAL_TEST_ENGINES=1 to run against a real control plane (make test-engines; .ci/engines-kubernetes.sh builds it)")
	}
	bins := engineBinaries(t)
	start := time.Now()
	cp := startControlPlane(t, bins)
	t.Logf("control plane and 2 kwok nodes ready in %s", time.Since(start).Round(time.Millisecond))

	toRoot(t)
	const catalog, shop = "examples/catalog/shoal.docker.yaml", "internal/export/kubernetes/testdata/shop.yaml"

	// Server-side dry-run of every object, each stack in a namespace of
	// its own (names repeat across stacks).
	start = time.Now()
	n := 0
	for _, file := range []string{catalog, shop} {
		for _, class := range []string{"", ingressClassALB} {
			doc, err := exportFile(t, file, export.Options{IngressClass: class})
			if err != nil {
				t.Fatalf("export %s (class %q): %v", file, class, err)
			}
			ns := "dry-" + strings.TrimSuffix(doc.Name, ".kubernetes.yaml")
			if class != "" {
				ns += "-" + class
			}
			cp.createNamespace(t, ns)
			for _, o := range documents(t, doc.Data) {
				if err := cp.apply(ns, o, true); err != nil {
					t.Errorf("%s (class %q): server-side dry-run of %s: %v", file, class, o, err)
				}
				n++
			}
		}
	}
	t.Logf("server-side dry-run of %d objects in %s", n, time.Since(start).Round(time.Millisecond))

	// The dry-run is not vacuous: the server rejects what kubeconform lets
	// through (a selector that misses the template's labels) and, with
	// strict validation, an unknown field.
	cp.createNamespace(t, "dry-bad")
	for _, bad := range []struct{ want, manifest string }{
		{"selector", "spec:\n  selector: {matchLabels: {a: b}}\n  template: {metadata: {labels: {a: c}}, spec: {containers: [{name: x, image: x}]}}\n"},
		{"imagee", "spec:\n  selector: {matchLabels: {a: b}}\n  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: x, image: x, imagee: y}]}}\n"},
	} {
		o := parseObject(t, []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad}\n"+bad.manifest))
		if err := cp.apply("dry-bad", o, true); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("dry-run of a Deployment with a bad %s: got %v, want an error naming it", bad.want, err)
		}
	}

	// The catalog for real: 3 api pods Running on the kwok nodes.
	doc, err := exportFile(t, catalog, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cp.createNamespace(t, "catalog")
	start = time.Now()
	for _, o := range documents(t, doc.Data) {
		if err := cp.apply("catalog", o, false); err != nil {
			t.Fatalf("apply %s: %v", o, err)
		}
	}
	cp.waitRollout(t, "catalog", "api", 3, "catalog:latest")
	cp.waitRollout(t, "catalog", "cache", 1, "redis:7.4")
	t.Logf("catalog applied, api's 3 pods and cache's pod Running in %s", time.Since(start).Round(time.Millisecond))
	for _, name := range []string{"instances"} {
		cp.mustGet(t, "/apis/networking.k8s.io/v1/namespaces/catalog/networkpolicies/"+name)
	}
	cp.mustGet(t, "/apis/networking.k8s.io/v1/namespaces/catalog/ingresses/web")
	oldRS := cp.replicaSets(t, "catalog", "api")

	// A changed image, exported again and applied: a new ReplicaSet, 3
	// updated pods, the old ReplicaSet scaled to 0.
	const image = "image: catalog:latest\n"
	if c := bytes.Count(doc.Data, []byte(image)); c != 1 {
		t.Fatalf("got %d %q in the catalog's manifests, want 1", c, image)
	}
	changed := bytes.Replace(doc.Data, []byte(image), []byte("image: catalog:v2\n"), 1)
	start = time.Now()
	for _, o := range documents(t, changed) {
		if err := cp.apply("catalog", o, false); err != nil {
			t.Fatalf("apply %s with a changed image: %v", o, err)
		}
	}
	cp.waitRollout(t, "catalog", "api", 3, "catalog:v2")
	newRS := cp.replicaSets(t, "catalog", "api")
	var fresh []string
	for name, replicas := range newRS {
		if _, ok := oldRS[name]; !ok && replicas == 3 {
			fresh = append(fresh, name)
		} else if replicas != 0 {
			t.Errorf("after the rollout ReplicaSet %s has %d replicas, want 0", name, replicas)
		}
	}
	if len(fresh) != 1 {
		t.Errorf("after the rollout got ReplicaSets %v (before: %v), want one new one with 3 replicas", newRS, oldRS)
	}
	t.Logf("image change rolled out in %s: ReplicaSets %v", time.Since(start).Round(time.Millisecond), newRS)

	// shop for real: its DaemonSet, Deployments, EndpointSlices, HPA and
	// NetworkPolicies are created.
	doc, err = exportFile(t, shop, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cp.createNamespace(t, "shop")
	kinds := map[string]int{}
	for _, o := range documents(t, doc.Data) {
		if err := cp.apply("shop", o, false); err != nil {
			t.Fatalf("apply %s: %v", o, err)
		}
		kinds[o.Kind]++
	}
	if kinds["HorizontalPodAutoscaler"] == 0 || kinds["NetworkPolicy"] == 0 {
		t.Fatalf("shop's manifests have kinds %v, want an HPA and NetworkPolicies", kinds)
	}
	for _, o := range documents(t, doc.Data) {
		path, err := cp.path("shop", o)
		if err != nil {
			t.Fatal(err)
		}
		got := cp.mustGet(t, path)
		if o.Kind == "HorizontalPodAutoscaler" {
			t.Logf("HPA %s accepted: %s", o.Name, jsonField(got, "spec"))
		}
	}
	t.Logf("shop applied: %v", kinds)

	// The controller-manager takes the HPA up (no metrics server, so it
	// reports that it cannot compute a replica count).
	deadline := time.Now().Add(45 * time.Second)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var conditions string
	for time.Now().Before(deadline) {
		conditions = jsonField([]byte(jsonField(cp.mustGet(t, "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/api"), "status")), "conditions")
		if conditions != "" {
			break
		}
		<-tick.C
	}
	t.Logf("HPA api's conditions set by the controller-manager: %s", conditions)
}

// engineBinaries are the paths of the engines, by name, or the test fails
// saying how to build them.
func engineBinaries(t *testing.T) map[string]string {
	t.Helper()
	dir := os.Getenv("SHOAL_ENGINES_DIR")
	if dir == "" {
		dir = "/var/cache/shoal-engines"
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	bins := map[string]string{
		"etcd":                    filepath.Join(dir, "etcd-"+engineEtcd, "etcd"),
		"kwok":                    filepath.Join(dir, "kwok-"+engineKwok, "kwok"),
		"kube-apiserver":          filepath.Join(dir, "kubernetes-"+engineKubernetes, "kube-apiserver"),
		"kube-controller-manager": filepath.Join(dir, "kubernetes-"+engineKubernetes, "kube-controller-manager"),
		"kube-scheduler":          filepath.Join(dir, "kubernetes-"+engineKubernetes, "kube-scheduler"),
		"kwok-stages":             filepath.Join(dir, "kwok-"+engineKwok, "stages.yaml"),
	}
	for _, path := range bins {
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("%v: run .ci/engines-kubernetes.sh (with the same SHOAL_ENGINES_DIR) to build the engines", err)
		}
	}
	return bins
}

// controlPlane is a running control plane and a client of its API.
type controlPlane struct {
	url    string
	token  string
	client *http.Client
	// resources are the API's resources by apiVersion and kind: plural
	// name and whether namespaced.
	resources map[string]apiResource
	procs     []*proc
}

type apiResource struct {
	name       string
	namespaced bool
}

// proc is a process the test started.
type proc struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startControlPlane(t *testing.T, bins map[string]string) *controlPlane {
	t.Helper()
	dir := t.TempDir()
	cp := &controlPlane{resources: map[string]apiResource{}}
	t.Cleanup(func() { cp.stop(t) })

	// Credentials: a CA and the API server's serving certificate, the
	// service accounts' signing key, and a token in the group
	// system:masters.
	ca, caKey := newCert(t, nil, nil, "shoal-e2e-ca")
	serving, servingKey := newCert(t, ca, caKey, "kube-apiserver")
	_, saKey := newCert(t, nil, nil, "service-accounts")
	caFile := writePEM(t, dir, "ca.crt", "CERTIFICATE", ca.Raw)
	certFile := writePEM(t, dir, "apiserver.crt", "CERTIFICATE", serving.Raw)
	keyFile := writeKey(t, dir, "apiserver.key", servingKey)
	saFile := writeKey(t, dir, "sa.key", saKey)
	token := make([]byte, 16)
	if _, err := rand.Read(token); err != nil {
		t.Fatal(err)
	}
	cp.token = hex.EncodeToString(token)
	tokenFile := filepath.Join(dir, "tokens.csv")
	mustWrite(t, tokenFile, cp.token+",shoal-e2e,shoal-e2e,system:masters\n")
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	cp.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	etcdPort, etcdPeer, apiPort := freePort(t), freePort(t), freePort(t)
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPeer)
	cp.url = fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	kubeconfig := filepath.Join(dir, "kubeconfig")
	mustWrite(t, kubeconfig, fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: %q, certificate-authority: %q}
users:
- name: e2e
  user: {token: %q}
contexts:
- name: e2e
  context: {cluster: e2e, user: e2e}
current-context: e2e
`, cp.url, caFile, cp.token))

	cp.start(t, dir, bins["etcd"], "--name=e2e", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=e2e="+peerURL, "--unsafe-no-fsync", "--log-level=warn")
	cp.waitFor(t, "etcd healthy", startTimeout, func() (bool, string) {
		resp, err := cp.client.Get(etcdURL + "/health")
		if err != nil {
			return false, err.Error()
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == 200 && bytes.Contains(body, []byte(`"true"`)), string(body)
	})

	cp.start(t, dir, bins["kube-apiserver"], "--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", apiPort),
		"--cert-dir="+filepath.Join(dir, "apiserver-certs"),
		"--tls-cert-file="+certFile, "--tls-private-key-file="+keyFile,
		"--token-auth-file="+tokenFile, "--authorization-mode=AlwaysAllow",
		"--service-account-issuer=https://kubernetes.default.svc", "--service-account-key-file="+saFile,
		"--service-account-signing-key-file="+saFile, "--service-cluster-ip-range=10.96.0.0/16",
		// The Service "kubernetes" gets no endpoints: loopback addresses
		// are not valid ones.
		"--endpoint-reconciler-type=none", "--profiling=false")
	cp.waitFor(t, "kube-apiserver ready", startTimeout, func() (bool, string) {
		code, body, err := cp.do("GET", "/readyz", "", nil)
		if err != nil {
			return false, err.Error()
		}
		return code == 200, string(body)
	})

	cp.start(t, dir, bins["kube-controller-manager"], "--kubeconfig="+kubeconfig,
		"--bind-address=127.0.0.1", "--secure-port=0", "--leader-elect=false",
		"--service-account-private-key-file="+saFile, "--root-ca-file="+caFile,
		"--use-service-account-credentials=false", "--profiling=false")
	cp.start(t, dir, bins["kube-scheduler"], "--kubeconfig="+kubeconfig,
		"--bind-address=127.0.0.1", "--secure-port=0", "--leader-elect=false", "--profiling=false")
	cp.start(t, dir, bins["kwok"], "--kubeconfig="+kubeconfig, "--config="+bins["kwok-stages"],
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--node-ip=127.0.0.1", "--server-address=127.0.0.1:"+fmt.Sprint(freePort(t)))

	for _, node := range []string{"kwok-node-0", "kwok-node-1"} {
		cp.create(t, "/api/v1/nodes", fmt.Sprintf(`{"apiVersion": "v1", "kind": "Node",
  "metadata": {"name": %q, "annotations": {"kwok.x-k8s.io/node": "fake"}, "labels": {"type": "kwok", "kubernetes.io/hostname": %q}},
  "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"}, "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"}}}`, node, node))
	}
	cp.waitFor(t, "2 kwok nodes Ready", startTimeout, func() (bool, string) {
		var nodes struct {
			Items []struct {
				Metadata struct{ Name string }
				Spec     struct{ Taints []struct{ Key string } }
				Status   struct {
					Conditions []struct{ Type, Status string }
				}
			}
		}
		if err := cp.getJSON("/api/v1/nodes", &nodes); err != nil {
			return false, err.Error()
		}
		ready := 0
		for _, n := range nodes.Items {
			for _, c := range n.Status.Conditions {
				if c.Type == "Ready" && c.Status == "True" && len(n.Spec.Taints) == 0 {
					ready++
				}
			}
		}
		return ready == 2, fmt.Sprintf("%+v", nodes.Items)
	})
	return cp
}

// start runs a binary with its output in DIR/NAME.log; stop kills it.
func (cp *controlPlane) start(t *testing.T, dir, bin string, args ...string) {
	t.Helper()
	name := filepath.Base(bin)
	p := &proc{name: name, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.Dir = dir
	// Killed with the test binary too, should it die before its cleanups
	// (go test -timeout).
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
	cp.procs = append(cp.procs, p)
}

// stop ends the processes, last started first: SIGTERM, then SIGKILL
// after 10 s; each is waited for. On failure it prints the end of each
// log.
func (cp *controlPlane) stop(t *testing.T) {
	for i := len(cp.procs) - 1; i >= 0; i-- {
		p := cp.procs[i]
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("--- end of %s's log:\n%s", p.name, tail(p.log, 25))
		}
	}
}

// waitFor polls ok every 200 ms until it holds, failing after timeout
// with what it last said, or as soon as a process has exited.
func (cp *controlPlane) waitFor(t *testing.T, what string, timeout time.Duration, ok func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		done, last := ok()
		if done {
			return
		}
		for _, p := range cp.procs {
			select {
			case <-p.done:
				t.Fatalf("waiting for %s: %s exited (%v):\n%s", what, p.name, p.err, tail(p.log, 40))
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not after %s; last: %s", what, timeout, last)
		}
		<-tick.C
	}
}

func (cp *controlPlane) do(method, path, contentType string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, cp.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+cp.token)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := cp.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

func (cp *controlPlane) getJSON(path string, v any) error {
	code, body, err := cp.do("GET", path, "", nil)
	if err != nil {
		return err
	}
	if code != 200 {
		return fmt.Errorf("GET %s: %d %s", path, code, apiMessage(body))
	}
	return json.Unmarshal(body, v)
}

func (cp *controlPlane) mustGet(t *testing.T, path string) []byte {
	t.Helper()
	code, body, err := cp.do("GET", path, "", nil)
	if err != nil || code != 200 {
		t.Fatalf("GET %s: %d %v %s", path, code, err, apiMessage(body))
	}
	return body
}

func (cp *controlPlane) create(t *testing.T, path, obj string) {
	t.Helper()
	code, body, err := cp.do("POST", path, "application/json", []byte(obj))
	if err != nil || code != 201 {
		t.Fatalf("POST %s: %d %v %s", path, code, err, apiMessage(body))
	}
}

// createNamespace creates namespace ns and waits for its default service
// account (made by the controller-manager), which pods need.
func (cp *controlPlane) createNamespace(t *testing.T, ns string) {
	t.Helper()
	cp.create(t, "/api/v1/namespaces", fmt.Sprintf(`{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": %q}}`, ns))
	cp.waitFor(t, "service account default in namespace "+ns, startTimeout, func() (bool, string) {
		code, body, err := cp.do("GET", "/api/v1/namespaces/"+ns+"/serviceaccounts/default", "", nil)
		if err != nil {
			return false, err.Error()
		}
		return code == 200, apiMessage(body)
	})
}

// manifest is one document of an export.
type manifest struct {
	APIVersion, Kind, Name string
	Data                   []byte
}

func (m manifest) String() string { return m.Kind + " " + m.Name }

// documents splits an export into its objects.
func documents(t *testing.T, data []byte) []manifest {
	t.Helper()
	var out []manifest
	for _, d := range strings.Split(string(data), "\n---\n")[1:] {
		out = append(out, parseObject(t, []byte(d)))
	}
	if len(out) == 0 {
		t.Fatal("no objects in the export")
	}
	return out
}

func parseObject(t *testing.T, data []byte) manifest {
	t.Helper()
	var o struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(data, &o); err != nil || o.Kind == "" || o.Metadata.Name == "" {
		t.Fatalf("not an object (%v):\n%s", err, data)
	}
	return manifest{o.APIVersion, o.Kind, o.Metadata.Name, data}
}

// path is where object o lives in namespace ns, from the API's discovery.
func (cp *controlPlane) path(ns string, o manifest) (string, error) {
	base := "/apis/" + o.APIVersion
	if o.APIVersion == "v1" {
		base = "/api/v1"
	}
	key := o.APIVersion + "/" + o.Kind
	r, ok := cp.resources[key]
	if !ok {
		var list struct {
			Resources []struct {
				Name, Kind string
				Namespaced bool
			}
		}
		if err := cp.getJSON(base, &list); err != nil {
			return "", err
		}
		for _, x := range list.Resources {
			if !strings.Contains(x.Name, "/") {
				cp.resources[o.APIVersion+"/"+x.Kind] = apiResource{x.Name, x.Namespaced}
			}
		}
		if r, ok = cp.resources[key]; !ok {
			return "", fmt.Errorf("the API server serves no %s in %s", o.Kind, o.APIVersion)
		}
	}
	if r.namespaced {
		base += "/namespaces/" + ns
	}
	return base + "/" + r.name + "/" + o.Name, nil
}

// apply sends o to the API server as a server-side apply with strict field
// validation, a dry-run (dryRun=All) or for real; the error is the
// server's message.
func (cp *controlPlane) apply(ns string, o manifest, dryRun bool) error {
	q := url.Values{"fieldManager": {"shoal-e2e"}, "fieldValidation": {"Strict"}, "force": {"true"}}
	if dryRun {
		q.Set("dryRun", "All")
	}
	path, err := cp.path(ns, o)
	if err != nil {
		return err
	}
	code, body, err := cp.do("PATCH", path+"?"+q.Encode(), "application/apply-patch+yaml", o.Data)
	if err != nil {
		return err
	}
	if code != 200 && code != 201 {
		return fmt.Errorf("%d: %s", code, apiMessage(body))
	}
	return nil
}

// waitRollout waits until Deployment name in ns has its replicas, all
// updated and available, and exactly that many pods, Running on kwok
// nodes, with image.
func (cp *controlPlane) waitRollout(t *testing.T, ns, name string, replicas int, image string) {
	t.Helper()
	cp.waitFor(t, fmt.Sprintf("Deployment %s/%s: %d pods of %s Running", ns, name, replicas, image), rolloutTimeout, func() (bool, string) {
		var d struct {
			Metadata struct{ Generation int }
			Status   struct {
				ObservedGeneration                                          int
				Replicas, UpdatedReplicas, AvailableReplicas, ReadyReplicas int
			}
		}
		if err := cp.getJSON("/apis/apps/v1/namespaces/"+ns+"/deployments/"+name, &d); err != nil {
			return false, err.Error()
		}
		s := d.Status
		if s.ObservedGeneration < d.Metadata.Generation || s.Replicas != replicas || s.UpdatedReplicas != replicas || s.AvailableReplicas != replicas || s.ReadyReplicas != replicas {
			return false, fmt.Sprintf("generation %d, status %+v", d.Metadata.Generation, s)
		}
		var pods struct {
			Items []struct {
				Metadata struct{ DeletionTimestamp *string }
				Spec     struct {
					NodeName   string
					Containers []struct{ Image string }
				}
				Status struct{ Phase string }
			}
		}
		sel := url.QueryEscape(labelName + "=" + name)
		if err := cp.getJSON("/api/v1/namespaces/"+ns+"/pods?labelSelector="+sel, &pods); err != nil {
			return false, err.Error()
		}
		ok := 0
		for _, p := range pods.Items {
			if p.Metadata.DeletionTimestamp == nil && p.Status.Phase == "Running" && strings.HasPrefix(p.Spec.NodeName, "kwok-node-") && p.Spec.Containers[0].Image == image {
				ok++
			}
		}
		return ok == replicas && len(pods.Items) == replicas, fmt.Sprintf("pods %+v", pods.Items)
	})
}

// replicaSets are Deployment name's ReplicaSets in ns and their replicas.
func (cp *controlPlane) replicaSets(t *testing.T, ns, name string) map[string]int {
	t.Helper()
	var list struct {
		Items []struct {
			Metadata struct{ Name string }
			Spec     struct{ Replicas int }
		}
	}
	if err := cp.getJSON("/apis/apps/v1/namespaces/"+ns+"/replicasets?labelSelector="+url.QueryEscape(labelName+"="+name), &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, rs := range list.Items {
		out[rs.Metadata.Name] = rs.Spec.Replicas
	}
	return out
}

// apiMessage is the message of an API Status, or the body.
func apiMessage(body []byte) string {
	var s struct{ Message string }
	if json.Unmarshal(body, &s) == nil && s.Message != "" {
		return s.Message
	}
	return string(body)
}

func jsonField(body []byte, field string) string {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(body, &m)
	return string(m[field])
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// newCert makes an ECDSA key and a certificate for it: a CA when parent is
// nil, else a serving certificate for 127.0.0.1 signed by parent.
func newCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	signer, signerKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 96, 0, 1)}
		tmpl.DNSNames = []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"}
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	mustWrite(t, path, string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})))
	return path
}

func writeKey(t *testing.T, dir, name string, key *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, dir, name, "EC PRIVATE KEY", der)
}

func mustWrite(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// tail is the last n lines of file path.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
