package scripting

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// tasklet is a lightweight thread of JS code: an async function started by
// odin.spawn, belonging to the activation (object or script) that spawned it.
type tasklet struct {
	id      uint64
	frame   frame
	fn      goja.Callable
	args    []goja.Value
	obj     *goja.Object
	alive   bool
	killed  bool
	started bool
	done    bool
	failed  bool
	result  goja.Value
	joined  bool
	joiners []*pending
	current uint64 // the pending op the tasklet awaits, 0 if none known
	// onDone, if set, is told the outcome (used for a script's main tasklet).
	onDone func(v goja.Value, failed bool)
	// A tasklet of an object spawned with one of its methods can be restarted
	// from that method by a replay after a checkpoint.
	method       string
	argBytes     []byte
	this         goja.Value // the instance, for a tasklet started from a method
	atCheckpoint uint64     // the seq of the checkpoint it is suspended at, 0 if none
	cpSeq        uint64     // the seq of its last checkpoint
	pastCP       bool       // that checkpoint has been resumed
	resumes      int        // events that resumed it since it started or its last checkpoint was resumed
	restartSeq   uint64     // replay: the seq its next operation must take
}

func (a *activation) sortedTasklets() []*tasklet {
	ts := make([]*tasklet, 0, len(a.tasklets))
	for _, t := range a.tasklets {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].id < ts[j].id })
	return ts
}

