package scripting

import (
	"fmt"
	"strconv"
	"time"

	"github.com/dop251/goja"

	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/persist"
)

// callRef starts a call of method on the object info names and returns the
// promise of its result. Arguments are encoded now (the caller's values are
// copied at the call, as structured clone requires).
func (w *Worker) callRef(info *refInfo, method string, args []goja.Value) goja.Value {
	f := w.api.currentFrame("a call through a Ref")
	buf, err := w.enc.EncodeArgs(nil, args)
	if err != nil {
		panic(w.api.cloneError(err, info.ref.String()+"."+method+" arguments"))
	}
	w.checkMessage(len(buf), "the arguments of "+info.ref.String()+"."+method)
	a := f.act
	pd, p := w.newPending(pendCall)
	timeout := info.timeout
	if timeout == 0 {
		timeout = w.cfg.CallTimeout
	}
	pd.deadline = w.turnNow().Add(timeout).UnixNano()
	m := &Message{Kind: KindCall, To: info.ref, Method: method, Args: buf, From: w.address(a, pd.seq), Deadline: pd.deadline}
	w.track(a, pd, m)
	w.emit(m)
	return w.rt.ToValue(p)
}

// checkMessage refuses a message over the size limit with a RangeError.
func (w *Worker) checkMessage(n int, what string) {
	if n > w.cfg.MaxMessage {
		w.api.throw("RangeError", "%s take %s encoded, over the message limit of %s", what, sizeOf(n), sizeOf(w.cfg.MaxMessage))
	}
}

