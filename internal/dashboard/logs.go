package dashboard

import (
	"bytes"
	"encoding/json"
	"net/http"

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
	st, ok := s.startStream(w, r)
	if !ok {
		return
	}
	defer st.close()
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
		var buf bytes.Buffer
		if len(data) > 0 {
			chunk, _ := json.Marshal(string(data))
			writeEvent(&buf, "logs", chunk)
		}
		if now.LastStatus == "STOPPED" {
			end, _ := json.Marshal(logsEnd{Status: now.LastStatus, StoppedReason: now.StoppedReason, Exit: now.Exit})
			writeEvent(&buf, "end", end)
			st.send(buf.Bytes())
			return
		}
		if !st.send(buf.Bytes()) || !st.wait() {
			return
		}
	}
}
