package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// call sends method path with body (JSON) and the token's cookie, and
// decodes the answer into out when it is not nil.
func call(t *testing.T, srv string, method, path, body string, out any) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(&http.Cookie{Name: cookieName, Value: token})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	json.NewDecoder(resp.Body).Decode(&raw)
	var e errorBody
	json.Unmarshal(raw, &e)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, e.Error
}

const (
	runningStack = "name: shop\nservices:\n  api:\n    desired: 2\n    task_definition: api\n"
	editedStack  = "name: shop\nservices:\n  api:\n    desired: 3\n    task_definition: api\n"
)

func TestServer_StackDiffThenDeploy(t *testing.T) {
	f := newFake()
	f.file = filepath.Join(t.TempDir(), "shoal.yaml")
	f.applied = []byte(runningStack)
	if err := os.WriteFile(f.file, []byte(editedStack), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, f).URL

	var change StackChange
	if code, msg := call(t, srv, "GET", "/api/stack", "", &change); code != 200 {
		t.Fatalf("GET /api/stack: %d %s", code, msg)
	}
	wantDiff := "--- running\n+++ on disk\n@@ -1,5 +1,5 @@\n name: shop\n services:\n   api:\n-    desired: 2\n+    desired: 3\n     task_definition: api\n"
	if diff := cmp.Diff(wantDiff, change.Diff); diff != "" || change.File != f.file || len(change.Digest) != 64 {
		t.Errorf("GET /api/stack: file %q, digest %q, diff (-want +got):\n%s", change.File, change.Digest, diff)
	}

	// Refused: nothing deployed.
	for _, tt := range []struct{ body, want string }{
		{`{}`, "digest"},
		{`{"digest": 5}`, "request body"},
		{`{"digest": "` + strings.Repeat("0", 64) + `"}`, "changed since its diff was shown"},
	} {
		code, msg := call(t, srv, "POST", "/api/stack/deploy", tt.body, nil)
		if code/100 != 4 || !strings.Contains(msg, tt.want) {
			t.Errorf("deploy %s: %d %q, want 4xx saying %q", tt.body, code, msg, tt.want)
		}
	}
	if d := f.deploys(); len(d) != 0 {
		t.Fatalf("refused deploys deployed %+v", d)
	}

	var started []map[string]string
	code, msg := call(t, srv, "POST", "/api/stack/deploy", `{"digest": "`+change.Digest+`"}`, &started)
	if code != 200 || len(started) != 1 || started[0]["deployment"] != "ecs-svc/2" {
		t.Fatalf("deploy with the digest: %d %q %v, want 200 and the deployment started", code, msg, started)
	}
	if d := f.deploys(); len(d) != 1 || d[0].File != f.file || string(d[0].Source) != editedStack {
		t.Errorf("deployed %+v, want the file on disk", d)
	}

	// The file edited after its diff was read: 409, nothing deployed.
	os.WriteFile(f.file, []byte(editedStack+"# later\n"), 0o644)
	if code, msg := call(t, srv, "POST", "/api/stack/deploy", `{"digest": "`+change.Digest+`"}`, nil); code != http.StatusConflict || !strings.Contains(msg, "look at the diff again") {
		t.Errorf("deploy of a file changed since: %d %q, want 409", code, msg)
	}
	// A file with problems: 400 listing them, nothing deployed.
	os.WriteFile(f.file, []byte(editedStack+"# a problem\n"), 0o644)
	call(t, srv, "GET", "/api/stack", "", &change)
	if code, msg := call(t, srv, "POST", "/api/stack/deploy", `{"digest": "`+change.Digest+`"}`, nil); code != 400 || !strings.Contains(msg, "services.api.desired: a problem") {
		t.Errorf("deploy of a file with problems: %d %q, want 400 listing them", code, msg)
	}
	if d := f.deploys(); len(d) != 1 {
		t.Errorf("refused deploys deployed: %+v", d[1:])
	}

	// The same file as running: an empty diff. A file gone: 404.
	os.WriteFile(f.file, []byte(runningStack), 0o644)
	if call(t, srv, "GET", "/api/stack", "", &change); change.Diff != "" {
		t.Errorf("diff of the running file: %q, want none", change.Diff)
	}
	os.Remove(f.file)
	if code, msg := call(t, srv, "GET", "/api/stack", "", nil); code != 404 || !strings.Contains(msg, "is gone") {
		t.Errorf("GET /api/stack of a removed file: %d %q, want 404", code, msg)
	}
	f.file = ""
	if code, msg := call(t, srv, "POST", "/api/stack/deploy", `{"digest": "x"}`, nil); code != 404 || !strings.Contains(msg, "not read from a file") {
		t.Errorf("deploy without a file: %d %q, want 404", code, msg)
	}
}

func TestServer_LogsFollowATaskUntilItStops(t *testing.T) {
	f := newFake()
	f.write("aaaa1111", "listening on :4000\n")
	srv := newServer(t, f).URL
	if code, msg := call(t, srv, "GET", "/logs/zzzz", "", nil); code != 404 || !strings.Contains(msg, "zzzz") {
		t.Errorf("logs of an unknown task: %d %q, want 404 naming it", code, msg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := readEvents(t, ctx, srv+"/logs/aaaa?token="+token) // a prefix of the id
	text := func(ev sseEvent) string {
		var s string
		if err := json.Unmarshal([]byte(ev.data), &s); err != nil {
			t.Fatalf("logs event %q: %v", ev.data, err)
		}
		return s
	}
	if got := text(next(t, events, "logs")); got != "listening on :4000\n" {
		t.Errorf("first logs: %q", got)
	}
	f.write("aaaa1111", "GET / 200\n")
	if got := text(next(t, events, "logs")); got != "GET / 200\n" {
		t.Errorf("followed logs: %q, want only what came since", got)
	}
	f.write("aaaa1111", "got SIGTERM\n")
	f.stop("aaaa1111")
	var rest strings.Builder
	ended := false
	for ev := range events { // the server ends the stream after end
		switch ev.name {
		case "logs":
			rest.WriteString(text(ev))
		case "end":
			ended = true
			var end logsEnd
			json.Unmarshal([]byte(ev.data), &end)
			if end.Status != "STOPPED" || end.StoppedReason != "Task stopped by user" || end.Exit != "exit code 0" {
				t.Errorf("end: %+v", end)
			}
		}
	}
	if !ended {
		t.Error("the stream ended without an end event")
	}
	if rest.String() != "got SIGTERM\n" {
		t.Errorf("logs before the end: %q, want the task's last line", rest.String())
	}
}
