package persist

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"
)

// ObjectRecords is every record a store holds for one object: its meta
// record and field records, its replay log (base and events) and its dedupe
// record. It is what moves with an object to another node: Export reads it
// in one read transaction, ImportWrite turns it into a Write that recreates
// it elsewhere, index entries included. persist does not interpret the
// values (they are bytes of the scripting package).
type ObjectRecords struct {
	Meta    *ObjectMeta `cbor:"1,keyasint,omitempty"` // nil: no state stored (a log alone, or nothing)
	Fields  []FieldPut  `cbor:"2,keyasint,omitempty"` // every field record, in key order
	LogBase []byte      `cbor:"3,keyasint,omitempty"` // empty: no log (the object is quiescent)
	Log     []LogEntry  `cbor:"4,keyasint,omitempty"` // the events, in order
	Dedupe  []byte      `cbor:"5,keyasint,omitempty"` // empty: no dedupe record
}

// Empty reports whether the store held nothing for the object.
func (r *ObjectRecords) Empty() bool {
	return r.Meta == nil && len(r.Fields) == 0 && len(r.LogBase) == 0 && len(r.Log) == 0 && len(r.Dedupe) == 0
}

// Size is the number of value bytes the records carry (for limits and logs).
func (r *ObjectRecords) Size() int {
	n := len(r.LogBase) + len(r.Dedupe)
	for _, f := range r.Fields {
		n += len(f.Name) + len(f.Value)
	}
	for _, e := range r.Log {
		n += len(e.Data)
	}
	return n
}

// Export reads every record of one object in one read transaction (so it is
// consistent: it sees the commits whose done has run and nothing of the
// others). ok is false when the store holds nothing for the object. The
// values are copies; the caller owns them.
func (s *Store) Export(class, id string) (r ObjectRecords, ok bool, err error) {
	prefix := objectKey(id, "")
	err = s.view(func(tx *bbolt.Tx) error {
		r = ObjectRecords{}
		if b := tx.Bucket(bucketObjects).Bucket([]byte(class)); b != nil {
			c := b.Cursor()
			for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
				if len(k) == len(prefix) {
					meta, err := decodeObjectMeta(v)
					if err != nil {
						return corrupt("objects/"+class, k, err)
					}
					r.Meta = &meta
					continue
				}
				if r.Meta == nil {
					return corrupt("objects/"+class, k, errors.New("field record without meta record"))
				}
				r.Fields = append(r.Fields, FieldPut{Name: string(k[len(prefix):]), Value: append([]byte{}, v...)})
			}
		}
		if b := tx.Bucket(bucketLogs).Bucket([]byte(class)); b != nil {
			if ob := b.Bucket([]byte(id)); ob != nil {
				c := ob.Cursor()
				for k, v := c.First(); k != nil; k, v = c.Next() {
					switch {
					case len(k) == 1 && k[0] == 'b':
						r.LogBase = bytes.Clone(v)
					case len(k) == 9 && k[0] == 'e':
						r.Log = append(r.Log, LogEntry{Seq: binary.BigEndian.Uint64(k[1:]), Data: bytes.Clone(v)})
					default:
						return corrupt("logs/"+class+"/"+id, k, errors.New("unknown log key"))
					}
				}
			}
		}
		if b := tx.Bucket(bucketDedupe).Bucket([]byte(class)); b != nil {
			if v := b.Get([]byte(id)); v != nil {
				r.Dedupe = bytes.Clone(v)
			}
		}
		return nil
	})
	if err != nil {
		return ObjectRecords{}, false, err
	}
	return r, !r.Empty(), nil
}

// ImportWrite is the Write that makes the store hold exactly r for the
// object: whatever it held before is dropped (state, log, dedupe record),
// then r's records are written. It goes through Commit like any write, so
// the writer moves the object's index entries and checks its unique indexes
// exactly as for a turn's commit (a value another object holds here refuses
// the write with ErrUnique, and nothing is written). r is owned by the store
// until done.
func ImportWrite(class, id string, r *ObjectRecords) *Write {
	w := &Write{Class: class, ID: id, Delete: true, Meta: r.Meta, Puts: r.Fields,
		LogClear: true, LogBase: r.LogBase, LogAppend: r.Log, Dedupe: r.Dedupe}
	if len(w.LogBase) == 0 {
		w.LogBase = nil // an empty base is no log
	}
	if w.Dedupe == nil {
		w.Dedupe = []byte{} // delete a dedupe record left from before
	}
	return w
}

// DeleteWrite is the Write that drops every record of the object (state,
// log, dedupe record) and its index entries: what the node an object left
// writes once the object is elsewhere.
func DeleteWrite(class, id string) *Write {
	return &Write{Class: class, ID: id, Delete: true, LogClear: true, Dedupe: []byte{}}
}

// CheckRecords refuses records that did not come from Export: the caller
// checks what arrives over the network before it queues the write, so that
// a malformed transfer fails with a clear error rather than in the writer.
func CheckRecords(class, id string, r *ObjectRecords) error {
	if err := checkWrite(ImportWrite(class, id, r)); err != nil {
		return err
	}
	if r.Meta == nil && len(r.Fields) > 0 {
		return fmt.Errorf("%w: records of %s/%q: fields without a meta record", ErrInvalid, class, id)
	}
	seen := make(map[string]bool, len(r.Fields))
	for _, f := range r.Fields {
		if seen[f.Name] {
			return fmt.Errorf("%w: records of %s/%q: field %q twice", ErrInvalid, class, id, f.Name)
		}
		seen[f.Name] = true
	}
	for i, e := range r.Log {
		if i > 0 && e.Seq <= r.Log[i-1].Seq {
			return fmt.Errorf("%w: records of %s/%q: log events out of order", ErrInvalid, class, id)
		}
	}
	if len(r.Log) > 0 && len(r.LogBase) == 0 {
		return fmt.Errorf("%w: records of %s/%q: log events without a base", ErrInvalid, class, id)
	}
	return nil
}
