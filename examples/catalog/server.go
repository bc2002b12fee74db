package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

const (
	maxBodyBytes = 64 << 10 // largest POST /items body
	maxNameLen   = 200      // longest item name, in characters

	// healthTimeout bounds the health check's pings of the database and
	// Redis: well inside a load balancer's health check timeout.
	healthTimeout = 500 * time.Millisecond
)

// server answers the catalog's HTTP API.
type server struct {
	store  *Store
	cache  Cache
	cached bool // cache is not noCache: responses say X-Cache
	taskID string
	claims *claimsVerifier // of GET /whoami
	logger *slog.Logger
}

// newHandler returns the catalog's HTTP handler. GET / and GET /items/{id}
// are read through cache, which every write invalidates; GET /whoami
// answers the user the load balancer signed in, checked by claims. Every
// response carries X-Served-By: taskID and every request is logged to
// logger.
func newHandler(store *Store, cache Cache, claims *claimsVerifier, taskID string, logger *slog.Logger) http.Handler {
	_, none := cache.(noCache)
	s := &server{store: store, cache: cache, cached: !none, taskID: taskID, claims: claims, logger: logger}
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", s.handle(s.list))
	mux.Handle("GET /items/{id}", s.handle(s.get))
	mux.Handle("POST /items", s.handle(s.create))
	mux.Handle("GET /whoami", s.handle(s.whoami))
	return s.wrap(mux)
}

// list answers GET /, which is also the load balancer's health check: it
// fails with 503 when the database or Redis cannot be reached, rather than
// serve a list that may be stale.
func (s *server) list(w http.ResponseWriter, r *http.Request) error {
	if err := s.checkDependencies(r.Context()); err != nil {
		return err
	}
	body, hit, err := s.cache.Fetch(r.Context(), listKey, func(ctx context.Context) ([]byte, error) {
		items, err := s.store.Items(ctx)
		if err != nil {
			return nil, err
		}
		return encodeJSON(items), nil
	})
	if err != nil {
		return err
	}
	s.writeCached(w, body, hit)
	return nil
}

// checkDependencies pings the database and the cache at once, for at most
// healthTimeout, and returns an *unreachableError naming those that failed.
func (s *server) checkDependencies(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	var dbErr, cacheErr error
	var wg sync.WaitGroup
	wg.Go(func() { dbErr = s.store.Ping(ctx) })
	wg.Go(func() { cacheErr = s.cache.Ping(ctx) })
	wg.Wait()
	all := &unreachableError{}
	if dbErr != nil {
		all.deps, all.errs = append(all.deps, "database"), append(all.errs, dbErr)
	}
	var ue *unreachableError
	if errors.As(cacheErr, &ue) {
		all.deps, all.errs = append(all.deps, ue.deps...), append(all.errs, ue.errs...)
	}
	if len(all.deps) == 0 {
		return nil
	}
	return all
}

// writeCached writes body, the JSON of a 200 read through the cache.
func (s *server) writeCached(w http.ResponseWriter, body []byte, hit bool) {
	if s.cached {
		state := "miss"
		if hit {
			state = "hit"
		}
		w.Header().Set("X-Cache", state)
		if rec, ok := w.(*recorder); ok {
			rec.cache = state
		}
	}
	writeBody(w, http.StatusOK, body)
}

func (s *server) get(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return &httpError{http.StatusBadRequest, fmt.Sprintf("item id %q is not a number", r.PathValue("id"))}
	}
	body, hit, err := s.cache.Fetch(r.Context(), itemKey(id), func(ctx context.Context) ([]byte, error) {
		it, err := s.store.Item(ctx, id)
		if err != nil {
			return nil, err
		}
		return encodeJSON(it), nil
	})
	if errors.Is(err, ErrNotFound) {
		return &httpError{http.StatusNotFound, fmt.Sprintf("item %d not found", id)}
	}
	if err != nil {
		return err
	}
	s.writeCached(w, body, hit)
	return nil
}

func (s *server) create(w http.ResponseWriter, r *http.Request) error {
	name, err := decodeCreate(w, r)
	if err != nil {
		return err
	}
	it, err := s.store.Create(r.Context(), name)
	if err != nil {
		return err
	}
	// The item is committed: the list and the item's own entry (a 404
	// is never cached, but stay safe) are stale everywhere now.
	if err := s.cache.Invalidate(r.Context(), listKey, itemKey(it.ID)); err != nil {
		// The write stands and is answered as such; a client that
		// retried on an error would create the item twice. Other
		// replicas may serve the old list until the entry expires
		// (CACHE_TTL), and this one fails its health check.
		s.logger.ErrorContext(r.Context(), "cache invalidation failed", "item", it.ID, "error", err.Error())
	}
	w.Header().Set("Location", "/items/"+strconv.FormatInt(it.ID, 10))
	writeJSON(w, http.StatusCreated, it)
	return nil
}

