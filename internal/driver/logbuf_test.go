package driver

import (
	"bytes"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestLogBuffer_Read(t *testing.T) {
	tests := []struct {
		name     string
		capacity int
		writes   []string
		from     int64
		want     string
		wantNext int64
	}{
		{"empty", 8, nil, 0, "", 0},
		{"all", 8, []string{"abc", "de"}, 0, "abcde", 5},
		{"from the middle", 8, []string{"abc", "de"}, 2, "cde", 5},
		{"at the end", 8, []string{"abc"}, 3, "", 3},
		{"beyond the end", 8, []string{"abc"}, 9, "", 3},
		{"negative", 8, []string{"abc"}, -4, "abc", 3},
		{"exactly full", 4, []string{"ab", "cd"}, 0, "abcd", 4},
		{"wrapped, from before the oldest", 4, []string{"abc", "def"}, 0, "cdef", 6},
		{"wrapped, from inside", 4, []string{"abc", "def"}, 3, "def", 6},
		{"wrapped across the edge", 4, []string{"abc", "de", "fg"}, 4, "efg", 7},
		{"one write larger than the capacity", 4, []string{"x", "abcdefgh"}, 0, "efgh", 9},
		{"many wraps", 3, []string{"ab", "cd", "ef", "gh", "ij"}, 0, "hij", 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewLogBuffer(tt.capacity)
			for _, w := range tt.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v; want %d, nil", w, n, err, len(w))
				}
			}
			got, next := b.Read(tt.from)
			if string(got) != tt.want || next != tt.wantNext {
				t.Errorf("Read(%d) = %q, %d; want %q, %d", tt.from, got, next, tt.want, tt.wantNext)
			}
		})
	}
}

func TestLogBuffer_DefaultCapacity(t *testing.T) {
	b := NewLogBuffer(0)
	big := bytes.Repeat([]byte("x"), DefaultLogBytes+10)
	b.Write(big)
	got, next := b.Read(0)
	if len(got) != DefaultLogBytes || next != int64(len(big)) {
		t.Errorf("Read(0) = %d bytes, next %d; want %d bytes, next %d", len(got), next, DefaultLogBytes, len(big))
	}
}

// A follower polling from next sees every byte exactly once while it keeps
// up, even with writers running concurrently.
func TestLogBuffer_FollowerSeesEveryByteOnce(t *testing.T) {
	b := NewLogBuffer(1 << 20)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				b.Write([]byte("line\n"))
			}
		})
	}
	want := strings.Repeat("line\n", 800)
	var seen strings.Builder
	for next := int64(0); next < int64(len(want)); {
		var data []byte
		data, next = b.Read(next)
		seen.Write(data)
		runtime.Gosched()
	}
	wg.Wait()
	if got := seen.String(); got != want {
		t.Errorf("follower saw %d bytes, want %d", len(got), len(want))
	}
}
