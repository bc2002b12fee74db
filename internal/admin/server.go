// Package admin is shoal's control API: plain HTTP and JSON over a unix
// socket in the state directory (mode 0600, so only its owner can drive
// shoal), and the client the CLI uses to talk to it.
//
//	GET /v1/status                  stack, listeners, services
//	GET /v1/tasks[?all=1]           tasks (with stopped ones)
//	GET /v1/tasks/{id}              one task, running or stopped
//	GET /v1/tasks/{id}/logs?from=N  task output from offset N; Shoal-Log-Next header
//	GET /v1/targets                 target health, every target group
//	GET /v1/events?since=SEQ        events after SEQ
//	POST /v1/stack                  deploy a stack: {"file", "source"}; the deployments it started
//	GET /v1/services                services with their deployments
//	PUT /v1/services/{name}/desired set a desired count: {"desired": N}
//	GET /v1/instances               container instances
//	POST /v1/instances/{name}/{action}  drain, activate or stop an instance
//	GET /v1/rules                   every listener's rules, in evaluation order
//	POST /v1/explain                where a request would go, and why
//	POST /v1/faults                 inject a fault: a fault.Request; the fault
//	GET /v1/faults                  the active faults
//	DELETE /v1/faults/{id}          end an active fault
//
// A task {id} may be a unique prefix of one (agent.FindTask): an unknown one
// is 404, one that several tasks' ids start with is 409, naming them.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/fault"
	"github.com/shoalhq/shoal/internal/proxy"
)

// Backend is what the API serves: the agent.
type Backend interface {
	Status() agent.Status
	Tasks(all bool) []agent.TaskStatus
	TaskLogs(id string, from int64) ([]byte, int64, error)
	Targets() []proxy.TargetHealth
	Events(since int64) []agent.Event
	// DeployStack parses, checks and applies a stack file's content, as
	// `shoal deploy`; a stack with problems is an error matching
	// ErrBadRequest, listing them.
	DeployStack(ctx context.Context, req StackRequest) ([]agent.Started, error)
	Services() []agent.ServiceStatus
	SetDesired(service string, n int) error
	Instances() []agent.InstanceStatus
	InstanceAction(name, action string) error
	Rules() []proxy.ListenerRules
	Explain(proxy.ExplainRequest) (proxy.Explanation, error)
	// SecurityGroups are the stack's groups, their members and what they
	// guard, with what the listeners' groups denied.
	SecurityGroups() agent.SecurityView
	// InjectFault, Faults and RemoveFault are `shoal fault`: a bad value
	// is an error matching agent.ErrInvalid, an unknown task, instance,
	// target group, target or fault one matching agent.ErrNotFound.
	InjectFault(req fault.Request) (fault.Fault, error)
	Faults() []fault.Fault
	RemoveFault(id string) error
}

// StackRequest is the body of POST /v1/stack.
type StackRequest struct {
	File   string `json:"file"`
	Source []byte `json:"source"`
	// TimeScale divides the bake and wait times of the blue/green, canary
	// and linear deployments it starts (0: as shoal up was told).
	TimeScale float64 `json:"time_scale,omitempty"`
}

// DesiredRequest is the body of PUT /v1/services/{name}/desired.
type DesiredRequest struct {
	Desired int `json:"desired"`
}

// maxSocketPath is the longest unix socket path Linux takes (sun_path is
// 108 bytes, one of them the terminating NUL).
const maxSocketPath = 107

// LogNextHeader carries the offset to read a task's logs from next.
const LogNextHeader = "Shoal-Log-Next"

// Server serves the admin API on a unix socket.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	path string
	done chan error
}

// Listen opens the socket at path (replacing a stale one left by a dead
// shoal; the state directory lock guarantees no live one owns it) and serves
// the API on it until Close. path is in the state directory, which
// store.Open has checked is the user's own and mode 0700, so only its owner
// can reach the socket; the socket itself is mode 0600 too.
func Listen(path string, b Backend, log *slog.Logger) (*Server, error) {
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("admin socket path %s is %d bytes, longer than the %d a unix socket allows: pass a shorter --state-dir", path, len(path), maxSocketPath)
	}
	// Only ever remove a socket: never follow a link, never remove a file
	// that is not ours to remove.
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("admin socket: %s exists and is not a socket (mode %v); shoal will not remove it: move it away, or pass another --state-dir", path, fi.Mode())
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("admin socket: removing the stale one: %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	s := &Server{
		srv:  &http.Server{Handler: Handler(b), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)},
		ln:   ln,
		path: path,
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Close stops serving and removes the socket.
func (s *Server) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	<-s.done
	os.Remove(s.path)
	return err
}

