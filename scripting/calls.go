package scripting

import (
	"fmt"
	"strconv"

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
	pd, p := w.newPending()
	timeout := info.timeout
	if timeout == 0 {
		timeout = w.cfg.CallTimeout
	}
	pd.deadline = w.cfg.Now().Add(timeout).UnixNano()
	w.watchDeadline(pd)
	m := &Message{Kind: KindCall, To: info.ref, Method: method, Args: buf,
		From: Address{Node: w.cfg.Node, VM: w.cfg.Index, Pending: pd.id}, Deadline: pd.deadline}
	if !f.act.script {
		m.CallID = f.act.ref.String() + "#" + strconv.FormatUint(pd.id, 10)
	}
	if w.turn != nil {
		w.turn.calls = append(w.turn.calls, pd.id)
	}
	w.emit(m)
	return w.rt.ToValue(p)
}

// handleCall delivers a call to the object it names, activating it first.
func (w *Worker) handleCall(m *Message) {
	if m.To.Class == channelClass {
		w.channelCall(m)
		return
	}
	a, errv := w.activate(m.To)
	if errv != nil {
		w.answerOutside(m, errv)
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
	w.invoke(a, m)
}

// answerOutside answers a message outside any turn (the object could not be
// activated): the reply leaves at once.
func (w *Worker) answerOutside(m *Message, errv goja.Value) {
	w.answerError(m, errv)
}

// activate returns the activation of ref in this worker, loading the object
// from the store (or creating it virtually) if needed.
func (w *Worker) activate(ref objects.Ref) (*activation, goja.Value) {
	if a := w.acts[ref]; a != nil {
		return a, nil
	}
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
	if exists {
		if sd := w.cfg.Classes.Get(ref.Class, st.Meta.ClassVersion); sd != nil {
			d = sd
		}
	}
	lc, err := w.loadClass(d)
	if err != nil {
		return nil, w.api.newError("NotDefinedError", err.Error(), nil)
	}
	a := &activation{ref: ref, persistent: true, cls: lc, committed: map[string][]byte{}, exists: exists,
		classEpoch: w.cfg.Classes.Epoch()}
	a.frame.act = a
	var failure goja.Value
	w.beginTurn(a)
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
		return nil, failure
	}
	w.acts[ref] = a
	// An upgrade or onActivate may have changed the state: commit it.
	w.endTurn()
	if exists && st.Meta.ClassVersion != w.cfg.Classes.Latest(ref.Class).Version {
		w.maybeUpgrade(a)
	}
	return a, nil
}

