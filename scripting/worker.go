package scripting

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
	"golang.org/x/sys/unix"

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
	// An object's replay log is bounded: past either limit new calls to it
	// are refused with an error that names odin.checkpoint().
	MaxLogEvents int // default 10,000
	MaxLogBytes  int // default 16 MB
	// MaxMessage bounds the encoded arguments of a call, a result and a
	// channel value; MaxState the encoded state of an object. Default 4 MB.
	MaxMessage int
	MaxState   int
	// EagerRelease lets a turn's output leave when the turn ends, before its
	// commit is durable: for a throw-away data directory (odin run --memory),
	// where nothing survives the process, so holding output buys nothing.
	// Commits are still applied in order, and moves and passivation still
	// wait for them.
	EagerRelease bool
	// Placement is told, once a second, the objects whose calls came mostly
	// from another VM (nil: objects do not move by themselves).
	Placement func([]MoveRequest)
	// Uniques keeps unique indexes unique across VMs and nodes (find.go);
	// nil leaves it to the store, which refuses a conflicting commit.
	Uniques Uniques
	Logger  *slog.Logger

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
		MaxLogEvents: 10000,
		MaxLogBytes:  16 << 20,
		MaxMessage:   4 << 20,
		MaxState:     4 << 20,
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
	case c.TurnLimit <= 0 || c.CallTimeout <= 0 || c.MaxCallStack <= 0 || c.QueueLimit <= 0 || c.IdleTimeout <= 0 ||
		c.MaxLogEvents <= 0 || c.MaxLogBytes <= 0 || c.MaxMessage <= 0 || c.MaxState <= 0:
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

	acts      map[objects.Ref]*activation
	deadlines map[*activation]struct{} // activations with operations that have a deadline
	nextID    uint64                   // numbers script activations and ephemeral channels
	ticks     uint64
	// parked holds messages for objects moving here from another VM until
	// the source has let them go (see migrate.go).
	parked map[objects.Ref][]*Message
	// replaying: the current turns rebuild an activation from its log;
	// their effects are not sent and nothing is committed.
	replaying bool

	cur      *frame     // the frame whose code is running (see tracker)
	turn     *turnState // the turn in progress, nil between turns
	rng      *rand.Rand
	turnTime time.Time

	// watchdog state, guarded by wmu
	wmu       sync.Mutex
	turnSeq   uint64
	turnLimit bool

	detRand     bool       // the current turn uses deterministic time and randomness
	turnSeed    [2]uint64  // the current turn's seed
	turnPCG     *rand.PCG  // seeded per turn
	turnRandGen *rand.Rand // over turnPCG

	loaded     map[*ClassDef]*loadedClass
	unhandled  []*goja.Promise
	undefBytes []byte

	repair  *vmRepair // resets goja's stacks after an interrupt (vmrepair.go)
	done    chan struct{}
	stopped atomic.Bool
	scratch []byte
	qlen    atomic.Int64 // events waiting, for load balancing
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
		cfg:       cfg,
		inbox:     newInbox(cfg.QueueLimit),
		acts:      make(map[objects.Ref]*activation),
		parked:    make(map[objects.Ref][]*Message),
		deadlines: make(map[*activation]struct{}),
		done:      make(chan struct{}),
		rng:       rand.New(rand.NewPCG(cfg.Seed, uint64(cfg.Index))),
		turnPCG:   rand.NewPCG(0, 0),
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
			w.handleSafely(ev)
			if w.queue.len()%64 == 0 {
				spare = w.takeInbox(spare)
				w.qlen.Store(int64(w.queue.len()))
				// A worker that is never idle still has its periodic duties
				// (deadlines, passivation, placement).
				select {
				case <-tick.C:
					w.tick()
				default:
				}
			}
		}
		spare = w.takeInbox(spare)
		w.qlen.Store(int64(w.queue.len()))
		if w.queue.len() > 0 {
			continue
		}
		select {
		case <-w.inbox.wake:
		case <-tick.C:
			w.tick()
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

// tick runs the worker's periodic duties (every 50 ms when idle).
func (w *Worker) tick() {
	w.expireDeadlines()
	w.ticks++
	if w.ticks%20 == 0 {
		w.passivateIdle(w.cfg.Now())
		if reqs := w.placementWindow(); len(reqs) > 0 && w.cfg.Placement != nil {
			w.cfg.Placement(reqs)
		}
	}
}

// handleSafely handles an event; a Go panic (a bug, or goja failing on a
// pathological script) fails the turn in progress instead of the process.
func (w *Worker) handleSafely(ev event) {
	defer func() {
		if r := recover(); r != nil {
			w.cfg.Logger.Error("worker recovered from a panic", "vm", w.cfg.Index, "panic", fmt.Sprint(r))
			w.printErr("odin: internal error in VM %d (the turn was abandoned): %v", w.cfg.Index, r)
			if w.turn != nil {
				t := w.turn
				w.turn.failed = w.api.newError("Error", fmt.Sprintf("internal error: %v", r), nil)
				func() {
					defer func() { _ = recover() }()
					w.endTurn()
				}()
				if w.turn == t {
					w.turn, w.cur = nil, nil
				}
			}
		}
	}()
	w.handle(ev)
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
		case KindActivate:
			w.handleActivate(ev.msg)
		}
	case evCommitted:
		w.committed(ev.act, ev.err)
	case evFunc:
		ev.fn()
	case evResume:
		if w.acts[ev.act.ref] == ev.act && ev.act.pending[ev.pend] != nil {
			w.dispatch(ev.act, &logEvent{Kind: logResume, Seq: ev.pend})
		}
	case evTaskStart:
		a := ev.task.frame.act
		if w.acts[a.ref] == a && !ev.task.started && !ev.task.done {
			w.dispatch(a, &logEvent{Kind: logStart, Seq: ev.task.id})
		}
	}
}

