package host

import (
	"fmt"

	"github.com/odin-db/odin/persist"

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
	wireMigrate                   // request: migrateReq -> nothing (the owner moves the object)
	wireMoveIn                    // request: moveIn -> nothing (the target has stored the object)
	wireMoveEnd                   // request: moveEnd -> nothing (the source tells the target the outcome)
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
	Relay    string      `cbor:"13,keyasint,omitempty"` // From.Relay
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
		CallID: m.CallID, Deadline: m.Deadline, Hops: hops, Relay: m.From.Relay,
	})
}

func decodeMessage(b []byte) (*scripting.Message, uint8, error) {
	var w wireMsg
	if err := wireDec.Unmarshal(b, &w); err != nil {
		return nil, 0, fmt.Errorf("malformed message: %w", err)
	}
	k := scripting.Kind(w.Kind)
	switch k {
	case scripting.KindCall, scripting.KindReply, scripting.KindInspect, scripting.KindFind, scripting.KindActivate:
	default:
		return nil, 0, fmt.Errorf("malformed message: kind %d", w.Kind)
	}
	return &scripting.Message{
		Kind: k, To: w.To, Method: w.Method, Args: w.Args, Failed: w.Failed,
		From:   scripting.Address{Node: w.FromNode, VM: w.FromVM, Obj: w.FromObj, Seq: w.FromSeq, Relay: w.Relay},
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

// migrateReq asks the node owning an object to move it (odin.migrate called
// on another node, or by a client).
type migrateReq struct {
	Ref  objects.Ref `cbor:"1,keyasint"`
	Node string      `cbor:"2,keyasint,omitempty"` // "" = the node it is on
	VM   int         `cbor:"3,keyasint"`           // -1 = the target node's placement
	Hops uint8       `cbor:"4,keyasint,omitempty"` // forwarded this often between nodes
}

func decodeMigrateReq(b []byte) (*migrateReq, error) {
	var r migrateReq
	if err := wireDec.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("malformed migrate request: %w", err)
	}
	if !scripting.IsObject(r.Ref) || r.Ref.ID == "" || r.VM < -1 {
		return nil, fmt.Errorf("malformed migrate request: %s to %q VM %d", r.Ref, r.Node, r.VM)
	}
	return &r, nil
}

// moveIn carries an object to the node it moves to: every record the
// source stores for it. The target stores them and answers; it serves the
// object only once the directory says it owns it.
type moveIn struct {
	Ref     objects.Ref           `cbor:"1,keyasint"`
	Attempt string                `cbor:"2,keyasint"` // unique to this attempt at moving the object
	From    string                `cbor:"3,keyasint"`
	Epoch   uint64                `cbor:"4,keyasint"` // the source's epoch; the target's will be Epoch+1
	VM      int                   `cbor:"5,keyasint"` // -1 = the target's placement
	Records persist.ObjectRecords `cbor:"6,keyasint"`
}

func decodeMoveIn(b []byte) (*moveIn, error) {
	var r moveIn
	if err := wireDec.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("malformed move: %w", err)
	}
	if !scripting.IsObject(r.Ref) || r.Attempt == "" || r.From == "" || r.VM < -1 {
		return nil, fmt.Errorf("malformed move of %s (attempt %q from %q, VM %d)", r.Ref, r.Attempt, r.From, r.VM)
	}
	if err := persist.CheckRecords(r.Ref.Class, r.Ref.ID, &r.Records); err != nil {
		return nil, fmt.Errorf("malformed move: %w", err)
	}
	return &r, nil
}

// moveEnd tells the target how a move it stored ended: Done, the directory
// gave it the object at Epoch; otherwise the move was given up and the
// target drops what it stored.
type moveEnd struct {
	Ref     objects.Ref `cbor:"1,keyasint"`
	Attempt string      `cbor:"2,keyasint"`
	Done    bool        `cbor:"3,keyasint,omitempty"`
	Epoch   uint64      `cbor:"4,keyasint,omitempty"`
}

func decodeMoveEnd(b []byte) (*moveEnd, error) {
	var r moveEnd
	if err := wireDec.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("malformed move end: %w", err)
	}
	if !scripting.IsObject(r.Ref) || r.Ref.ID == "" || r.Attempt == "" || (r.Done && r.Epoch == 0) {
		return nil, fmt.Errorf("malformed move end of %s (attempt %q)", r.Ref, r.Attempt)
	}
	return &r, nil
}
