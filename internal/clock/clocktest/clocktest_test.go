package clocktest

import (
	"testing"

	"time"

	"github.com/shoalhq/shoal/internal/clock"
)

var start = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func fired(tm clock.Timer) bool {
	select {
	case <-tm.C():
		return true
	default:
		return false
	}
}

func TestFake_TimerFiresWhenTheClockPassesIt(t *testing.T) {
	f := NewFake(start)
	tm := f.NewTimer(2 * time.Second)
	f.Advance(time.Second)
	if fired(tm) {
		t.Fatal("fired after 1s of a 2s timer")
	}
	if got := f.Timers(); got != 1 {
		t.Errorf("armed timers: got %d, want 1", got)
	}
	f.Advance(time.Second)
	if !fired(tm) {
		t.Fatal("did not fire after 2s")
	}
	if got := f.Timers(); got != 0 {
		t.Errorf("armed timers after firing: got %d, want 0", got)
	}
}

func TestFake_StopAndReset(t *testing.T) {
	f := NewFake(start)
	tm := f.NewTimer(time.Second)
	if !tm.Stop() {
		t.Error("Stop of an armed timer: got false, want true")
	}
	f.Advance(time.Minute)
	if fired(tm) {
		t.Fatal("a stopped timer fired")
	}
	tm.Reset(time.Second)
	tm.Reset(time.Second) // a second Reset must not arm it twice
	if got := f.Timers(); got != 1 {
		t.Fatalf("armed timers after two Resets: got %d, want 1", got)
	}
	f.Advance(time.Second)
	if !fired(tm) || fired(tm) {
		t.Fatal("a reset timer must fire exactly once")
	}
}

func TestFake_ZeroDurationFiresAtOnce(t *testing.T) {
	f := NewFake(start)
	if tm := f.NewTimer(0); !fired(tm) {
		t.Fatal("a 0s timer did not fire at once")
	}
	if got := f.Now(); !got.Equal(start) {
		t.Errorf("Now: got %v, want %v", got, start)
	}
}