func (x *api) installTasklets() {
	rt := x.rt
	p := rt.NewObject()
	get := func(c goja.FunctionCall) *tasklet {
		if o, ok := c.This.(*goja.Object); ok {
			if v := o.GetSymbol(x.taskSym); v != nil {
				if t, ok := v.Export().(*tasklet); ok {
					return t
				}
			}
		}
		x.throw("TypeError", "not a Tasklet")
		return nil
	}
	_ = p.DefineDataProperty("join", rt.ToValue(func(c goja.FunctionCall) goja.Value { return x.w.join(get(c)) }), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	_ = p.DefineDataProperty("kill", rt.ToValue(func(c goja.FunctionCall) goja.Value { x.w.kill(get(c)); return goja.Undefined() }), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	_ = p.DefineAccessorProperty("alive", rt.ToValue(func(c goja.FunctionCall) goja.Value { return rt.ToValue(get(c).alive) }), nil, goja.FLAG_TRUE, goja.FLAG_FALSE)
	_ = p.DefineDataProperty("toString", rt.ToValue(func(c goja.FunctionCall) goja.Value {
		return rt.ToValue(fmt.Sprintf("Tasklet<%d>", get(c).id))
	}), goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	x.taskProto = p
}

// TaskletOf reports whether o is a Tasklet object, and its id and liveness.
func (x *api) taskletOf(o *goja.Object) (*tasklet, bool) {
	v := o.GetSymbol(x.taskSym)
	if v == nil {
		return nil, false
	}
	t, ok := v.Export().(*tasklet)
	return t, ok
}

func (x *api) spawn(c goja.FunctionCall) goja.Value {
	f := x.currentFrame("odin.spawn")
	fn, ok := goja.AssertFunction(c.Argument(0))
	if !ok {
		x.throw("TypeError", "odin.spawn(fn, ...args) needs a function")
	}
	var args []goja.Value
	if len(c.Arguments) > 1 {
		args = append(args, c.Arguments[1:]...)
	}
	w := x.w
	a := f.act
	method, argBytes := "", []byte(nil)
	if a.inst != nil {
		// A tasklet started from a method of the object, with cloneable
		// arguments, can be restarted from them after a checkpoint; it gets
		// copies of its arguments, as a restarted one would.
		if method = methodOf(a.inst, c.Argument(0)); method != "" {
			if b, err := w.enc.EncodeArgs(nil, args); err == nil {
				if copies, err := w.dec.DecodeArgs(b); err == nil {
					args, argBytes = copies, b
				}
			} else {
				method = ""
			}
		}
	}
	a.nextTask++
	t := w.newTasklet(a, a.nextTask, fn, args)
	t.method, t.argBytes = method, argBytes
	if method != "" {
		t.this = a.inst
	}
	w.scheduleStart(t)
	return t.obj
}

// methodOf returns the name of inst's method that fn is, or "".
func methodOf(inst *goja.Object, fn goja.Value) string {
	for p := inst.Prototype(); p != nil; p = p.Prototype() {
		for _, n := range p.GetOwnPropertyNames() {
			if n != "constructor" && p.Get(n).SameAs(fn) {
				return n
			}
		}
	}
	return ""
}

// spawnTasklet creates a tasklet of a (a script) and schedules its start.
func (w *Worker) spawnTasklet(a *activation, fn goja.Callable, args []goja.Value, onDone func(goja.Value, bool)) *tasklet {
	a.nextTask++
	t := w.newTasklet(a, a.nextTask, fn, args)
	t.onDone = onDone
	w.scheduleStart(t)
	return t
}

// newTasklet creates a tasklet of a with a given number.
func (w *Worker) newTasklet(a *activation, id uint64, fn goja.Callable, args []goja.Value) *tasklet {
	t := &tasklet{id: id, fn: fn, args: args, alive: true}
	t.frame = frame{act: a, task: t}
	t.obj = w.rt.CreateObject(w.api.taskProto)
	_ = t.obj.DefineDataPropertySymbol(w.api.taskSym, w.rt.ToValue(t), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE)
	_ = t.obj.DefineDataProperty("id", w.rt.ToValue(t.id), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE)
	if a.tasklets == nil {
		a.tasklets = make(map[uint64]*tasklet)
	}
	a.tasklets[t.id] = t
	return t
}

// scheduleStart starts a tasklet at the next scheduling point.
func (w *Worker) scheduleStart(t *tasklet) {
	ev := event{kind: evTaskStart, task: t}
	if w.turn != nil {
		w.turn.posts = append(w.turn.posts, ev)
	} else {
		w.post(ev)
	}
}

// startTasklet runs a tasklet's function, in a turn of its activation.
func (w *Worker) startTasklet(t *tasklet, ev *logEvent) {
	if t.done || t.started {
		return
	}
	t.started = true
	w.runInFrame(&t.frame, ev, func() {
		this := t.this
		if this == nil {
			this = goja.Undefined()
		}
		ret, err := t.fn(this, t.args...)
		t.args = nil
		if err != nil {
			w.finishTasklet(t, w.api.thrown(err), true)
			return
		}
		if o, ok := ret.(*goja.Object); ok {
			if p, ok := o.Export().(*goja.Promise); ok {
				switch p.State() {
				case goja.PromiseStateFulfilled:
					w.finishTasklet(t, p.Result(), false)
				case goja.PromiseStateRejected:
					w.markHandled(p)
					w.finishTasklet(t, p.Result(), true)
				default:
					w.then(o, func(v goja.Value) { w.finishTasklet(t, v, false) },
						func(v goja.Value) { w.finishTasklet(t, v, true) })
				}
				return
			}
		}
		w.finishTasklet(t, ret, false)
	})
}

// finishTasklet records a tasklet's outcome and settles its joiners. The
// first outcome wins: a killed tasklet stays killed.
func (w *Worker) finishTasklet(t *tasklet, v goja.Value, failed bool) {
	if t.done {
		return
	}
	t.done, t.alive, t.result, t.failed = true, false, v, failed
	delete(t.frame.act.tasklets, t.id)
	if t.onDone != nil {
		t.onDone(v, failed)
		return
	}
	for _, pd := range t.joiners {
		if w.settle(t.frame.act, pd.seq) == nil {
			continue
		}
		if failed {
			w.rejectWith(pd, v)
		} else {
			w.resolveWith(pd, v)
		}
	}
	t.joiners = nil
	if failed && !t.joined && !t.killed {
		w.printErr("Tasklet %d failed (nobody joined it): %s", t.id, w.describeError(v))
	}
}

func (w *Worker) join(t *tasklet) goja.Value {
	t.joined = true
	if t.done {
		p, resolve, reject := w.rt.NewPromise()
		if t.failed {
			_ = reject(t.result)
		} else {
			_ = resolve(t.result)
		}
		return w.rt.ToValue(p)
	}
	pd, p := w.newPending(pendJoin)
	t.joiners = append(t.joiners, pd)
	return w.rt.ToValue(p)
}

// kill ends a tasklet at its current await: the op it awaits is rejected
// with KilledError (so its finally blocks run) and join() rejects with
// KilledError.
func (w *Worker) kill(t *tasklet) {
	if t.done {
		return
	}
	t.killed = true
	killed := w.api.newError("KilledError", fmt.Sprintf("tasklet %d was killed", t.id), nil)
	a := t.frame.act
	if t.current != 0 {
		if pd := w.settle(a, t.current); pd != nil {
			if pd.channel.Class != "" {
				w.emit(&Message{Kind: KindCall, To: pd.channel, Method: "$cancel", From: w.address(a, pd.seq)})
			}
			w.rejectWith(pd, killed)
		}
	}
	w.finishTasklet(t, killed, true)
}

// printErr writes one message to the worker's stderr.
func (w *Worker) printErr(format string, a ...any) {
	w.cfg.Output.Lock()
	fmt.Fprintf(w.cfg.Stderr, format+"\n", a...)
	w.cfg.Output.Unlock()
}

// describeError renders a thrown value: its stack if it has one.
func (w *Worker) describeError(v goja.Value) string {
	if o, ok := v.(*goja.Object); ok {
		if st := o.Get("stack"); st != nil && !goja.IsUndefined(st) {
			// goja indents frames with a tab; Node with four spaces.
			return strings.TrimRight(strings.ReplaceAll(st.String(), "\tat ", "    at "), "\n ")
		}
	}
	return w.inspectValue(v)
}

func (x *api) sleep(c goja.FunctionCall) goja.Value {
	x.currentFrame("odin.sleep")
	ms := c.Argument(0).ToFloat()
	if !(ms >= 0) {
		ms = 0
	}
	w := x.w
	a := w.cur.act
	pd, p := w.newPending(pendSleep)
	d := time.Duration(ms * float64(time.Millisecond))
	pd.due = w.turnNow().Add(d).UnixNano()
	start := func() { w.armTimer(a, pd, d) }
	if w.turn != nil {
		// The timer starts when the turn's output is released.
		w.turn.posts = append(w.turn.posts, event{kind: evFunc, fn: start})
	} else {
		start()
	}
	return w.rt.ToValue(p)
}

func (x *api) yield(goja.FunctionCall) goja.Value {
	x.currentFrame("odin.yield")
	pd, p := x.w.newPending(pendLocal)
	x.w.postResume(pd)
	return x.w.rt.ToValue(p)
}

// postResume resumes a local op at the next scheduling point (after the
// current turn's commit).
func (w *Worker) postResume(pd *pending) {
	ev := event{kind: evResume, act: pd.frame.act, pend: pd.seq}
	if w.turn != nil {
		w.turn.posts = append(w.turn.posts, ev)
	} else {
		w.post(ev)
	}
}

// checkpoint is odin.checkpoint(): a scheduling point at which a tasklet of
// an object declares that its locals carry nothing over. When every tasklet
// of the object sits at one, the object's log is cut (log.go).
func (x *api) checkpoint(goja.FunctionCall) goja.Value {
	w := x.w
	f := x.currentFrame("odin.checkpoint")
	t := f.task
	if t == nil || f.act.inst == nil {
		// Outside an object's tasklet there is no log to cut: a yield.
		return x.yield(goja.FunctionCall{})
	}
	if t.method == "" {
		x.throw("Error", "odin.checkpoint() needs a tasklet started from a method of the object with cloneable arguments, as in odin.spawn(this.loop, ch): a closure cannot be restarted after a restart or a move")
	}
	pd, p := w.newPending(pendLocal)
	pd.checkpoint = true
	t.atCheckpoint, t.cpSeq = pd.seq, pd.seq
	w.postResume(pd)
	return w.rt.ToValue(p)
}

// exclusive is a critical section of an object: while it runs, no other call
// to the object starts (replies to the object's own calls still arrive).
type exclusive struct {
	queue []*pending // sections waiting to enter
}

func (x *api) exclusive(c goja.FunctionCall) goja.Value {
	f := x.currentFrame("odin.exclusive")
	fn, ok := goja.AssertFunction(c.Argument(0))
	if !ok {
		x.throw("TypeError", "odin.exclusive(fn) needs a function")
	}
	w := x.w
	a := f.act
	result, resolve, reject := w.rt.NewPromise()
	run := func() {
		ret, err := fn(goja.Undefined())
		if err != nil {
			w.leaveExclusive(a)
			_ = reject(w.api.thrown(err))
			return
		}
		if o, ok := ret.(*goja.Object); ok {
			if _, ok := o.Export().(*goja.Promise); ok {
				w.then(o, func(v goja.Value) { w.leaveExclusive(a); _ = resolve(v) },
					func(v goja.Value) { w.leaveExclusive(a); _ = reject(v) })
				return
			}
		}
		w.leaveExclusive(a)
		_ = resolve(ret)
	}
	if a.excl == nil {
		a.excl = &exclusive{}
		run()
	} else {
		pd, p := w.newPending(pendLocal)
		a.excl.queue = append(a.excl.queue, pd)
		w.then(w.rt.ToValue(p).ToObject(w.rt), func(goja.Value) { run() }, func(v goja.Value) { _ = reject(v) })
	}
	return w.rt.ToValue(result)
}

// leaveExclusive hands the section to the next waiter, or ends it and lets
// the calls that waited start.
func (w *Worker) leaveExclusive(a *activation) {
	ex := a.excl
	if ex == nil {
		return
	}
	for len(ex.queue) > 0 {
		pd := ex.queue[0]
		ex.queue = ex.queue[1:]
		if a.pending[pd.seq] == pd {
			w.postResume(pd)
			return
		}
	}
	a.excl = nil
	waiting := a.waiting
	a.waiting = nil
	for _, m := range waiting {
		ev := event{kind: evMessage, msg: m}
		if w.turn != nil {
			w.turn.posts = append(w.turn.posts, ev)
		} else {
			w.post(ev)
		}
	}
}

// console builds the console global.
func (x *api) console() *goja.Object {
	o := x.rt.NewObject()
	out := func(stderr bool) func(goja.FunctionCall) goja.Value {
		return func(c goja.FunctionCall) goja.Value {
			s := x.w.formatArgs(c.Arguments)
			var dst io.Writer = x.w.cfg.Stdout
			if stderr {
				dst = x.w.cfg.Stderr
			}
			x.w.cfg.Output.Lock()
			_, _ = io.WriteString(dst, s+"\n")
			x.w.cfg.Output.Unlock()
			return goja.Undefined()
		}
	}
	for _, n := range []string{"log", "info", "debug"} {
		_ = o.Set(n, out(false))
	}
	for _, n := range []string{"error", "warn", "trace"} {
		_ = o.Set(n, out(true))
	}
	return o
}
