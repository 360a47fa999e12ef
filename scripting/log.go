package scripting

import (
	"bytes"
	"fmt"
	"sort"
	"time"

	"github.com/dop251/goja"
	"github.com/fxamacker/cbor/v2"

	"github.com/odin-db/odin/persist"
)

// The object log: how a suspended tasklet or method survives a restart or a
// move. goja cannot serialise a suspended async function, so an object that
// is not quiescent keeps its base state (its state when it last was, or its
// last checkpoint) and every event delivered since, each with the time and
// random seed its turn saw. Replay builds a fresh instance from the base and
// delivers the events again with their effects suppressed; the pending
// operations come back under the same numbers, so replies, timers and
// resumptions find them. Afterwards the state must encode exactly as
// committed, or the object is NondeterminismError.

// logKind is what a logged event delivered.
type logKind uint8

const (
	logCall     logKind = iota + 1 // a call to a method
	logReply                       // the reply to operation Seq
	logResume                      // the resumption of local operation Seq (timer, yield, checkpoint)
	logStart                       // the start of tasklet Seq
	logDeadline                    // the deadline of operation Seq passed
)

// logEvent is one delivered event.
type logEvent struct {
	Kind logKind   `cbor:"1,keyasint"`
	Time int64     `cbor:"2,keyasint"`
	Seed [2]uint64 `cbor:"3,keyasint"`
	Seq  uint64    `cbor:"4,keyasint,omitempty"`
	// logCall: the call; logReply: Payload and Failed.
	Method   string  `cbor:"5,keyasint,omitempty"`
	Payload  []byte  `cbor:"6,keyasint,omitempty"`
	Failed   bool    `cbor:"7,keyasint,omitempty"`
	From     Address `cbor:"8,keyasint,omitempty"`
	CallID   string  `cbor:"9,keyasint,omitempty"`
	Deadline int64   `cbor:"10,keyasint,omitempty"`
}

// logBase is the state a replay starts from.
type logBase struct {
	Order    []string  `cbor:"1,keyasint"`
	Values   [][]byte  `cbor:"2,keyasint"`
	Seq      uint64    `cbor:"3,keyasint"` // the activation's operation counter
	NextTask uint64    `cbor:"4,keyasint"` // and tasklet counter
	ActTime  int64     `cbor:"5,keyasint"` // the activation turn's time and seed
	ActSeed  [2]uint64 `cbor:"6,keyasint"`
	// Tasklets suspended at odin.checkpoint() when the log was truncated:
	// replay restarts each from its method and runs it to its checkpoint.
	Tasklets []checkpointed `cbor:"7,keyasint,omitempty"`
	Exists   bool           `cbor:"8,keyasint,omitempty"`
	Nonce    uint64         `cbor:"9,keyasint"` // the activation's call-id nonce
}

type checkpointed struct {
	ID     uint64 `cbor:"1,keyasint"`
	Method string `cbor:"2,keyasint"`
	Args   []byte `cbor:"3,keyasint"`
	Seq    uint64 `cbor:"4,keyasint"`           // the number of the first operation the re-run awaits
	Then   uint64 `cbor:"5,keyasint,omitempty"` // if that is a checkpoint to pass: the number of the next one
}

var (
	logEnc = func() cbor.EncMode {
		m, err := cbor.CoreDetEncOptions().EncMode()
		if err != nil {
			panic(err)
		}
		return m
	}()
	logDec = func() cbor.DecMode {
		m, err := cbor.DecOptions{MaxArrayElements: 1 << 20, MaxMapPairs: 1 << 20, MaxNestedLevels: 16}.DecMode()
		if err != nil {
			panic(err)
		}
		return m
	}()
)

// mustMarshal encodes a log record. The records are plain structs of
// strings, numbers and bytes, so an error is a bug.
func mustMarshal(what string, v any) []byte {
	b, err := logEnc.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("scripting: encoding a %s: %v", what, err))
	}
	return b
}

func (e *logEvent) encode() []byte { return mustMarshal("log event", e) }

func (b *logBase) encode() []byte { return mustMarshal("log base", b) }

func decodeLogEvent(b []byte) (*logEvent, error) {
	var e logEvent
	if err := logDec.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("scripting: a log event is unreadable: %w", err)
	}
	return &e, nil
}

func decodeLogBase(b []byte) (*logBase, error) {
	var lb logBase
	if err := logDec.Unmarshal(b, &lb); err != nil {
		return nil, fmt.Errorf("scripting: a log base is unreadable: %w", err)
	}
	if len(lb.Order) != len(lb.Values) {
		return nil, fmt.Errorf("scripting: a log base has %d fields and %d values", len(lb.Order), len(lb.Values))
	}
	return &lb, nil
}

