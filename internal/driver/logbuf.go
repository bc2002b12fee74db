package driver

import "sync"

// DefaultLogBytes is how much of a task's output is kept when
// ProcessOptions.LogBytes is not set.
const DefaultLogBytes = 256 << 10

// LogBuffer keeps the last bytes written to it, up to a fixed capacity.
// Offsets count every byte ever written, so a follower can poll Read with the
// offset it was last given and see each byte once, or notice (by the data
// starting later than asked) that it fell behind. It is safe for concurrent
// use.
type LogBuffer struct {
	size int

	mu    sync.Mutex
	buf   []byte // byte at offset o lives at buf[o%size]; grows up to size
	total int64  // bytes ever written
}

// NewLogBuffer returns a buffer keeping the last capacity bytes
// (DefaultLogBytes when capacity <= 0). Memory is taken as output arrives,
// so quiet tasks cost little.
func NewLogBuffer(capacity int) *LogBuffer {
	if capacity <= 0 {
		capacity = DefaultLogBytes
	}
	return &LogBuffer{size: capacity}
}

// Write appends p, dropping the oldest bytes beyond the capacity. It never
// fails.
func (b *LogBuffer) Write(p []byte) (int, error) {
	n := len(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(p) > b.size {
		// Only the tail can be kept; the head still counts in the offsets.
		b.total += int64(len(p) - b.size)
		p = p[len(p)-b.size:]
	}
	end := b.total + int64(len(p))
	if want := int(min(end, int64(b.size))); len(b.buf) < want {
		b.buf = append(b.buf, make([]byte, want-len(b.buf))...)
	}
	at := int(b.total % int64(b.size))
	k := copy(b.buf[at:], p)
	copy(b.buf, p[k:])
	b.total = end
	return n, nil
}

// Read returns a copy of the bytes from offset from up to the end, and the
// offset to read from next. When from is older than the oldest byte kept the
// data starts there instead; when from is beyond the end, data is empty.
func (b *LogBuffer) Read(from int64) (data []byte, next int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	from = max(from, b.total-int64(len(b.buf)))
	if from >= b.total {
		return nil, b.total
	}
	data = make([]byte, b.total-from)
	at := int(from % int64(b.size))
	k := copy(data, b.buf[at:])
	copy(data[k:], b.buf)
	return data, b.total
}
