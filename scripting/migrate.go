package scripting

import (
	"fmt"
	"sort"

	"github.com/dop251/goja"

	"github.com/odin-db/odin/objects"
)

// Moving an object between the VMs of a node (and, in host, between nodes,
// where the store's records are carried over the network between Release
// and the new activation). Everything that describes an
// object (state, replay log, dedupe table) is in the store once its commits
// are durable, so a move is: the target holds the object's messages (Park);
// the broker sends new messages to the target; the source lets the object go
// once its commits are durable, sending on what it still had queued
// (Release); the target activates the object from the store by replay,
// suspended tasklets included, and handles the held messages in order
// (Unpark). At no moment are two activations live, and no acknowledged turn
// is lost: the source only lets go of what is durable.

// release is an activation on its way to another VM.
type release struct {
	done    func(error)
	forward []*Message // messages that reached the source meanwhile
}

// Park makes the worker hold the messages for ref until Unpark: the object
// is about to move here. It returns once the worker has done so.
func (w *Worker) Park(ref objects.Ref) error {
	done := make(chan struct{})
	if err := w.Do(func() {
		if _, ok := w.parked[ref]; !ok {
			w.parked[ref] = nil
		}
		close(done)
	}); err != nil {
		return err
	}
	<-done
	return nil
}

// Unpark ends Park: the held messages are handled in the order they came,
// the first one activating the object from the store.
func (w *Worker) Unpark(ref objects.Ref) error {
	return w.Do(func() {
		msgs := w.parked[ref]
		delete(w.parked, ref)
		for _, m := range msgs {
			w.post(event{kind: evMessage, msg: m})
		}
	})
}

// Release lets go of ref once its commits are durable: the activation is
// dropped (timers stopped, queued messages sent on to where the broker
// places ref now) and done is called on the worker's goroutine. An object
// not active here is released at once.
func (w *Worker) Release(ref objects.Ref, done func(error)) error {
	return w.Do(func() {
		a := w.acts[ref]
		if a == nil {
			done(nil)
			return
		}
		if a.releasing != nil {
			done(fmt.Errorf("scripting: %s is already moving", ref))
			return
		}
		if _, _, eph := EphemeralChannel(ref); eph || a.script {
			done(fmt.Errorf("scripting: %s cannot move: it belongs to a script", ref))
			return
		}
		a.releasing = &release{done: done}
		if a.inflight == 0 {
			w.finishRelease(a)
		}
	})
}

func (w *Worker) finishRelease(a *activation) {
	r := a.releasing
	w.forget(a)
	for _, pd := range a.pending {
		if pd.timer != nil {
			pd.timer.Stop()
		}
	}
	var msgs []*Message
	msgs = append(msgs, a.waiting...)
	if c := a.ch; c != nil {
		// A channel's waiting parties are calls not answered yet: the
		// channel's new activation takes them anew.
		for _, s := range c.senders {
			msgs = append(msgs, s.m)
		}
		msgs = append(msgs, c.receivers...)
	}
	msgs = append(msgs, r.forward...)
	if a.persistent && a.ch == nil && !a.quiescent() {
		// Its timers and unstarted tasklets wait for no message: the new
		// activation must start now, not at the next call.
		msgs = append(msgs, &Message{Kind: KindActivate, To: a.ref})
	}
	for _, m := range msgs {
		if err := w.cfg.Router.Route(m); err != nil {
			w.cfg.Logger.Error("forwarding after a move failed", "object", a.ref.String(), "err", err)
		}
	}
	r.done(nil)
}

// callStats counts an object's incoming calls by the VM they came from,
// over a window, for placement by access frequency.
type callStats struct {
	byVM  map[int]int
	total int
}

func (c *callStats) count(from Address) {
	if from.Node == "" {
		return
	}
	if c.byVM == nil {
		c.byVM = make(map[int]int, 2)
	}
	c.byVM[from.VM]++
	c.total++
}

