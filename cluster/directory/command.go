package directory

import (
	"errors"
	"fmt"
	"math"

	"github.com/fxamacker/cbor/v2"

	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/persist"
)

// A command (a raft log entry, and what Forward carries) is a format byte
// followed by a CBOR array of ops. A reply to a forwarded command is a format
// byte followed by a CBOR array of results, one per op.
const (
	commandV1 = 1
	replyV1   = 1
)

// Limits on commands. The decoder enforces the array limits so that arbitrary
// bytes cannot make it allocate much; validate enforces the rest.
const (
	maxBatchOps    = 1024     // ops in one command
	maxOpRefs      = 8192     // refs in one claim op (ClaimObjects splits above)
	maxBatchRefs   = 1 << 15  // refs in one command
	maxNameLen     = 255      // node names, holder ids, index names
	maxTupleLen    = 1 << 16  // a unique tuple
	maxArrayLen    = 1 << 15  // any CBOR array (>= every limit above)
	maxNesting     = 8        // CBOR nesting: command > op > record > indexes > fields
	maxMapPairs    = 64       // the widest struct is a dozen fields
	maxClassSource = 16 << 20 // a class source
)

type opKind uint8

const (
	opClaim       opKind = 1 // Refs, Node
	opMove        opKind = 2 // Refs[0], Node (from), To, Epoch
	opClaimUnique opKind = 3 // Class, Index, Tuple, Holder
	opFreeUnique  opKind = 4 // Class, Index, Tuple, Holder
	opPutClass    opKind = 5 // Rec
)

func (k opKind) String() string {
	switch k {
	case opClaim:
		return "claim"
	case opMove:
		return "move"
	case opClaimUnique:
		return "claim-unique"
	case opFreeUnique:
		return "free-unique"
	case opPutClass:
		return "put-class"
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// wireRef is an objects.Ref as a two-element array.
type wireRef struct {
	_     struct{} `cbor:",toarray"`
	Class string
	ID    string
}

// op is one write. Which fields count depends on Kind.
type op struct {
	Kind   opKind               `cbor:"1,keyasint"`
	Refs   []wireRef            `cbor:"2,keyasint,omitempty"`
	Node   string               `cbor:"3,keyasint,omitempty"`
	To     string               `cbor:"4,keyasint,omitempty"`
	Epoch  uint64               `cbor:"5,keyasint,omitempty"`
	Class  string               `cbor:"6,keyasint,omitempty"`
	Index  string               `cbor:"7,keyasint,omitempty"`
	Tuple  []byte               `cbor:"8,keyasint,omitempty"`
	Holder string               `cbor:"9,keyasint,omitempty"`
	Rec    *persist.ClassRecord `cbor:"10,keyasint,omitempty"`
}

// weight is what an op counts against a command's ref budget.
func (o *op) weight() int { return max(1, len(o.Refs)) }

type resultCode uint8

const (
	codeOK       resultCode = 0
	codeConflict resultCode = 1
	codeInvalid  resultCode = 2
)

// result is the outcome of one op.
type result struct {
	Code resultCode `cbor:"1,keyasint,omitempty"`
	Msg  string     `cbor:"2,keyasint,omitempty"` // why, for a conflict or an invalid op
	// Owner is the unique holder after opClaimUnique, or the current owner
	// after a failed move.
	Owner  string   `cbor:"3,keyasint,omitempty"`
	Epoch  uint64   `cbor:"4,keyasint,omitempty"` // the new epoch of a move, or the current one after a failed move
	Owners []string `cbor:"5,keyasint,omitempty"` // per ref of opClaim
	Epochs []uint64 `cbor:"6,keyasint,omitempty"` // per ref of opClaim
}

// err turns a result's code into an error.
func (r *result) err() error {
	switch r.Code {
	case codeOK:
		return nil
	case codeConflict:
		return &ConflictError{Owner: r.Owner, Epoch: r.Epoch, Msg: r.Msg}
	case codeInvalid:
		return fmt.Errorf("%w: %s", ErrBadCommand, r.Msg)
	}
	return fmt.Errorf("%w: result code %d", ErrBadCommand, r.Code)
}

// The modes are immutable and safe for concurrent use.
var (
	encMode = mustEncMode()
	decMode = mustDecMode()
)

func mustEncMode() cbor.EncMode {
	em, err := cbor.EncOptions{Time: cbor.TimeRFC3339Nano}.EncMode()
	if err != nil {
		panic(err)
	}
	return em
}

func mustDecMode() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  maxNesting,
		MaxArrayElements: maxArrayLen,
		MaxMapPairs:      maxMapPairs,
		// Ids and names are Go strings that may hold invalid UTF-8 (a JS string
		// with a lone surrogate); they must survive the round trip.
		UTF8: cbor.UTF8DecodeInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}

func encodeCommand(ops []op) ([]byte, error) {
	b, err := encMode.Marshal(ops)
	if err != nil {
		return nil, fmt.Errorf("directory: encode command: %w", err)
	}
	return append([]byte{commandV1}, b...), nil
}

// decodeCommand decodes a command and checks its shape, not its ops (see
// validate). It never panics on arbitrary input (FuzzCommand holds it to that).
func decodeCommand(b []byte) ([]op, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty command", ErrBadCommand)
	}
	if b[0] != commandV1 {
		return nil, fmt.Errorf("%w: unknown command format %d", ErrBadCommand, b[0])
	}
	var ops []op
	if err := decMode.Unmarshal(b[1:], &ops); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCommand, err)
	}
	if len(ops) == 0 || len(ops) > maxBatchOps {
		return nil, fmt.Errorf("%w: %d ops (want 1 to %d)", ErrBadCommand, len(ops), maxBatchOps)
	}
	refs := 0
	for i := range ops {
		refs += ops[i].weight()
	}
	if refs > maxBatchRefs {
		return nil, fmt.Errorf("%w: %d refs (at most %d)", ErrBadCommand, refs, maxBatchRefs)
	}
	return ops, nil
}

