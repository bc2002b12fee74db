package driver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// maxPartialLine is how much of a line without its newline a container's
// output keeps before writing it anyway: a program that prints no newline
// must not hold its output back forever.
const maxPartialLine = 64 << 10

// logSink is where all the containers of a task write their output: the
// task's LogBuffer, and spec.Output when set. Writes are whole lines,
// serialised, so that the lines of several containers interleave without
// being cut into each other.
type logSink struct {
	mu  sync.Mutex
	dst io.Writer
}

// newLogSink writes to logs, and to out too when it is not nil.
func newLogSink(logs *LogBuffer, out io.Writer) *logSink {
	if out == nil {
		return &logSink{dst: logs}
	}
	return &logSink{dst: io.MultiWriter(logs, out)}
}

// write writes prefix and line as one piece.
func (s *logSink) write(prefix, line []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(prefix) > 0 {
		line = append(append([]byte(nil), prefix...), line...)
	}
	_, _ = s.dst.Write(line) // the LogBuffer never fails; Output's failures are its own
}

// lineWriter cuts one container's output into lines for the sink, each
// with the container's prefix ("web | "), keeping a partial last line
// until its end comes (or Flush). Without a prefix (the task's only
// container) output passes as it comes, as the process driver's does.
// Only the container's log follower writes to it.
type lineWriter struct {
	sink    *logSink
	prefix  []byte
	partial []byte
}

// Write sends every complete line of p to the sink and keeps the rest.
func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	if len(w.prefix) == 0 {
		w.sink.write(nil, p)
		return n, nil
	}
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			break
		}
		w.emit(p[:i+1])
		p = p[i+1:]
	}
	w.partial = append(w.partial, p...)
	if len(w.partial) >= maxPartialLine {
		w.Flush()
	}
	return n, nil
}

// emit writes the kept partial line, completed by line.
func (w *lineWriter) emit(line []byte) {
	if len(w.partial) > 0 {
		line = append(w.partial, line...)
		w.partial = w.partial[:0]
	}
	w.sink.write(w.prefix, line)
}

// Flush writes the partial line, ended with a newline when it has a prefix
// (the next container's line must start on a line of its own).
func (w *lineWriter) Flush() {
	if len(w.partial) == 0 {
		return
	}
	line := w.partial
	if len(w.prefix) > 0 {
		line = append(line, '\n')
	}
	w.sink.write(w.prefix, line)
	w.partial = nil
}

// follow attaches to c, before it starts, and copies its stdout and
// stderr, which the engine multiplexes on one stream, into the task's sink
// as they come, each line prefixed with c's name when the task has several
// containers. The copy ends when c exits (the engine then ends the
// stream), or when the task's log context is cancelled (closing the
// attached connection).
func (t *dockerTask) follow(ctx context.Context, c *dockerContainer) error {
	w := &lineWriter{sink: t.sink}
	if len(t.containers) > 1 {
		w.prefix = []byte(c.spec.Name + " | ")
	}
	att, err := t.d.cli.ContainerAttach(ctx, c.id, container.AttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return fmt.Errorf("task %s: attach to container %q: %w", t.spec.ID, c.spec.Name, err)
	}
	stop := context.AfterFunc(t.logsCtx, att.Close)
	t.followers.Go(func() {
		defer stop()
		defer att.Close()
		defer w.Flush()
		if _, err := stdcopy.StdCopy(w, w, att.Reader); err != nil && t.logsCtx.Err() == nil {
			t.d.log.Debug("container output ended", "task", t.spec.ID, "container", c.spec.Name, "err", err)
		}
	})
	return nil
}

// jsonMessage is one message of the engine's pull and build streams.
type jsonMessage struct {
	Stream      string `json:"stream"`
	Status      string `json:"status"`
	Progress    string `json:"progress"`
	ID          string `json:"id"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

// copyMessages writes the engine's stream of JSON messages to out as
// plain lines, leaving out the progress bars, and returns the error the
// stream ends with, if any.
func copyMessages(r io.Reader, out io.Writer) error {
	dec := json.NewDecoder(r)
	for {
		var m jsonMessage
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the engine's messages: %w", err)
		}
		if msg := m.err(); msg != "" {
			return errors.New(msg)
		}
		m.writeTo(out)
	}
}

// err is the error the message carries, or "".
func (m *jsonMessage) err() string {
	if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
		return m.ErrorDetail.Message
	}
	return m.Error
}

// writeTo writes the message as a plain line; progress updates are left
// out, being many and meant for a terminal that redraws them.
func (m *jsonMessage) writeTo(out io.Writer) {
	switch {
	case m.Stream != "":
		_, _ = io.WriteString(out, m.Stream) // ends with its own newline
	case m.Status == "" || m.Progress != "":
	case m.ID != "":
		fmt.Fprintf(out, "%s: %s\n", m.ID, m.Status)
	default:
		fmt.Fprintln(out, m.Status)
	}
}

// decodeJSON decodes one JSON value from r into v.
func decodeJSON(r io.Reader, v any) error {
	return json.NewDecoder(r).Decode(v)
}
