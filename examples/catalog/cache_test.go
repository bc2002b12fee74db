package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
)

// redisInstallHint ends the message of every test skipped for want of Redis.
const redisInstallHint = "install redis-server (apt-get install redis-server), " +
	"or set SHOAL_TEST_REDIS_URL=redis://127.0.0.1:6379/ to use a running server"

// redisServer is a redis-server of one test's own, on a free port, without
// persistence, killed when the test ends.
type redisServer struct {
	path string // of the redis-server program
	dir  string // its working directory
	port int
	url  string

	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
}

// startRedis starts a redis-server for the test, or skips the test if there
// is none on PATH.
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil && os.Getenv("SHOAL_TEST_REDIS_URL") != "" {
		t.Skip("skipped: this test stops or owns its Redis, so it starts its own and needs redis-server on PATH (apt-get install redis-server)")
	}
	if err != nil {
		t.Skip("Redis tests skipped: no redis-server on PATH; " + redisInstallHint)
	}
	dir := t.TempDir()
	// The free port may be taken again before redis-server binds it: try
	// a few.
	for attempt := 1; ; attempt++ {
		s := &redisServer{path: path, dir: dir, port: freePort(t)}
		err := s.start(t)
		if err == nil {
			return s
		}
		if attempt == 3 {
			t.Fatal(err)
		}
	}
}

// freePort returns a port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// start runs redis-server on s.port and waits until it accepts connections,
// which it says on its output.
func (s *redisServer) start(t *testing.T) error {
	t.Helper()
	s.url = fmt.Sprintf("redis://127.0.0.1:%d/", s.port)
	s.cmd = exec.Command(s.path, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir)
	dieWithTests(s.cmd)
	out := newLineWatcher("Ready to accept connections")
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.exited = make(chan struct{})
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.exited
	})
	select {
	case <-out.found:
		return nil
	case <-s.exited:
		return fmt.Errorf("redis-server on port %d exited before it was ready:\n%s", s.port, out)
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("redis-server on port %d was not ready within 10s:\n%s", s.port, out)
	}
}

// stop stops the server with SIGTERM, as an operator would, and waits for it
// to exit.
func (s *redisServer) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("redis-server did not exit within 10s of SIGTERM")
	}
}

// restart starts the server again on the same port, empty.
func (s *redisServer) restart(t *testing.T) {
	t.Helper()
	if err := s.start(t); err != nil {
		t.Fatal(err)
	}
}

// lineWatcher collects a program's output and closes found when a line
// contains want.
type lineWatcher struct {
	want  string
	found chan struct{}

	mu   sync.Mutex
	buf  bytes.Buffer
	seen bool
}

func newLineWatcher(want string) *lineWatcher {
	return &lineWatcher{want: want, found: make(chan struct{})}
}

func (w *lineWatcher) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(b)
	if !w.seen && strings.Contains(w.buf.String(), w.want) {
		w.seen = true
		close(w.found)
	}
	return len(b), nil
}

func (w *lineWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// redisForTest returns the URL of a Redis server and a key prefix that are
// the test's alone: the server of SHOAL_TEST_REDIS_URL with a prefix of the
// test's own (its keys deleted when the test ends), else a server of its own
// with the app's prefix.
func redisForTest(t *testing.T) (redisURL, prefix string) {
	t.Helper()
	raw := os.Getenv("SHOAL_TEST_REDIS_URL")
	if raw == "" {
		return startRedis(t).url, redisPrefix
	}
	prefix = "catalog-test-" + strings.ToLower(rand.Text()) + ":"
	client := redisClient(t, raw)
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := client.Keys(ctx, prefix+"*").Result()
		if err == nil && len(keys) > 0 {
			err = client.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("delete the test's keys %s*: %v", prefix, err)
		}
	})
	return raw, prefix
}

