package persist

import (
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/odin-db/odin/objects"
)

// ObjectMeta is the per-object record stored under the key id+"\x00".
type ObjectMeta struct {
	// ClassVersion is the version of the class whose code wrote the state, so
	// that activation can pick the right source or migrate.
	ClassVersion int `cbor:"1,keyasint,omitempty"`
	// Fields lists the top-level field names in JS property order; the field
	// records themselves are stored in key order, which would lose it.
	Fields []string `cbor:"2,keyasint,omitempty"`
	// Epoch is the migration epoch of the object's data on this node.
	Epoch uint64 `cbor:"3,keyasint,omitempty"`
}

// ClassRecord is one version of a class's source.
type ClassRecord struct {
	Name    string    `cbor:"1,keyasint,omitempty"`
	Version int       `cbor:"2,keyasint,omitempty"` // 1 .. MaxUint32
	Source  string    `cbor:"3,keyasint,omitempty"`
	Deps    []string  `cbor:"4,keyasint,omitempty"` // names of classes the source refers to
	Created time.Time `cbor:"5,keyasint,omitempty"`
	// Indexes are the class's static indexes and unique constraints.
	Indexes []objects.Index `cbor:"6,keyasint,omitempty"`
}

// Limits on decoded records. They are far above anything the store writes and
// exist so that a corrupt length prefix cannot make a decode allocate gigabytes.
const (
	maxRecordArray = 1 << 20
	maxRecordDepth = 8
)

// The modes are immutable and safe for concurrent use, so sharing them is not
// the package-level mutable state that style.md warns against.
var (
	encMode = mustEncMode()
	decMode = mustDecMode()
)

func mustEncMode() cbor.EncMode {
	em, err := cbor.EncOptions{
		Sort: cbor.SortCoreDeterministic,
		// Nanoseconds and the offset survive a round trip through RFC 3339.
		Time: cbor.TimeRFC3339Nano,
	}.EncMode()
	if err != nil {
		panic(err)
	}
	return em
}

func mustDecMode() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  maxRecordDepth,
		MaxArrayElements: maxRecordArray,
		MaxMapPairs:      maxRecordArray,
		// Names are Go strings that the encoder writes as CBOR text without
		// checking UTF-8 (a JS name may hold a lone surrogate); reading them
		// back must not turn a stored object into a corrupt one.
		UTF8: cbor.UTF8DecodeInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}

func encodeObjectMeta(m *ObjectMeta) ([]byte, error) { return encMode.Marshal(m) }

// decodeObjectMeta never panics on arbitrary input (FuzzObjectMeta holds it to
// that); the caller wraps the error with ErrCorrupt and the key.
func decodeObjectMeta(b []byte) (ObjectMeta, error) {
	var m ObjectMeta
	if err := decMode.Unmarshal(b, &m); err != nil {
		return ObjectMeta{}, err
	}
	return m, nil
}

func encodeClassRecord(r *ClassRecord) ([]byte, error) { return encMode.Marshal(r) }

func decodeClassRecord(b []byte) (ClassRecord, error) {
	var r ClassRecord
	if err := decMode.Unmarshal(b, &r); err != nil {
		return ClassRecord{}, err
	}
	return r, nil
}

// corrupt wraps ErrCorrupt with the bucket path and key of the bad record.
func corrupt(where string, key []byte, err error) error {
	if err == nil {
		return fmt.Errorf("%w: %s key %q", ErrCorrupt, where, key)
	}
	return fmt.Errorf("%w: %s key %q: %w", ErrCorrupt, where, key, err)
}
