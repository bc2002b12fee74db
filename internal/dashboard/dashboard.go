// Package dashboard is shoal's live web dashboard: the stack as a picture
// (listeners → target groups → targets → tasks on instances), its events
// and deployments as they happen, and buttons that scale services, stop
// tasks and drain, activate or stop instances, and inject faults.
//
//	GET  /                              the page (static/index.html)
//	GET  /static/…                      its script and style
//	GET  /events                        server-sent events: state, event
//	GET  /logs/{id}                     server-sent events: a task's output (logs), then end
//	GET  /api/stack                     the diff deploying the stack file on disk would apply
//	POST /api/stack/deploy              {"digest": D}: deploy the file whose diff was D's
//	POST /api/services/{name}/scale     {"desired": N}
//	POST /api/tasks/{id}/stop           stop a task; its service replaces it
//	POST /api/instances/{name}/{action} drain, activate or stop an instance
//	POST /api/faults                    inject a fault: a fault.Request
//	DELETE /api/faults/{id}             end an active fault
//
// Every request needs the token shoal up printed, in the query
// (?token=…) or in the cookie the first page load sets. The pages are
// embedded: nothing is loaded from elsewhere.
//
// The dashboard reads what the admin API reads, only while a page is
// open: it never hooks the load balancer's forward path.
package dashboard

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"sync"
	"time"

	"github.com/shoalhq/shoal/internal/admin"
	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/fault"
	"github.com/shoalhq/shoal/internal/proxy"
)

//go:embed static
var static embed.FS

// Backend is what the dashboard shows and drives: the running stack, as
// the admin API serves it.
type Backend interface {
	Status() agent.Status
	Tasks(all bool) []agent.TaskStatus
	Targets() []proxy.TargetHealth
	Events(since int64) []agent.Event
	Services() []agent.ServiceStatus
	Instances() []agent.InstanceStatus
	Rules() []proxy.ListenerRules
	TargetGroups() []string
	GroupMetrics(group string) (proxy.GroupMetrics, bool)
	TargetMetrics(group string) map[string]proxy.GroupMetrics
	// TaskLogs is a task's output from offset from, and the offset to
	// read from next.
	TaskLogs(id string, from int64) ([]byte, int64, error)
	// AppliedStack is the stack file the running stack was last applied
	// from, and its content then; DeployStack applies a file's content as
	// `shoal deploy` (a stack with problems matches admin.ErrBadRequest).
	AppliedStack() (file string, source []byte)
	DeployStack(ctx context.Context, req admin.StackRequest) ([]agent.Started, error)
	SetDesired(service string, n int) error
	StopTask(ref, reason string) error
	InstanceAction(name, action string) error
	SecurityGroups() agent.SecurityView
	// InjectFault, Faults and RemoveFault are `shoal fault`: a bad value
	// matches agent.ErrInvalid, an unknown task, target group, target or
	// fault agent.ErrNotFound.
	InjectFault(req fault.Request) (fault.Fault, error)
	Faults() []fault.Fault
	RemoveFault(id string) error
}

// Options are a dashboard's settings; the zero value of each but Token
// takes the default.
type Options struct {
	// Token opens the dashboard; NewToken makes one.
	Token string
	// Interval is the shortest time between two state snapshots of a
	// stream, and how often a stream looks for changes. Default: 250 ms.
	Interval time.Duration
	// Heartbeat is how often a quiet stream sends a comment, so that
	// proxies and browsers keep it open. Default: 15 s.
	Heartbeat time.Duration
}

// Server is the dashboard's HTTP handler. Close ends its event streams.
type Server struct {
	b    Backend
	opts Options
	mux  *http.ServeMux

	quit     chan struct{}
	quitOnce sync.Once
}

// NewToken returns a random token: 32 bytes, in hex.
func NewToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// New returns the dashboard of b.
func New(b Backend, opts Options) *Server {
	if opts.Interval == 0 {
		opts.Interval = 250 * time.Millisecond
	}
	if opts.Heartbeat == 0 {
		opts.Heartbeat = 15 * time.Second
	}
	s := &Server{b: b, opts: opts, mux: http.NewServeMux(), quit: make(chan struct{})}
	files, _ := fs.Sub(static, "static") // the folder is embedded
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		http.ServeFileFS(w, r, files, "index.html")
	})
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(files)))
	s.mux.HandleFunc("GET /events", s.serveEvents)
	s.mux.HandleFunc("GET /logs/{id}", s.serveLogs)
	s.mux.HandleFunc("GET /api/stack", s.stackDiff)
	s.mux.HandleFunc("POST /api/stack/deploy", s.deployStack)
	s.mux.HandleFunc("POST /api/services/{name}/scale", s.scale)
	s.mux.HandleFunc("POST /api/tasks/{id}/stop", s.stopTask)
	s.mux.HandleFunc("POST /api/instances/{name}/{action}", s.instanceAction)
	s.mux.HandleFunc("POST /api/faults", s.injectFault)
	s.mux.HandleFunc("DELETE /api/faults/{id}", s.removeFault)
	return s
}

// Close ends the event streams open now and refuses new ones: an
// http.Server's Shutdown waits for them otherwise.
func (s *Server) Close() {
	s.quitOnce.Do(func() { close(s.quit) })
}

// ServeHTTP serves requests that carry the token.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "no-referrer")
	s.mux.ServeHTTP(w, r)
}