// redisClient is a client of its own for the test to look into Redis.
func redisClient(t *testing.T, redisURL string) *redis.Client {
	t.Helper()
	opts, err := parseRedisURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// newTestRedisCache is a replica's cache: a client of its own, as each
// replica has.
func newTestRedisCache(t *testing.T, redisURL, prefix string) *redisCache {
	t.Helper()
	opts, err := parseRedisURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	c := newRedisCache(opts, prefix, defaultCacheTTL, redactURL(redisURL))
	t.Cleanup(func() { c.Close() })
	return c
}

// fakeClock is a memory cache's clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// getCached sends GET path and checks its status and X-Cache.
func getCached(t *testing.T, base, path string, wantStatus int, wantCache string) response {
	t.Helper()
	resp := do(t, "GET", base+path, "", "")
	if resp.status != wantStatus {
		t.Errorf("GET %s on %s: got status %d (%s), want %d", path, resp.header.Get("X-Served-By"), resp.status, resp.body, wantStatus)
	}
	if got := resp.header.Get("X-Cache"); got != wantCache {
		t.Errorf("GET %s on %s: got X-Cache %q, want %q", path, resp.header.Get("X-Served-By"), got, wantCache)
	}
	return resp
}

// postItem creates an item through base and returns it.
func postItem(t *testing.T, base, name string) Item {
	t.Helper()
	resp := do(t, "POST", base+"/items", "application/json", `{"name": "`+name+`"}`)
	if resp.status != http.StatusCreated {
		t.Fatalf("POST %s: got status %d (%s), want 201", name, resp.status, resp.body)
	}
	return decode[Item](t, resp)
}

func with(items []Item, more ...Item) []Item {
	return append(items[:len(items):len(items)], more...)
}

// TestRedisCache_CacheAside reads through Redis: the first read of a key
// loads it from the database and stores the very body it serves; the next is
// served from Redis, even when the database has changed behind the cache's
// back; a write through the app invalidates.
func TestRedisCache_CacheAside(t *testing.T) {
	forEachBackend(t, func(t *testing.T, databaseURL string) {
		redisURL, prefix := redisForTest(t)
		srv, _ := newCachedServer(t, openStore(t, databaseURL), newTestRedisCache(t, redisURL, prefix), "task-1")
		rdb := redisClient(t, redisURL)

		first := getCached(t, srv.URL, "/", 200, "miss")
		if diff := cmp.Diff(seed, decode[[]Item](t, first)); diff != "" {
			t.Errorf("items (-want +got):\n%s", diff)
		}
		stored, err := rdb.Get(t.Context(), prefix+listKey).Result()
		if err != nil || stored != first.body {
			t.Errorf("Redis %s: got %q (%v), want the body served, %q", prefix+listKey, stored, err, first.body)
		}
		if second := getCached(t, srv.URL, "/", 200, "hit"); second.body != first.body {
			t.Errorf("second GET /: got %q, want %q", second.body, first.body)
		}

		// Behind the cache's back: Redis still has the old list.
		behind, err := openStore(t, databaseURL).Create(t.Context(), "behind the cache's back")
		if err != nil {
			t.Fatal(err)
		}
		if got := getCached(t, srv.URL, "/", 200, "hit"); got.body != first.body {
			t.Errorf("GET / after a write the cache did not see: got %q, want the cached %q", got.body, first.body)
		}

		item := getCached(t, srv.URL, "/items/2", 200, "miss")
		if again := getCached(t, srv.URL, "/items/2", 200, "hit"); again.body != item.body {
			t.Errorf("second GET /items/2: got %q, want %q", again.body, item.body)
		}
		getCached(t, srv.URL, "/items/999", 404, "")
		getCached(t, srv.URL, "/items/999", 404, "") // a 404 is not cached

		created := postItem(t, srv.URL, "mocha")
		list := getCached(t, srv.URL, "/", 200, "miss")
		if diff := cmp.Diff(with(seed, behind, created), decode[[]Item](t, list)); diff != "" {
			t.Errorf("items after POST (-want +got):\n%s", diff)
		}
		getCached(t, srv.URL, "/", 200, "hit")
		got := getCached(t, srv.URL, fmt.Sprintf("/items/%d", created.ID), 200, "miss")
		if diff := cmp.Diff(created, decode[Item](t, got)); diff != "" {
			t.Errorf("created item (-want +got):\n%s", diff)
		}
	})
}

// TestRedisCache_InvalidationAcrossReplicas runs three replicas on one
// database and one Redis: a write through one is seen by the other two on
// their next read, byte for byte as the first serves it.
func TestRedisCache_InvalidationAcrossReplicas(t *testing.T) {
	forEachBackend(t, func(t *testing.T, databaseURL string) {
		redisURL, prefix := redisForTest(t)
		var replicas []string
		for i := range 3 {
			srv, _ := newCachedServer(t, openStore(t, databaseURL), newTestRedisCache(t, redisURL, prefix), fmt.Sprintf("task-%d", i))
			replicas = append(replicas, srv.URL)
		}
		// Every replica reads the list and item 1 once, filling the
		// cache: only the first read of each is a miss.
		for i, base := range replicas {
			state := map[bool]string{true: "miss", false: "hit"}[i == 0]
			getCached(t, base, "/", 200, state)
			getCached(t, base, "/items/1", 200, state)
		}

		created := postItem(t, replicas[0], "mocha")
		want := encodeJSON(with(seed, created))
		wantItem := encodeJSON(created)
		for i, base := range replicas[1:] {
			state := map[bool]string{true: "miss", false: "hit"}[i == 0]
			if got := getCached(t, base, "/", 200, state); got.body != string(want) {
				t.Errorf("task-%d: GET / after a write through task-0: got %s, want %s", i+1, got.body, want)
			}
			if got := getCached(t, base, fmt.Sprintf("/items/%d", created.ID), 200, state); got.body != string(wantItem) {
				t.Errorf("task-%d: GET /items/%d: got %s, want %s", i+1, created.ID, got.body, wantItem)
			}
		}
		if got := getCached(t, replicas[0], "/", 200, "hit"); got.body != string(want) {
			t.Errorf("task-0: GET /: got %s, want %s", got.body, want)
		}
	})
}

// TestMemoryCache_ReplicasDisagreeUntilTTL shows the tutorial's
// inconsistency: with a cache in each process, a write through one replica
// is not seen by another until that one's entry expires.
func TestMemoryCache_ReplicasDisagreeUntilTTL(t *testing.T) {
	forEachBackend(t, func(t *testing.T, databaseURL string) {
		clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		a, _ := newCachedServer(t, openStore(t, databaseURL), newMemoryCache(defaultCacheTTL, clock.Now), "task-a")
		b, _ := newCachedServer(t, openStore(t, databaseURL), newMemoryCache(defaultCacheTTL, clock.Now), "task-b")
		old := getCached(t, a.URL, "/", 200, "miss")
		getCached(t, b.URL, "/", 200, "miss")

		created := postItem(t, a.URL, "mocha")
		want := string(encodeJSON(with(seed, created)))
		if got := getCached(t, a.URL, "/", 200, "miss"); got.body != want {
			t.Errorf("task-a, which took the write: got %s, want %s", got.body, want)
		}
		clock.Advance(defaultCacheTTL - time.Millisecond)
		if got := getCached(t, b.URL, "/", 200, "hit"); got.body != old.body {
			t.Errorf("task-b before its entry expires: got %s, want the old list %s", got.body, old.body)
		}
		// The item itself is there: task-b never cached it.
		getCached(t, b.URL, fmt.Sprintf("/items/%d", created.ID), 200, "miss")

		clock.Advance(time.Millisecond)
		if got := getCached(t, b.URL, "/", 200, "miss"); got.body != want {
			t.Errorf("task-b once its entry expired: got %s, want %s", got.body, want)
		}
	})
}

// TestCache_ReadOverlappingWriteIsNotStored: a miss that read the database
// before a write whose invalidation came before the miss could store its
// value must not store it, or the old value would stay until it expires.
func TestCache_ReadOverlappingWriteIsNotStored(t *testing.T) {
	caches := map[string]func(t *testing.T) Cache{
		"memory": func(*testing.T) Cache { return newMemoryCache(time.Hour, time.Now) },
		"redis": func(t *testing.T) Cache {
			redisURL, prefix := redisForTest(t)
			return newTestRedisCache(t, redisURL, prefix)
		},
	}
	for name, newCache := range caches {
		t.Run(name, func(t *testing.T) {
			c := newCache(t)
			ctx := t.Context()
			fetch := func(load func(context.Context) ([]byte, error)) (string, bool) {
				t.Helper()
				v, hit, err := c.Fetch(ctx, "k", load)
				if err != nil {
					t.Fatal(err)
				}
				return string(v), hit
			}
			// The write commits and invalidates while the read is
			// between its database query and its store.
			writeDuringRead := func(ctx context.Context) ([]byte, error) {
				if err := c.Invalidate(ctx, "k"); err != nil {
					t.Fatal(err)
				}
				return []byte("old"), nil
			}
			if v, hit := fetch(writeDuringRead); v != "old" || hit {
				t.Errorf("read overlapping a write: got %q hit=%v, want old, a miss", v, hit)
			}
			loadNew := func(context.Context) ([]byte, error) { return []byte("new"), nil }
			if v, hit := fetch(loadNew); v != "new" || hit {
				t.Errorf("next read: got %q hit=%v, want new, a miss", v, hit)
			}
			if v, hit := fetch(loadNew); v != "new" || !hit {
				t.Errorf("read after: got %q hit=%v, want new, a hit", v, hit)
			}
			boom := errors.New("boom")
			if _, _, err := c.Fetch(ctx, "other", func(context.Context) ([]byte, error) { return nil, boom }); err != boom {
				t.Errorf("failing load: got %v, want its error", err)
			}
		})
	}
}

// TestRedisCache_RedisDownFailsHealthCheck stops Redis under a replica: its
// health check answers 503 and its log says why, rather than serve from the
// database a list that other replicas' writes no longer invalidate; when
// Redis is back, so is the replica.
func TestRedisCache_RedisDownFailsHealthCheck(t *testing.T) {
	rs := startRedis(t)
	srv, logs := newCachedServer(t, openStore(t, sqliteURL(t)), newTestRedisCache(t, rs.url, redisPrefix), "task-1")
	getCached(t, srv.URL, "/", 200, "miss")
	getCached(t, srv.URL, "/items/1", 200, "miss")

	rs.stop(t)
	for _, path := range []string{"/", "/items/1"} {
		start := time.Now()
		resp := do(t, "GET", srv.URL+path, "", "")
		if resp.status != http.StatusServiceUnavailable || strings.TrimSpace(resp.body) != `{"error":"redis unreachable"}` {
			t.Errorf("GET %s with Redis stopped: got %d %s, want 503 {\"error\":\"redis unreachable\"}", path, resp.status, resp.body)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("GET %s with Redis stopped took %v", path, d)
		}
	}
	wantLog := `level=WARN msg=request method=GET path=/ status=503 duration=`
	wantWhy := fmt.Sprintf(`error="redis unreachable: dial tcp 127.0.0.1:%d: connect: connection refused"`, rs.port)
	if !logLine(logs.String(), wantLog, wantWhy) {
		t.Errorf("log: want a line with %q and %q, got:\n%s", wantLog, wantWhy, logs)
	}

	// A write still commits, and is answered so; the failed invalidation
	// is logged.
	created := postItem(t, srv.URL, "mocha")
	if want := "msg=\"cache invalidation failed\" item=" + strconv.FormatInt(created.ID, 10); !strings.Contains(logs.String(), want) {
		t.Errorf("log: want %q, got:\n%s", want, logs)
	}

	rs.restart(t)
	resp := getCached(t, srv.URL, "/", 200, "miss")
	if diff := cmp.Diff(with(seed, created), decode[[]Item](t, resp)); diff != "" {
		t.Errorf("items once Redis is back (-want +got):\n%s", diff)
	}
}

// logLine reports whether one line of logs contains all of parts.
func logLine(logs string, parts ...string) bool {
	for line := range strings.SplitSeq(logs, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

// TestRedisCache_SilentRedisFailsHealthCheckInTime points a replica at a
// "Redis" that accepts connections and never answers: the health check
// gives up after healthTimeout.
func TestRedisCache_SilentRedisFailsHealthCheckInTime(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		conns.Wait()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Go(func() { // hold the connection, answer nothing
				io.Copy(io.Discard, c)
				c.Close()
			})
		}
	}()
	cache := newTestRedisCache(t, "redis://"+ln.Addr().String()+"/", redisPrefix)
	srv, logs := newCachedServer(t, openStore(t, sqliteURL(t)), cache, "task-1")
	start := time.Now()
	resp := do(t, "GET", srv.URL+"/", "", "")
	elapsed := time.Since(start)
	if resp.status != 503 || strings.TrimSpace(resp.body) != `{"error":"redis unreachable"}` {
		t.Errorf("got %d %s, want 503 {\"error\":\"redis unreachable\"}", resp.status, resp.body)
	}
	if elapsed < healthTimeout || elapsed > healthTimeout+time.Second {
		t.Errorf("the health check took %v, want about %v", elapsed, healthTimeout)
	}
	srv.Close()
	cache.Close() // ends the held connections
	if !logLine(logs.String(), "status=503", `error="redis unreachable: `) {
		t.Errorf("log: want a 503 line saying redis unreachable, got:\n%s", logs)
	}
}

// tcpProxy forwards connections to a server until it is stopped, which then
// looks unreachable to its clients.
type tcpProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	stopped bool
	conns   []net.Conn
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *tcpProxy) forward(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client, server) {
		return
	}
	go func() {
		io.Copy(server, client)
		server.Close()
	}()
	io.Copy(client, server)
	client.Close()
}

