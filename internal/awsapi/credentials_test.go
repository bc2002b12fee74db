package awsapi

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

var (
	sigAccessKeyShape = regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`)
	sigSecretShape    = regexp.MustCompile(`^[A-Za-z0-9+/]{40}$`)
)

func TestCredentialsCreated(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state", "aws-credentials.json") // the directory is made too
	c, err := LoadOrCreateCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	if !sigAccessKeyShape.MatchString(c.AccessKeyID) {
		t.Errorf("access key id %q is not in AWS's shape", c.AccessKeyID)
	}
	if !sigSecretShape.MatchString(c.SecretAccessKey) {
		t.Errorf("secret %q is not in AWS's shape", c.SecretAccessKey)
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var onDisk Credentials
	if err := json.Unmarshal(data, &onDisk); err != nil || onDisk != c {
		t.Errorf("file holds %s (%v), want %+v", data, err, c)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want the file alone (no temporary files left)", len(entries))
	}

	again, err := LoadOrCreateCredentials(path)
	if err != nil || again != c {
		t.Errorf("second load: %+v, %v; want the same keys %+v", again, err, c)
	}

	other, err := LoadOrCreateCredentials(filepath.Join(dir, "other.json"))
	if err != nil {
		t.Fatal(err)
	}
	if other.AccessKeyID == c.AccessKeyID || other.SecretAccessKey == c.SecretAccessKey {
		t.Error("two new files got the same keys")
	}
}

func TestCredentialsExistingKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "creds.json")
	want := Credentials{AccessKeyID: "AKIAMINE", SecretAccessKey: "my/own+secret"}
	data, _ := json.Marshal(want)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadOrCreateCredentials(path)
	if err != nil || got != want {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
	// Owner-read-only is fine too: no one else can read it.
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCredentials(path); err != nil {
		t.Errorf("mode 0400: %v", err)
	}
}

func TestCredentialsReadableByOthersRefused(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o666, 0o700 | 0o070} {
		path := filepath.Join(t.TempDir(), "creds.json")
		if err := os.WriteFile(path, []byte(`{"access_key_id":"AKIAMINE","secret_access_key":"s"}`), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadOrCreateCredentials(path)
		if err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Errorf("mode %04o: got %v, want an error saying chmod 600 %s", mode, err, path)
		}
	}
}

func TestCredentialsBadFile(t *testing.T) {
	for name, content := range map[string]string{
		"not JSON":          `access_key_id = AKIA`,
		"empty file":        ``,
		"JSON of another":   `["AKIA", "secret"]`,
		"no access key id":  `{"secret_access_key":"s"}`,
		"no secret":         `{"access_key_id":"AKIAMINE"}`,
		"empty fields":      `{"access_key_id":"","secret_access_key":""}`,
		"slash in key id":   `{"access_key_id":"AKIA/MINE","secret_access_key":"s"}`,
		"space in key id":   `{"access_key_id":"AKIA MINE","secret_access_key":"s"}`,
		"truncated JSON":    `{"access_key_id":"AKIAMINE","secret_acc`,
		"wrong field types": `{"access_key_id":1,"secret_access_key":2}`,
	} {
		path := filepath.Join(t.TempDir(), "creds.json")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadOrCreateCredentials(path)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "remove the file to get new keys") {
			t.Errorf("%s: got %v, want an error naming %s and saying to remove it", name, err, path)
		}
		if data, _ := os.ReadFile(path); string(data) != content {
			t.Errorf("%s: the file was changed", name)
		}
	}
}

func TestCredentialsNotAFile(t *testing.T) {
	path := t.TempDir()
	if _, err := LoadOrCreateCredentials(path); err == nil {
		t.Error("a directory was taken for a credentials file")
	}
}

// TestCredentialsConcurrentCreation: shoals starting together all end up
// with the one set of keys written, never one each.
func TestCredentialsConcurrentCreation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "creds.json")
	const n = 16
	got := make([]Credentials, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = LoadOrCreateCredentials(path) })
	}
	wg.Wait()
	onDisk, err := LoadOrCreateCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if errs[i] != nil || got[i] != onDisk {
			t.Errorf("caller %d: %+v, %v; want the keys on disk %+v", i, got[i], errs[i], onDisk)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want the file alone", len(entries))
	}
}

// TestCredentialsWork: created keys sign requests the endpoint accepts.
func TestCredentialsWork(t *testing.T) {
	c, err := LoadOrCreateCredentials(filepath.Join(t.TempDir(), "creds.json"))
	if err != nil {
		t.Fatal(err)
	}
	a := &api{cfg: Config{Region: testRegion, Credentials: c}, now: sigTestAPI(sigTime).now}
	req := sigRequest(t, ecsSigningName, "http://"+sigHost, "/", nil)
	sigSign(t, req, sigCreds(c), ecsSigningName, testRegion, sigTime)
	if e := a.authenticate(req, sigBody(t, req), ecsSigningName, true); e != nil {
		t.Fatalf("refused: %v", e)
	}
}
