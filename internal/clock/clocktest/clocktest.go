// Package clocktest is a fake clock for tests: time moves only when the test
// says so. Only _test.go files import it, so it is not compiled into shoal.
package clocktest

import (
	"sync"
	"time"

	"github.com/shoalhq/shoal/internal/clock"
)

// Fake is a clock that moves only when Advance is called. Timers fire, in
// order of their deadlines, when the clock passes them.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

var _ clock.Clock = (*Fake)(nil)

// NewFake returns a fake clock set to start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer returns a timer that fires when the fake clock reaches now+d.
func (f *Fake) NewTimer(d time.Duration) clock.Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTimer{f: f, c: make(chan time.Time, 1)}
	t.resetLocked(d)
	if d <= 0 {
		f.fireDueLocked()
	}
	return t
}

// Advance moves the clock forward by d and fires every timer now due.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	f.fireDueLocked()
}

// Timers reports how many timers are armed; tests use it to wait until the
// code under test has armed the timer they are about to fire.
func (f *Fake) Timers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, t := range f.timers {
		if t.armed {
			n++
		}
	}
	return n
}

func (f *Fake) fireDueLocked() {
	keep := f.timers[:0]
	for _, t := range f.timers {
		if t.armed && !t.when.After(f.now) {
			t.armed = false
			select {
			case t.c <- f.now:
			default:
			}
		}
		if t.armed {
			keep = append(keep, t)
		}
	}
	f.timers = keep
}

type fakeTimer struct {
	f     *Fake
	c     chan time.Time
	when  time.Time
	armed bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	was := t.armed
	t.armed = false
	return was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	was := t.armed
	t.resetLocked(d)
	t.f.fireDueLocked()
	return was
}

func (t *fakeTimer) resetLocked(d time.Duration) {
	t.when = t.f.now.Add(d)
	t.armed = true
	for _, other := range t.f.timers {
		if other == t {
			return
		}
	}
	t.f.timers = append(t.f.timers, t)
}
