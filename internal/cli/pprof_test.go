package cli

import (
	"errors"
	"log/slog"
	"net/http"
	"testing"
)

func TestStartPprof(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:6060", "6060"} {
		if _, _, err := startPprof(addr, slog.New(slog.DiscardHandler)); !errors.Is(err, errUsage) {
			t.Errorf("--pprof %s: got %v, want a usage error", addr, err)
		}
	}
	bound, stop, err := startPprof("127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + bound + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		stop()
		t.Fatal(err)
	}
	resp.Body.Close()
	stop()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("goroutine profile: status %d, want 200", resp.StatusCode)
	}
	if _, err := http.Get("http://" + bound + "/debug/pprof/"); err == nil {
		t.Errorf("still served after stop")
	}
}
