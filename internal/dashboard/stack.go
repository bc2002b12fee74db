package dashboard

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"

	"github.com/shoalhq/shoal/internal/admin"
	"github.com/shoalhq/shoal/internal/agent"
)

// StackChange is GET /api/stack's answer: what deploying the stack file
// on disk would change in the text of the one running.
type StackChange struct {
	File string `json:"file"`
	// Diff is the unified diff from the running stack's file content to
	// the file on disk now; "" when they are the same.
	Diff string `json:"diff"`
	// Digest names the content on disk the diff was made with: POST
	// /api/stack/deploy deploys only that content.
	Digest string `json:"digest"`
}

// deployRequest is the body of POST /api/stack/deploy.
type deployRequest struct {
	Digest string `json:"digest"`
}

// stackOnDisk reads the file the running stack was applied from, as it
// is now.
func (s *Server) stackOnDisk() (file string, applied, disk []byte, err error) {
	file, applied = s.b.AppliedStack()
	if file == "" {
		return "", nil, nil, fmt.Errorf("%w: the running stack was not read from a file: deploy one with shoal deploy -f FILE", agent.ErrNotFound)
	}
	disk, err = os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil, nil, fmt.Errorf("%w: the stack file %s is gone: put it back, or deploy another with shoal deploy -f FILE", agent.ErrNotFound, file)
	}
	return file, applied, disk, err
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// stackDiff answers GET /api/stack: the diff a deploy would apply.
func (s *Server) stackDiff(w http.ResponseWriter, _ *http.Request) {
	file, applied, disk, err := s.stackOnDisk()
	if err != nil {
		admin.WriteError(w, err)
		return
	}
	admin.WriteJSON(w, http.StatusOK, StackChange{
		File:   file,
		Diff:   unifiedDiff("running", "on disk", applied, disk),
		Digest: digest(disk),
	})
}

// deployStack answers POST /api/stack/deploy {"digest"}: it deploys the
// stack file on disk, as `shoal deploy` does, when it still is what the
// page showed the diff of (409 otherwise), and answers the deployments it
// started. A file with problems is a 400 that lists them; nothing changes.
func (s *Server) deployStack(w http.ResponseWriter, r *http.Request) {
	var req deployRequest
	if !readJSON(w, r, &req) {
		return
	}
	if req.Digest == "" {
		admin.WriteError(w, fmt.Errorf("%w: give the digest of the diff you looked at, from GET /api/stack: {\"digest\": \"…\"}", admin.ErrBadRequest))
		return
	}
	file, _, disk, err := s.stackOnDisk()
	if err != nil {
		admin.WriteError(w, err)
		return
	}
	if digest(disk) != req.Digest {
		admin.WriteJSON(w, http.StatusConflict, map[string]string{
			"error": fmt.Sprintf("%s changed since its diff was shown: look at the diff again before deploying (nothing was deployed)", file)})
		return
	}
	started, err := s.b.DeployStack(r.Context(), admin.StackRequest{File: file, Source: disk})
	if err != nil {
		admin.WriteError(w, err)
		return
	}
	admin.WriteJSON(w, http.StatusOK, nonNil(started))
}
