package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/shoalhq/shoal/internal/admin"
	"github.com/shoalhq/shoal/internal/fault"
)

// scaleRequest is the body of POST /api/services/{name}/scale.
type scaleRequest struct {
	Desired *int `json:"desired"`
}

// stopReason is the stopped reason of a task stopped from the dashboard.
const stopReason = "Task stopped from the shoal dashboard"

func (s *Server) scale(w http.ResponseWriter, r *http.Request) {
	var req scaleRequest
	if !readJSON(w, r, &req) {
		return
	}
	if req.Desired == nil {
		admin.WriteError(w, fmt.Errorf("%w: the body must give the desired count, like {\"desired\": 3}", admin.ErrBadRequest))
		return
	}
	if err := s.b.SetDesired(r.PathValue("name"), *req.Desired); err != nil {
		admin.WriteError(w, err)
		return
	}
	admin.WriteJSON(w, http.StatusOK, map[string]int{"desired": *req.Desired})
}

func (s *Server) stopTask(w http.ResponseWriter, r *http.Request) {
	if !readJSON(w, r, &struct{}{}) {
		return
	}
	if err := s.b.StopTask(r.PathValue("id"), stopReason); err != nil {
		admin.WriteError(w, err)
		return
	}
	admin.WriteJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) instanceAction(w http.ResponseWriter, r *http.Request) {
	if !readJSON(w, r, &struct{}{}) {
		return
	}
	if err := s.b.InstanceAction(r.PathValue("name"), r.PathValue("action")); err != nil {
		admin.WriteError(w, err)
		return
	}
	admin.WriteJSON(w, http.StatusOK, struct{}{})
}

// injectFault takes the body POST /v1/faults of the admin API takes, a
// fault.Request, and answers 201 with the fault.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request) {
	var req fault.Request
	if !readJSON(w, r, &req) {
		return
	}
	f, err := s.b.InjectFault(req)
	if err != nil {
		admin.WriteError(w, err)
		return
	}
	admin.WriteJSON(w, http.StatusCreated, f)
}

// removeFault ends an active fault. Like the other actions it takes a
// JSON body (empty or {}), so that a form of another site cannot send it.
func (s *Server) removeFault(w http.ResponseWriter, r *http.Request) {
	if !readJSON(w, r, &struct{}{}) {
		return
	}
	if err := s.b.RemoveFault(r.PathValue("id")); err != nil {
		admin.WriteError(w, err)
		return
	}
	admin.WriteJSON(w, http.StatusOK, struct{}{})
}

// maxBody bounds a request body: the actions take a few bytes.
const maxBody = 64 << 10

// readJSON decodes a JSON request body into v (an empty body is {}), or
// answers 4xx and returns false. Only application/json is taken: a form
// of another site cannot post it without the browser asking first.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		admin.WriteJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "send the body as Content-Type: application/json"})
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		admin.WriteError(w, fmt.Errorf("%w: request body: %v", admin.ErrBadRequest, err))
		return false
	}
	return true
}
