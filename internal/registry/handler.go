package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
)

// newHandler builds the registry's handler on dir: pkg/registry with its
// blobs on disk, its manifests mirrored to disk and replayed from there,
// and an access log in front.
func newHandler(dir string, logger *slog.Logger) (http.Handler, error) {
	blobs := filepath.Join(dir, "blobs")
	if err := os.MkdirAll(blobs, 0o700); err != nil {
		return nil, fmt.Errorf("registry: %w: check that the state directory is writable", err)
	}
	if err := removeStaleUploads(blobs); err != nil {
		return nil, err
	}
	inner := ggcr.New(
		ggcr.Logger(log.New(io.Discard, "", 0)), // requests are logged here, once, with slog
		ggcr.WithBlobHandler(ggcr.NewDiskBlobHandler(blobs)),
	)
	ms, err := openManifests(filepath.Join(dir, "repositories"), inner)
	if err != nil {
		return nil, err
	}
	return accessLog(logger, v2Only(ms)), nil
}

// removeStaleUploads deletes the temporary files pkg/registry's disk handler
// leaves beside the blobs when an upload fails (it removes none itself).
// Only one shoal uses a state directory at a time, so none is in progress.
func removeStaleUploads(blobs string) error {
	stale, err := filepath.Glob(filepath.Join(blobs, "upload-*"))
	if err != nil {
		return err
	}
	for _, f := range stale {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("registry: removing an unfinished upload: %w", err)
		}
	}
	return nil
}

// v2Only answers 404 outside /v2/. pkg/registry routes by the end of the
// path only, so without this a manifest PUT to /x/name/manifests/1 would be
// accepted in memory but not saved.
func v2Only(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2" && !strings.HasPrefix(r.URL.Path, "/v2/") {
			writeError(w, http.StatusNotFound, "NOT_FOUND", "this is a container registry: its API is under /v2/")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// accessLog logs each request at Debug level once it is answered.
func accessLog(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		logger.LogAttrs(r.Context(), slog.LevelDebug, "registry request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.statusOr200()),
			slog.Duration("duration", time.Since(start)))
	})
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// ReadFrom keeps the server's own ReadFrom in reach of io.Copy, which sends
// a layer from its file with sendfile(2) where the system has it.
func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return io.Copy(w.ResponseWriter, r)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) statusOr200() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// recorder holds pkg/registry's answer to a manifest write until the
// manifest is on disk: a client must not hear 201 for a manifest that a
// restart would lose.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// sendTo writes the held answer to w.
func (r *recorder) sendTo(w http.ResponseWriter) {
	maps.Copy(w.Header(), r.header)
	r.WriteHeader(http.StatusOK)
	w.WriteHeader(r.status)
	w.Write(r.body.Bytes()) // the client is gone if this fails; nothing to do
}

// regError is the distribution spec's error body.
type regError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError answers with status and one error in the spec's shape, which
// docker prints to the user.
func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Errors []regError `json:"errors"`
	}{[]regError{{code, message}}})
}