// track remembers conns for stop, or closes them if stop has run.
func (p *tcpProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	p.conns = append(p.conns, conns...)
	return true
}

// stop refuses new connections and cuts the open ones.
func (p *tcpProxy) stop() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	for _, c := range p.conns {
		c.Close()
	}
}

// TestRedisCache_DatabaseDownFailsHealthCheck takes the database away while
// the list is in Redis: the health check answers 503, not the cached list.
// PostgreSQL is reached through a proxy that is then stopped; SQLite's
// store is closed.
func TestRedisCache_DatabaseDownFailsHealthCheck(t *testing.T) {
	forEachBackend(t, func(t *testing.T, databaseURL string) {
		var (
			takeDown func(*Store)
			why      string // what the log line says
		)
		if strings.HasPrefix(databaseURL, "postgres") {
			u, err := url.Parse(databaseURL)
			if err != nil {
				t.Fatal(err)
			}
			proxy := startProxy(t, u.Host)
			u.Host = proxy.ln.Addr().String()
			databaseURL = u.String()
			takeDown = func(*Store) { proxy.stop() }
			why = "dial tcp " + u.Host + ": connect: connection refused"
		} else {
			takeDown = func(s *Store) { s.Close() }
			why = "sql: database is closed"
		}
		redisURL, prefix := redisForTest(t)
		store := openStore(t, databaseURL)
		srv, logs := newCachedServer(t, store, newTestRedisCache(t, redisURL, prefix), "task-1")
		getCached(t, srv.URL, "/", 200, "miss")
		getCached(t, srv.URL, "/", 200, "hit")

		takeDown(store)
		start := time.Now()
		resp := do(t, "GET", srv.URL+"/", "", "")
		if resp.status != 503 || strings.TrimSpace(resp.body) != `{"error":"database unreachable"}` {
			t.Errorf("GET / with the database down: got %d %s, want 503 {\"error\":\"database unreachable\"}", resp.status, resp.body)
		}
		if d := time.Since(start); d > healthTimeout+time.Second {
			t.Errorf("GET / with the database down took %v", d)
		}
		if !logLine(logs.String(), "level=WARN", "status=503", `error="database unreachable: `, why) {
			t.Errorf("log: want a 503 line saying database unreachable, got:\n%s", logs)
		}
	})
}