// sizeOf renders a byte count for an error message.
func sizeOf(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// track records an outgoing operation of a: its deadline is watched, and an
// object keeps a copy of the message (the callee reuses the original for
// its reply) to send it again after a replay, under the same call id.
func (w *Worker) track(a *activation, pd *pending, m *Message) {
	if IsObject(a.ref) {
		// Unique across activations (the nonce), the same when a replay
		// sends the call again (the nonce and seq come back with the log).
		m.CallID = a.ref.String() + "#" + strconv.FormatUint(a.nonce, 36) + "." + strconv.FormatUint(pd.seq, 10)
		cp := *m
		pd.msg = &cp
	}
	if pd.deadline != 0 && !w.replaying {
		w.watchDeadline(a, pd)
	}
	if w.turn != nil {
		w.turn.calls = append(w.turn.calls, pd.seq)
	}
}

// turnNow is the time code running now sees.
func (w *Worker) turnNow() time.Time {
	if w.detRand {
		return w.turnTime
	}
	return w.cfg.Now()
}

// target finds the activation a message is for: active here, activated
// here now, or not here (the message is sent on, or parked while the object
// moves here). ok=false means the message has been dealt with.
func (w *Worker) target(m *Message, ref objects.Ref) (*activation, bool) {
	if a := w.acts[ref]; a != nil {
		if a.releasing != nil {
			a.releasing.forward = append(a.releasing.forward, m)
			return nil, false
		}
		return a, true
	}
	if msgs, ok := w.parked[ref]; ok {
		w.parked[ref] = append(msgs, m)
		return nil, false
	}
	if _, _, eph := EphemeralChannel(ref); eph {
		if m.Kind == KindCall && m.From.Seq != 0 {
			w.answerError(m, w.api.newError("ChannelClosedError", fmt.Sprintf("channel %s no longer exists (the script that made it ended)", ref.ID), nil))
		}
		return nil, false
	}
	if !IsObject(ref) && !IsChannel(ref) {
		return nil, false // a script that ended
	}
	if vm := w.cfg.Router.VMOf(ref); vm != w.cfg.Index {
		if err := w.cfg.Router.Route(m); err != nil && m.Kind != KindReply {
			w.answerError(m, w.api.unavailable(err.Error()))
		}
		return nil, false
	}
	if IsChannel(ref) {
		return w.loadChannel(ref), true
	}
	a, errv := w.activate(ref)
	if errv != nil {
		if m.Kind != KindReply {
			w.answerError(m, errv)
		}
		return nil, false
	}
	return a, true
}

// handleCall delivers a call to the object it names.
func (w *Worker) handleCall(m *Message) {
	if m.To.Class == channelClass {
		w.channelCall(m)
		return
	}
	a, ok := w.target(m, m.To)
	if !ok {
		return
	}
	a.calls.count(m.From)
	if a.broken != "" {
		w.answerError(m, w.api.newError("NondeterminismError", a.broken, nil))
		return
	}
	if m.CallID != "" {
		if e, ok := a.dedupe.lookup(m.CallID); ok {
			// Answered before: answer the same, once that answer is durable.
			w.replyAfterCommits(a, m, e.Payload, e.Failed)
			return
		}
		if a.inProgress[m.CallID] {
			return // still running: its reply will go to the same address
		}
	}
	if a.logLen >= w.cfg.MaxLogEvents || a.logBytes >= w.cfg.MaxLogBytes {
		w.answerError(m, w.api.newError("Error", fmt.Sprintf("%s has %d events (%d bytes) in its replay log, the limit (%d events, %d bytes): a long-lived tasklet of this object should call `await odin.checkpoint()` at the top of its loop so that the log can be cut",
			a.ref, a.logLen, a.logBytes, w.cfg.MaxLogEvents, w.cfg.MaxLogBytes), nil))
		return
	}
	if a.excl != nil {
		a.waiting = append(a.waiting, m)
		return
	}
	a.deactivating = false
	if e := w.cfg.Classes.Epoch(); e != a.classEpoch && a.cls != nil && a.quiescent() {
		// A class was defined since this object last looked: it moves to
		// the newest version of its class now, between turns.
		a.classEpoch = e
		w.maybeUpgrade(a)
	}
	w.invoke(a, m, &logEvent{Kind: logCall, Method: m.Method, Payload: m.Args, From: m.From, CallID: m.CallID, Deadline: m.Deadline})
}

// replyAfterCommits answers m outside a turn, behind a's commits in flight.
func (w *Worker) replyAfterCommits(a *activation, m *Message, payload []byte, failed bool) {
	m.Kind, m.Args, m.Failed, m.Method = KindReply, payload, failed, ""
	if a.inflight > 0 && !w.cfg.EagerRelease {
		last := a.held[len(a.held)-1]
		last.msgs = append(last.msgs, m)
		return
	}
	w.send(m)
}

// activate loads ref into this worker: from its replay log if it has one
// (its suspended tasklets and methods come back), else from its stored
// state, else as a new virtual object.
func (w *Worker) activate(ref objects.Ref) (*activation, goja.Value) {
	if !w.cfg.Hosted {
		return nil, w.api.unavailable(fmt.Sprintf("%s is not hosted on this VM", ref))
	}
	d := w.cfg.Classes.Latest(ref.Class)
	if d == nil {
		return nil, w.api.newError("NotDefinedError", fmt.Sprintf("no class %q is defined (call odin.define first)", ref.Class), nil)
	}
	st, exists, err := w.cfg.Store.Load(ref.Class, ref.ID)
	if err != nil {
		return nil, w.api.unavailable(fmt.Sprintf("loading %s: %v", ref, err))
	}
	version := st.Meta.ClassVersion
	if !exists && st.LogBase != nil {
		version = 0
	}
	if version > 0 {
		if sd := w.cfg.Classes.Get(ref.Class, version); sd != nil {
			d = sd
		}
	}
	lc, err := w.loadClass(d)
	if err != nil {
		return nil, w.api.newError("NotDefinedError", err.Error(), nil)
	}
	a := &activation{ref: ref, persistent: true, cls: lc, committed: map[string][]byte{}, exists: exists,
		classEpoch: w.cfg.Classes.Epoch(), nonce: w.rng.Uint64()}
	a.frame.act = a
	if a.dedupe, err = decodeDedupe(st.Dedupe); err != nil {
		w.cfg.Logger.Error("dedupe record unreadable; starting afresh", "object", ref.String(), "err", err)
	}
	if st.LogBase != nil {
		if failure := w.replay(a, lc, &st, exists); failure != nil {
			a.broken = w.describeError(failure)
			a.pending, a.tasklets, a.inProgress = nil, nil, nil
			w.cfg.Logger.Error("replay diverged", "object", ref.String(), "err", a.broken)
			w.printErr("odin: %s", a.broken)
			w.acts[ref] = a
			return a, nil
		}
		w.acts[ref] = a
		w.afterReplay(a)
		return a, nil
	}
	if failure := w.activationTurn(a, lc, &st, exists, nil); failure != nil {
		return nil, failure
	}
	w.acts[ref] = a
	if exists && st.Meta.ClassVersion != w.cfg.Classes.Latest(ref.Class).Version {
		w.maybeUpgrade(a)
	}
	return a, nil
}

// activationTurn builds the instance: constructor (field initialisers), the
// stored fields, onActivate. In replay ev carries the original turn's time
// and seed.
func (w *Worker) activationTurn(a *activation, lc *loadedClass, st *persist.ObjectState, exists bool, ev *logEvent) goja.Value {
	var failure goja.Value
	w.beginTurn(a, ev)
	if ev == nil {
		a.actTime, a.actSeed = w.turnTime.UnixNano(), w.turnSeed
	}
	inst, err := w.rt.New(lc.ctor)
	if err != nil {
		failure = w.api.thrown(err)
	} else {
		a.inst = inst
		failure = w.loadState(a, st, exists)
	}
	if failure == nil {
		failure = w.initCommitted(a)
	}
	if failure == nil {
		if hook, ok := goja.AssertFunction(inst.Get("onActivate")); ok {
			if _, err := hook(inst); err != nil {
				failure = w.api.thrown(err)
			}
		}
	}
	if failure != nil {
		// Activation is not a turn of the object: nothing to commit or roll back.
		w.turn.failed = nil
		w.turn.out, w.turn.posts = nil, nil
		a.inst = nil
		w.endTurn()
		return failure
	}
	// onActivate may have changed the state or started something: the turn
	// commits like any other.
	w.endTurn()
	return nil
}

// loadState sets the stored fields onto a fresh instance. Fields the class
// initialises but the stored state lacks keep their initial value only when
// the state was written by an older class version (new fields get defaults).
func (w *Worker) loadState(a *activation, st *persist.ObjectState, exists bool) goja.Value {
	if !exists {
		return nil
	}
	if st.Meta.ClassVersion == a.cls.def.Version {
		for _, k := range a.inst.Keys() {
			if !transient(k) && st.Fields[k] == nil {
				_ = a.inst.Delete(k)
			}
		}
	}
	for _, k := range st.Meta.Fields {
		b := st.Fields[k]
		if b == nil {
			continue
		}
		v, err := w.dec.Decode(b)
		if err != nil {
			return w.api.newError("Error", fmt.Sprintf("stored field %s.%s is unreadable: %v", a.ref, k, err), nil)
		}
		if err := a.inst.Set(k, v); err != nil {
			return w.api.thrown(err)
		}
		a.committed[k] = b
	}
	a.order = append([]string(nil), st.Meta.Fields...)
	return nil
}

// initCommitted makes the committed image of a virtual object the encoding
// of its initialised fields, so that a turn that changes nothing leaves it
// virtual.
func (w *Worker) initCommitted(a *activation) goja.Value {
	if a.exists {
		return nil
	}
	for _, k := range a.inst.Keys() {
		if transient(k) {
			continue
		}
		b, err := w.enc.Encode(nil, a.inst.Get(k))
		if err != nil {
			return w.api.cloneError(err, "this."+k)
		}
		a.committed[k] = b
		a.order = append(a.order, k)
	}
	return nil
}

// invoke runs one call as a turn of a, in a frame of its own.
func (w *Worker) invoke(a *activation, m *Message, ev *logEvent) {
	w.beginTurn(a, ev)
	defer w.endTurn()
	f := &frame{act: a, call: m}
	w.cur = f
	w.turn.touch(f)
	if m.CallID != "" {
		if a.inProgress == nil {
			a.inProgress = make(map[string]bool)
		}
		a.inProgress[m.CallID] = true
	}
	if !callable(m.Method) {
		w.failCall(f, w.api.newError("NotDefinedError", fmt.Sprintf("%s: %q is not callable through a Ref", a.ref, m.Method), nil), false)
		return
	}
	fn, ok := goja.AssertFunction(a.inst.Get(m.Method))
	if !ok {
		w.failCall(f, w.api.newError("NotDefinedError", fmt.Sprintf("%s has no method %q", a.ref, m.Method), nil), false)
		return
	}
	args, err := w.dec.DecodeArgs(m.Args)
	if err != nil {
		w.failCall(f, w.api.newError("DataCloneError", "arguments could not be decoded: "+err.Error(), nil), false)
		return
	}
	ret, ok := w.call(fn, a.inst, args...)
	if !ok {
		w.failCall(f, w.turn.failed, false)
		return
	}
	w.settleResult(f, ret)
}

// answerCall replies to the call a method invocation serves, once.
func (w *Worker) answerCall(f *frame, v goja.Value) {
	if !f.answered {
		f.answered = true
		w.answer(f.call, v)
	}
}

// failCall replies with a thrown value; failTurn also fails the current turn.
func (w *Worker) failCall(f *frame, v goja.Value, failTurn bool) {
	if failTurn && w.turn != nil {
		w.turn.failed = v
	}
	if !f.answered {
		f.answered = true
		w.answerError(f.call, v)
	}
}

// settleResult replies to f's call with ret, or, when ret is a pending
// promise, arranges the reply for when it settles (in a later turn of the
// same activation). A rejection fails the turn it happens in.
func (w *Worker) settleResult(f *frame, ret goja.Value) {
	if o, ok := ret.(*goja.Object); ok {
		if p, ok := o.Export().(*goja.Promise); ok {
			switch p.State() {
			case goja.PromiseStateFulfilled:
				w.answerCall(f, p.Result())
			case goja.PromiseStateRejected:
				w.markHandled(p)
				w.failCall(f, p.Result(), true)
			default:
				w.then(o, func(v goja.Value) { w.answerCall(f, v) }, func(v goja.Value) { w.failCall(f, v, true) })
			}
			return
		}
	}
	w.answerCall(f, ret)
}

// then attaches Go reactions to a promise object.
func (w *Worker) then(p *goja.Object, onF, onR func(goja.Value)) {
	thenFn, _ := goja.AssertFunction(p.Get("then"))
	f := w.rt.ToValue(func(c goja.FunctionCall) goja.Value { onF(c.Argument(0)); return goja.Undefined() })
	r := w.rt.ToValue(func(c goja.FunctionCall) goja.Value { onR(c.Argument(0)); return goja.Undefined() })
	if _, err := thenFn(p, f, r); err != nil && w.turn != nil {
		w.turn.failed = w.api.thrown(err)
	}
}

// handleReply resolves the pending operation a reply answers, as a turn of
// the activation that is waiting: wherever it lives now.
func (w *Worker) handleReply(m *Message) {
	a, ok := w.target(m, m.From.Obj)
	if !ok {
		return
	}
	w.dispatch(a, &logEvent{Kind: logReply, Seq: m.From.Seq, Payload: m.Args, Failed: m.Failed})
}

func (w *Worker) nextResult(v goja.Value, done bool) goja.Value {
	o := w.rt.NewObject()
	_ = o.Set("value", v)
	_ = o.Set("done", done)
	return o
}

func (w *Worker) resolveWith(pd *pending, v goja.Value) {
	if err := pd.resolve(v); err != nil && w.turn != nil {
		w.turn.failed = w.api.thrown(err)
	}
}

func (w *Worker) rejectWith(pd *pending, v goja.Value) {
	if err := pd.reject(v); err != nil && w.turn != nil {
		w.turn.failed = w.api.thrown(err)
	}
}

// sendInspect asks the worker hosting ref to describe it.
func (w *Worker) sendInspect(ref objects.Ref, placement bool) goja.Value {
	f := w.api.currentFrame("odin.inspect")
	pd, p := w.newPending(pendInspect)
	pd.placement = placement
	pd.deadline = w.turnNow().Add(w.cfg.CallTimeout).UnixNano()
	m := &Message{Kind: KindInspect, To: ref, Method: "inspect", From: w.address(f.act, pd.seq), Deadline: pd.deadline}
	w.track(f.act, pd, m)
	w.emit(m)
	return w.rt.ToValue(p)
}

// handleActivate activates an object (at start-up, for objects with a log).
func (w *Worker) handleActivate(m *Message) { w.target(m, m.To) }

// handleInspect answers an inspection: {class, version, id, node, vm, state,
// tasklets, log}.
func (w *Worker) handleInspect(m *Message) {
	a, ok := w.target(m, m.To)
	if !ok {
		return
	}
	o := w.rt.NewObject()
	_ = o.Set("class", a.ref.Class)
	if a.cls != nil {
		_ = o.Set("version", a.cls.def.Version)
	}
	_ = o.Set("id", a.ref.ID)
	_ = o.Set("node", w.cfg.Node)
	_ = o.Set("vm", w.cfg.Index)
	state := w.rt.NewObject()
	if a.inst != nil {
		for _, k := range a.order {
			v, err := w.dec.Decode(a.committed[k])
			if err == nil {
				_ = state.Set(k, v)
			}
		}
	} else if a.ch != nil {
		a.ch.describe(w, state)
	}
	_ = o.Set("state", state)
	_ = o.Set("exists", a.exists || a.ch != nil)
	ts := make([]any, 0, len(a.tasklets))
	for _, t := range a.sortedTasklets() {
		d := w.rt.NewObject()
		_ = d.Set("id", t.id)
		_ = d.Set("alive", t.alive)
		if t.method != "" {
			_ = d.Set("method", t.method)
		}
		ts = append(ts, d)
	}
	_ = o.Set("tasklets", w.rt.NewArray(ts...))
	_ = o.Set("log", a.logLen)
	if a.broken != "" {
		_ = o.Set("broken", a.broken)
	}
	w.answer(m, o)
}

// maybeUpgrade moves a quiescent object to the newest version of its class,
// keeping its state (through static upgrade(state, fromVersion) if the class
// has one).
func (w *Worker) maybeUpgrade(a *activation) {
	if a.cls == nil || !a.quiescent() || a.broken != "" {
		return
	}
	d := w.cfg.Classes.Latest(a.ref.Class)
	if d == nil || d == a.cls.def {
		return
	}
	lc, err := w.loadClass(d)
	if err != nil {
		w.cfg.Logger.Error("upgrade failed", "object", a.ref.String(), "err", err)
		return
	}
	w.beginTurn(a, nil)
	from := a.cls.def.Version
	state := w.rt.NewObject()
	for _, k := range a.order {
		_ = state.Set(k, a.inst.Get(k))
	}
	if up, ok := goja.AssertFunction(lc.ctor.Get("upgrade")); ok {
		nv, ok := w.call(up, lc.ctor, state, w.rt.ToValue(from))
		if !ok {
			w.cfg.Logger.Error("upgrade threw", "object", a.ref.String(), "err", w.turn.failed.String())
			w.turn.failed = nil
			w.endTurn()
			return
		}
		if o, ok := nv.(*goja.Object); ok {
			state = o
		}
	}
	inst, err := w.rt.New(lc.ctor)
	if err != nil {
		w.cfg.Logger.Error("upgrade failed", "object", a.ref.String(), "err", err)
		w.endTurn()
		return
	}
	for _, k := range state.Keys() {
		_ = inst.Set(k, state.Get(k))
	}
	a.inst, a.cls = inst, lc
	// The new version is recorded by the next commit; force one.
	a.order = nil
	w.endTurn()
}
