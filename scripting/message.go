package scripting

import "github.com/odin-db/odin/objects"

// Kind is what a Message asks for.
type Kind uint8

const (
	// KindCall invokes Method on the object To with Args.
	KindCall Kind = iota + 1
	// KindReply answers the pending operation From.Seq of the activation
	// From.Obj.
	KindReply
	// KindInspect asks the worker hosting To for a description of the object.
	KindInspect
	// KindActivate asks the worker hosting To to activate it (used at
	// start-up for objects whose tasklets were suspended).
	KindActivate
	// KindFind runs the query in Args (EncodeQuery) over the indexes of the
	// class To.Class; the host replies to From with the objects found.
	KindFind
)

// Address names a pending operation at its caller: the calling activation
// (an object, or a script "$script/N") and its operation number. The reply
// to a call goes there: to wherever the object lives by then, or, for a
// script, to the node and VM it runs on. Node and VM also say where the call
// came from (for placement by access frequency). Relay is the node a
// client's messages entered the cluster through (set there): replies to
// the client go back through it, the only node connected to the client.
type Address struct {
	Node  string
	VM    int
	Obj   objects.Ref
	Seq   uint64
	Relay string
}

// IsObject reports whether a ref names a user object (not a script or a
// channel), which can move between VMs and nodes.
func IsObject(r objects.Ref) bool { return r.Class != "" && r.Class[0] != '$' }

// Message is the unit the broker routes: a call to an object or the reply to
// one. Payloads are codec bytes, so a Message can cross VMs and nodes as is.
type Message struct {
	Kind   Kind
	To     objects.Ref // KindCall, KindInspect, KindActivate: the target
	Method string      // KindCall: the method name
	Args   []byte      // KindCall: codec.EncodeArgs bytes; KindReply: the result or the thrown value
	Failed bool        // KindReply: Args holds a thrown value, not a result
	From   Address     // KindCall, KindInspect: the caller; KindReply: the address answered
	// CallID identifies a call from an object for exactly-once delivery: the
	// caller's ref and operation number, the same when the call is re-sent.
	CallID string
	// Deadline is the caller's deadline in Unix nanoseconds; 0 = none.
	Deadline int64
}

// Router is what a VM worker needs from the node's broker. The host
// implements it; scripting never reaches past it.
type Router interface {
	// Route delivers m wherever its target lives: a call or an inspection to
	// the worker (or node) hosting the object, a reply to the caller. It
	// never blocks on the target. When the target's queue is full Route
	// returns ErrOverloaded and the caller answers itself.
	Route(m *Message) error
	// VMOf returns the VM of this node that hosts ref, or -1 if another node
	// does.
	VMOf(ref objects.Ref) int
	// Migrate moves an object to VM vm of node, wherever it is now: node
	// "" is the node hosting it, vm < 0 the VM that node places it on (no
	// move between the VMs of its node). done is called (on any goroutine)
	// when the move is over.
	Migrate(ref objects.Ref, node string, vm int, done func(error))
}
