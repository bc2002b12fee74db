package dashboard

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/shoalhq/shoal/internal/admin"
	"github.com/shoalhq/shoal/internal/agent"
)

// logsEnd is the end event of a task's log stream: the task stopped and
// all of its output was sent.
type logsEnd struct {
	Status        string `json:"last_status"`
	StoppedReason string `json:"stopped_reason,omitempty"`
	Exit          string `json:"exit,omitempty"`
}

// serveLogs streams a task's output as server-sent events, as `shoal
// logs -f`: a logs event (a JSON string) whenever output came, reading
// every Interval, then an end event once the task stopped. The task may
// be a unique prefix of its id; an unknown one is 404 before the stream.
func (s *Server) serveLogs(w http.ResponseWriter, r *http.Request) {
	t, err := agent.FindTask(s.b.Tasks(true), r.PathValue("id"))
	if err != nil {
		admin.WriteError(w, err)
		return
	}
	rc, ok := s.startStream(w)
	if !ok {
		return
	}
	tick := time.NewTicker(s.opts.Interval)
	defer tick.Stop()
	beat := time.NewTicker(s.opts.Heartbeat)
	defer beat.Stop()
	var from int64
	for {
		// Whether it had stopped is read before its output, so that the
		// output it wrote up to its exit is all sent before the end.
		now, _ := agent.FindTask(s.b.Tasks(true), t.ID)
		data, next, err := s.b.TaskLogs(t.ID, from)
		if err != nil {
			return
		}
		from = next
		if len(data) > 0 {
			chunk, _ := json.Marshal(string(data))
			writeEvent(w, "logs", chunk)
		}
		if now.LastStatus == "STOPPED" {
			end, _ := json.Marshal(logsEnd{Status: now.LastStatus, StoppedReason: now.StoppedReason, Exit: now.Exit})
			writeEvent(w, "end", end)
			rc.Flush()
			return
		}
		if len(data) > 0 && rc.Flush() != nil {
			return
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
