package proxy

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCheckClient_Check(t *testing.T) {
	seen := make(chan *http.Request, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusOK)
		case "/fail":
			w.WriteHeader(http.StatusInternalServerError)
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/slow":
			<-r.Context().Done()
		}
	}))
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	port := srv.Listener.Addr().(*net.TCPAddr).Port

	tests := []struct {
		name     string
		addr     string
		path     string
		port     int
		matcher  Matcher
		want     checkResult
		wantSeen bool
	}{
		{"pass", addr, "/ok", 0, Matcher{{200, 200}}, checkPassed(), true},
		{"code mismatch", addr, "/fail", 0, Matcher{{200, 200}}, checkCodeMismatch(500), true},
		{"redirect not followed", addr, "/moved", 0, Matcher{{200, 200}}, checkCodeMismatch(302), true},
		{"redirect matched", addr, "/moved", 0, Matcher{{200, 399}}, checkPassed(), true},
		{"timeout", addr, "/slow", 0, Matcher{{200, 200}}, checkTimedOut(), true},
		{"refused", refusedAddr(t), "/ok", 0, Matcher{{200, 200}}, checkFailed(), false},
		{"health check port", "127.0.0.1:1", "/ok", port, Matcher{{200, 200}}, checkPassed(), true},
	}
	c := newCheckClient((&net.Dialer{}).DialContext)
	t.Cleanup(c.close)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &groupSettings{
				path: tt.path, port: tt.port, timeout: 200 * time.Millisecond,
				matcher: tt.matcher,
			}
			got := c.check(context.Background(), tt.addr, s)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(checkResult{})); diff != "" {
				t.Errorf("check (-want +got):\n%s", diff)
			}
			if !tt.wantSeen {
				return
			}
			r := <-seen
			if ua := r.Header.Get("User-Agent"); ua != "ELB-HealthChecker/2.0" {
				t.Errorf("User-Agent: got %q, want ELB-HealthChecker/2.0", ua)
			}
			if r.Method != http.MethodGet || r.URL.Path != tt.path {
				t.Errorf("request: got %s %s, want GET %s", r.Method, r.URL.Path, tt.path)
			}
		})
	}
}

func TestChecker_Thresholds(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	bk := newBackend(t, "a")
	h.register(bk.addr)
	h.settle(1)
	h.waitState(bk.addr, StateHealthy) // one pass leaves initial

	bk.health.Store(http.StatusInternalServerError)
	h.tick(1)
	h.waitState(bk.addr, StateHealthy) // 1 failure of 2
	h.tick(1)
	th, _ := h.target(bk.addr)
	want := TargetHealth{
		Group: "api", Target: bk.addr, State: StateUnhealthy,
		Reason:      ReasonResponseCodeMismatch,
		Description: "Health checks failed with these codes: [500]",
		Since:       testStart.Add(2 * testInterval),
	}
	if diff := cmp.Diff(want, th); diff != "" {
		t.Fatalf("after 2 failures (-want +got):\n%s", diff)
	}

	bk.health.Store(http.StatusOK)
	h.tick(1)
	h.tick(1)
	h.waitState(bk.addr, StateUnhealthy) // 2 passes of 3
	h.tick(1)
	h.waitState(bk.addr, StateHealthy)

	waitFor(t, "4 health changes", func() bool { return len(h.eventsOf(bk.addr)) == 4 })
	var got []string
	for _, c := range h.eventsOf(bk.addr) {
		got = append(got, string(c.From)+"→"+string(c.To)+" "+string(c.Reason)+" "+c.At.Sub(testStart).String())
	}
	wantEvents := []string{
		"unused→initial Elb.RegistrationInProgress 0s",
		"initial→healthy  0s",
		"healthy→unhealthy Target.ResponseCodeMismatch 20s",
		"unhealthy→healthy  50s",
	}
	if diff := cmp.Diff(wantEvents, got); diff != "" {
		t.Errorf("health changes (-want +got):\n%s", diff)
	}
}

func TestChecker_ChangedHealthCheckAppliesFromNextCheck(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	bk := newBackend(t, "a")
	h.register(bk.addr)
	h.settle(1)
	h.waitState(bk.addr, StateHealthy)

	tg := testGroup()
	tg.HealthCheck.Path = "/missing" // the backend answers 200 to anything but /health
	tg.HealthCheck.Success = Matcher{{404, 404}}
	if err := h.b.Apply(context.Background(), singleListener("api", tg, 0)); err != nil {
		t.Fatal(err)
	}
	h.tick(1)
	h.tick(1)
	th, _ := h.target(bk.addr)
	if th.State != StateUnhealthy || th.Description != "Health checks failed with these codes: [200]" {
		t.Errorf("after the new check failed twice: got %s %q, want unhealthy with codes [200]", th.State, th.Description)
	}
}
