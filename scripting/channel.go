package scripting

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dop251/goja"
	"github.com/fxamacker/cbor/v2"

	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/persist"
)

// channelClass is the class name of channels, which are native objects.
const channelClass = "$Channel"

// IsChannel reports whether a ref names a channel.
func IsChannel(r objects.Ref) bool { return r.Class == channelClass }

// EphemeralChannel parses the id of a channel created by a script (not by an
// object): such a channel lives in the VM that created it for as long as the
// script runs, and its id says where: "~VM.N@NODE".
func EphemeralChannel(r objects.Ref) (node string, vm int, ok bool) {
	if r.Class != channelClass || !strings.HasPrefix(r.ID, "~") {
		return "", 0, false
	}
	rest := r.ID[1:]
	dot := strings.IndexByte(rest, '.')
	at := strings.IndexByte(rest, '@')
	if dot < 0 || at < dot {
		return "", 0, false
	}
	vm, err := strconv.Atoi(rest[:dot])
	if err != nil {
		return "", 0, false
	}
	return rest[at+1:], vm, true
}

// channel is a Stackless channel: a rendezvous between senders and
// receivers, with an optional buffer. Waiting parties are the call messages
// of their send/receive, answered when the other side arrives.
type channel struct {
	cap       int
	closed    bool
	buf       [][]byte
	senders   []waitingSender
	receivers []*Message
	dirty     bool
}

type waitingSender struct {
	m   *Message
	val []byte
}

// chanState is a durable channel's stored form.
type chanState struct {
	Cap    int      `cbor:"1,keyasint"`
	Closed bool     `cbor:"2,keyasint"`
	Buf    [][]byte `cbor:"3,keyasint"`
}

// write returns the store write of a durable channel's turn: its state if it
// changed, and the results of the operations of objects it answered (an
// object whose replay sends an operation again gets the same answer).
func (c *channel) write(a *activation, t *turnState) *persist.Write {
	if !c.dirty && len(t.answered) == 0 {
		return nil
	}
	wr := &persist.Write{Class: channelClass, ID: a.ref.ID}
	if c.dirty {
		c.dirty = false
		b, err := cbor.Marshal(chanState{Cap: c.cap, Closed: c.closed, Buf: c.buf})
		if err != nil {
			return nil
		}
		wr.Puts = []persist.FieldPut{{Name: "state", Value: b}}
		if !a.exists {
			wr.Meta = &persist.ObjectMeta{Fields: []string{"state"}}
			a.exists = true
		}
	}
	if len(t.answered) > 0 {
		for _, e := range t.answered {
			a.dedupe.add(e)
		}
		wr.Dedupe = a.dedupe.encode()
	}
	return wr
}

// waiting reports whether an operation with this call id already waits.
func (c *channel) waiting(callID string) bool {
	for _, r := range c.receivers {
		if r.CallID == callID {
			return true
		}
	}
	for _, s := range c.senders {
		if s.m.CallID == callID {
			return true
		}
	}
	return false
}

func (c *channel) describe(w *Worker, o *goja.Object) {
	_ = o.Set("buffer", c.cap)
	_ = o.Set("buffered", len(c.buf))
	_ = o.Set("closed", c.closed)
	_ = o.Set("balance", len(c.senders)-len(c.receivers))
}

// loadChannel activates a durable channel from the store.
func (w *Worker) loadChannel(ref objects.Ref) *activation {
	a := &activation{ref: ref, persistent: true, ch: &channel{}}
	a.frame.act = a
	if st, ok, err := w.cfg.Store.Load(channelClass, ref.ID); err == nil {
		var cs chanState
		if ok && cbor.Unmarshal(st.Fields["state"], &cs) == nil {
			a.ch.cap, a.ch.closed, a.ch.buf = cs.Cap, cs.Closed, cs.Buf
			a.exists = true
		}
		a.dedupe, _ = decodeDedupe(st.Dedupe)
	}
	w.acts[ref] = a
	return a
}

// newEphemeralChannel creates a channel owned by this worker's script.
func (w *Worker) newEphemeralChannel(capacity int) objects.Ref {
	w.nextID++
	ref := objects.Ref{Class: channelClass, ID: fmt.Sprintf("~%d.%d@%s", w.cfg.Index, w.nextID, w.cfg.Node)}
	a := &activation{ref: ref, ch: &channel{cap: capacity}}
	a.frame.act = a
	w.acts[ref] = a
	return ref
}

func (x *api) channel(c goja.FunctionCall) goja.Value {
	f := x.currentFrame("odin.channel")
	w := x.w
	capacity := 0
	opts := c.Argument(0)
	var name string
	if s, ok := opts.(goja.String); ok {
		name = s.String()
		opts = c.Argument(1)
	} else if !goja.IsUndefined(opts) && !goja.IsNull(opts) {
		if _, ok := opts.(*goja.Object); !ok {
			name = opts.String()
			opts = c.Argument(1)
		}
	}
	if o, ok := opts.(*goja.Object); ok {
		if b := o.Get("buffer"); b != nil && !goja.IsUndefined(b) {
			capacity = int(b.ToInteger())
			if capacity < 0 || capacity > 1<<20 {
				x.throw("RangeError", "channel buffer must be between 0 and %d", 1<<20)
			}
		}
	}
	var ref objects.Ref
	switch {
	case name != "":
		ref = objects.Ref{Class: channelClass, ID: name}
		if err := ref.Validate(); err != nil || strings.HasPrefix(name, "~") {
			x.throw("TypeError", "bad channel name %q", name)
		}
	case f.act.script:
		return x.makeRef(&refInfo{ref: w.newEphemeralChannel(capacity)})
	default:
		// A channel made by an object is durable, with an id derived from the
		// object and the turn's deterministic randomness.
		ref = objects.Ref{Class: channelClass, ID: fmt.Sprintf("%s#%016x", f.act.ref, w.turnRandGen.Uint64())}
	}
	if capacity > 0 {
		buf, _ := w.enc.Encode(nil, x.rt.ToValue(capacity))
		w.emit(&Message{Kind: KindCall, To: ref, Method: "$config", Args: buf, From: Address{Node: w.cfg.Node, VM: w.cfg.Index}})
	}
	return x.makeRef(&refInfo{ref: ref})
}