// watchdog interrupts a turn that runs longer than the turn limit. It
// samples the wall clock and the process's CPU time: while the same turn
// runs from one sample to the next, both advance its count, and the turn is
// interrupted when the smaller of the two passes the limit. A turn that
// spins is stopped after about the limit; a turn that merely waits for a
// core while other processes load the machine is not (the process uses
// little CPU meanwhile). Reading the worker thread's own CPU clock would be
// exact, but needs the worker locked to its thread, which made every
// cross-VM wake-up a thread hand-off (six times slower calls).
// It interrupts under wmu, and the worker ends a turn (clearing any
// interrupt) under wmu, so an interrupt never leaks into the next turn.
func (w *Worker) watchdog() {
	period := w.cfg.TurnLimit / 10
	if period > 50*time.Millisecond {
		period = 50 * time.Millisecond
	}
	if period < time.Millisecond {
		period = time.Millisecond
	}
	t := time.NewTicker(period)
	defer t.Stop()
	var lastSeq uint64
	var lastWall, lastCPU, usedWall, usedCPU time.Duration
	for {
		select {
		case <-w.done:
			return
		case <-t.C:
		}
		wall := time.Duration(time.Now().UnixNano())
		cpu, err := processCPU()
		if err != nil {
			cpu = wall
		}
		w.wmu.Lock()
		if w.turnLimit && w.turnSeq == lastSeq {
			usedWall += wall - lastWall
			usedCPU += cpu - lastCPU
		} else {
			usedWall, usedCPU = 0, 0
		}
		lastSeq, lastWall, lastCPU = w.turnSeq, wall, cpu
		if w.turnLimit && min(usedWall, usedCPU) >= w.cfg.TurnLimit {
			w.turnLimit = false
			w.rt.Interrupt(errTurnLimit{w.cfg.TurnLimit})
		}
		w.wmu.Unlock()
	}
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() (time.Duration, error) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

type errTurnLimit struct{ d time.Duration }

func (e errTurnLimit) Error() string {
	return fmt.Sprintf("turn exceeded its time limit of %v and was interrupted", e.d)
}

// pendKind says what a pending operation waits for, which decides what
// happens to it after a replay (see log.go).
type pendKind uint8

const (
	pendCall    pendKind = iota + 1 // a call to an object or a channel: re-sent after replay
	pendInspect                     // an inspection: re-sent after replay
	pendSleep                       // a timer: re-armed after replay
	pendLocal                       // resumed by the next event (yield, checkpoint, exclusive hand-over): re-posted after replay
	pendJoin                        // a tasklet's end: settled by the replay itself
	pendFind                        // a query (find.go): re-sent after replay
)

// pending is an operation whose promise the worker resolves later. It
// belongs to an activation and is numbered by it, so that the numbers are
// the same when the activation is rebuilt by replay, on this VM or another.
type pending struct {
	seq      uint64
	kind     pendKind
	resolve  func(any) error
	reject   func(any) error
	frame    *frame
	deadline int64 // Unix ns; 0 = none
	// next: the result is a channel next(): wrap it as {value, done}.
	next       bool
	sel        bool       // pendFind with select: the reply holds states to decode
	partial    bool       // pendFind with partial: the reply also names missing nodes
	placement  bool       // pendInspect for odin.placement: keep node and vm
	checkpoint bool       // an odin.checkpoint() of frame.task
	value      goja.Value // resolution of a local op (its rejection if failed)
	failed     bool
	timer      *time.Timer
	due        int64       // pendSleep: when it fires, Unix ns
	channel    objects.Ref // the op is on this channel; a killed waiter cancels it there
	msg        *Message    // pendCall, pendInspect: the message, to re-send after replay
}

// newPending registers an operation of the current frame's activation. In
// a replay, the first operation of a tasklet restarted from its method takes
// the number its original had.
func (w *Worker) newPending(kind pendKind) (*pending, *goja.Promise) {
	if t := w.cur.task; t != nil && w.replaying && t.restartSeq != 0 {
		seq := t.restartSeq
		t.restartSeq = 0
		return w.newPendingSeq(kind, seq)
	}
	a := w.cur.act
	a.seq++
	return w.newPendingSeq(kind, a.seq)
}

func (w *Worker) newPendingSeq(kind pendKind, seq uint64) (*pending, *goja.Promise) {
	f := w.cur
	p, resolve, reject := w.rt.NewPromise()
	pd := &pending{seq: seq, kind: kind, resolve: resolve, reject: reject, frame: f}
	if f.act.pending == nil {
		f.act.pending = make(map[uint64]*pending)
	}
	f.act.pending[seq] = pd
	if t := f.task; t != nil {
		t.current = seq
	}
	return pd, p
}

// settle removes a pending op of a and returns it, or nil if it was answered
// already (a late reply after a timeout, a kill, a duplicate).
func (w *Worker) settle(a *activation, seq uint64) *pending {
	pd := a.pending[seq]
	if pd == nil {
		return nil
	}
	delete(a.pending, seq)
	if t := pd.frame.task; t != nil && t.current == seq {
		t.current = 0
	}
	if pd.timer != nil {
		pd.timer.Stop()
	}
	return pd
}

// address is where replies to the current frame's operation seq go.
func (w *Worker) address(a *activation, seq uint64) Address {
	return Address{Node: w.cfg.Node, VM: w.cfg.Index, Obj: a.ref, Seq: seq}
}

// watchDeadline notes that a has an operation with a deadline. Deadlines
// are checked on the worker's tick by scanning the operations outstanding,
// which are few however many calls were made: nothing is kept per call
// after its reply.
func (w *Worker) watchDeadline(a *activation, pd *pending) {
	w.deadlines[a] = struct{}{}
}

// expireDeadlines rejects the operations whose deadline has passed with
// TimeoutError, each as an event of its activation.
func (w *Worker) expireDeadlines() {
	if len(w.deadlines) == 0 {
		return
	}
	now := w.cfg.Now().UnixNano()
	var due []uint64
	for a := range w.deadlines {
		if w.acts[a.ref] != a || a.releasing != nil {
			delete(w.deadlines, a)
			continue
		}
		due, any := due[:0], false
		for seq, pd := range a.pending {
			if pd.deadline == 0 {
				continue
			}
			any = true
			if pd.deadline <= now {
				due = append(due, seq)
			}
		}
		if !any {
			delete(w.deadlines, a)
			continue
		}
		sort.Slice(due, func(i, j int) bool { return due[i] < due[j] })
		for _, seq := range due {
			w.dispatch(a, &logEvent{Kind: logDeadline, Seq: seq})
		}
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
