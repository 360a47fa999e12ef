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

	pendingOps int // promises this activation awaits from the worker
	tasklets   map[uint64]*tasklet
	excl       *exclusive
	waiting    []*Message // calls held while an exclusive section runs

	ch *channel // for $Channel activations

	lastUsed     time.Time // start of the last turn, for passivation
	classEpoch   uint64    // the class registry's epoch when the class was last checked
	deactivating bool      // onDeactivate ran; leave memory once commits are done
}

// heldBatch is the output of the turns that wait for one commit.
type heldBatch struct {
	msgs  []*Message
	posts []event
}

func (a *activation) quiescent() bool {
	return a.pendingOps == 0 && len(a.tasklets) == 0 && a.excl == nil && a.inflight == 0
}

// turnState buffers a turn's effects behind the output gate.
type turnState struct {
	act    *activation
	out    []*Message // outgoing calls and replies
	posts  []event    // local events: tasklet starts, timers, yields
	calls  []uint64   // pending ids of the calls this turn made
	failed goja.Value // the thrown value that failed the turn, nil if none
}

// tracker implements goja.AsyncContextTracker with frames.
type tracker struct{ w *Worker }

func (t tracker) Grab() any { return t.w.cur }
func (t tracker) Resumed(o any) {
	if f, ok := o.(*frame); ok && f != nil {
		t.w.cur = f
	}
}
func (t tracker) Exited() {
	if t.w.turn != nil {
		t.w.cur = &t.w.turn.act.frame
	}
}

// runInFrame runs fn as one turn of f's activation with f as the current
// frame. Nested use (fn already inside a turn of the same activation) just
// runs fn.
func (w *Worker) runInFrame(f *frame, fn func()) {
	if w.turn != nil {
		saved := w.cur
		w.cur = f
		fn()
		w.cur = saved
		return
	}
	w.beginTurn(f.act)
	w.cur = f
	fn()
	w.endTurn()
}

func (w *Worker) beginTurn(a *activation) {
	w.turn = &turnState{act: a}
	w.cur = &a.frame
	if a.persistent {
		w.turnTime = w.cfg.Now()
		a.lastUsed = w.turnTime
		w.turnPCG.Seed(w.rng.Uint64(), w.rng.Uint64())
		w.detRand = true
		w.wmu.Lock()
		w.turnSeq++
		w.turnStart = time.Now()
		w.turnLimit = true
		w.wmu.Unlock()
	} else {
		w.detRand = false
	}
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
	var write *persist.Write
	if a.persistent && a.inst != nil && t.failed == nil {
		var cerr goja.Value
		write, cerr = w.diff(a)
		if cerr != nil {
			t.failed = cerr
		}
	}
	if a.persistent && a.ch != nil && t.failed == nil {
		write = a.ch.write(a)
	}
	if t.failed != nil && a.persistent {
		w.rollback(a, t)
	}
	w.turn = nil
	w.cur = nil
	w.reportRejections()
	switch {
	case write != nil:
		a.inflight++
		a.held = append(a.held, &heldBatch{msgs: t.out, posts: t.posts})
		act := a
		w.cfg.Store.Commit(write, func(err error) {
			_ = w.inbox.push(event{kind: evCommitted, act: act, err: err})
		})
	case a.inflight > 0:
		last := a.held[len(a.held)-1]
		last.msgs = append(last.msgs, t.out...)
		last.posts = append(last.posts, t.posts...)
	default:
		w.release(t.out, t.posts)
	}
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
	out := t.out[:0]
	for _, m := range t.out {
		if m.Kind == KindReply {
			m.Args, m.Failed = failure, true
			out = append(out, m)
		}
	}
	t.out = out
	t.posts = nil
	for _, id := range t.calls {
		w.settle(id)
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

// transient reports whether a property is kept out of persistent state.
func transient(name string) bool { return len(name) > 0 && name[0] == '_' }

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
	if len(deleted) > 0 || !a.exists {
		if cerr := w.validateRequired(a); cerr != nil {
			return nil, cerr
		}
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
			delete(w.acts, a.ref)
		}
	}
	w.release(b.msgs, b.posts)
	if a.inflight == 0 && a.deactivating {
		w.forget(a)
		return
	}
	if a.inflight == 0 && a.quiescent() {
		w.maybeUpgrade(a)
	}
}

// passivateIdle deactivates the objects idle for longer than IdleTimeout.
func (w *Worker) passivateIdle(now time.Time) {
	for _, a := range w.acts {
		if !a.persistent || a.deactivating || now.Sub(a.lastUsed) < w.cfg.IdleTimeout {
			continue
		}
		if a.ch != nil {
			if len(a.ch.senders) == 0 && len(a.ch.receivers) == 0 && a.inflight == 0 {
				delete(w.acts, a.ref)
			}
			continue
		}
		if a.quiescent() && len(a.waiting) == 0 {
			w.deactivate(a)
		}
	}
}

// deactivate runs an object's onDeactivate hook as a turn (its changes are
// committed like any turn's) and removes it from memory once that commit is
// durable. A call arriving meanwhile finds it still active and keeps it.
func (w *Worker) deactivate(a *activation) {
	if hook, ok := goja.AssertFunction(a.inst.Get("onDeactivate")); ok {
		w.beginTurn(a)
		if _, ok := w.call(hook, a.inst); !ok {
			w.cfg.Logger.Warn("onDeactivate threw", "object", a.ref.String(), "err", w.turn.failed.String())
		}
		w.endTurn()
	}
	if a.inflight == 0 {
		w.forget(a)
		return
	}
	a.deactivating = true
}

func (w *Worker) forget(a *activation) {
	if w.acts[a.ref] == a {
		delete(w.acts, a.ref)
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
		if m.From.VM == w.cfg.Index && m.From.Node == w.cfg.Node {
			w.post(event{kind: evMessage, msg: m})
			return
		}
	case KindCall, KindInspect:
		if _, ok := w.acts[m.To]; ok {
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

// reply turns the call message m into its reply, reusing it.
func (w *Worker) reply(m *Message, payload []byte, failed bool) {
	m.Kind = KindReply
	m.Args = payload
	m.Failed = failed
	m.Method = ""
	w.emit(m)
}
