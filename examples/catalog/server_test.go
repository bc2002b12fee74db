package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// newTestServer serves the catalog API, without a cache, on a real HTTP
// server, with logs in the test's output.
func newTestServer(t *testing.T, store *Store, taskID string) *httptest.Server {
	t.Helper()
	srv, _ := newCachedServer(t, store, noCache{}, taskID)
	return srv
}

// newCachedServer serves the catalog API reading through cache on a real
// HTTP server. Its logs go to the test's output and to the buffer returned.
func newCachedServer(t *testing.T, store *Store, cache Cache, taskID string) (*httptest.Server, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(t.Output(), logs), nil))
	srv := httptest.NewServer(newHandler(store, cache, testVerifier(t), taskID, logger))
	t.Cleanup(srv.Close)
	return srv, logs
}

// response is what a test request got back.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends one request. It reports failures with t.Errorf, so it is safe to
// call from any goroutine; a failed request returns a zero response.
func do(t *testing.T, method, url, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Errorf("%s %s: %v", method, url, err)
		return response{}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, url, err)
		return response{}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("%s %s: read body: %v", method, url, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// decode parses a JSON response body, reporting failures with t.Errorf.
func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Errorf("decode %q: %v", r.body, err)
	}
	return v
}

// sqliteServer is a test server on a fresh SQLite file.
func sqliteServer(t *testing.T) (*httptest.Server, *Store) {
	t.Helper()
	store := openStore(t, sqliteURL(t))
	return newTestServer(t, store, "task-1"), store
}

func TestServer_ListReturnsSeed(t *testing.T) {
	srv, _ := sqliteServer(t)
	resp := do(t, "GET", srv.URL+"/", "", "")
	if resp.status != http.StatusOK {
		t.Fatalf("got status %d, want 200", resp.status)
	}
	if got := resp.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type: got %q, want application/json", got)
	}
	if diff := cmp.Diff(seed, decode[[]Item](t, resp)); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
}

