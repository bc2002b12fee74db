package registry

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/shoalhq/shoal/internal/store"
)

// maxManifestSize bounds a manifest read into memory: the limit of the
// reference registry (distribution), which no image's manifest comes near.
const maxManifestSize = 4 << 20

// manifestsDir is the folder, in a repository's folder, of its manifest
// files. No repository name has a part starting with "_", so it cannot
// clash with a nested repository.
const manifestsDir = "_manifests"

// The distribution spec's grammar for names. Checking them also keeps every
// file this package writes inside Dir: no part of a valid name is "..".
var (
	namePart  = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
	repoName  = regexp.MustCompile(`^` + namePart + `(?:/` + namePart + `)*$`)
	tagRef    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
	digestRef = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
)

// manifests mirrors the manifest writes pkg/registry accepts to files under
// dir, and replays those files into it on start.
type manifests struct {
	dir  string       // Dir/repositories
	next http.Handler // pkg/registry
	// mu serialises manifest writes, so that two pushes of one tag reach
	// the disk in the order pkg/registry took them.
	mu sync.Mutex
}

// openManifests replays the manifests saved under dir into next.
func openManifests(dir string, next http.Handler) (*manifests, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("registry: %w: check that the state directory is writable", err)
	}
	m := &manifests{dir: dir, next: next}
	saved, err := m.load()
	if err != nil {
		return nil, err
	}
	if err := m.replay(saved); err != nil {
		return nil, err
	}
	return m, nil
}

// ServeHTTP saves manifest PUTs and DELETEs and passes everything else on.
func (m *manifests) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	repo, ref, ok := manifestPath(r.URL.Path)
	if !ok || (r.Method != http.MethodPut && r.Method != http.MethodDelete) {
		m.next.ServeHTTP(w, r)
		return
	}
	if e := checkNames(repo, ref); e != nil {
		writeError(w, http.StatusBadRequest, e.Code, e.Message)
		return
	}
	if r.Method == http.MethodPut {
		m.put(w, r, repo, ref)
	} else {
		m.delete(w, r, repo, ref)
	}
}

// manifestPath splits /v2/<name>/manifests/<ref> as pkg/registry does.
func manifestPath(p string) (repo, ref string, ok bool) {
	rest, ok := strings.CutPrefix(p, "/v2/")
	i := strings.LastIndex(rest, "/manifests/")
	if !ok || i < 0 {
		return "", "", false
	}
	repo, ref = rest[:i], rest[i+len("/manifests/"):]
	return repo, ref, !strings.Contains(ref, "/")
}

// checkNames says what is wrong with a repository name and a tag or
// digest, or nil.
func checkNames(repo, ref string) *regError {
	if len(repo) > 255 || !repoName.MatchString(repo) {
		return &regError{"NAME_INVALID", fmt.Sprintf("repository name %q is invalid: use lower-case letters, digits and separators (. _ -), in parts joined by /", repo)}
	}
	if !tagRef.MatchString(ref) && !digestRef.MatchString(ref) {
		return &regError{"TAG_INVALID", fmt.Sprintf("%q is neither a tag (up to 128 letters, digits, _ . or -, not starting with . or -) nor a sha256 digest", ref)}
	}
	return nil
}

// put hands a manifest to pkg/registry and, if it takes it, saves it under
// ref and under its digest before the client hears so.
func (m *manifests) put(w http.ResponseWriter, r *http.Request, repo, ref string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxManifestSize))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "SIZE_INVALID", fmt.Sprintf("manifest larger than %d bytes", maxManifestSize))
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "MANIFEST_INVALID", fmt.Sprintf("reading the manifest: %v", err))
		return
	}
	digest := digestOf(body)
	if digestRef.MatchString(ref) && ref != digest {
		writeError(w, http.StatusBadRequest, "DIGEST_INVALID", fmt.Sprintf("the manifest's digest is %s, not %s", digest, ref))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	m.mu.Lock()
	defer m.mu.Unlock()
	rec := newRecorder()
	m.next.ServeHTTP(rec, r)
	if rec.status == http.StatusCreated {
		if err := m.save(repo, ref, digest, r.Header.Get("Content-Type"), body); err != nil {
			writeError(w, http.StatusInternalServerError, "UNKNOWN", fmt.Sprintf("saving the manifest: %v: free disk space or fix the state directory's permissions, then push again", err))
			return
		}
	}
	rec.sendTo(w)
}

