package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/fault"
)

// errBadRequest marks errors in the request itself: answered 400.
var errBadRequest = errors.New("bad request")

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
		writeError(w, fmt.Errorf("%w: the body must give the desired count, like {\"desired\": 3}", errBadRequest))
		return
	}
	if err := s.b.SetDesired(r.PathValue("name"), *req.Desired); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"desired": *req.Desired})
}

func (s *Server) stopTask(w http.ResponseWriter, r *http.Request) {
	if !readJSON(w, r, &struct{}{}) {
		return
	}
	if err := s.b.StopTask(r.PathValue("id"), stopReason); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) instanceAction(w http.ResponseWriter, r *http.Request) {
	if !readJSON(w, r, &struct{}{}) {
		return
	}
	if err := s.b.InstanceAction(r.PathValue("name"), r.PathValue("action")); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
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
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, f)
}

// removeFault ends an active fault. Like the other actions it takes a
// JSON body (empty or {}), so that a form of another site cannot send it.
func (s *Server) removeFault(w http.ResponseWriter, r *http.Request) {
	if !readJSON(w, r, &struct{}{}) {
		return
	}
	if err := s.b.RemoveFault(r.PathValue("id")); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// maxBody bounds a request body: the actions take a few bytes.
const maxBody = 64 << 10

// readJSON decodes a JSON request body into v (an empty body is {}), or
// answers 4xx and returns false. Only application/json is taken: a form
// of another site cannot post it without the browser asking first.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, errorBody{Error: "send the body as Content-Type: application/json"})
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, fmt.Errorf("%w: request body: %v", errBadRequest, err))
		return false
	}
	return true
}

// statusOf maps the agent's error kinds to HTTP statuses, as the admin
// API does.
func statusOf(err error) int {
	switch {
	case errors.Is(err, agent.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, agent.ErrAmbiguous):
		return http.StatusConflict
	case errors.Is(err, errBadRequest), errors.Is(err, agent.ErrInvalid):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, err error) {
	writeJSON(w, statusOf(err), errorBody{Error: err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
