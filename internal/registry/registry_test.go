package registry_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/shoalhq/shoal/internal/registry"
	"github.com/shoalhq/shoal/internal/testkit"
)

// serve starts a registry on a free loopback port over dir, logging at
// Debug to w, and closes it when the test ends.
func serve(t *testing.T, dir string, w io.Writer) *registry.Registry {
	t.Helper()
	r, err := registry.Serve(registry.Options{
		Address: "127.0.0.1:0",
		Dir:     dir,
		Log:     slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	t.Cleanup(func() { closeRegistry(t, r) })
	return r
}

func closeRegistry(t *testing.T, r *registry.Registry) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func push(t *testing.T, r *registry.Registry, repoTag string, img v1.Image) v1.Hash {
	t.Helper()
	tag := ref(t, r.Addr()+"/"+repoTag)
	if err := remote.Write(tag, img); err != nil {
		t.Fatalf("pushing %s: %v", tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// checkImage pulls the image s names, manifest, config and every layer
// (whose digests remote checks as it reads), and compares its digest.
func checkImage(t *testing.T, s string, want v1.Hash) {
	t.Helper()
	img, err := remote.Image(ref(t, s))
	if err != nil {
		t.Fatalf("pulling %s: %v", s, err)
	}
	if got, err := img.Digest(); err != nil || got != want {
		t.Fatalf("%s: got digest %v (%v), want %v", s, got, err, want)
	}
	if _, err := img.RawConfigFile(); err != nil {
		t.Fatalf("%s: config: %v", s, err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatalf("%s: layers: %v", s, err)
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatalf("%s: layer: %v", s, err)
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: reading a layer: %v", s, err)
		}
	}
}

func listTags(t *testing.T, r *registry.Registry, repo string) []string {
	t.Helper()
	resp, err := http.Get("http://" + r.Addr() + "/v2/" + repo + "/tags/list")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET tags/list: status %d, %v", resp.StatusCode, err)
	}
	if list.Name != repo {
		t.Errorf("tags/list: got name %q, want %q", list.Name, repo)
	}
	return list.Tags
}

func TestRegistry_PushPullByTagAndDigest(t *testing.T) {
	var logs testkit.Buffer
	r := serve(t, t.TempDir(), io.MultiWriter(&logs, t.Output()))
	img := randomImage(t)
	d := push(t, r, "shoal/catalog:1", img)
	push(t, r, "shoal/catalog:latest", img)

	checkImage(t, r.Addr()+"/shoal/catalog:1", d)
	checkImage(t, r.Addr()+"/shoal/catalog@"+d.String(), d)
	if diff := cmp.Diff([]string{"1", "latest"}, listTags(t, r, "shoal/catalog")); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	if want := "method=PUT path=/v2/shoal/catalog/manifests/1 status=201"; !strings.Contains(logs.String(), want) {
		t.Errorf("access log lacks %q:\n%s", want, logs.String())
	}
}

func TestRegistry_KeepsImagesAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	r := serve(t, dir, t.Output())
	push(t, r, "app:1", randomImage(t))
	img := randomImage(t)
	d := push(t, r, "app:1", img) // a tag moved: the newer push must win
	idx, err := random.Index(1024, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref(t, r.Addr()+"/multi:1"), idx); err != nil {
		t.Fatalf("pushing an index: %v", err)
	}
	closeRegistry(t, r)

	r = serve(t, dir, t.Output())
	checkImage(t, r.Addr()+"/app:1", d)
	checkImage(t, r.Addr()+"/app@"+d.String(), d)
	if diff := cmp.Diff([]string{"1"}, listTags(t, r, "app")); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	checkIndex(t, r, "multi:1", idx)
}

// checkIndex pulls the index repoTag names and each image it lists.
func checkIndex(t *testing.T, r *registry.Registry, repoTag string, want v1.ImageIndex) {
	t.Helper()
	got, err := remote.Index(ref(t, r.Addr()+"/"+repoTag))
	if err != nil {
		t.Fatalf("pulling index %s: %v", repoTag, err)
	}
	gd, _ := got.Digest()
	wd, _ := want.Digest()
	if gd != wd {
		t.Fatalf("index %s: got digest %v, want %v", repoTag, gd, wd)
	}
	m, err := want.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	repo, _, _ := strings.Cut(repoTag, ":")
	for _, desc := range m.Manifests {
		checkImage(t, r.Addr()+"/"+repo+"@"+desc.Digest.String(), desc.Digest)
	}
}

// TestRegistry_RefusesBadManifestNames pins that names are checked before
// anything is saved: the files are named after them.
func TestRegistry_RefusesBadManifestNames(t *testing.T) {
	dir := t.TempDir()
	r := serve(t, dir, t.Output())
	zeros := "sha256:" + strings.Repeat("0", 64)
	tests := []struct {
		name, path, code string
	}{
		{"upper-case repository", "/v2/Catalog/manifests/1", "NAME_INVALID"},
		{"escaping the directory", "/v2/a/..%2F..%2Fescape/manifests/1", "NAME_INVALID"},
		{"hidden tag", "/v2/a/manifests/.tmp", "TAG_INVALID"},
		{"digest of other content", "/v2/a/manifests/" + zeros, "DIGEST_INVALID"},
		{"outside /v2/", "/x/a/manifests/1", "NOT_FOUND"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPut, "http://"+r.Addr()+tt.path, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode < 400 || !strings.Contains(string(body), tt.code) {
				t.Errorf("PUT %s: got %d %s, want an error %s", tt.path, resp.StatusCode, body, tt.code)
			}
		})
	}
	saved, _ := filepath.Glob(filepath.Join(dir, "repositories", "*"))
	outside, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), "escape"))
	if len(saved)+len(outside) > 0 {
		t.Errorf("refused manifests were saved: %v %v", saved, outside)
	}
}