func TestLoadConfig_Cache(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		wantCache string
		wantTTL   time.Duration
		wantRedis string
	}{
		{"default: none", nil, "none", defaultCacheTTL, ""},
		{"REDIS_URL: redis", map[string]string{"REDIS_URL": "redis://:secret@cache:6380/2"}, "redis", defaultCacheTTL, "redis://:xxxxx@cache:6380/2"},
		{"CACHE=redis", map[string]string{"CACHE": "redis", "REDIS_URL": "redis://cache/"}, "redis", defaultCacheTTL, "redis://cache/"},
		{"memory", map[string]string{"CACHE": "memory"}, "memory", defaultCacheTTL, ""},
		{"memory with a TTL", map[string]string{"CACHE": "memory", "CACHE_TTL": "1m30s"}, "memory", 90 * time.Second, ""},
		{"none", map[string]string{"CACHE": "none"}, "none", defaultCacheTTL, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if cfg.cache != tt.wantCache || cfg.cacheTTL != tt.wantTTL || cfg.redisURL != tt.wantRedis {
				t.Errorf("got cache %q ttl %v redis %q, want %q %v %q", cfg.cache, cfg.cacheTTL, cfg.redisURL, tt.wantCache, tt.wantTTL, tt.wantRedis)
			}
			if got := newCache(cfg).String(); cfg.cache != "redis" && got != tt.wantCache {
				t.Errorf("newCache: got %s, want %s", got, tt.wantCache)
			}
		})
	}
}