// Placement policy: an object whose calls came mostly from one other VM
// moves there.
const (
	placementMinCalls = 100 // calls in a window before the object may move
	placementShare    = 2.0 / 3
)

// MoveRequest is an object the worker would rather have elsewhere.
type MoveRequest struct {
	Ref objects.Ref
	VM  int
}

// placementWindow ends a window of call counts: it returns the objects whose
// calls came mostly from another VM of this node, and resets the counts.
func (w *Worker) placementWindow() []MoveRequest {
	var out []MoveRequest
	for _, a := range w.acts {
		c := &a.calls
		if c.total >= placementMinCalls && IsObject(a.ref) && a.releasing == nil {
			best, n := -1, 0
			for vm, k := range c.byVM {
				if k > n || (k == n && vm < best) {
					best, n = vm, k
				}
			}
			if best != w.cfg.Index && float64(n) >= placementShare*float64(c.total) {
				out = append(out, MoveRequest{Ref: a.ref, VM: best})
			}
		}
		c.byVM, c.total = nil, 0
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref.String() < out[j].Ref.String() })
	return out
}

// Busiest returns up to n objects of this worker with the most calls in the
// current window (for moving load off a VM whose queue stays long).
func (w *Worker) Busiest(n int) []objects.Ref {
	ch := make(chan []objects.Ref, 1)
	if err := w.Do(func() {
		type hot struct {
			ref objects.Ref
			n   int
		}
		var hs []hot
		for _, a := range w.acts {
			if IsObject(a.ref) && a.releasing == nil && a.calls.total > 0 {
				hs = append(hs, hot{a.ref, a.calls.total})
			}
		}
		sort.Slice(hs, func(i, j int) bool { return hs[i].n > hs[j].n })
		var out []objects.Ref
		for i := 0; i < len(hs) && i < n; i++ {
			out = append(out, hs[i].ref)
		}
		ch <- out
	}); err != nil {
		return nil
	}
	return <-ch
}

// QueueLen is how many events wait for the worker (approximate).
func (w *Worker) QueueLen() int { return int(w.qlen.Load()) }

func (x *api) migrate(c goja.FunctionCall) goja.Value {
	w := x.w
	info := x.refInfoOf(c.Argument(0))
	node, vm := "", -1
	if o, ok := c.Argument(1).(*goja.Object); ok {
		if n := o.Get("node"); n != nil && !goja.IsUndefined(n) && !goja.IsNull(n) {
			if node = n.String(); node == "" {
				x.throw("TypeError", "odin.migrate: node must be a node's name")
			}
		}
		if v := o.Get("vm"); v != nil && !goja.IsUndefined(v) && !goja.IsNull(v) {
			if vm = int(v.ToInteger()); vm < 0 {
				x.throw("RangeError", "odin.migrate: vm must be a VM number from 0, not %s", v.String())
			}
		}
	}
	if !IsObject(info.ref) {
		x.throw("TypeError", "%s cannot be moved: only objects move", info.ref)
	}
	pd, p := w.newPending(pendLocal)
	a := pd.frame.act
	seq := pd.seq
	if w.replaying {
		return w.rt.ToValue(p)
	}
	start := func() {
		w.cfg.Router.Migrate(info.ref, node, vm, func(err error) {
			_ = w.Do(func() {
				if a.pending[seq] != pd {
					return
				}
				if err != nil {
					pd.value, pd.failed = w.api.newError("UnavailableError", err.Error(), nil), true
				}
				w.handle(event{kind: evResume, act: a, pend: seq})
			})
		})
	}
	if w.turn != nil {
		w.turn.posts = append(w.turn.posts, event{kind: evFunc, fn: start})
	} else {
		start()
	}
	return w.rt.ToValue(p)
}

// placement asks the worker hosting the object, wherever it is, for its
// node and VM (an inspection answered with just those).
func (x *api) placement(c goja.FunctionCall) goja.Value {
	info := x.refInfoOf(c.Argument(0))
	return x.w.sendInspect(info.ref, true)
}
