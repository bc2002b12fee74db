package agent

import (
	"sync"
	"time"
)

// Event is one line of what happened, in the words ECS uses for service
// events ("service api has reached a steady state.").
type Event struct {
	Seq     int64     `json:"seq"`
	Time    time.Time `json:"time"`
	Service string    `json:"service,omitempty"`
	Task    string    `json:"task,omitempty"`
	Target  string    `json:"target,omitempty"`
	Message string    `json:"message"`
}

// eventLog keeps the last events in a bounded ring.
type eventLog struct {
	mu     sync.Mutex
	max    int
	next   int64
	events []Event
	notify func(Event)
}

func newEventLog(max int, notify func(Event)) *eventLog {
	return &eventLog{max: max, notify: notify}
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	l.next++
	e.Seq = l.next
	l.events = append(l.events, e)
	if len(l.events) > l.max {
		l.events = l.events[len(l.events)-l.max:]
	}
	l.mu.Unlock()
	if l.notify != nil {
		l.notify(e)
	}
}

// since returns the events with Seq > seq, oldest first.
func (l *eventLog) since(seq int64) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for _, e := range l.events {
		if e.Seq > seq {
			out = append(out, e)
		}
	}
	return out
}