func encodeReply(rs []result) ([]byte, error) {
	b, err := encMode.Marshal(rs)
	if err != nil {
		return nil, fmt.Errorf("directory: encode reply: %w", err)
	}
	return append([]byte{replyV1}, b...), nil
}

// decodeReply decodes the reply to a forwarded command of n ops.
func decodeReply(b []byte, n int) ([]result, error) {
	if len(b) == 0 || b[0] != replyV1 {
		return nil, errors.New("directory: malformed reply from the leader")
	}
	var rs []result
	if err := decMode.Unmarshal(b[1:], &rs); err != nil {
		return nil, fmt.Errorf("directory: malformed reply from the leader: %w", err)
	}
	if len(rs) != n {
		return nil, fmt.Errorf("directory: the leader answered %d results to %d ops", len(rs), n)
	}
	return rs, nil
}

// validate checks an op's arguments. It is deterministic, because the state
// machine runs it on every node: an invalid op in the log fails alone, on all
// nodes alike.
func (o *op) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrBadCommand, o.Kind, fmt.Sprintf(format, args...))
	}
	switch o.Kind {
	case opClaim, opMove:
		if len(o.Refs) == 0 || len(o.Refs) > maxOpRefs || (o.Kind == opMove && len(o.Refs) != 1) {
			return bad("%d refs", len(o.Refs))
		}
		for _, r := range o.Refs {
			if err := (objects.Ref{Class: r.Class, ID: r.ID}).Validate(); err != nil {
				return bad("%v", err)
			}
		}
		if err := checkName("node", o.Node, o.Kind == opMove); err != nil {
			return bad("%v", err)
		}
		if o.Kind == opMove {
			if err := checkName("target node", o.To, false); err != nil {
				return bad("%v", err)
			}
			if o.Epoch == math.MaxUint64 {
				return bad("epoch out of range")
			}
		}
	case opClaimUnique, opFreeUnique:
		if !objects.IsIdentifier(o.Class) {
			return bad("class name %q is not an identifier", o.Class)
		}
		if err := checkName("index", o.Index, false); err != nil {
			return bad("%v", err)
		}
		if len(o.Tuple) > maxTupleLen {
			return bad("tuple of %d bytes (at most %d)", len(o.Tuple), maxTupleLen)
		}
		if o.Holder == "" || len(o.Holder) > objects.MaxIDLen {
			return bad("holder id of %d bytes", len(o.Holder))
		}
	case opPutClass:
		r := o.Rec
		if r == nil {
			return bad("no record")
		}
		if !objects.IsIdentifier(r.Name) {
			return bad("class name %q is not an identifier", r.Name)
		}
		if r.Version < 1 || int64(r.Version) > math.MaxUint32 {
			return bad("version %d out of range", r.Version)
		}
		if len(r.Source) > maxClassSource {
			return bad("source of %d bytes", len(r.Source))
		}
		if y := r.Created.Year(); !r.Created.IsZero() && (y < 1 || y > 9999) {
			return bad("creation year %d out of range", y) // RFC 3339 cannot encode it
		}
	default:
		return fmt.Errorf("%w: unknown op %d", ErrBadCommand, uint8(o.Kind))
	}
	return nil
}

func checkName(what, s string, emptyOK bool) error {
	if s == "" && !emptyOK {
		return fmt.Errorf("empty %s name", what)
	}
	if len(s) > maxNameLen {
		return fmt.Errorf("%s name of %d bytes (at most %d)", what, len(s), maxNameLen)
	}
	return nil
}
