package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// backlog is how many past events a new stream starts with.
const backlog = 200

// serveEvents streams server-sent events until the client goes or Close:
// a state event with the whole picture whenever it changed (at most one
// per Interval), an event event for each agent event as it is recorded
// (the last backlog ones first), and a comment every Heartbeat. It reads
// the backend only while the stream is open.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc, ok := s.startStream(w)
	if !ok {
		return
	}
	var seq int64
	if evs := s.b.Events(0); len(evs) > backlog {
		seq = evs[len(evs)-backlog-1].Seq
	}
	tick := time.NewTicker(s.opts.Interval)
	defer tick.Stop()
	beat := time.NewTicker(s.opts.Heartbeat)
	defer beat.Stop()
	var rt rates
	var last []byte
	for {
		rt.update(s.b, time.Now())
		state, err := json.Marshal(snapshot(s.b, &rt))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if !bytes.Equal(state, last) {
			writeEvent(&buf, "state", state)
			last = state
		}
		for _, ev := range s.b.Events(seq) {
			seq = ev.Seq
			data, _ := json.Marshal(ev)
			writeEvent(&buf, "event", data)
		}
		if buf.Len() > 0 {
			if _, err := w.Write(buf.Bytes()); err != nil || rc.Flush() != nil {
				return
			}
		}
		select {
		case <-r.Context().Done():
			return
		case <-s.quit:
			return
		case <-tick.C:
		case <-beat.C:
			if _, err := io.WriteString(w, ": heartbeat\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

// startStream answers the head of a server-sent event stream; false when
// shoal is stopping (503) or the client is gone.
func (s *Server) startStream(w http.ResponseWriter) (*http.ResponseController, bool) {
	select {
	case <-s.quit:
		http.Error(w, "shoal is stopping", http.StatusServiceUnavailable)
		return nil, false
	default:
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	return rc, rc.Flush() == nil
}

// writeEvent writes one server-sent event; data is one line of JSON.
func writeEvent(w io.Writer, name string, data []byte) {
	fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, data)
}
