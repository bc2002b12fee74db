package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

	const timeout = 200 * time.Millisecond
	at := func(addr, path string) probe { return probe{scheme: "http", addr: addr, path: path, timeout: timeout} }
	refused := refusedAddr(t)
	refusedPort := refused[strings.LastIndexByte(refused, ':')+1:]
	hcPort, _ := strconv.Atoi(refusedPort)
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
		{"code mismatch", addr, "/fail", 0, Matcher{{200, 200}}, at(addr, "/fail").codeMismatch(500), true},
		{"redirect not followed", addr, "/moved", 0, Matcher{{200, 200}}, at(addr, "/moved").codeMismatch(302), true},
		{"redirect matched", addr, "/moved", 0, Matcher{{200, 399}}, checkPassed(), true},
		{"timeout", addr, "/slow", 0, Matcher{{200, 200}}, at(addr, "/slow").fail(causeTimeout), true},
		{"refused", refused, "/ok", 0, Matcher{{200, 200}}, at(refused, "/ok").fail(causeRefused), false},
		{"health check port", "127.0.0.1:1", "/ok", port, Matcher{{200, 200}}, checkPassed(), true},
		{"health check port refused", addr, "/ok", hcPort, Matcher{{200, 200}},
			probe{scheme: "http", addr: refused, path: "/ok", timeout: timeout, port: hcPort}.fail(causeRefused), false},
	}
	c := newCheckClient((&net.Dialer{}).DialContext)
	t.Cleanup(c.close)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &groupSettings{
				path: tt.path, port: tt.port, timeout: timeout,
				matcher: tt.matcher,
			}
			got := c.check(context.Background(), tt.addr, s)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(checkResult{}, probe{})); diff != "" {
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

// rawServer listens on host:0 and hands every connection to serve, on a
// goroutine of its own; the connection is closed after serve returns, and
// the listener and any open connection when the test ends.
func rawServer(t *testing.T, host string, serve func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() {
		close(done)
		l.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(2)
			go func() {
				defer wg.Done()
				defer conn.Close()
				serve(conn)
			}()
			go func() { // unblocks serve when the test ends
				defer wg.Done()
				<-done
				conn.Close()
			}()
		}
	}()
	return l.Addr().String()
}

// readRequest reads the health check request off conn.
func readRequest(conn net.Conn) {
	http.ReadRequest(bufio.NewReader(conn))
}

// TestCheckClient_FailureDescriptions: each way a real target fails a check
// gets the AWS reason code and a description that says what happened where,
// and what to do.
func TestCheckClient_FailureDescriptions(t *testing.T) {
	const host = "127.0.0.2" // an instance's address, as tasks listen on
	l, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	refused := l.Addr().String()
	l.Close()
	codes := rawServer(t, host, func(conn net.Conn) {
		readRequest(conn)
		io.WriteString(conn, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
	})
	closes := rawServer(t, host, readRequest) // and closes
	resets := rawServer(t, host, func(conn net.Conn) {
		readRequest(conn)
		conn.(*net.TCPConn).SetLinger(0) // close sends RST
	})
	cutShort := rawServer(t, host, func(conn net.Conn) {
		readRequest(conn)
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
	})
	tlsAlert := rawServer(t, host, func(conn net.Conn) {
		readRequest(conn)
		conn.Write([]byte{0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46}) // what a TLS server answers plain text with
	})
	banner := rawServer(t, host, func(conn net.Conn) {
		io.WriteString(conn, "SSH-2.0-OpenSSH_9.6\r\n")
		io.Copy(io.Discard, conn)
	})
	silent := rawServer(t, host, func(conn net.Conn) { io.Copy(io.Discard, conn) })

	refusedDesc := "Health checks failed: connection refused at %s: nothing listens there; " +
		"the app must listen on $HOST:$PORT (it may have bound 127.0.0.1, localhost or another port)"
	closedDesc := "Health checks failed: connection closed at %s: the app accepted the connection but closed it before answering GET /health"
	notHTTPDesc := "Health checks failed: malformed HTTP response at %s: the port does not speak HTTP (is it HTTPS or another protocol?)"
	tests := []struct {
		name   string
		addr   string
		cause  checkCause
		reason Reason
		desc   string // %s: addr
	}{
		{"code mismatch", codes, causeCode, ReasonResponseCodeMismatch, "Health checks failed with these codes: [503]"},
		{"refused", refused, causeRefused, ReasonFailedHealthChecks, refusedDesc},
		{"closed without answering", closes, causeClosed, ReasonFailedHealthChecks, closedDesc},
		{"reset", resets, causeClosed, ReasonFailedHealthChecks, closedDesc},
		{"answer cut short", cutShort, causeClosed, ReasonFailedHealthChecks, closedDesc},
		{"TLS alert", tlsAlert, causeNotHTTP, ReasonFailedHealthChecks, notHTTPDesc},
		{"another protocol's banner", banner, causeNotHTTP, ReasonFailedHealthChecks, notHTTPDesc},
		{"no answer", silent, causeTimeout, ReasonTimeout,
			"Request timed out at %s: no answer to GET /health within the 300ms health check timeout"},
	}
	c := newCheckClient((&net.Dialer{}).DialContext)
	t.Cleanup(c.close)
	s := &groupSettings{path: "/health", timeout: 300 * time.Millisecond, matcher: Matcher{{200, 200}}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.check(context.Background(), tt.addr, s)
			want := tt.desc
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, tt.addr)
			}
			if got.cause != tt.cause || got.reason() != tt.reason || got.description() != want {
				t.Errorf("check of %s:\n got cause %d, %s: %s\nwant cause %d, %s: %s",
					tt.addr, got.cause, got.reason(), got.description(), tt.cause, tt.reason, want)
			}
		})
	}
}