func TestServer_GetItem(t *testing.T) {
	srv, _ := sqliteServer(t)
	tests := []struct {
		name, path string
		wantStatus int
		wantBody   string
	}{
		{"existing", "/items/2", 200, `{"id":2,"name":"flat white"}`},
		{"missing", "/items/999", 404, `{"error":"item 999 not found"}`},
		{"not a number", "/items/abc", 400, `{"error":"item id \"abc\" is not a number"}`},
		{"too large", "/items/99999999999999999999", 400, `{"error":"item id \"99999999999999999999\" is not a number"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := do(t, "GET", srv.URL+tt.path, "", "")
			if resp.status != tt.wantStatus {
				t.Errorf("got status %d, want %d", resp.status, tt.wantStatus)
			}
			if got := strings.TrimSpace(resp.body); got != tt.wantBody {
				t.Errorf("got body %s, want %s", got, tt.wantBody)
			}
		})
	}
}

func TestServer_CreateThenList(t *testing.T) {
	srv, _ := sqliteServer(t)
	resp := do(t, "POST", srv.URL+"/items", "application/json", `{"name": "  mocha  "}`)
	if resp.status != http.StatusCreated {
		t.Fatalf("got status %d (%s), want 201", resp.status, resp.body)
	}
	want := Item{ID: 4, Name: "mocha"}
	if diff := cmp.Diff(want, decode[Item](t, resp)); diff != "" {
		t.Errorf("created item (-want +got):\n%s", diff)
	}
	if got := resp.header.Get("Location"); got != "/items/4" {
		t.Errorf("Location: got %q, want /items/4", got)
	}
	list := decode[[]Item](t, do(t, "GET", srv.URL+"/", "", ""))
	if diff := cmp.Diff(append(seed[:len(seed):len(seed)], want), list); diff != "" {
		t.Errorf("items after create (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, decode[Item](t, do(t, "GET", srv.URL+"/items/4", "", ""))); diff != "" {
		t.Errorf("GET /items/4 (-want +got):\n%s", diff)
	}
}

func TestServer_CreateRejects(t *testing.T) {
	srv, _ := sqliteServer(t)
	tests := []struct {
		name, contentType, body string
		wantStatus              int
		wantError               string
	}{
		{"empty body", "application/json", "", 400, "request body is empty"},
		{"bad JSON", "application/json", `{"name": `, 400, "not valid JSON"},
		{"syntax error", "application/json", `{name: "x"}`, 400, "not valid JSON"},
		{"not an object", "application/json", `["mocha"]`, 400, "must be a JSON object"},
		{"unknown field", "application/json", `{"name": "mocha", "price": 3}`, 400, `unknown field "price"`},
		{"name not a string", "application/json", `{"name": 7}`, 400, `"name" must be a string`},
		{"missing name", "application/json", `{}`, 400, `"name" is required`},
		{"empty name", "application/json", `{"name": ""}`, 400, `"name" is required`},
		{"blank name", "application/json", `{"name": "   "}`, 400, `"name" is required`},
		{"null name", "application/json", `{"name": null}`, 400, `"name" is required`},
		{"name too long", "application/json", `{"name": "` + strings.Repeat("é", 201) + `"}`, 400, "at most 200 characters"},
		{"two objects", "application/json", `{"name": "a"}{"name": "b"}`, 400, "a single JSON object"},
		{"form content type", "application/x-www-form-urlencoded", `name=mocha`, 415, "send application/json"},
		{"text content type", "text/plain", `{"name": "mocha"}`, 415, "send application/json"},
		{"body too large", "application/json", `{"name": "` + strings.Repeat("a", maxBodyBytes) + `"}`, 413, "larger than 65536 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := do(t, "POST", srv.URL+"/items", tt.contentType, tt.body)
			if resp.status != tt.wantStatus {
				t.Errorf("got status %d, want %d", resp.status, tt.wantStatus)
			}
			got := decode[map[string]string](t, resp)["error"]
			if !strings.Contains(got, tt.wantError) {
				t.Errorf("got error %q, want one containing %q", got, tt.wantError)
			}
		})
	}
	list := decode[[]Item](t, do(t, "GET", srv.URL+"/", "", ""))
	if diff := cmp.Diff(seed, list); diff != "" {
		t.Errorf("rejected requests changed the items (-want +got):\n%s", diff)
	}
}

func TestServer_AcceptsJSONWithCharsetOrNoContentType(t *testing.T) {
	srv, _ := sqliteServer(t)
	for _, ct := range []string{"application/json; charset=utf-8", ""} {
		if resp := do(t, "POST", srv.URL+"/items", ct, `{"name": "mocha"}`); resp.status != 201 {
			t.Errorf("Content-Type %q: got status %d (%s), want 201", ct, resp.status, resp.body)
		}
	}
}

func TestServer_WrongMethod(t *testing.T) {
	srv, _ := sqliteServer(t)
	tests := []struct{ method, path string }{
		{"POST", "/"},
		{"DELETE", "/"},
		{"PUT", "/items/1"},
		{"DELETE", "/items/1"},
		{"GET", "/items"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			if resp := do(t, tt.method, srv.URL+tt.path, "", ""); resp.status != http.StatusMethodNotAllowed {
				t.Errorf("got status %d, want 405", resp.status)
			}
		})
	}
}

func TestServer_ServedByOnEveryResponse(t *testing.T) {
	srv, _ := sqliteServer(t)
	tests := []struct{ method, path, body string }{
		{"GET", "/", ""},
		{"GET", "/items/1", ""},
		{"GET", "/items/999", ""},
		{"GET", "/items/x", ""},
		{"POST", "/items", `{"name": "mocha"}`},
		{"POST", "/items", `{}`},
		{"DELETE", "/items/1", ""},
		{"GET", "/nowhere", ""},
	}
	for _, tt := range tests {
		resp := do(t, tt.method, srv.URL+tt.path, "application/json", tt.body)
		if got := resp.header.Get("X-Served-By"); got != "task-1" {
			t.Errorf("%s %s (status %d): X-Served-By got %q, want task-1", tt.method, tt.path, resp.status, got)
		}
	}
}

func TestServer_DatabaseDownFailsHealthCheck(t *testing.T) {
	srv, store := sqliteServer(t)
	store.Close()
	for _, tt := range []struct{ path, want string }{
		{"/", "database unreachable"}, // the health check pings the database
		{"/items/1", "database unavailable"},
	} {
		resp := do(t, "GET", srv.URL+tt.path, "", "")
		if resp.status != http.StatusServiceUnavailable {
			t.Errorf("GET %s: got status %d, want 503", tt.path, resp.status)
		}
		if got := decode[map[string]string](t, resp)["error"]; got != tt.want {
			t.Errorf("GET %s: got error %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestServer_NoCacheNoXCache(t *testing.T) {
	srv, _ := sqliteServer(t)
	for _, path := range []string{"/", "/", "/items/1"} {
		if resp := do(t, "GET", srv.URL+path, "", ""); resp.header.Get("X-Cache") != "" {
			t.Errorf("GET %s without a cache: got X-Cache %q, want none", path, resp.header.Get("X-Cache"))
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestServer_LogsOneLinePerRequest(t *testing.T) {
	var logs syncBuffer
	store := openStore(t, sqliteURL(t))
	srv := httptest.NewServer(newHandler(store, noCache{}, testVerifier(t), "task-1", slog.New(slog.NewTextHandler(&logs, nil))))
	do(t, "GET", srv.URL+"/items/2", "", "")
	do(t, "GET", srv.URL+"/items/x", "", "")
	srv.Close() // waits for the handlers, and so for their log lines

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d log lines, want 2:\n%s", len(lines), logs.String())
	}
	for i, want := range []string{
		"msg=request method=GET path=/items/2 status=200 duration=",
		"msg=request method=GET path=/items/x status=400 duration=",
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("log line %d: got %q, want it to contain %q", i, lines[i], want)
		}
	}
}
