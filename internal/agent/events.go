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

// eventWindow is how long events of one kind are gathered into one line.
const eventWindow = 200 * time.Millisecond

// eventLog keeps the last events in a bounded ring. Events of one kind that
// come together (the targets of a batch registering, turning healthy) are
// gathered into one line, as ECS does ("service api registered 10 targets
// in target-group api: …"): a grouped event waits up to eventWindow for
// others of its kind, and any other event, or a read, flushes what waits
// first, so the order of the lines stays the order things happened in.
// Readers see a grouped event once its window is over.
type eventLog struct {
	max    int
	notify func(Event)

	mu      sync.Mutex
	next    int64
	saved   int64 // next when last snapshotted
	events  []Event
	pending []*group
	timer   *time.Timer // flushes pending; nil when nothing waits
	closed  bool
}

// group is events of one kind waiting to become one line.
type group struct {
	key    string
	first  Event
	items  []string
	render func(items []string) string
}

func newEventLog(max int, notify func(Event)) *eventLog {
	return &eventLog{max: max, notify: notify}
}

// add records e at once, after whatever waits in a group.
func (l *eventLog) add(e Event) {
	l.mu.Lock()
	out := l.flushLocked()
	out = append(out, l.appendLocked(e))
	l.mu.Unlock()
	l.deliver(out)
}

// addGrouped records an event that shares its line with the others of the
// same key that come within eventWindow. item is what differs between
// them (a task id, a target); render makes the line from the items, one
// or more. e gives the time (the first one's), service, task and target
// (kept only when the line has one item).
func (l *eventLog) addGrouped(key string, e Event, item string, render func([]string) string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, g := range l.pending {
		if g.key == key {
			g.items = append(g.items, item)
			return
		}
	}
	l.pending = append(l.pending, &group{key: key, first: e, items: []string{item}, render: render})
	if l.timer == nil && !l.closed {
		l.timer = time.AfterFunc(eventWindow, l.flush)
	}
}

// flush records the waiting groups.
func (l *eventLog) flush() {
	l.mu.Lock()
	out := l.flushLocked()
	l.mu.Unlock()
	l.deliver(out)
}

// close records what waits and stops the timer: later grouped events are
// recorded at the next add, flush or read.
func (l *eventLog) close() {
	l.mu.Lock()
	l.closed = true
	out := l.flushLocked()
	l.mu.Unlock()
	l.deliver(out)
}

func (l *eventLog) flushLocked() []Event {
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	var out []Event
	for _, g := range l.pending {
		e := g.first
		if len(g.items) > 1 {
			e.Task, e.Target = "", ""
		}
		e.Message = g.render(g.items)
		out = append(out, l.appendLocked(e))
	}
	l.pending = nil
	return out
}

func (l *eventLog) appendLocked(e Event) Event {
	l.next++
	e.Seq = l.next
	l.events = append(l.events, e)
	if len(l.events) > l.max {
		l.events = l.events[len(l.events)-l.max:]
	}
	return e
}

func (l *eventLog) deliver(events []Event) {
	if l.notify == nil {
		return
	}
	for _, e := range events {
		l.notify(e)
	}
}

// since returns the events recorded with Seq > seq, oldest first. Events
// still waiting in a group are not there yet: they come within
// eventWindow.
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

// snapshot returns the events recorded and whether any came since the
// last snapshot.
func (l *eventLog) snapshot() ([]Event, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	changed := l.next != l.saved
	l.saved = l.next
	return append([]Event(nil), l.events...), changed
}

// restore puts back the events a previous shoal recorded, before any new
// one: their sequence numbers go on.
func (l *eventLog) restore(events []Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(events) > l.max {
		events = events[len(events)-l.max:]
	}
	l.events = append(append([]Event(nil), events...), l.events...)
	for i := range l.events {
		if i >= len(events) { // recorded before the restore: renumber after
			l.events[i].Seq = l.events[i-1].Seq + 1
		}
	}
	if n := len(l.events); n > 0 {
		l.next = l.events[n-1].Seq
	}
	l.saved = l.next
}