// snapshotBase is the committed image before the current turn: the base of
// a log that starts with this turn.
func (w *Worker) snapshotBase(a *activation, t *turnState) *logBase {
	lb := &logBase{Order: append([]string(nil), a.order...), Seq: t.seq0, NextTask: t.task0,
		ActTime: a.actTime, ActSeed: a.actSeed, Exists: a.exists, Nonce: a.nonce}
	for _, k := range a.order {
		lb.Values = append(lb.Values, a.committed[k])
	}
	return lb
}

// restartPoint is how far a tasklet can be restarted: it was started from a
// method of the object and is suspended at an odin.checkpoint(), at the
// first operation it awaited since it started, or at the first operation it
// awaited after its last checkpoint was resumed. Replay re-runs the method
// to that point: to the operation numbered seq, and, when then is not 0,
// past that checkpoint to the operation numbered then. seq 0: not
// restartable.
func restartPoint(t *tasklet) (seq, then uint64) {
	switch {
	case t.method == "" || !t.started:
		return 0, 0
	case t.atCheckpoint != 0:
		return t.atCheckpoint, 0
	case t.resumes != 0 || t.current == 0:
		return 0, 0
	case t.pastCP:
		return t.cpSeq, t.current
	}
	return t.current, 0
}

// truncatable: every live tasklet can be restarted from its method (see
// restartPoint), nothing else is pending and no method is running, so the
// current state and the tasklets' methods describe the object: the log can
// start again.
func (w *Worker) truncatable(a *activation) bool {
	if len(a.tasklets) == 0 || len(a.pending) != len(a.tasklets) || a.excl != nil || len(a.inProgress) > 0 || len(a.waiting) > 0 {
		return false
	}
	for _, t := range a.tasklets {
		seq, then := restartPoint(t)
		if then != 0 {
			seq = then
		}
		if seq == 0 || a.pending[seq] == nil {
			return false
		}
	}
	return true
}

func (w *Worker) checkpointBase(a *activation) *logBase {
	lb := &logBase{Order: append([]string(nil), a.order...), Seq: a.seq, NextTask: a.nextTask,
		ActTime: a.actTime, ActSeed: a.actSeed, Exists: a.exists, Nonce: a.nonce}
	for _, k := range a.order {
		lb.Values = append(lb.Values, a.committed[k])
	}
	for _, t := range a.sortedTasklets() {
		seq, then := restartPoint(t)
		lb.Tasklets = append(lb.Tasklets, checkpointed{ID: t.id, Method: t.method, Args: t.argBytes, Seq: seq, Then: then})
	}
	return lb
}

// dispatch delivers one event to an activation as a turn: live (the event
// is then logged if the object is not quiescent) or in replay.
func (w *Worker) dispatch(a *activation, ev *logEvent) {
	switch ev.Kind {
	case logCall:
		m := &Message{Kind: KindCall, To: a.ref, Method: ev.Method, Args: ev.Payload, From: ev.From,
			CallID: ev.CallID, Deadline: ev.Deadline}
		w.invoke(a, m, ev)
	case logReply:
		pd := w.settle(a, ev.Seq)
		if pd == nil {
			return
		}
		markResumed(pd)
		w.runInFrame(pd.frame, ev, func() {
			var v goja.Value
			var err error
			if pd.kind == pendFind && !ev.Failed {
				v, err = w.findResult(ev.Payload, pd.sel, pd.partial)
			} else {
				v, err = w.dec.Decode(ev.Payload)
			}
			if err != nil {
				w.rejectWith(pd, w.api.newError("DataCloneError", "reply could not be decoded: "+err.Error(), nil))
				return
			}
			if ev.Failed {
				if pd.next && isNamed(v, "ChannelClosedError") {
					w.resolveWith(pd, w.nextResult(goja.Undefined(), true))
					return
				}
				w.rejectWith(pd, v)
				return
			}
			if pd.next {
				v = w.nextResult(v, false)
			}
			if o, ok := v.(*goja.Object); ok && pd.placement {
				p := w.rt.NewObject()
				_ = p.Set("node", o.Get("node"))
				_ = p.Set("vm", o.Get("vm"))
				v = p
			}
			w.resolveWith(pd, v)
		})
	case logResume:
		pd := w.settle(a, ev.Seq)
		if pd == nil {
			return
		}
		markResumed(pd)
		if !w.replaying && pd.value != nil {
			// The resumption's value is logged: a replay cannot recompute it.
			if b, err := w.enc.Encode(nil, pd.value); err == nil {
				ev.Payload, ev.Failed = b, pd.failed
			}
		}
		w.runInFrame(pd.frame, ev, func() {
			var v goja.Value = goja.Undefined()
			if ev.Payload != nil {
				if dv, err := w.dec.Decode(ev.Payload); err == nil {
					v = dv
				}
			}
			if ev.Failed {
				w.rejectWith(pd, v)
			} else {
				w.resolveWith(pd, v)
			}
		})
	case logStart:
		if t := a.tasklets[ev.Seq]; t != nil {
			w.startTasklet(t, ev)
		}
	case logDeadline:
		pd := w.settle(a, ev.Seq)
		if pd == nil {
			return
		}
		markResumed(pd)
		w.runInFrame(pd.frame, ev, func() {
			w.rejectWith(pd, w.api.newError("TimeoutError", "call timed out after its deadline", nil))
		})
	}
}