// channelOp starts a channel operation from JS and returns its promise.
func (w *Worker) channelOp(info *refInfo, op string, args []goja.Value) goja.Value {
	f := w.api.currentFrame("a channel operation")
	var payload []byte
	if op == "send" {
		var err error
		payload, err = w.enc.Encode(nil, argOrUndefined(args, 0))
		if err != nil {
			panic(w.api.cloneError(err, "channel send"))
		}
		w.checkMessage(len(payload), "the value sent on "+info.ref.ID)
	}
	pd, p := w.newPending(pendCall)
	pd.next = op == "next"
	pd.channel = info.ref
	m := &Message{Kind: KindCall, To: info.ref, Method: op, Args: payload, From: w.address(f.act, pd.seq)}
	w.track(f.act, pd, m)
	w.emit(m)
	return w.rt.ToValue(p)
}

func argOrUndefined(args []goja.Value, i int) goja.Value {
	if i < len(args) {
		return args[i]
	}
	return goja.Undefined()
}

// channelCall runs one channel operation as a turn of the channel.
func (w *Worker) channelCall(m *Message) {
	a, ok := w.target(m, m.To)
	if !ok {
		return
	}
	if m.CallID != "" {
		if e, ok := a.dedupe.lookup(m.CallID); ok {
			w.replyAfterCommits(a, m, e.Payload, e.Failed)
			return
		}
		if a.ch.waiting(m.CallID) {
			return // sent again by a replayed object; it is already waiting
		}
	}
	w.beginTurn(a, nil)
	w.chanOp(a.ch, m)
	w.endTurn()
}

func (w *Worker) encodedUndefined() []byte {
	if w.undefBytes == nil {
		w.undefBytes, _ = w.enc.Encode(nil, goja.Undefined())
	}
	return w.undefBytes
}

func (w *Worker) closedError(m *Message) {
	w.answerError(m, w.api.newError("ChannelClosedError", "channel "+m.To.ID+" is closed", nil))
}

func (w *Worker) chanOp(c *channel, m *Message) {
	switch m.Method {
	case "send":
		switch {
		case c.closed:
			w.closedError(m)
		case len(c.receivers) > 0:
			r := c.receivers[0]
			c.receivers = c.receivers[1:]
			w.reply(r, m.Args, false)
			w.reply(m, w.encodedUndefined(), false)
		case len(c.buf) < c.cap:
			c.buf = append(c.buf, m.Args)
			c.dirty = true
			w.reply(m, w.encodedUndefined(), false)
		default:
			c.senders = append(c.senders, waitingSender{m: m, val: m.Args})
		}
	case "receive", "next":
		switch {
		case len(c.buf) > 0:
			v := c.buf[0]
			c.buf = c.buf[1:]
			if len(c.senders) > 0 {
				s := c.senders[0]
				c.senders = c.senders[1:]
				c.buf = append(c.buf, s.val)
				w.reply(s.m, w.encodedUndefined(), false)
			}
			c.dirty = true
			w.reply(m, v, false)
		case len(c.senders) > 0:
			s := c.senders[0]
			c.senders = c.senders[1:]
			w.reply(s.m, w.encodedUndefined(), false)
			w.reply(m, s.val, false)
		case c.closed:
			w.closedError(m)
		default:
			c.receivers = append(c.receivers, m)
		}
	case "balance":
		w.answer(m, w.rt.ToValue(len(c.senders)-len(c.receivers)))
	case "close":
		if !c.closed {
			c.closed = true
			c.dirty = true
			for _, s := range c.senders {
				w.closedError(s.m)
			}
			c.senders = nil
			if len(c.buf) == 0 {
				for _, r := range c.receivers {
					w.closedError(r)
				}
				c.receivers = nil
			}
		}
		w.reply(m, w.encodedUndefined(), false)
	case "$config":
		if v, err := w.dec.Decode(m.Args); err == nil && !c.closed && len(c.buf) == 0 {
			if n := int(v.ToInteger()); n != c.cap {
				c.cap = n
				c.dirty = true
			}
		}
	case "$cancel":
		// A waiting party gave up (its tasklet was killed): forget it.
		for i, r := range c.receivers {
			if r.From == m.From {
				c.receivers = append(c.receivers[:i], c.receivers[i+1:]...)
				break
			}
		}
		for i, s := range c.senders {
			if s.m.From == m.From {
				c.senders = append(c.senders[:i], c.senders[i+1:]...)
				break
			}
		}
	default:
		w.answerError(m, w.api.newError("NotDefinedError", fmt.Sprintf("channels have no method %q", m.Method), nil))
	}
}
