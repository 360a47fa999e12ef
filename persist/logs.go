package persist

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// The replay log of an object that is not quiescent (see the architecture's
// "Durable continuations"): a base record and the events delivered since,
// in a bucket of its own, logs/<class>/<id>, under "" (the base) and seq
// (each event, as 8 big-endian bytes, so events sort in order). A bucket
// per object makes clearing a long log one DeleteBucket, not a delete per
// event. The dedupe
// record of an object (recent call ids and their results) is in
// dedupe/<class> under the id. persist does not interpret either: they are
// bytes of the scripting package.
var (
	bucketLogs   = []byte("logs")
	bucketDedupe = []byte("dedupe")
)

// LogEntry is one event of an object's log.
type LogEntry struct {
	Seq  uint64 `cbor:"1,keyasint"` // position in the log since it was last cleared
	Data []byte `cbor:"2,keyasint"`
}

// Key names an object by class and id.
type Key struct{ Class, ID string }

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// applyLog applies the log and dedupe parts of w inside the writer's
// transaction.
func (s *Store) applyLog(tx *bbolt.Tx, w *Write) error {
	if !w.LogClear && w.LogBase == nil && len(w.LogAppend) == 0 && w.Dedupe == nil && !w.Delete {
		return nil
	}
	logs, err := tx.Bucket(bucketLogs).CreateBucketIfNotExists([]byte(w.Class))
	if err != nil {
		return err
	}
	id := []byte(w.ID)
	if w.LogClear || w.Delete {
		if err := logs.DeleteBucket(id); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
			return err
		}
	}
	if w.LogBase != nil || len(w.LogAppend) > 0 {
		ob, err := logs.CreateBucketIfNotExists(id)
		if err != nil {
			return fmt.Errorf("persist: log of %s/%q: %w", w.Class, w.ID, err)
		}
		if w.LogBase != nil {
			if err := ob.Put([]byte("b"), w.LogBase); err != nil {
				return fmt.Errorf("persist: log base of %s/%q: %w", w.Class, w.ID, err)
			}
		}
		for _, e := range w.LogAppend {
			if err := ob.Put(append([]byte("e"), seqKey(e.Seq)...), e.Data); err != nil {
				return fmt.Errorf("persist: log event %d of %s/%q: %w", e.Seq, w.Class, w.ID, err)
			}
		}
	}
	if w.Dedupe != nil || w.Delete {
		dd, err := tx.Bucket(bucketDedupe).CreateBucketIfNotExists([]byte(w.Class))
		if err != nil {
			return err
		}
		if len(w.Dedupe) == 0 {
			return dd.Delete(id)
		}
		return dd.Put(id, w.Dedupe)
	}
	return nil
}

// loadLog reads an object's log and dedupe record inside a read transaction,
// copying the bytes out of the mmap.
func loadLog(tx *bbolt.Tx, class, id string, st *ObjectState) {
	if b := tx.Bucket(bucketLogs).Bucket([]byte(class)); b != nil {
		if ob := b.Bucket([]byte(id)); ob != nil {
			c := ob.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				switch k[0] {
				case 'b':
					st.LogBase = bytes.Clone(v)
				case 'e':
					st.Log = append(st.Log, bytes.Clone(v))
				}
			}
		}
	}
	if b := tx.Bucket(bucketDedupe).Bucket([]byte(class)); b != nil {
		if v := b.Get([]byte(id)); v != nil {
			st.Dedupe = bytes.Clone(v)
		}
	}
}

// NonQuiescent lists the objects that have a replay log: those whose
// tasklets or methods were suspended when the store was last written. A node
// reactivates them at start-up.
func (s *Store) NonQuiescent() ([]Key, error) {
	var keys []Key
	err := s.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketLogs).ForEachBucket(func(class []byte) error {
			return tx.Bucket(bucketLogs).Bucket(class).ForEachBucket(func(id []byte) error {
				keys = append(keys, Key{Class: string(class), ID: string(id)})
				return nil
			})
		})
	})
	return keys, err
}