// markResumed notes that an event reached a tasklet. The resumption of its
// checkpoint is the one event a restart reproduces by itself.
func markResumed(pd *pending) {
	t := pd.frame.task
	switch {
	case t == nil:
	case pd.checkpoint:
		t.atCheckpoint, t.pastCP, t.resumes = 0, true, 0
	default:
		t.resumes++
	}
}

func isNamed(v goja.Value, name string) bool {
	o, ok := v.(*goja.Object)
	return ok && o.Get("name") != nil && o.Get("name").String() == name
}

// replay rebuilds an activation from its log (st holds the committed state,
// the base and the events; stored says whether the object has state in the
// store). It returns an error value if the replay diverged; the activation
// is then marked broken.
func (w *Worker) replay(a *activation, lc *loadedClass, st *persist.ObjectState, stored bool) goja.Value {
	base, err := decodeLogBase(st.LogBase)
	if err != nil {
		return w.api.newError("NondeterminismError", err.Error(), nil)
	}
	w.replaying = true
	defer func() { w.replaying = false }()
	a.seq, a.nextTask, a.actTime, a.actSeed, a.exists, a.nonce = base.Seq, base.NextTask, base.ActTime, base.ActSeed, base.Exists, base.Nonce
	baseState := persist.ObjectState{Meta: persist.ObjectMeta{ClassVersion: lc.def.Version, Fields: base.Order}, Fields: map[string][]byte{}}
	for i, k := range base.Order {
		baseState.Fields[k] = base.Values[i]
	}
	if failure := w.activationTurn(a, lc, &baseState, base.Exists, &logEvent{Time: base.ActTime, Seed: base.ActSeed}); failure != nil {
		return failure
	}
	// Tasklets that were at a checkpoint start again from their method and
	// run to their first checkpoint, where they take their old numbers.
	for _, c := range base.Tasklets {
		fn, ok := goja.AssertFunction(a.inst.Get(c.Method))
		if !ok {
			return w.api.newError("NondeterminismError", fmt.Sprintf("%s: tasklet %d's method %q is gone", a.ref, c.ID, c.Method), nil)
		}
		args, err := w.dec.DecodeArgs(c.Args)
		if err != nil {
			return w.api.newError("NondeterminismError", err.Error(), nil)
		}
		t := w.newTasklet(a, c.ID, fn, args)
		t.method, t.argBytes, t.restartSeq, t.this = c.Method, c.Args, c.Seq, a.inst
		w.startTasklet(t, &logEvent{Time: base.ActTime, Seed: base.ActSeed})
		if c.Then != 0 && t.restartSeq == 0 {
			// It had passed that checkpoint: resume it, on to the next operation.
			pd := a.pending[c.Seq]
			if pd == nil || !pd.checkpoint {
				return w.api.newError("NondeterminismError", fmt.Sprintf("%s: tasklet %d (%s) did not stop at its checkpoint when restarted", a.ref, c.ID, c.Method), nil)
			}
			t.restartSeq = c.Then
			w.dispatch(a, &logEvent{Kind: logResume, Seq: c.Seq, Time: base.ActTime, Seed: base.ActSeed})
		}
		if t.restartSeq != 0 {
			return w.api.newError("NondeterminismError", fmt.Sprintf("%s: tasklet %d (%s) did not reach the same point again when restarted from its method: code before a tasklet's first await (or its checkpoint) must not depend on anything but its arguments", a.ref, c.ID, c.Method), nil)
		}
	}
	a.logBase = base
	for _, b := range st.Log {
		ev, err := decodeLogEvent(b)
		if err != nil {
			return w.api.newError("NondeterminismError", err.Error(), nil)
		}
		w.dispatch(a, ev)
		a.logBytes += len(b)
	}
	a.logLen = len(st.Log)
	// The replayed instance must be the committed one (or, for an object
	// that is still virtual, not have been stored either).
	if a.exists != stored || (stored && !sameState(a, st)) {
		return w.api.newError("NondeterminismError", fmt.Sprintf("%s: replaying its log did not reproduce its committed state (a method depends on something outside the object and its events: a global variable, a shared object); the object is kept as stored and refuses calls until its class is fixed", a.ref), nil)
	}
	return nil
}