// createRequest is the body of POST /items.
type createRequest struct {
	Name string `json:"name"`
}

// decodeCreate reads and validates the body of POST /items and returns the
// item's name, without surrounding spaces.
func decodeCreate(w http.ResponseWriter, r *http.Request) (string, error) {
	if err := checkJSONContentType(r); err != nil {
		return "", err
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	var req createRequest
	if err := dec.Decode(&req); err != nil {
		return "", decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "", &httpError{http.StatusBadRequest, "request body must hold a single JSON object"}
	}
	name := strings.TrimSpace(req.Name)
	switch {
	case name == "":
		return "", &httpError{http.StatusBadRequest, `"name" is required and must not be empty`}
	case utf8.RuneCountInString(name) > maxNameLen:
		return "", &httpError{http.StatusBadRequest, fmt.Sprintf(`"name" must be at most %d characters`, maxNameLen)}
	}
	return name, nil
}

// checkJSONContentType accepts a request without a Content-Type, or with
// application/json.
func checkJSONContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return &httpError{http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q is not supported; send application/json", ct)}
	}
	return nil
}

// decodeError turns a JSON decoding error into a client error.
func decodeError(err error) error {
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		sizeErr   *http.MaxBytesError
	)
	switch {
	case errors.Is(err, io.EOF):
		return &httpError{http.StatusBadRequest, "request body is empty; send a JSON object such as {\"name\": \"mocha\"}"}
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return &httpError{http.StatusBadRequest, "request body is not valid JSON"}
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return &httpError{http.StatusBadRequest, "request body must be a JSON object"}
	case errors.As(err, &typeErr):
		return &httpError{http.StatusBadRequest, fmt.Sprintf("%q must be a %s, not a %s", typeErr.Field, typeErr.Type, typeErr.Value)}
	case errors.As(err, &sizeErr):
		return &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", sizeErr.Limit)}
	default:
		// The remaining decoding errors, such as an unknown field, read
		// well once their package prefix is gone.
		return &httpError{http.StatusBadRequest, "request body: " + strings.TrimPrefix(err.Error(), "json: ")}
	}
}

// httpError is an error with the status and message the client gets.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// handle adapts a handler that returns an error. All errors become responses
// here: an *httpError as itself, an *unreachableError as 503 naming what
// cannot be reached, any other error (the database failing) as 503, so that
// the health check fails while the database or Redis does.
func (s *server) handle(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		var (
			he *httpError
			ue *unreachableError
		)
		switch {
		case errors.As(err, &he):
		case errors.As(err, &ue):
			he = &httpError{http.StatusServiceUnavailable, ue.reason()}
		default:
			he = &httpError{http.StatusServiceUnavailable, "database unavailable"}
		}
		if rec, ok := w.(*recorder); ok {
			rec.err = err // logged once, in the request's log line
		}
		writeJSON(w, he.status, map[string]string{"error": he.msg})
	})
}

// writeJSON writes v as the response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	writeBody(w, status, encodeJSON(v))
}

// encodeJSON returns the body that writeJSON writes for v: its JSON and a
// newline. The values it is given (items, error messages) always encode.
func encodeJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode %T: %v", v, err))
	}
	return append(b, '\n')
}

// writeBody writes a JSON body. An error writing it means the client has
// gone, so there is no one left to tell.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// wrap sets X-Served-By on every response, including the mux's own 404 and
// 405, and logs one line per request: at level WARN for a 5xx, whose line
// says why (error="redis unreachable: …").
func (s *server) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w.Header().Set("X-Served-By", s.taskID)
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start)),
		}
		if rec.cache != "" {
			attrs = append(attrs, slog.String("cache", rec.cache))
		}
		if rec.err != nil {
			attrs = append(attrs, slog.String("error", rec.err.Error()))
		}
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelWarn
		}
		s.logger.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

// recorder remembers a response's status and the error behind it.
type recorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	err         error
	cache       string // "hit" or "miss" for a read through a cache
}

func (rec *recorder) WriteHeader(status int) {
	if !rec.wroteHeader {
		rec.status, rec.wroteHeader = status, true
	}
	rec.ResponseWriter.WriteHeader(status)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }
