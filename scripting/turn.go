package scripting

import (
	"bytes"
	"fmt"
	"time"

	"github.com/dop251/goja"

	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/persist"
)

// frame is an execution context: the code of one activation, optionally
// inside one of its tasklets. goja's AsyncContextTracker carries the frame
// across awaits, so that code resumed by a promise job knows whose it is.
type frame struct {
	act  *activation
	task *tasklet
	// call is the call a method invocation serves; answered once its reply
	// is out (a failed turn answers every call whose code ran in it).
	call     *Message
	answered bool
}

// activation is a live object (or a channel, or a script) in this worker.
type activation struct {
	ref   objects.Ref
	frame frame
	// persistent: state is diffed, validated and committed after each turn.
	// Scripts and ephemeral channels are not persistent.
	persistent bool
	script     bool

	cls       *loadedClass
	inst      *goja.Object
	committed map[string][]byte // field -> encoding as last committed (or being committed)
	order     []string          // field order as last committed
	exists    bool              // stored at least once

	inflight int          // commits not yet durable
	held     []*heldBatch // outputs waiting for commits, oldest first

	seq      uint64              // numbers pending operations
	nonce    uint64              // distinguishes this activation's call ids from earlier ones
	pending  map[uint64]*pending // operations awaited, by seq
	nextTask uint64              // numbers tasklets
	tasklets map[uint64]*tasklet
	excl     *exclusive
	waiting  []*Message // calls held while an exclusive section runs

	// The replay log (log.go): nil base = quiescent, no log.
	logBase  *logBase
	logLen   int
	logBytes int
	actTime  int64     // time and seeds of the activation turn, replayed with it
	actSeed  [2]uint64 //
	// Exactly-once: calls answered recently, and calls running.
	dedupe     dedupeTable
	inProgress map[string]bool
	broken     string // replay diverged: every call is answered NondeterminismError

	ch *channel // for $Channel activations

	lastUsed     time.Time // start of the last turn, for passivation
	classEpoch   uint64    // the class registry's epoch when the class was last checked
	deactivating bool      // onDeactivate ran; leave memory once commits are done
	releasing    *release  // moving to another VM (migrate.go)
	calls        callStats // calls by origin VM, for placement (migrate.go)
}

// heldBatch is the output of the turns that wait for one commit.
type heldBatch struct {
	msgs   []*Message
	posts  []event
	claims []uniqueClaim // released once the commit is over
}

// quiescent: nothing suspended. Such an object is described by its state
// alone and carries no log.
func (a *activation) quiescent() bool {
	return len(a.pending) == 0 && len(a.tasklets) == 0 && a.excl == nil && len(a.inProgress) == 0
}

// turnState buffers a turn's effects behind the output gate.
type turnState struct {
	act      *activation
	ev       *logEvent  // the event the turn delivers (nil: activation, upgrade, hooks)
	out      []*Message // outgoing calls and replies
	posts    []event    // local events: tasklet starts, timers, yields
	calls    []uint64   // seqs of the calls this turn made
	answered []dedupeEntry
	touched  []*frame   // method invocations whose code ran in this turn
	failed   goja.Value // the thrown value that failed the turn, nil if none
	seq0     uint64     // the activation's counters when the turn began
	task0    uint64
	claims   []uniqueClaim // unique values claimed for the turn's commit
}

// tracker implements goja.AsyncContextTracker with frames.
type tracker struct{ w *Worker }

func (t tracker) Grab() any { return t.w.cur }
func (t tracker) Resumed(o any) {
	if f, ok := o.(*frame); ok && f != nil {
		t.w.cur = f
		if f.call != nil && t.w.turn != nil {
			t.w.turn.touch(f)
		}
	}
}

// touch records that a method invocation's code ran in this turn.
func (t *turnState) touch(f *frame) {
	for _, g := range t.touched {
		if g == f {
			return
		}
	}
	t.touched = append(t.touched, f)
}
func (t tracker) Exited() {
	if t.w.turn != nil {
		t.w.cur = &t.w.turn.act.frame
	}
}

// runInFrame runs fn as one turn of f's activation, delivering ev, with f as
// the current frame. Nested use (already inside a turn) just runs fn.
func (w *Worker) runInFrame(f *frame, ev *logEvent, fn func()) {
	if w.turn != nil {
		saved := w.cur
		w.cur = f
		fn()
		w.cur = saved
		return
	}
	w.beginTurn(f.act, ev)
	w.cur = f
	fn()
	w.endTurn()
}

// beginTurn starts a turn of a. A persistent turn gets its own time and
// random seed: fresh ones, recorded in ev, or, in replay, ev's.
func (w *Worker) beginTurn(a *activation, ev *logEvent) {
	w.turn = &turnState{act: a, ev: ev, seq0: a.seq, task0: a.nextTask}
	w.cur = &a.frame
	if !a.persistent {
		w.detRand = false
		return
	}
	w.detRand = true
	if w.replaying && ev != nil {
		w.turnTime = time.Unix(0, ev.Time)
		w.turnPCG.Seed(ev.Seed[0], ev.Seed[1])
	} else {
		w.turnTime = w.cfg.Now()
		s1, s2 := w.rng.Uint64(), w.rng.Uint64()
		w.turnPCG.Seed(s1, s2)
		w.turnSeed = [2]uint64{s1, s2}
		if ev != nil {
			ev.Time, ev.Seed = w.turnTime.UnixNano(), [2]uint64{s1, s2}
		}
	}
	a.lastUsed = w.turnTime
	w.wmu.Lock()
	w.turnSeq++
	w.turnLimit = true
	w.wmu.Unlock()
}

// call runs a JS function inside the current turn and turns an exception or
// an interrupt into a failure of the turn. ok=false means it threw.
func (w *Worker) call(fn goja.Callable, this goja.Value, args ...goja.Value) (goja.Value, bool) {
	v, err := fn(this, args...)
	if err != nil {
		w.turn.failed = w.api.thrown(err)
		return nil, false
	}
	return v, true
}

func (w *Worker) endTurn() {
	t := w.turn
	a := t.act
	if a.persistent {
		w.wmu.Lock()
		w.turnLimit = false
		w.rt.ClearInterrupt()
		w.wmu.Unlock()
	}
	// No JavaScript runs between turns: frames an interrupt left behind
	// would stop the VM from running promise jobs ever again.
	if w.repair.run() {
		w.cfg.Logger.Warn("reset the VM's stacks after an interrupt", "vm", w.cfg.Index)
	}
	var write *persist.Write
	switch {
	case a.cls != nil && a.persistent:
		write = w.endObjectTurn(a, t)
	case a.ch != nil && a.persistent && t.failed == nil && !w.replaying:
		write = a.ch.write(a, t)
	}
	w.turn = nil
	w.cur = nil
	w.reportRejections()
	if w.replaying {
		return // effects of a replayed turn happened before the crash or the move
	}
	switch {
	case write != nil:
		// The output waits for the commit, unless nothing survives the
		// process anyway (EagerRelease); the batch keeps commits and held
		// output in step either way.
		a.inflight++
		batch := &heldBatch{claims: t.claims}
		if !w.cfg.EagerRelease {
			batch.msgs, batch.posts = t.out, t.posts
		}
		a.held = append(a.held, batch)
		act := a
		w.cfg.Store.Commit(write, func(err error) {
			_ = w.inbox.push(event{kind: evCommitted, act: act, err: err})
		})
		if w.cfg.EagerRelease {
			w.release(t.out, t.posts)
		}
	case a.inflight > 0 && !w.cfg.EagerRelease:
		last := a.held[len(a.held)-1]
		last.msgs = append(last.msgs, t.out...)
		last.posts = append(last.posts, t.posts...)
	default:
		w.release(t.out, t.posts)
	}
}

// endObjectTurn validates and diffs the state, rolls a failed turn back, and
// keeps the replay log: cleared when the object is quiescent, truncated at a
// checkpoint, otherwise extended by this turn's event. It returns what to
// commit (nil: nothing changed).
func (w *Worker) endObjectTurn(a *activation, t *turnState) *persist.Write {
	var pre *logBase
	if a.logBase == nil && !w.replaying && !a.quiescent() {
		pre = w.snapshotBase(a, t)
	}
	var write *persist.Write
	if t.failed == nil && a.inst != nil {
		var cerr goja.Value
		write, cerr = w.diff(a)
		if cerr != nil {
			t.failed = cerr
		}
	}
	if t.failed != nil {
		w.rollback(a, t)
		write = nil
	}
	if w.replaying {
		return nil
	}
	ensure := func() {
		if write == nil {
			write = &persist.Write{Class: a.ref.Class, ID: a.ref.ID}
		}
	}
	switch {
	case a.quiescent():
		if a.logBase != nil {
			ensure()
			write.LogClear = true
			a.logBase, a.logLen, a.logBytes = nil, 0, 0
		}
	case w.truncatable(a):
		ensure()
		base := w.checkpointBase(a)
		write.LogClear, write.LogBase = true, base.encode()
		a.logBase, a.logLen, a.logBytes = base, 0, 0
	case t.ev != nil || a.logBase == nil:
		ensure()
		if a.logBase == nil {
			if pre == nil {
				pre = w.snapshotBase(a, t)
			}
			a.logBase = pre
			write.LogBase = pre.encode()
		}
		if t.ev != nil {
			data := t.ev.encode()
			write.LogAppend = append(write.LogAppend, persist.LogEntry{Seq: uint64(a.logLen), Data: data})
			a.logLen++
			a.logBytes += len(data)
		}
	}
	if len(t.answered) > 0 && write != nil {
		for _, e := range t.answered {
			a.dedupe.add(e)
		}
		write.Dedupe = a.dedupe.encode()
	}
	return write
}

// rollback restores the fields of a's instance from the last committed
// encodings and drops the turn's outgoing calls, timers and spawns. Replies
// the turn produced all carry the failure, so that no caller is left waiting.
func (w *Worker) rollback(a *activation, t *turnState) {
	if a.inst != nil {
		if err := w.restoreFields(a); err != nil {
			w.cfg.Logger.Error("rollback failed", "object", a.ref.String(), "err", err)
		}
	}
	failure, err := w.enc.Encode(nil, t.failed)
	if err != nil {
		failure, _ = w.enc.Encode(nil, w.api.newError("Error", fmt.Sprint(t.failed), nil))
	}
	// A method still suspended whose code ran in this turn fails with it:
	// its caller gets the error now (what it does later is not answered).
	for _, f := range t.touched {
		if !f.answered {
			f.answered = true
			w.reply(f.call, failure, true)
		}
	}
	out := t.out[:0]
	for _, m := range t.out {
		if m.Kind == KindReply {
			m.Args, m.Failed = failure, true
			out = append(out, m)
		}
	}
	t.out = out
	t.posts = nil
	for i := range t.answered {
		t.answered[i].Payload, t.answered[i].Failed = failure, true
	}
	for _, seq := range t.calls {
		w.settle(a, seq)
	}
}

// restoreFields sets the instance's persistent fields back to the committed
// encodings and deletes fields that were not committed.
func (w *Worker) restoreFields(a *activation) error {
	for _, k := range a.inst.Keys() {
		if transient(k) {
			continue
		}
		if _, ok := a.committed[k]; !ok {
			if err := a.inst.Delete(k); err != nil {
				return err
			}
		}
	}
	for _, k := range a.order {
		v, err := w.dec.Decode(a.committed[k])
		if err != nil {
			return err
		}
		if err := a.inst.Set(k, v); err != nil {
			return err
		}
	}
	return nil
}

// transient reports whether a property is kept out of persistent state:
// names starting with "_" (and the empty name, which the store reserves).
func transient(name string) bool { return name == "" || name[0] == '_' }

// diff encodes the instance's persistent fields, compares them with the last
// commit and validates what changed. It returns the write to commit (nil if
// the turn changed nothing) or the ConstraintError/DataCloneError that fails
// the turn. On success the committed image is advanced to the new state.
func (w *Worker) diff(a *activation) (*persist.Write, goja.Value) {
	keys := a.inst.Keys()
	order := keys[:0:0]
	for _, k := range keys {
		if !transient(k) {
			order = append(order, k)
		}
	}
	orderChanged := !equalStrings(order, a.order)
	var puts []persist.FieldPut
	for _, k := range order {
		v := a.inst.Get(k)
		buf, err := w.enc.Encode(w.scratch[:0], v)
		if err != nil {
			return nil, w.api.cloneError(err, "this."+k)
		}
		w.scratch = buf
		if old, had := a.committed[k]; had && bytes.Equal(old, buf) {
			continue
		}
		if cerr := w.validate(a, k, v); cerr != nil {
			return nil, cerr
		}
		puts = append(puts, persist.FieldPut{Name: k, Value: bytes.Clone(buf)})
	}
	var deleted []string
	if orderChanged {
		for _, k := range a.order {
			if !containsString(order, k) {
				deleted = append(deleted, k)
			}
		}
	}
	if len(puts) == 0 && !orderChanged {
		// Nothing changed; a virtual object stays virtual.
		return nil, nil
	}
	if size := w.stateSize(a, order, puts); size > w.cfg.MaxState {
		return nil, w.api.newError("RangeError", fmt.Sprintf("%s's state would take %s encoded, over the limit of %s per object",
			a.ref, sizeOf(size), sizeOf(w.cfg.MaxState)), nil)
	}
	if len(deleted) > 0 || !a.exists {
		if cerr := w.validateRequired(a); cerr != nil {
			return nil, cerr
		}
	}
	// Last, since a claim must be released if the turn fails after it.
	claims, cerr := w.claimUnique(a, puts, deleted)
	if cerr != nil {
		return nil, cerr
	}
	if w.turn != nil {
		w.turn.claims = claims
	}
	wr := &persist.Write{Class: a.ref.Class, ID: a.ref.ID, Puts: puts, Deletes: deleted}
	for _, k := range deleted {
		delete(a.committed, k)
	}
	for _, p := range puts {
		a.committed[p.Name] = p.Value
	}
	if !a.exists {
		// A new object stores every field, initialisers included.
		wr.Puts = wr.Puts[:0]
		for _, k := range order {
			wr.Puts = append(wr.Puts, persist.FieldPut{Name: k, Value: a.committed[k]})
		}
		wr.Deletes = nil
	}
	if orderChanged || !a.exists {
		wr.Meta = &persist.ObjectMeta{ClassVersion: a.cls.def.Version, Fields: order}
	}
	a.order = order
	a.exists = true
	return wr, nil
}

// stateSize is the encoded size of the state after a turn: the committed
// fields with the turn's new values.
func (w *Worker) stateSize(a *activation, order []string, puts []persist.FieldPut) int {
	n := 0
	for _, k := range order {
		n += len(a.committed[k])
	}
	for _, p := range puts {
		n += len(p.Value) - len(a.committed[p.Name])
	}
	return n
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// committed handles the end of a commit: the oldest held batch goes out.
func (w *Worker) committed(a *activation, err error) {
	a.inflight--
	b := a.held[0]
	a.held[0] = nil
	a.held = a.held[1:]
	if len(b.claims) > 0 {
		w.releaseUnique(a.ref, b.claims, err == nil)
	}
	if err != nil {
		w.cfg.Logger.Error("commit failed", "object", a.ref.String(), "err", err)
		fail, _ := w.enc.Encode(nil, w.api.unavailable("storage failed: "+err.Error()))
		out := b.msgs[:0]
		for _, m := range b.msgs {
			if m.Kind == KindReply {
				m.Args, m.Failed = fail, true
				out = append(out, m)
			}
		}
		b.msgs, b.posts = out, nil
		// The in-memory state is ahead of the store: drop the activation so
		// that the next call reloads what is durable.
		if a.inflight == 0 && a.ref.Class != "" {
			w.forget(a)
		}
	}
	w.release(b.msgs, b.posts)
	if a.inflight > 0 {
		return
	}
	switch {
	case a.releasing != nil:
		w.finishRelease(a)
	case a.deactivating:
		w.forget(a)
	case a.quiescent():
		w.maybeUpgrade(a)
	}
}

// release sends a turn's output: messages to their targets, local events to
// this worker's queue.
func (w *Worker) release(msgs []*Message, posts []event) {
	for _, m := range msgs {
		w.send(m)
	}
	for _, ev := range posts {
		w.post(ev)
	}
}

// send routes one message, short-cutting targets in this worker.
func (w *Worker) send(m *Message) {
	switch m.Kind {
	case KindReply:
		if a := w.acts[m.From.Obj]; a != nil && a.releasing == nil {
			w.post(event{kind: evMessage, msg: m})
			return
		}
	case KindCall, KindInspect:
		if a := w.acts[m.To]; a != nil && a.releasing == nil {
			w.post(event{kind: evMessage, msg: m})
			return
		}
	}
	if err := w.cfg.Router.Route(m); err != nil && m.Kind != KindReply {
		msg := err.Error()
		name := "UnavailableError"
		if err == ErrOverloaded {
			name, msg = "OverloadedError", fmt.Sprintf("%s is overloaded: its queue is full; back off and retry", m.To)
		}
		w.answerError(m, w.api.newError(name, msg, nil))
	}
}

// emit sends m now, or buffers it behind the output gate of the current turn.
func (w *Worker) emit(m *Message) {
	if w.turn != nil {
		w.turn.out = append(w.turn.out, m)
		return
	}
	w.send(m)
}

// answer replies to a call or an inspection with a result.
func (w *Worker) answer(m *Message, result goja.Value) {
	buf, err := w.enc.Encode(nil, result)
	if err != nil {
		w.answerError(m, w.api.cloneError(err, "result"))
		return
	}
	if len(buf) > w.cfg.MaxMessage {
		w.answerError(m, w.api.newError("RangeError", fmt.Sprintf("the result of %s.%s takes %s encoded, over the message limit of %s",
			m.To, m.Method, sizeOf(len(buf)), sizeOf(w.cfg.MaxMessage)), nil))
		return
	}
	w.reply(m, buf, false)
}

// answerError replies with a thrown value, adding where it was thrown.
func (w *Worker) answerError(m *Message, thrown goja.Value) {
	w.api.stampRemote(thrown, m.To)
	buf, err := w.enc.Encode(nil, thrown)
	if err != nil {
		buf, _ = w.enc.Encode(nil, w.api.newError("Error", thrown.String(), nil))
	}
	w.reply(m, buf, true)
}

// reply turns the call message m into its reply, reusing it. A call from
// an object answered inside a turn of the callee is remembered for
// exactly-once delivery.
func (w *Worker) reply(m *Message, payload []byte, failed bool) {
	if m.CallID != "" && w.turn != nil && m.Kind == KindCall && w.turn.act.ref == m.To {
		delete(w.turn.act.inProgress, m.CallID)
		w.turn.answered = append(w.turn.answered, dedupeEntry{CallID: m.CallID, Payload: payload, Failed: failed})
	}
	m.Kind = KindReply
	m.Args = payload
	m.Failed = failed
	m.Method = ""
	w.emit(m)
}
