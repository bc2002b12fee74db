package spec

import (
	"strconv"
	"strings"
)

// source remembers where each part of a decoded stack was written, so that
// validation, which runs on the decoded values, can still point at lines.
// Paths are dotted: services.api.target_group, target_groups.api (the
// entry's key), load_balancers.web.listeners[0].port; "" is the document.
type source struct {
	pos map[string]position
	// failed holds the paths whose value could not be decoded, or was
	// written under a misspelled key (comand: for command:): validation
	// stays quiet about them, so that one problem gives one error.
	failed map[string]bool
}

type position struct{ line, col int }

func newSource() *source {
	return &source{pos: make(map[string]position), failed: make(map[string]bool)}
}

// has reports whether path was written in the file. A stack built in code
// has no source, and nothing is known to be written.
func (src *source) has(path string) bool {
	if src == nil {
		return false
	}
	_, ok := src.pos[path]
	return ok
}

// position returns where path was written, or where its closest written
// parent was when the field was left out and took its default.
func (src *source) position(path string) (line, col int) {
	if src == nil {
		return 0, 0
	}
	for p := path; ; p = parentPath(p) {
		if pos, ok := src.pos[p]; ok {
			return pos.line, pos.col
		}
		if p == "" {
			return 0, 0
		}
	}
}

// decodeFailed reports whether path or one of its parents failed to decode.
func (src *source) decodeFailed(path string) bool {
	if src == nil {
		return false
	}
	for p := path; ; p = parentPath(p) {
		if src.failed[p] {
			return true
		}
		if p == "" {
			return false
		}
	}
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func indexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}