// loadState sets the stored fields onto a fresh instance. Fields the class
// initialises but the stored state lacks keep their initial value only when
// the state was written by an older class version (new fields get defaults).
func (w *Worker) loadState(a *activation, st persist.ObjectState, exists bool) goja.Value {
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

// invoke runs one call as a turn of a.
func (w *Worker) invoke(a *activation, m *Message) {
	w.beginTurn(a)
	defer w.endTurn()
	if !callable(m.Method) {
		w.answerError(m, w.api.newError("NotDefinedError", fmt.Sprintf("%s: %q is not callable through a Ref", a.ref, m.Method), nil))
		return
	}
	fn, ok := goja.AssertFunction(a.inst.Get(m.Method))
	if !ok {
		w.answerError(m, w.api.newError("NotDefinedError", fmt.Sprintf("%s has no method %q", a.ref, m.Method), nil))
		return
	}
	args, err := w.dec.DecodeArgs(m.Args)
	if err != nil {
		w.answerError(m, w.api.newError("DataCloneError", "arguments could not be decoded: "+err.Error(), nil))
		return
	}
	ret, ok := w.call(fn, a.inst, args...)
	if !ok {
		w.answerError(m, w.turn.failed)
		return
	}
	w.settleResult(m, ret, true)
}

// settleResult replies to m with ret, or, when ret is a pending promise,
// arranges the reply for when it settles (in a later turn of the same
// activation). failTurn says whether a rejection fails the turn it happens in.
func (w *Worker) settleResult(m *Message, ret goja.Value, failTurn bool) {
	if o, ok := ret.(*goja.Object); ok {
		if p, ok := o.Export().(*goja.Promise); ok {
			switch p.State() {
			case goja.PromiseStateFulfilled:
				w.answer(m, p.Result())
			case goja.PromiseStateRejected:
				w.markHandled(p)
				if failTurn {
					w.turn.failed = p.Result()
				}
				w.answerError(m, p.Result())
			default:
				w.then(o, func(v goja.Value) { w.answer(m, v) }, func(v goja.Value) {
					if failTurn && w.turn != nil {
						w.turn.failed = v
					}
					w.answerError(m, v)
				})
			}
			return
		}
	}
	w.answer(m, ret)
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

// handleReply resolves the pending call a reply answers, as a turn of the
// activation that made the call.
func (w *Worker) handleReply(m *Message) {
	pd := w.settle(m.From.Pending)
	if pd == nil {
		return // answered already (timed out, killed)
	}
	w.runInFrame(pd.frame, func() {
		v, err := w.dec.Decode(m.Args)
		if err != nil {
			w.rejectWith(pd, w.api.newError("DataCloneError", "reply could not be decoded: "+err.Error(), nil))
			return
		}
		if m.Failed {
			if pd.next {
				if o, ok := v.(*goja.Object); ok && o.Get("name") != nil && o.Get("name").String() == "ChannelClosedError" {
					w.resolveWith(pd, w.nextResult(goja.Undefined(), true))
					return
				}
			}
			w.rejectWith(pd, v)
			return
		}
		if pd.next {
			v = w.nextResult(v, false)
		}
		w.resolveWith(pd, v)
	})
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

// resumeLocal settles a local pending op (timer, yield, join) in its frame.
func (w *Worker) resumeLocal(id uint64, _ error) {
	pd := w.settle(id)
	if pd == nil {
		return
	}
	w.runInFrame(pd.frame, func() {
		v := pd.value
		if v == nil {
			v = goja.Undefined()
		}
		w.resolveWith(pd, v)
	})
}

// sendInspect asks the worker hosting ref to describe it.
func (w *Worker) sendInspect(ref objects.Ref, placementOnly bool) goja.Value {
	w.api.currentFrame("odin.inspect")
	pd, p := w.newPending()
	pd.deadline = w.cfg.Now().Add(w.cfg.CallTimeout).UnixNano()
	w.watchDeadline(pd)
	method := "inspect"
	if placementOnly {
		method = "placement"
	}
	w.emit(&Message{Kind: KindInspect, To: ref, Method: method,
		From: Address{Node: w.cfg.Node, VM: w.cfg.Index, Pending: pd.id}, Deadline: pd.deadline})
	return w.rt.ToValue(p)
}

// handleInspect answers an inspection: {class, version, id, node, vm, state,
// tasklets, log}, or {node, vm} for a placement query.
func (w *Worker) handleInspect(m *Message) {
	var a *activation
	var errv goja.Value
	if m.To.Class == channelClass {
		a = w.channelActivation(m.To)
	} else {
		a, errv = w.activate(m.To)
	}
	if errv != nil {
		w.answerError(m, errv)
		return
	}
	o := w.rt.NewObject()
	if m.Method == "placement" {
		_ = o.Set("node", w.cfg.Node)
		_ = o.Set("vm", w.cfg.Index)
		w.answer(m, o)
		return
	}
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
		ts = append(ts, d)
	}
	_ = o.Set("tasklets", w.rt.NewArray(ts...))
	_ = o.Set("log", 0)
	w.answer(m, o)
}

// maybeUpgrade moves a quiescent object to the newest version of its class,
// keeping its state (through static upgrade(state, fromVersion) if the class
// has one).
func (w *Worker) maybeUpgrade(a *activation) {
	if a.cls == nil || !a.quiescent() {
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
	w.beginTurn(a)
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