// save writes the manifest's file under ref and under digest, each
// atomically. The first line is the media type; the rest is the manifest
// byte for byte, so that its digest does not change.
func (m *manifests) save(repo, ref, digest, mediaType string, body []byte) error {
	dir := filepath.Join(m.dir, filepath.FromSlash(repo), manifestsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	data := append([]byte(mediaType+"\n"), body...)
	if err := store.WriteFileAtomic(filepath.Join(dir, ref), data, 0o600); err != nil {
		return err
	}
	if ref == digest {
		return nil
	}
	return store.WriteFileAtomic(filepath.Join(dir, digest), data, 0o600)
}

// delete hands a DELETE to pkg/registry and, if it takes it, removes the
// file of that one name, as pkg/registry forgets that one name.
func (m *manifests) delete(w http.ResponseWriter, r *http.Request, repo, ref string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := newRecorder()
	m.next.ServeHTTP(rec, r)
	if rec.status == http.StatusAccepted {
		err := os.Remove(filepath.Join(m.dir, filepath.FromSlash(repo), manifestsDir, ref))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			writeError(w, http.StatusInternalServerError, "UNKNOWN", fmt.Sprintf("removing the saved manifest: %v: fix the state directory's permissions, then delete again", err))
			return
		}
	}
	rec.sendTo(w)
}

// saved is a manifest file read back: what to PUT to replay it.
type saved struct {
	path, repo, ref, mediaType string
	body                       []byte
}

// load reads every manifest file under m.dir, and removes the temporary
// files a crash can leave beside them.
func (m *manifests) load() ([]saved, error) {
	var all []saved
	err := filepath.WalkDir(m.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Base(filepath.Dir(path)) != manifestsDir {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") {
			return os.Remove(path) // written halfway when shoal stopped
		}
		s, err := m.read(path)
		if err != nil {
			return fmt.Errorf("manifest file %s is damaged (%v): remove it, then push the image again", path, err)
		}
		all = append(all, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("registry: reading saved manifests: %w", err)
	}
	return all, nil
}

// read reads one manifest file, taking its repository and tag or digest
// from its path.
func (m *manifests) read(path string) (saved, error) {
	rel, err := filepath.Rel(m.dir, path)
	if err != nil {
		return saved{}, err
	}
	s := saved{path: path, repo: filepath.ToSlash(filepath.Dir(filepath.Dir(rel))), ref: filepath.Base(path)}
	if e := checkNames(s.repo, s.ref); e != nil {
		return saved{}, errors.New(e.Message)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return saved{}, err
	}
	mediaType, body, ok := bytes.Cut(b, []byte("\n"))
	switch {
	case !ok:
		return saved{}, errors.New("no media type line")
	case digestRef.MatchString(s.ref) && digestOf(body) != s.ref:
		return saved{}, errors.New("its content does not match its digest")
	}
	s.mediaType, s.body = string(mediaType), body
	return s, nil
}

// replay PUTs each saved manifest into pkg/registry, as a client would. An
// index is refused until the manifests it lists are in, so what is refused
// waits for the next pass; a pass that places nothing ends the replay.
func (m *manifests) replay(pending []saved) error {
	for len(pending) > 0 {
		var refused []saved
		var firstErr error
		for _, s := range pending {
			if err := m.replayOne(s); err != nil {
				refused = append(refused, s)
				firstErr = cmp.Or(firstErr, err)
			}
		}
		if len(refused) == len(pending) {
			return fmt.Errorf("registry: the saved manifest %s cannot be loaded (%v): remove it, then push the image again", refused[0].path, firstErr)
		}
		pending = refused
	}
	return nil
}

// replayOne PUTs one saved manifest into pkg/registry.
func (m *manifests) replayOne(s saved) error {
	req, err := http.NewRequest(http.MethodPut, "/v2/"+s.repo+"/manifests/"+s.ref, bytes.NewReader(s.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", s.mediaType)
	rec := newRecorder()
	m.next.ServeHTTP(rec, req)
	if rec.status != http.StatusCreated {
		return fmt.Errorf("the registry answered %d %s", rec.status, bytes.TrimSpace(rec.body.Bytes()))
	}
	return nil
}

// digestOf is the sha256 digest of b, as the registry names manifests.
func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