func TestServe_ReportsDamagedManifest(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "repositories", "app", "_manifests", "sha256:"+strings.Repeat("0", 64))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("application/json\n{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := registry.Serve(registry.Options{Address: "127.0.0.1:0", Dir: dir})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "remove it") {
		t.Fatalf("got %v, want an error naming %s and what to do", err, path)
	}
}

func TestServe_RefusesNonLoopbackAddress(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:5000", ":5000", "192.0.2.1:5000", "[::]:5000", "registry.example:5000"} {
		_, err := registry.Serve(registry.Options{Address: addr, Dir: t.TempDir()})
		if !errors.Is(err, registry.ErrNotLoopback) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), registry.DefaultAddress) {
			t.Errorf("Serve(%q): got %v, want ErrNotLoopback naming the address and %s", addr, err, registry.DefaultAddress)
		}
	}
}

func TestServe_AllowRemote(t *testing.T) {
	r, err := registry.Serve(registry.Options{Address: "0.0.0.0:0", AllowRemote: true, Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("Serve with AllowRemote: %v", err)
	}
	closeRegistry(t, r)
}

func TestServe_BusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	_, err = registry.Serve(registry.Options{Address: addr, Dir: t.TempDir()})
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "lsof") {
		t.Fatalf("got %v, want EADDRINUSE naming %s and how to find the program", err, addr)
	}
}

func TestServe_NeedsDir(t *testing.T) {
	if _, err := registry.Serve(registry.Options{Address: "127.0.0.1:0"}); err == nil || !strings.Contains(err.Error(), "Options.Dir") {
		t.Fatalf("got %v, want an error asking for Options.Dir", err)
	}
}

// dockerCLI is the docker command to test with (SHOAL_TEST_DOCKER, or
// docker on PATH) once `docker info` shows an engine. It skips the test
// where there is none, except in CI, which must run it.
func dockerCLI(t *testing.T) string {
	t.Helper()
	docker := os.Getenv("SHOAL_TEST_DOCKER")
	if docker == "" {
		docker = "docker"
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, docker, "info").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("no Docker engine answers `%s info` (%v)", docker, err)
		if line := lastLine(out); line != "" {
			msg = fmt.Sprintf("no Docker engine answers `%s info` (%v: %s)", docker, err, line)
		}
		if os.Getenv("CI") != "" {
			t.Fatalf("%s; CI must run this test: start dockerd", msg)
		}
		t.Skipf("%s: start Docker (or set SHOAL_TEST_DOCKER) to test docker build, push and pull against the registry", msg)
	}
	return docker
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// run runs docker with args, failing the test with its output.
func run(t *testing.T, docker string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, docker, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestRegistry_DockerBuildPushPull(t *testing.T) {
	docker := dockerCLI(t)
	r := serve(t, t.TempDir(), t.Output())

	build := t.TempDir()
	files := map[string]string{"Dockerfile": "FROM scratch\nCOPY hello /hello\n", "hello": "hello from shoal\n"}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(build, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	image := fmt.Sprintf("%s/shoaltest-%08x:1", r.Addr(), rand.Uint32())
	t.Cleanup(func() {
		// The image may be gone already (rmi below); only its absence matters.
		exec.Command(docker, "rmi", "--force", image).Run()
	})

	run(t, docker, "build", "--tag", image, build)
	run(t, docker, "push", image)
	run(t, docker, "rmi", image)
	run(t, docker, "pull", image)
}
