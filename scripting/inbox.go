package scripting

import "sync"

// evKind tells the worker what an event carries.
type evKind uint8

const (
	evMessage   evKind = iota + 1 // msg: a call, reply or inspection
	evCommitted                   // act: a commit of act finished (err)
	evFunc                        // fn: run on the worker goroutine
	evResume                      // pend: resolve or reject a local pending op (timers, yields, channel fast paths)
	evTaskStart                   // task: start a spawned tasklet
)

// event is one item of a worker's queue. It is a value type so that queueing
// does not allocate.
type event struct {
	kind evKind
	msg  *Message
	act  *activation
	task *tasklet
	fn   func()
	pend uint64
	err  error
}

// inbox is a multi-producer, single-consumer queue. Producers append under a
// mutex; the worker swaps the whole slice out at once, so the lock is held
// for an append or a swap and never while an event is handled.
type inbox struct {
	mu      sync.Mutex
	items   []event
	calls   int // calls queued, for the bound
	limit   int
	wake    chan struct{}
	stopped bool
}

func newInbox(limit int) *inbox {
	return &inbox{limit: limit, wake: make(chan struct{}, 1)}
}

// push queues ev. Calls beyond the limit are refused with ErrOverloaded;
// replies and internal events are always accepted, since dropping them would
// strand a caller.
func (q *inbox) push(ev event) error {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return ErrStopped
	}
	if ev.kind == evMessage && ev.msg.Kind == KindCall {
		if q.calls >= q.limit {
			q.mu.Unlock()
			return ErrOverloaded
		}
		q.calls++
	}
	wasEmpty := len(q.items) == 0
	q.items = append(q.items, ev)
	q.mu.Unlock()
	if wasEmpty {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// take swaps out everything queued, handing back the spare slice for reuse.
func (q *inbox) take(spare []event) []event {
	q.mu.Lock()
	items := q.items
	q.items = spare[:0]
	q.calls = 0
	q.mu.Unlock()
	return items
}

func (q *inbox) stop() {
	q.mu.Lock()
	q.stopped = true
	q.mu.Unlock()
}
