package driver

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	cerrdefs "github.com/containerd/errdefs"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/docker/docker/api/types/build"
)

// buildRepo is the repository of the images Build makes.
const buildRepo = "shoal-build"

// Build builds the image that dockerfile describes from the folder
// contextDir, through the engine's API (its classic builder: BuildKit
// needs a session the plain API does not carry), and returns its tag,
// "shoal-build/<folder name>:<hash>", where the hash is the first 12 hex
// digits of a SHA-256 of the Dockerfile and of the context's files (their
// names, modes and contents). An image with that tag already present is
// not built again. The engine's output goes to out (nil: nowhere) as plain
// lines. dockerfile is relative to contextDir ("": "Dockerfile"), or
// absolute; it may lie outside the context. Files that .dockerignore
// excludes are neither sent nor hashed (see ignoreRule for what of its
// syntax is understood).
func (d *Docker) Build(ctx context.Context, contextDir, dockerfile string, out io.Writer) (string, error) {
	if out == nil {
		out = io.Discard
	}
	bc, err := readBuildContext(contextDir, dockerfile)
	if err != nil {
		return "", err
	}
	tag := bc.tag()
	_, err = d.cli.ImageInspect(ctx, tag)
	if err == nil {
		fmt.Fprintf(out, "%s is up to date\n", tag)
		return tag, nil
	}
	if !cerrdefs.IsNotFound(err) {
		return "", fmt.Errorf("inspect image %s: %w", tag, err)
	}
	if err := d.build(ctx, bc, tag, out); err != nil {
		return "", err
	}
	return tag, nil
}

// build sends bc to the engine to build as tag. The tar stream is written
// by a goroutine that build waits for: it ends once the engine has read it
// all, or when build closes the reading end.
func (d *Docker) build(ctx context.Context, bc *buildContext, tag string, out io.Writer) error {
	pr, pw := io.Pipe()
	written := make(chan struct{})
	go func() { defer close(written); pw.CloseWithError(bc.writeTar(pw)) }()
	defer func() { pr.Close(); <-written }()
	resp, err := d.cli.ImageBuild(ctx, pr, build.ImageBuildOptions{
		Tags:        []string{tag},
		Dockerfile:  bc.dockerfileName,
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return fmt.Errorf("docker build with %s failed: %v", bc.dockerfilePath, err)
	}
	defer resp.Body.Close()
	if err := copyMessages(resp.Body, out); err != nil {
		return fmt.Errorf("docker build with %s failed: %v", bc.dockerfilePath, err)
	}
	return nil
}

// buildContext is what Build sends: the files of the context that
// .dockerignore leaves in, and the Dockerfile.
type buildContext struct {
	dir            string
	name           string // the image's name: the folder's, as the engine accepts it
	files          []string
	dockerfilePath string // as the user gave it, made absolute
	dockerfileName string // its name in the tar
	dockerfile     []byte // its contents, when it lies outside the context
	hash           string
}

// readBuildContext walks contextDir, leaving out what .dockerignore
// excludes, and hashes what is left with the Dockerfile.
func readBuildContext(contextDir, dockerfile string) (*buildContext, error) {
	dir, err := filepath.Abs(contextDir)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("build context: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("build context %s is not a folder: give the folder to build from", dir)
	}
	bc := &buildContext{dir: dir, name: imageName(filepath.Base(dir))}
	if err := bc.locateDockerfile(dockerfile); err != nil {
		return nil, err
	}
	rules, err := readDockerignore(dir)
	if err != nil {
		return nil, err
	}
	if err := bc.walk(rules); err != nil {
		return nil, fmt.Errorf("build context %s: %w", dir, err)
	}
	return bc, bc.computeHash()
}

// locateDockerfile finds the Dockerfile and names it in the tar: by its
// path in the context, or, when it lies outside, under a name of its own
// whose contents are added to the tar (as the docker CLI does).
func (bc *buildContext) locateDockerfile(dockerfile string) error {
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	if !filepath.IsAbs(dockerfile) {
		dockerfile = filepath.Join(bc.dir, dockerfile)
	}
	bc.dockerfilePath = dockerfile
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		return fmt.Errorf("read the Dockerfile: %w (give its path, relative to the build context %s)", err, bc.dir)
	}
	rel, err := filepath.Rel(bc.dir, dockerfile)
	if err == nil && filepath.IsLocal(rel) {
		bc.dockerfileName = filepath.ToSlash(rel)
		return nil
	}
	sum := sha256.Sum256(data)
	bc.dockerfileName = ".dockerfile." + hex.EncodeToString(sum[:6])
	bc.dockerfile = data
	return nil
}

// walk lists the context's folders, files and links in lexical order,
// leaving out what the rules exclude, except the Dockerfile and
// .dockerignore, which the engine needs whatever they say (as the CLI
// sends them). Other kinds of file (sockets, devices) are skipped.
func (bc *buildContext) walk(rules []ignoreRule) error {
	return filepath.WalkDir(bc.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(bc.dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		keep := rel == bc.dockerfileName || rel == ".dockerignore" || !ignored(rules, rel)
		switch {
		case !keep && e.IsDir() && !hasExceptions(rules):
			return filepath.SkipDir
		case !keep, !(e.IsDir() || e.Type().IsRegular() || e.Type()&fs.ModeSymlink != 0):
			return nil
		}
		bc.files = append(bc.files, rel)
		return nil
	})
}

