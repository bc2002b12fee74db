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
	st, ok := s.startStream(w, r)
	if !ok {
		return
	}
	defer st.close()
	var seq int64
	if evs := s.b.Events(0); len(evs) > backlog {
		seq = evs[len(evs)-backlog-1].Seq
	}
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
		if !st.send(buf.Bytes()) || !st.wait() {
			return
		}
	}
}

// stream is an open server-sent event stream, paced by the dashboard's
// Interval, with a heartbeat comment every Heartbeat.
type stream struct {
	w          http.ResponseWriter
	rc         *http.ResponseController
	gone, quit <-chan struct{} // the client went; shoal is stopping
	tick, beat *time.Ticker
}

// startStream answers the head of a server-sent event stream; false when
// shoal is stopping (503) or the client is gone. Call close when done.
func (s *Server) startStream(w http.ResponseWriter, r *http.Request) (*stream, bool) {
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
	if rc.Flush() != nil {
		return nil, false
	}
	return &stream{w: w, rc: rc, gone: r.Context().Done(), quit: s.quit,
		tick: time.NewTicker(s.opts.Interval), beat: time.NewTicker(s.opts.Heartbeat)}, true
}

// close stops the stream's tickers.
func (st *stream) close() {
	st.tick.Stop()
	st.beat.Stop()
}

// send writes events (none: nothing) and flushes them; false once the
// client cannot be written to.
func (st *stream) send(events []byte) bool {
	if len(events) == 0 {
		return true
	}
	_, err := st.w.Write(events)
	return err == nil && st.rc.Flush() == nil
}

// wait returns true at the next tick, sending heartbeats meanwhile; false
// once the client went, shoal is stopping or a heartbeat failed.
func (st *stream) wait() bool {
	for {
		select {
		case <-st.gone:
			return false
		case <-st.quit:
			return false
		case <-st.tick.C:
			return true
		case <-st.beat.C:
			if !st.send([]byte(": heartbeat\n\n")) {
				return false
			}
		}
	}
}

// writeEvent writes one server-sent event; data is one line of JSON.
func writeEvent(w io.Writer, name string, data []byte) {
	fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, data)
}
