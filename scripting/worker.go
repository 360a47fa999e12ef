package scripting

import (
	"container/heap"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"

	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/persist"
	"github.com/odin-db/odin/scripting/codec"
)

// Store is the part of the persistence engine a worker uses.
type Store interface {
	Load(class, id string) (persist.ObjectState, bool, error)
	Commit(w *persist.Write, done func(error))
}

// Config configures one VM worker.
type Config struct {
	Index   int    // the worker's number on its node, from 0
	Node    string // the node's name, shown in stacks and by inspect
	Router  Router
	Classes *Classes
	Store   Store
	// Hosted reports whether objects may be placed on this worker. A script
	// worker hosts only the script's own tasklets and channels.
	Hosted bool

	Stdout, Stderr io.Writer // console output; nil = discard
	Output         *sync.Mutex

	TurnLimit    time.Duration // CPU (wall) time one turn may take; default 1s
	CallTimeout  time.Duration // default deadline of a call; default 30s
	MaxCallStack int           // JS call depth; default 2000
	QueueLimit   int           // calls queued before OverloadedError; default 100000
	// IdleTimeout passivates an object that had no event for this long and
	// is quiescent: onDeactivate runs, then it leaves memory. Default 5m.
	IdleTimeout time.Duration
	Logger      *slog.Logger

	// Now and Seed make time and randomness injectable for tests.
	Now  func() time.Time
	Seed uint64
}

// DefaultConfig returns a fresh configuration with the defaults filled in.
func DefaultConfig() Config {
	return Config{
		TurnLimit:    time.Second,
		CallTimeout:  30 * time.Second,
		MaxCallStack: 2000,
		QueueLimit:   100000,
		IdleTimeout:  5 * time.Minute,
		Now:          time.Now,
	}
}

// Validate checks a configuration.
func (c *Config) Validate() error {
	switch {
	case c.Router == nil:
		return fmt.Errorf("scripting: config: no Router")
	case c.Classes == nil:
		return fmt.Errorf("scripting: config: no Classes")
	case c.TurnLimit <= 0 || c.CallTimeout <= 0 || c.MaxCallStack <= 0 || c.QueueLimit <= 0 || c.IdleTimeout <= 0:
		return fmt.Errorf("scripting: config: limits must be positive")
	case c.Now == nil:
		return fmt.Errorf("scripting: config: no Now")
	}
	return nil
}

// Worker is one VM: a goroutine that owns one goja.Runtime and everything
// living in it (object activations, tasklets, channels, pending calls).
// Nothing else touches the runtime; other goroutines talk to the worker
// through its inbox.
type Worker struct {
	cfg   Config
	rt    *goja.Runtime
	inbox *inbox
	queue ring // events taken from the inbox or posted locally, in order

	enc *codec.Encoder
	dec *codec.Decoder
	api *api

	acts        map[objects.Ref]*activation
	pending     map[uint64]*pending
	deadline    deadlineHeap
	nextID      uint64
	nextTasklet uint64
	ticks       uint64

	cur      *frame      // the frame whose code is running (see tracker)
	turn     *turnState  // the turn in progress, nil between turns
	turnAct  *activation // the activation the current turn belongs to
	rng      *rand.Rand
	turnTime time.Time

	// watchdog state, guarded by wmu
	wmu       sync.Mutex
	turnStart time.Time
	turnSeq   uint64
	turnLimit bool

	detRand     bool       // the current turn uses deterministic time and randomness
	turnPCG     *rand.PCG  // seeded per turn
	turnRandGen *rand.Rand // over turnPCG

	loaded     map[*ClassDef]*loadedClass
	unhandled  []*goja.Promise
	undefBytes []byte

	done    chan struct{}
	stopped atomic.Bool
	scratch []byte
}