// Handler returns the API's routes.
func Handler(b Backend) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, b.Status())
	})
	mux.HandleFunc("GET /v1/tasks", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, nonNil(b.Tasks(r.URL.Query().Get("all") == "1")))
	})
	mux.HandleFunc("GET /v1/tasks/{id}", func(w http.ResponseWriter, r *http.Request) {
		t, err := agent.FindTask(b.Tasks(true), r.PathValue("id"))
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, t)
	})
	mux.HandleFunc("GET /v1/tasks/{id}/logs", func(w http.ResponseWriter, r *http.Request) {
		serveLogs(w, r, b)
	})
	mux.HandleFunc("GET /v1/targets", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, nonNil(b.Targets()))
	})
	mux.HandleFunc("GET /v1/events", func(w http.ResponseWriter, r *http.Request) {
		since, err := queryInt(r, "since")
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, nonNil(b.Events(since)))
	})
	mux.HandleFunc("POST /v1/stack", func(w http.ResponseWriter, r *http.Request) {
		var req StackRequest
		if !readJSON(w, r, &req) {
			return
		}
		started, err := b.DeployStack(r.Context(), req)
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, nonNil(started))
	})
	mux.HandleFunc("GET /v1/services", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, nonNil(b.Services()))
	})
	mux.HandleFunc("PUT /v1/services/{name}/desired", func(w http.ResponseWriter, r *http.Request) {
		var req DesiredRequest
		if !readJSON(w, r, &req) {
			return
		}
		if err := b.SetDesired(r.PathValue("name"), req.Desired); err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, req)
	})
	mux.HandleFunc("GET /v1/rules", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, nonNil(b.Rules()))
	})
	mux.HandleFunc("POST /v1/explain", func(w http.ResponseWriter, r *http.Request) {
		var req proxy.ExplainRequest
		if !readJSON(w, r, &req) {
			return
		}
		ex, err := b.Explain(req)
		if err != nil {
			WriteError(w, fmt.Errorf("%w: %v", ErrBadRequest, err))
			return
		}
		WriteJSON(w, http.StatusOK, ex)
	})
	mux.HandleFunc("GET /v1/security-groups", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, b.SecurityGroups())
	})
	mux.HandleFunc("GET /v1/instances", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, nonNil(b.Instances()))
	})
	mux.HandleFunc("POST /v1/instances/{name}/{action}", func(w http.ResponseWriter, r *http.Request) {
		if err := b.InstanceAction(r.PathValue("name"), r.PathValue("action")); err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, struct{}{})
	})
	mux.HandleFunc("POST /v1/faults", func(w http.ResponseWriter, r *http.Request) {
		var req fault.Request
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
		dec.DisallowUnknownFields() // a misspelt field must not pass for a default
		if err := dec.Decode(&req); err != nil {
			WriteError(w, fmt.Errorf("%w: request body: %v", ErrBadRequest, err))
			return
		}
		f, err := b.InjectFault(req)
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusCreated, f)
	})
	mux.HandleFunc("GET /v1/faults", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, nonNil(b.Faults()))
	})
	mux.HandleFunc("DELETE /v1/faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := b.RemoveFault(r.PathValue("id")); err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, struct{}{})
	})
	return mux
}

// maxBody bounds a request body: a stack file of this size is absurd.
const maxBody = 8 << 20

// readJSON decodes a request body into v, or answers 400 and returns false.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(v); err != nil {
		WriteError(w, fmt.Errorf("%w: request body: %v", ErrBadRequest, err))
		return false
	}
	return true
}

func serveLogs(w http.ResponseWriter, r *http.Request, b Backend) {
	from, err := queryInt(r, "from")
	if err != nil {
		WriteError(w, err)
		return
	}
	t, err := agent.FindTask(b.Tasks(true), r.PathValue("id"))
	if err != nil {
		WriteError(w, err)
		return
	}
	data, next, err := b.TaskLogs(t.ID, from)
	if err != nil {
		WriteError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set(LogNextHeader, strconv.FormatInt(next, 10))
	w.Write(data)
}

// ErrBadRequest marks errors in the request itself: answered 400.
var ErrBadRequest = errors.New("bad request")

func queryInt(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %s must be a whole number >= 0, got %q", ErrBadRequest, name, v)
	}
	return n, nil
}

// statusOf maps the small closed set of error kinds to HTTP statuses, in
// one place.
func statusOf(err error) int {
	switch {
	case errors.Is(err, agent.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, agent.ErrAmbiguous):
		return http.StatusConflict
	case errors.Is(err, ErrBadRequest), errors.Is(err, agent.ErrInvalid):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

type errorBody struct {
	Error string `json:"error"`
}

// WriteError answers err as JSON {"error": …} with its status: 404 for
// agent.ErrNotFound, 409 for agent.ErrAmbiguous, 400 for ErrBadRequest
// and agent.ErrInvalid, 500 otherwise. The dashboard answers its actions
// the same way.
func WriteError(w http.ResponseWriter, err error) {
	WriteJSON(w, statusOf(err), errorBody{Error: err.Error()})
}

// WriteJSON answers v, indented, with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// nonNil makes empty lists encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
