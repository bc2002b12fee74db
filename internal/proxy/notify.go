package proxy

import (
	"log/slog"
	"sync"
)

// notifier delivers health changes, in the order they happened, from one
// goroutine of its own: state changes are queued under the group's lock and
// the callback runs with no lock held. The queue is unbounded so that a
// slow callback never blocks a health checker or a drain.
type notifier struct {
	fn  func(HealthChange)
	log *slog.Logger

	mu    sync.Mutex
	queue []HealthChange

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

func newNotifier(fn func(HealthChange), log *slog.Logger) *notifier {
	n := &notifier{
		fn:   fn,
		log:  log,
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go n.run()
	return n
}

// push queues a change; it never blocks.
func (n *notifier) push(c HealthChange) {
	n.mu.Lock()
	n.queue = append(n.queue, c)
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// close delivers what is queued, then stops the goroutine.
func (n *notifier) close() {
	close(n.stop)
	<-n.done
}

func (n *notifier) run() {
	defer close(n.done)
	for {
		select {
		case <-n.wake:
			n.deliver()
		case <-n.stop:
			n.deliver()
			return
		}
	}
}

func (n *notifier) deliver() {
	for {
		n.mu.Lock()
		batch := n.queue
		n.queue = nil
		n.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		for _, c := range batch {
			n.log.Info("target health changed", "target_group", c.Group, "target", c.Target,
				"from", c.From, "to", c.To, "reason", c.Reason)
			if n.fn != nil {
				n.fn(c)
			}
		}
	}
}
