package agent

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// maxLine is the longest partial line a lineWriter holds before it writes
// it out anyway.
const maxLine = 4 << 10

// lineWriter writes a task's output to a shared terminal, each line
// prefixed with the task's id ("api-1f0c9a2e | "), as `docker compose up`
// does. It writes whole lines only, one Write per batch, so that lines of
// different tasks never mix, and it never fails: a terminal that went away
// must not make the task's own writes fail.
type lineWriter struct {
	prefix []byte
	out    io.Writer
	// before runs before lines are written: the agent records the events
	// waiting in a group, so that the terminal shows what happened in the
	// order it happened (a target drained, then the task's own words on
	// SIGTERM).
	before func()

	mu      sync.Mutex
	partial []byte
}

func newLineWriter(id string, out io.Writer, before func()) *lineWriter {
	return &lineWriter{prefix: []byte(id + " | "), out: out, before: before}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	end := bytes.LastIndexByte(w.partial, '\n')
	if end < 0 && len(w.partial) < maxLine {
		return len(p), nil
	}
	if end < 0 {
		w.partial = append(w.partial, '\n')
		end = len(w.partial) - 1
	}
	w.writeLines(w.partial[:end+1])
	w.partial = append(w.partial[:0], w.partial[end+1:]...)
	return len(p), nil
}

// Close writes out a last line without its newline.
func (w *lineWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.writeLines(append(w.partial, '\n'))
		w.partial = nil
	}
	return nil
}

// writeLines writes lines (each ending in a newline) with the prefix.
func (w *lineWriter) writeLines(lines []byte) {
	var b bytes.Buffer
	for line := range bytes.Lines(lines) {
		b.Write(w.prefix)
		b.Write(line)
	}
	if w.before != nil {
		w.before()
	}
	w.out.Write(b.Bytes()) // best effort: see lineWriter
}

// lastLines returns the last n non-empty lines of out.
func lastLines(out []byte, n int) []string {
	var lines []string
	for line := range strings.Lines(string(out)) {
		if line = strings.TrimRight(line, "\r\n"); strings.TrimSpace(line) != "" {
			lines = append(lines, line)
		}
	}
	return lines[max(0, len(lines)-n):]
}
