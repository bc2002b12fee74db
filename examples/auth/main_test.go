package main

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	cfg, err := loadConfig(env())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.addr != "127.0.0.1:9000" || cfg.issuer != "http://127.0.0.1:9000" || cfg.clientID != "shoal" ||
		cfg.clientSecret != "secret" || cfg.user != "alice" || cfg.form || cfg.accessTTL != time.Hour || cfg.redirectURIs != nil {
		t.Errorf("defaults: got %+v", cfg)
	}
	cfg, err = loadConfig(env("HOST", "127.0.0.2", "PORT", "41000", "IDP_ISSUER", "http://127.0.0.1:9000/",
		"IDP_LOGIN", "form", "IDP_REDIRECT_URIS", " https://a.example.com/cb , https://b.example.com/cb", "IDP_ACCESS_TOKEN_TTL", "90s"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.addr != "127.0.0.2:41000" || cfg.issuer != "http://127.0.0.1:9000" || !cfg.form || cfg.accessTTL != 90*time.Second ||
		strings.Join(cfg.redirectURIs, " ") != "https://a.example.com/cb https://b.example.com/cb" {
		t.Errorf("set: got %+v", cfg)
	}
	for _, c := range []struct{ key, value, want string }{
		{"PORT", "http", "PORT"},
		{"PORT", "70000", "PORT"},
		{"IDP_ISSUER", "127.0.0.1:9000", "IDP_ISSUER"},
		{"IDP_ISSUER", "ftp://127.0.0.1", "IDP_ISSUER"},
		{"IDP_LOGIN", "never", "IDP_LOGIN"},
		{"IDP_ACCESS_TOKEN_TTL", "10ms", "IDP_ACCESS_TOKEN_TTL"},
	} {
		if _, err := loadConfig(env(c.key, c.value)); err == nil || !strings.HasPrefix(err.Error(), c.want+":") {
			t.Errorf("%s=%q: got error %v, want one naming %s", c.key, c.value, err, c.want)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRun starts the provider on a free port, as shoal does with HOST and
// PORT, asks it for its metadata, and stops it.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, func(k string) string { return map[string]string{"PORT": "0"}[k] }, &out)
	}()
	listening := regexp.MustCompile(`listening on (http://\S+),`)
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == ""; {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no listening line after 10s: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := http.Get(base + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("discovery: got %d, want 200", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context was done")
	}
}
