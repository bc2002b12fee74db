package proxy

import (
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// h2specInstall is how CI installs h2spec. Its v2.3+ tags carry a go.mod
// without the /v2 suffix, so the Go module proxy serves only v2.2.1 (as
// +incompatible) and v1.5.0; the v2.6.0 release binary is on GitHub.
const h2specInstall = "go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible"

// TestH2Spec_BalancerFailsNoMoreThanGo runs the h2spec HTTP/2 conformance
// suite against an https listener of a real balancer, and against Go's own
// HTTP/2 server (net/http, with the same handler and certificate). The
// balancer's HTTP/2 is net/http's, so it may fail what Go fails, and those
// failures are listed; it fails the test only on a failure of its own.
func TestH2Spec_BalancerFailsNoMoreThanGo(t *testing.T) {
	bin := requireH2Spec(t)
	cert := newTestCert(t, certOpts{}, "localhost", "127.0.0.1")
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "conformance")
	})

	h := newHTTPSHarness(t, testGroup(), h2AndH1, cert)
	h.register(newBackendServer(t, handler, false))

	pair, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	ref := httptest.NewUnstartedServer(handler)
	ref.EnableHTTP2 = true
	ref.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	ref.Config.ErrorLog = log.New(io.Discard, "", 0)
	ref.StartTLS()
	t.Cleanup(ref.Close)

	var shoal, goServer map[string]string
	var shoalErr, goErr error
	var wg sync.WaitGroup
	wg.Go(func() { shoal, shoalErr = runH2Spec(t, bin, h.b.ListenerAddrs()[0], "shoal") })
	wg.Go(func() { goServer, goErr = runH2Spec(t, bin, ref.Listener.Addr().String(), "go") })
	wg.Wait()
	if err := errors.Join(shoalErr, goErr); err != nil {
		t.Fatal(err)
	}

	var accepted, own []string
	for _, id := range slices.Sorted(maps.Keys(shoal)) {
		if _, ok := goServer[id]; ok {
			accepted = append(accepted, id+" "+shoal[id])
		} else {
			own = append(own, id+" "+shoal[id])
		}
	}
	t.Logf("h2spec: the balancer fails %d tests, Go's own server %d; accepted, as Go fails them too:\n  %s",
		len(shoal), len(goServer), strings.Join(accepted, "\n  "))
	if len(own) > 0 {
		t.Errorf("h2spec failures of the balancer that Go's own HTTP/2 server does not have:\n  %s", strings.Join(own, "\n  "))
	}
}

// requireH2Spec returns the path of h2spec. It skips the test when h2spec
// is not installed, except in CI (CI set, or SHOAL_TEST_REDIS_URL as
// .ci/run sets it), which must run it.
func requireH2Spec(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("h2spec takes about 10 s; skipped with -short")
	}
	bin, err := exec.LookPath("h2spec")
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("SHOAL_TEST_REDIS_URL") != "" {
			t.Fatalf("h2spec is not on PATH, and CI must run this test: install it (%s)", h2specInstall)
		}
		t.Skipf("this test runs the HTTP/2 conformance suite h2spec: install it to run it (%s)", h2specInstall)
	}
	return bin
}

// runH2Spec runs every h2spec test against the TLS server at addr and
// returns the failed ones: "http2/4.2/3" (section and number, as h2spec
// takes them on its command line) to the test's title.
func runH2Spec(t *testing.T, bin, addr, name string) (map[string]string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	report := filepath.Join(t.TempDir(), name+".xml")
	out, err := exec.Command(bin, "--tls", "--insecure", "--host", host, "--port", port,
		"--junit-report", report).CombinedOutput()
	data, rerr := os.ReadFile(report)
	if rerr != nil { // h2spec exits 1 when a test fails, but writes its report
		return nil, fmt.Errorf("h2spec against %s: %v, no report (%v)\n%s", name, err, rerr, out)
	}
	var suites struct {
		Suites []struct {
			Package string `xml:"package,attr"`
			Cases   []struct {
				Title   string    `xml:"classname,attr"`
				Failure *struct{} `xml:"failure"`
				Error   *struct{} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &suites); err != nil {
		return nil, fmt.Errorf("h2spec report of %s: %v", name, err)
	}
	failed := map[string]string{}
	for _, s := range suites.Suites {
		for i, c := range s.Cases {
			if c.Failure != nil || c.Error != nil {
				failed[fmt.Sprintf("%s/%d", s.Package, i+1)] = c.Title
			}
		}
	}
	if len(suites.Suites) == 0 {
		return nil, fmt.Errorf("h2spec against %s ran no test\n%s", name, out)
	}
	return failed, nil
}
