package scripting

import "github.com/odin-db/odin/objects"

// Kind is what a Message asks for.
type Kind uint8

const (
	// KindCall invokes Method on the object To with Args.
	KindCall Kind = iota + 1
	// KindReply answers the pending call PendingID of worker ReplyVM.
	KindReply
	// KindInspect asks the worker hosting To for a description of the object.
	KindInspect
)

// Address names a pending call at its caller: which node, which VM worker,
// and the worker's pending-call number. The reply to a call goes there.
type Address struct {
	Node    string
	VM      int
	Pending uint64
}

// Message is the unit the broker routes: a call to an object or the reply to
// one. Payloads are codec bytes, so a Message can cross VMs and nodes as is.
type Message struct {
	Kind   Kind
	To     objects.Ref // KindCall, KindInspect: the target object
	Method string      // KindCall: the method name
	Args   []byte      // KindCall: codec.EncodeArgs bytes; KindReply: the result or the error value
	Failed bool        // KindReply: Args holds a thrown value, not a result
	From   Address     // KindCall, KindInspect: where the reply goes; KindReply: the address answered
	// CallID identifies a call for exactly-once delivery: the caller's object
	// and a per-caller sequence number, stable across retries.
	CallID string
	// Deadline is the caller's deadline in Unix nanoseconds; 0 = none.
	Deadline int64
}

// Router is what a VM worker needs from the node's broker. The host
// implements it; scripting never reaches past it.
type Router interface {
	// Route delivers m wherever its target lives: a call or an inspection to
	// the worker (or node) hosting the object, a reply to the caller's
	// worker. It never blocks on the target. When the target's queue is full
	// Route returns ErrOverloaded and the caller answers itself.
	Route(m *Message) error
	// ListObjects pages through the ids of a class in id order.
	ListObjects(class, after string, limit int) ([]string, error)
}