// sameState compares the replayed image with the committed state.
func sameState(a *activation, st *persist.ObjectState) bool {
	if len(a.order) != len(st.Meta.Fields) {
		return false
	}
	for i, k := range a.order {
		if st.Meta.Fields[i] != k || !bytes.Equal(a.committed[k], st.Fields[k]) {
			return false
		}
	}
	return true
}

// afterReplay restarts what a replay rebuilt but cannot resume by itself:
// calls and inspections are sent again (callees deduplicate them by call
// id), timers re-armed (one due during a downtime fires now), local
// resumptions and unstarted tasklets posted, deadlines watched again.
func (w *Worker) afterReplay(a *activation) {
	seqs := make([]uint64, 0, len(a.pending))
	for s := range a.pending {
		seqs = append(seqs, s)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	now := w.cfg.Now().UnixNano()
	for _, s := range seqs {
		pd := a.pending[s]
		switch pd.kind {
		case pendCall, pendInspect, pendFind:
			if pd.msg != nil {
				m := *pd.msg
				w.send(&m)
			}
		case pendSleep:
			w.armTimer(a, pd, time.Duration(pd.due-now))
		case pendLocal:
			w.post(event{kind: evResume, act: a, pend: pd.seq})
		}
		if pd.deadline != 0 {
			w.watchDeadline(a, pd)
		}
	}
	for _, t := range a.sortedTasklets() {
		if !t.started {
			w.post(event{kind: evTaskStart, task: t})
		}
	}
}

// armTimer fires a sleep's resumption after d (at once if d <= 0).
func (w *Worker) armTimer(a *activation, pd *pending, d time.Duration) {
	seq := pd.seq
	if d <= 0 {
		w.post(event{kind: evResume, act: a, pend: seq})
		return
	}
	pd.timer = time.AfterFunc(d, func() { _ = w.inbox.push(event{kind: evResume, act: a, pend: seq}) })
}

// dedupeTable remembers the results of the last calls an object answered,
// by call id, so that a call re-sent after a failure is answered, not run
// again. It is persisted with the commits that change it.
type dedupeTable struct {
	Entries []dedupeEntry `cbor:"1,keyasint"`
	index   map[string]int
}

type dedupeEntry struct {
	CallID  string `cbor:"1,keyasint"`
	Payload []byte `cbor:"2,keyasint"`
	Failed  bool   `cbor:"3,keyasint,omitempty"`
}

// dedupeSize bounds the table: a caller re-sends only the calls it has not
// had a reply to, which are few and recent.
const dedupeSize = 256

func (d *dedupeTable) lookup(id string) (dedupeEntry, bool) {
	if d.index == nil {
		return dedupeEntry{}, false
	}
	i, ok := d.index[id]
	if !ok {
		return dedupeEntry{}, false
	}
	return d.Entries[i], true
}

func (d *dedupeTable) add(e dedupeEntry) {
	if d.index == nil {
		d.index = make(map[string]int)
	}
	if len(d.Entries) >= dedupeSize {
		drop := len(d.Entries) - dedupeSize + 1
		d.Entries = append(d.Entries[:0:0], d.Entries[drop:]...)
		d.reindex()
	}
	d.index[e.CallID] = len(d.Entries)
	d.Entries = append(d.Entries, e)
}

func (d *dedupeTable) reindex() {
	d.index = make(map[string]int, len(d.Entries))
	for i, e := range d.Entries {
		d.index[e.CallID] = i
	}
}

func (d *dedupeTable) encode() []byte { return mustMarshal("dedupe table", d) }

func decodeDedupe(b []byte) (dedupeTable, error) {
	var d dedupeTable
	if len(b) == 0 {
		return d, nil
	}
	if err := logDec.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("scripting: a dedupe record is unreadable: %w", err)
	}
	d.reindex()
	return d, nil
}