// computeHash hashes the Dockerfile's name and contents, then every
// entry's name, type, permissions and contents (a link's target).
func (bc *buildContext) computeHash() error {
	h := sha256.New()
	fmt.Fprintf(h, "dockerfile %q %d\n", bc.dockerfileName, len(bc.dockerfile))
	h.Write(bc.dockerfile)
	for _, rel := range bc.files {
		if err := bc.hashEntry(h, rel); err != nil {
			return fmt.Errorf("build context %s: %w", bc.dir, err)
		}
	}
	bc.hash = hex.EncodeToString(h.Sum(nil))[:12]
	return nil
}

// hashEntry adds one entry of the context to h.
func (bc *buildContext) hashEntry(h io.Writer, rel string) error {
	p := filepath.Join(bc.dir, filepath.FromSlash(rel))
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	fmt.Fprintf(h, "%q %v %d\n", rel, fi.Mode(), fi.Size())
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		fmt.Fprintf(h, "-> %q\n", target)
		return err
	case fi.Mode().IsRegular():
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(h, f)
		return err
	}
	return nil
}

// tag is the image's tag.
func (bc *buildContext) tag() string { return buildRepo + "/" + bc.name + ":" + bc.hash }

// writeTar writes the context as the engine wants it: a tar of the files,
// owned by root (as the CLI sends them), plus the Dockerfile when it lies
// outside.
func (bc *buildContext) writeTar(w io.Writer) error {
	tw := tar.NewWriter(w)
	for _, rel := range bc.files {
		if err := bc.addEntry(tw, rel); err != nil {
			return err
		}
	}
	if bc.dockerfile != nil {
		hdr := &tar.Header{Name: bc.dockerfileName, Mode: 0o644, Size: int64(len(bc.dockerfile)), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(bc.dockerfile); err != nil {
			return err
		}
	}
	return tw.Close()
}

// addEntry writes one entry of the context to tw.
func (bc *buildContext) addEntry(tw *tar.Writer, rel string) error {
	p := filepath.Join(bc.dir, filepath.FromSlash(rel))
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	var link string
	if fi.Mode()&fs.ModeSymlink != 0 {
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	hdr.Name, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = rel, 0, 0, "", ""
	if fi.IsDir() {
		hdr.Name += "/"
	}
	if err := tw.WriteHeader(hdr); err != nil || !fi.Mode().IsRegular() {
		return err
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.CopyN(tw, f, hdr.Size)
	return err
}

// imageNameRE matches what an image name may not hold: the engine wants
// lower-case letters and digits, separated by '.', '_' or '-'.
var imageNameRE = regexp.MustCompile(`[^a-z0-9]+`)

// imageName makes a folder's name usable as the name of an image:
// lower-cased, every run of other characters made one '-'.
func imageName(folder string) string {
	name := strings.Trim(imageNameRE.ReplaceAllString(strings.ToLower(folder), "-"), "-")
	if name == "" {
		return "app"
	}
	return name
}

// ignoreRule is one line of a .dockerignore. What is understood: comments
// (#), blank lines, exceptions (!), patterns of path.Match per path
// element (*, ?, [...]) with ** for any number of elements, a leading /
// and ./ ignored; a pattern that matches a folder excludes what is in it,
// and the last rule that matches a path decides. This is Docker's syntax
// except for its rarely used escapes.
type ignoreRule struct {
	elems     []string // the pattern, split at /
	exception bool     // the line started with !
}

// readDockerignore reads dir's .dockerignore; none means no rules.
func readDockerignore(dir string) ([]ignoreRule, error) {
	data, err := os.ReadFile(filepath.Join(dir, ".dockerignore"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseDockerignore(string(data)), nil
}

// parseDockerignore reads the rules of a .dockerignore.
func parseDockerignore(data string) []ignoreRule {
	var rules []ignoreRule
	for _, line := range strings.Split(data, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := ignoreRule{}
		if rest, ok := strings.CutPrefix(line, "!"); ok {
			r.exception, line = true, strings.TrimSpace(rest)
		}
		p := strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(line)), "/")
		if p == "" {
			continue
		}
		r.elems = strings.Split(p, "/")
		rules = append(rules, r)
	}
	return rules
}

// ignored reports whether the rules exclude rel, a slash-separated path in
// the context.
func ignored(rules []ignoreRule, rel string) bool {
	elems := strings.Split(rel, "/")
	out := false
	for _, r := range rules {
		if r.matches(elems) {
			out = !r.exception
		}
	}
	return out
}

// hasExceptions reports whether any rule is an exception: then an excluded
// folder must still be walked, for what an exception brings back.
func hasExceptions(rules []ignoreRule) bool {
	for _, r := range rules {
		if r.exception {
			return true
		}
	}
	return false
}

// matches reports whether r matches the path or one of its folders.
func (r ignoreRule) matches(elems []string) bool {
	for n := 1; n <= len(elems); n++ {
		if matchElems(r.elems, elems[:n]) {
			return true
		}
	}
	return false
}

// matchElems matches a pattern against a path, element by element, **
// standing for any number of elements.
func matchElems(pat, name []string) bool {
	if len(pat) == 0 {
		return len(name) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(name); i++ {
			if matchElems(pat[1:], name[i:]) {
				return true
			}
		}
		return false
	}
	if len(name) == 0 {
		return false
	}
	ok, _ := path.Match(pat[0], name[0])
	return ok && matchElems(pat[1:], name[1:])
}
