package hook

import "sync"

// tail keeps the last bytes written to it, up to a fixed size. It is safe
// for concurrent writers (a command's standard output and error).
type tail struct {
	size int

	mu  sync.Mutex
	buf []byte
}

func newTail(size int) *tail { return &tail{size: size} }

// Write appends p, dropping the oldest bytes beyond the size. It never
// fails.
func (t *tail) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > t.size {
		p = p[len(p)-t.size:]
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if over := len(t.buf) + len(p) - t.size; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

// bytes is a copy of what is kept.
func (t *tail) bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.buf...)
}