// New creates a worker and starts its goroutine.
func New(cfg Config) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	if cfg.Stderr == nil {
		cfg.Stderr = io.Discard
	}
	if cfg.Output == nil {
		cfg.Output = &sync.Mutex{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Worker{
		cfg:     cfg,
		inbox:   newInbox(cfg.QueueLimit),
		acts:    make(map[objects.Ref]*activation),
		pending: make(map[uint64]*pending),
		done:    make(chan struct{}),
		rng:     rand.New(rand.NewPCG(cfg.Seed, uint64(cfg.Index))),
		turnPCG: rand.NewPCG(0, 0),
	}
	w.turnRandGen = rand.New(w.turnPCG)
	ready := make(chan error, 1)
	go w.run(ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	go w.watchdog()
	return w, nil
}

// Index returns the worker's number on its node.
func (w *Worker) Index() int { return w.cfg.Index }

// Deliver queues a message for this worker. It fails with ErrOverloaded when
// too many calls are queued and ErrStopped after Stop.
func (w *Worker) Deliver(m *Message) error {
	return w.inbox.push(event{kind: evMessage, msg: m})
}

// Do runs fn on the worker's goroutine, where it may use the runtime.
func (w *Worker) Do(fn func()) error {
	return w.inbox.push(event{kind: evFunc, fn: fn})
}

// Stop ends the worker after the events queued so far, and waits.
func (w *Worker) Stop() {
	if w.stopped.Swap(true) {
		<-w.done
		return
	}
	_ = w.inbox.push(event{kind: evFunc, fn: nil})
	<-w.done
}

func (w *Worker) run(ready chan<- error) {
	defer close(w.done)
	if err := w.init(); err != nil {
		ready <- err
		return
	}
	ready <- nil
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var spare []event
	for {
		for w.queue.len() > 0 {
			ev := w.queue.pop()
			if ev.kind == evFunc && ev.fn == nil {
				w.shutdown()
				return
			}
			w.handle(ev)
			if w.queue.len()%64 == 0 {
				spare = w.takeInbox(spare)
			}
		}
		spare = w.takeInbox(spare)
		if w.queue.len() > 0 {
			continue
		}
		select {
		case <-w.inbox.wake:
		case <-tick.C:
			w.expireDeadlines()
			w.ticks++
			if w.ticks%20 == 0 {
				w.passivateIdle(w.cfg.Now())
			}
		}
	}
}

func (w *Worker) takeInbox(spare []event) []event {
	items := w.inbox.take(spare)
	for i := range items {
		w.queue.push(items[i])
		items[i] = event{}
	}
	return items
}

// post queues an event on this worker from its own goroutine.
func (w *Worker) post(ev event) { w.queue.push(ev) }

func (w *Worker) shutdown() {
	// Deactivate every object that can be (its onDeactivate may commit; the
	// store drains those writes before it closes).
	for _, a := range w.acts {
		if a.cls != nil && a.quiescent() && len(a.waiting) == 0 {
			w.deactivate(a)
		}
	}
	w.inbox.stop()
	// Answer whatever is still queued so that no caller hangs.
	for {
		for w.queue.len() > 0 {
			ev := w.queue.pop()
			if ev.kind == evMessage && ev.msg.Kind != KindReply {
				w.answerError(ev.msg, w.api.unavailable(fmt.Sprintf("VM %d of node %s stopped", w.cfg.Index, w.cfg.Node)))
			}
		}
		if len(w.takeInbox(nil)) == 0 {
			break
		}
	}
}

func (w *Worker) handle(ev event) {
	switch ev.kind {
	case evMessage:
		switch ev.msg.Kind {
		case KindCall:
			w.handleCall(ev.msg)
		case KindReply:
			w.handleReply(ev.msg)
		case KindInspect:
			w.handleInspect(ev.msg)
		}
	case evCommitted:
		w.committed(ev.act, ev.err)
	case evFunc:
		ev.fn()
	case evResume:
		w.resumeLocal(ev.pend, ev.err)
	case evTaskStart:
		w.startTasklet(ev.task)
	}
}

// watchdog interrupts a turn that runs longer than the turn limit. It reads
// the turn's start under wmu and interrupts under wmu, and the worker ends a
// turn (clearing any interrupt) under wmu, so an interrupt can never leak
// into the next turn.
func (w *Worker) watchdog() {
	period := w.cfg.TurnLimit / 4
	if period > 100*time.Millisecond {
		period = 100 * time.Millisecond
	}
	if period < time.Millisecond {
		period = time.Millisecond
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-t.C:
		}
		w.wmu.Lock()
		if w.turnLimit && time.Since(w.turnStart) > w.cfg.TurnLimit {
			w.turnLimit = false
			w.rt.Interrupt(errTurnLimit{w.cfg.TurnLimit})
		}
		w.wmu.Unlock()
	}
}

type errTurnLimit struct{ d time.Duration }

func (e errTurnLimit) Error() string {
	return fmt.Sprintf("turn exceeded its time limit of %v and was interrupted", e.d)
}

// pending is an operation whose promise the worker resolves later: a call to
// an object, a channel operation, a timer, a yield.
type pending struct {
	id       uint64
	resolve  func(any) error
	reject   func(any) error
	frame    *frame
	deadline int64
	// next: the result is a channel next(): wrap it as {value, done}.
	next bool
	// local: resolved by an evResume with value; not a remote reply.
	value goja.Value
	timer *time.Timer
	// channel: the op is on this channel; a killed waiter cancels it there.
	channel objects.Ref
}

func (w *Worker) newPending() (*pending, *goja.Promise) {
	w.nextID++
	p, resolve, reject := w.rt.NewPromise()
	pd := &pending{id: w.nextID, resolve: resolve, reject: reject, frame: w.cur}
	w.pending[pd.id] = pd
	if w.cur != nil {
		w.cur.act.pendingOps++
		if t := w.cur.task; t != nil {
			t.current = pd.id
		}
	}
	return pd, p
}

// settle removes a pending op and returns it, or nil if it was answered
// already (a late reply after a timeout, a kill).
func (w *Worker) settle(id uint64) *pending {
	pd := w.pending[id]
	if pd == nil {
		return nil
	}
	delete(w.pending, id)
	if pd.frame != nil {
		pd.frame.act.pendingOps--
		if t := pd.frame.task; t != nil && t.current == id {
			t.current = 0
		}
	}
	if pd.timer != nil {
		pd.timer.Stop()
	}
	return pd
}

type deadlineEntry struct {
	at int64
	id uint64
}

type deadlineHeap []deadlineEntry

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h deadlineHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *deadlineHeap) Push(x any)        { *h = append(*h, x.(deadlineEntry)) }
func (h *deadlineHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (w *Worker) watchDeadline(pd *pending) {
	heap.Push(&w.deadline, deadlineEntry{at: pd.deadline, id: pd.id})
}

// expireDeadlines rejects the calls whose deadline has passed with
// TimeoutError. Entries of calls answered in time are dropped lazily.
func (w *Worker) expireDeadlines() {
	now := w.cfg.Now().UnixNano()
	for w.deadline.Len() > 0 && w.deadline[0].at <= now {
		e := heap.Pop(&w.deadline).(deadlineEntry)
		pd := w.pending[e.id]
		if pd == nil || pd.deadline != e.at {
			continue
		}
		w.settle(e.id)
		w.runInFrame(pd.frame, func() {
			w.rejectWith(pd, w.api.newError("TimeoutError", "call timed out after its deadline", nil))
		})
	}
}

// ring is a growable FIFO of events.
type ring struct {
	buf        []event
	head, size int
}

func (r *ring) len() int { return r.size }

func (r *ring) push(ev event) {
	if r.size == len(r.buf) {
		n := len(r.buf) * 2
		if n == 0 {
			n = 64
		}
		nb := make([]event, n)
		for i := 0; i < r.size; i++ {
			nb[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = nb, 0
	}
	r.buf[(r.head+r.size)%len(r.buf)] = ev
	r.size++
}

func (r *ring) pop() event {
	ev := r.buf[r.head]
	r.buf[r.head] = event{}
	r.head = (r.head + 1) % len(r.buf)
	r.size--
	return ev
}
