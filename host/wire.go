package host

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/scripting"
)

// What nodes say to each other over the transport: the frame type, then a
// CBOR body. Decoders of bodies never panic and bound what they allocate:
// the bytes come from the network.
const (
	wireMessage  uint8 = iota + 1 // one-way: a routed scripting.Message
	wireFind                      // request: objects.Query -> findAnswer (this node's part)
	wireEntryKey                  // request: entryKeyReq -> the object's key in an index
	wireForward                   // request: a directory command for the leader
	wireClasses                   // request (clients): nothing -> []persist.ClassRecord
	wireDefine                    // request (clients): persist.ClassRecord -> nothing
	wireStatus                    // request: [0] -> NodeStatus; [1] (clients) -> []NodeStatus
)

// wireMsg is a scripting.Message on the wire, with a hop count that stops
// a message bouncing between nodes that disagree on an owner.
type wireMsg struct {
	Kind     uint8       `cbor:"1,keyasint"`
	To       objects.Ref `cbor:"2,keyasint,omitempty"`
	Method   string      `cbor:"3,keyasint,omitempty"`
	Args     []byte      `cbor:"4,keyasint,omitempty"`
	Failed   bool        `cbor:"5,keyasint,omitempty"`
	FromNode string      `cbor:"6,keyasint,omitempty"`
	FromVM   int         `cbor:"7,keyasint,omitempty"`
	FromObj  objects.Ref `cbor:"8,keyasint,omitempty"`
	FromSeq  uint64      `cbor:"9,keyasint,omitempty"`
	CallID   string      `cbor:"10,keyasint,omitempty"`
	Deadline int64       `cbor:"11,keyasint,omitempty"`
	Hops     uint8       `cbor:"12,keyasint,omitempty"`
}

// maxHops bounds how often a message is forwarded between nodes.
const maxHops = 4

var wireDec = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		MaxNestedLevels:  8,
		MaxArrayElements: 1 << 20,
		MaxMapPairs:      1 << 16,
		UTF8:             cbor.UTF8DecodeInvalid, // ids and names may hold lone surrogates
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

func encodeMessage(m *scripting.Message, hops uint8) ([]byte, error) {
	return cbor.Marshal(&wireMsg{
		Kind: uint8(m.Kind), To: m.To, Method: m.Method, Args: m.Args, Failed: m.Failed,
		FromNode: m.From.Node, FromVM: m.From.VM, FromObj: m.From.Obj, FromSeq: m.From.Seq,
		CallID: m.CallID, Deadline: m.Deadline, Hops: hops,
	})
}

func decodeMessage(b []byte) (*scripting.Message, uint8, error) {
	var w wireMsg
	if err := wireDec.Unmarshal(b, &w); err != nil {
		return nil, 0, fmt.Errorf("malformed message: %w", err)
	}
	k := scripting.Kind(w.Kind)
	switch k {
	case scripting.KindCall, scripting.KindReply, scripting.KindInspect, scripting.KindFind:
	default:
		return nil, 0, fmt.Errorf("malformed message: kind %d", w.Kind)
	}
	return &scripting.Message{
		Kind: k, To: w.To, Method: w.Method, Args: w.Args, Failed: w.Failed,
		From:   scripting.Address{Node: w.FromNode, VM: w.FromVM, Obj: w.FromObj, Seq: w.FromSeq},
		CallID: w.CallID, Deadline: w.Deadline,
	}, w.Hops, nil
}

// findRow is one object a node found: its index key, its id, and with
// select its stored fields (names and codec bytes, in field order).
type findRow struct {
	Key    []byte   `cbor:"1,keyasint,omitempty"`
	ID     string   `cbor:"2,keyasint,omitempty"`
	Names  []string `cbor:"3,keyasint,omitempty"`
	Values [][]byte `cbor:"4,keyasint,omitempty"`
}

// findAnswer is a node's part of a query: at most Limit+1 rows in order.
type findAnswer struct {
	Rows    []findRow `cbor:"1,keyasint,omitempty"`
	ErrName string    `cbor:"2,keyasint,omitempty"` // the query failed: the error to throw
	ErrMsg  string    `cbor:"3,keyasint,omitempty"`
}

func decodeFindAnswer(b []byte) (*findAnswer, error) {
	var a findAnswer
	if err := wireDec.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("malformed find answer: %w", err)
	}
	return &a, nil
}

// entryKeyReq asks the node holding an object for its key in an index.
type entryKeyReq struct {
	Class string        `cbor:"1,keyasint"`
	Index objects.Index `cbor:"2,keyasint"`
	ID    string        `cbor:"3,keyasint"`
}

func decodeEntryKeyReq(b []byte) (*entryKeyReq, error) {
	var r entryKeyReq
	if err := wireDec.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("malformed entry key request: %w", err)
	}
	if len(r.Index.Fields) == 0 {
		return nil, fmt.Errorf("malformed entry key request: no index fields")
	}
	return &r, nil
}