func TestCheckClient_OtherErrorsSayWhatTheSystemSaid(t *testing.T) {
	unreachable := func(ctx context.Context, network, addr string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ENETUNREACH)}
	}
	c := newCheckClient(unreachable)
	t.Cleanup(c.close)
	s := &groupSettings{path: "/health", timeout: time.Second, matcher: Matcher{{200, 200}}}
	got := c.check(context.Background(), "10.1.2.3:8080", s)
	want := "Health checks failed: connection failed at 10.1.2.3:8080: network is unreachable"
	if got.reason() != ReasonFailedHealthChecks || got.description() != want {
		t.Errorf("got %s: %s\nwant %s: %s", got.reason(), got.description(), ReasonFailedHealthChecks, want)
	}
}

func TestCheckResult_HealthCheckPortRefused(t *testing.T) {
	p := probe{scheme: "http", addr: "127.0.0.2:8081", path: "/health", timeout: 5 * time.Second, port: 8081}
	want := "Health checks failed: connection refused at 127.0.0.2:8081: nothing listens there; " +
		"the app must answer health checks on $HOST:8081, the target group's health check port (it may have bound 127.0.0.1, localhost or another port)"
	if got := p.fail(causeRefused).description(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestChecker_RefusedTargetTurnsUnhealthyWithTheAddress: a registered
// target nothing listens on turns unhealthy, and the change reported says
// where the check was refused and what to do.
func TestChecker_RefusedTargetTurnsUnhealthyWithTheAddress(t *testing.T) {
	h := newHarness(t, testGroup(), 0)
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	h.registerOnly(addr)
	h.settle(1)
	h.waitState(addr, StateInitial) // 1 failure of 2
	h.tick(1)
	h.waitState(addr, StateUnhealthy)

	desc := "Health checks failed: connection refused at " + addr + ": nothing listens there; " +
		"the app must listen on $HOST:$PORT (it may have bound 127.0.0.1, localhost or another port)"
	th, _ := h.target(addr)
	want := TargetHealth{Group: "api", Target: addr, State: StateUnhealthy, Reason: ReasonFailedHealthChecks,
		Description: desc, Since: testStart.Add(testInterval)}
	if diff := cmp.Diff(want, th); diff != "" {
		t.Errorf("target (-want +got):\n%s", diff)
	}
	waitFor(t, "2 health changes", func() bool { return len(h.eventsOf(addr)) == 2 })
	got := h.eventsOf(addr)[1]
	wantChange := HealthChange{Group: "api", Target: addr, From: StateInitial, To: StateUnhealthy,
		Reason: ReasonFailedHealthChecks, Description: desc, At: testStart.Add(testInterval)}
	if diff := cmp.Diff(wantChange, got); diff != "" {
		t.Errorf("health change (-want +got):\n%s", diff)
	}
}

// TestCheck_HTTPSTargets: a target group with protocol https checks its
// targets over TLS, without checking their certificate, as ALB.
func TestCheck_HTTPSTargets(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "tls")
	}))
	defer srv.Close()
	tg := testGroup()
	tg.Protocol = "https"
	tg.HealthCheck.Path = "/"
	h := newHarness(t, tg, 0)
	addr := srv.Listener.Addr().String()
	h.register(addr)
	h.waitState(addr, StateHealthy)
	if code, body := h.mustGet("/"); code != 200 || body != "tls" {
		t.Errorf("through the balancer: %d %q", code, body)
	}
}