func TestRun_RejectsBadCacheConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"unknown cache", map[string]string{"CACHE": "memcached"}, `CACHE: "memcached" is not a cache; use none, memory or redis`},
		{"redis without URL", map[string]string{"CACHE": "redis"}, `CACHE: "redis" needs REDIS_URL`},
		{"memory with REDIS_URL", map[string]string{"CACHE": "memory", "REDIS_URL": "redis://cache/"}, `CACHE: "memory" but REDIS_URL is set`},
		{"bad TTL", map[string]string{"CACHE": "memory", "CACHE_TTL": "30"}, `CACHE_TTL: "30" is not a duration`},
		{"zero TTL", map[string]string{"CACHE": "memory", "CACHE_TTL": "0s"}, `CACHE_TTL: "0s" is not a duration of at least 1ms`},
		{"not a redis URL", map[string]string{"REDIS_URL": "http://cache/"}, `REDIS_URL: invalid URL scheme: http (use redis://`},
		{"bad redis db", map[string]string{"REDIS_URL": "redis://cache/x"}, `REDIS_URL: invalid database number: "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(t.Context(), func(k string) string { return tt.env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestCatalog_ReplicasShareOneRedis starts three programs at the same moment
// on one new database and one Redis, as shoal starts a service's tasks: the
// schema is set up once, and a write through one is seen by the others.
func TestCatalog_ReplicasShareOneRedis(t *testing.T) {
	forEachBackend(t, func(t *testing.T, databaseURL string) {
		rs := startRedis(t) // the program uses the app's own keys: a server of the test's own
		var procs []*process
		for i := range 3 {
			procs = append(procs, startCatalog(t, "DATABASE_URL="+databaseURL, "REDIS_URL="+rs.url,
				fmt.Sprintf("SHOAL_TASK_ID=task-%d", i)))
		}
		var addrs []string
		for _, p := range procs {
			addrs = append(addrs, "http://"+p.addr(t))
		}
		seedBody := string(encodeJSON(seed))
		for _, a := range addrs {
			if resp := do(t, "GET", a+"/", "", ""); resp.status != 200 || resp.body != seedBody || resp.header.Get("X-Cache") == "" {
				t.Errorf("GET / on %s: got %d X-Cache %q %s, want 200 through the cache %s",
					resp.header.Get("X-Served-By"), resp.status, resp.header.Get("X-Cache"), resp.body, seedBody)
			}
		}
		created := postItem(t, addrs[0], "mocha")
		want := string(encodeJSON(with(seed, created)))
		for _, a := range addrs {
			if resp := do(t, "GET", a+"/", "", ""); resp.body != want {
				t.Errorf("GET / on %s after a write: got %s, want %s", resp.header.Get("X-Served-By"), resp.body, want)
			}
		}

		var wg sync.WaitGroup
		for i, p := range procs {
			p.signal(t, syscall.SIGTERM)
			wg.Go(func() {
				if code := p.wait(t); code != 0 {
					t.Errorf("task-%d: exit code %d, want 0; stderr:\n%s", i, code, p.stderr.String())
				}
			})
		}
		wg.Wait()
	})
}

// TestRedisCache_ConcurrentReadsAndWritesAgree reads and writes through three
// replicas at once: once the writes are done, every replica serves what the
// database holds, whatever order the reads and writes ran in. (Each replica
// gets two writers and two readers, well under its database connections. On
// a loaded machine, opening a PostgreSQL connection can still take longer
// than the health check waits: a read answered 503 "database unreachable"
// is logged and not counted as a failure.)
func TestRedisCache_ConcurrentReadsAndWritesAgree(t *testing.T) {
	forEachBackend(t, func(t *testing.T, databaseURL string) {
		const writers, readers, writes = 2, 2, 10
		redisURL, prefix := redisForTest(t)
		var replicas []string
		for i := range 3 {
			srv, _ := newCachedServer(t, openStore(t, databaseURL), newTestRedisCache(t, redisURL, prefix), fmt.Sprintf("task-%d", i))
			replicas = append(replicas, srv.URL)
		}
		var writing, reading sync.WaitGroup
		done := make(chan struct{})
		for r, base := range replicas {
			for w := range writers {
				writing.Go(func() {
					for i := range writes {
						body := fmt.Sprintf(`{"name": "item %d-%d-%d"}`, r, w, i)
						if resp := do(t, "POST", base+"/items", "application/json", body); resp.status != 201 {
							t.Errorf("POST: got status %d (%s), want 201", resp.status, resp.body)
							return
						}
					}
				})
			}
			for range readers {
				reading.Go(func() {
					for {
						select {
						case <-done:
							return
						default:
						}
						resp := do(t, "GET", base+"/", "", "")
						switch {
						case resp.status == 503 && strings.Contains(resp.body, `"database unreachable"`):
							t.Logf("GET / on %s: 503 %s", resp.header.Get("X-Served-By"), resp.body)
						case resp.status != 200:
							t.Errorf("GET /: got status %d (%s), want 200", resp.status, resp.body)
							return
						}
					}
				})
			}
		}
		writing.Wait()
		close(done)
		reading.Wait()
		items, err := openStore(t, databaseURL).Items(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if want := len(seed) + len(replicas)*writers*writes; len(items) != want {
			t.Errorf("the database holds %d items, want %d", len(items), want)
		}
		want := string(encodeJSON(items))
		for _, base := range replicas {
			if resp := do(t, "GET", base+"/", "", ""); resp.body != want {
				t.Errorf("%s after the writes: got %d bytes, want the database's %d:\n%s", resp.header.Get("X-Served-By"), len(resp.body), len(want), cmp.Diff(want, resp.body))
			}
		}
	})
}
