package persist

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"
)

// The replay log of an object that is not quiescent (see the architecture's
// "Durable continuations"): a base record and the events delivered since,
// in bucket logs/<class> under id+"\x00" (the base) and id+"\x00"+seq (each
// event, seq as 8 big-endian bytes, so events sort in order). The dedupe
// record of an object (recent call ids and their results) is in
// dedupe/<class> under the id. persist does not interpret either: they are
// bytes of the scripting package.
var (
	bucketLogs   = []byte("logs")
	bucketDedupe = []byte("dedupe")
)

// LogEntry is one event of an object's log.
type LogEntry struct {
	Seq  uint64 // position in the log since it was last cleared
	Data []byte
}

// Key names an object by class and id.
type Key struct{ Class, ID string }

func logKey(id string, seq uint64, event bool) []byte {
	k := make([]byte, 0, len(id)+9)
	k = append(k, id...)
	k = append(k, 0)
	if event {
		k = binary.BigEndian.AppendUint64(k, seq)
	}
	return k
}

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
	if w.LogClear || w.Delete {
		if err := deletePrefix(logs, logKey(w.ID, 0, false)); err != nil {
			return err
		}
	}
	if w.LogBase != nil {
		if err := logs.Put(logKey(w.ID, 0, false), w.LogBase); err != nil {
			return fmt.Errorf("persist: log base of %s/%q: %w", w.Class, w.ID, err)
		}
	}
	for _, e := range w.LogAppend {
		if err := logs.Put(logKey(w.ID, e.Seq, true), e.Data); err != nil {
			return fmt.Errorf("persist: log event %d of %s/%q: %w", e.Seq, w.Class, w.ID, err)
		}
	}
	if w.Dedupe != nil || w.Delete {
		dd, err := tx.Bucket(bucketDedupe).CreateBucketIfNotExists([]byte(w.Class))
		if err != nil {
			return err
		}
		if len(w.Dedupe) == 0 {
			return dd.Delete([]byte(w.ID))
		}
		return dd.Put([]byte(w.ID), w.Dedupe)
	}
	return nil
}

// loadLog reads an object's log and dedupe record inside a read transaction,
// copying the bytes out of the mmap.
func loadLog(tx *bbolt.Tx, class, id string, st *ObjectState) {
	if b := tx.Bucket(bucketLogs).Bucket([]byte(class)); b != nil {
		prefix := logKey(id, 0, false)
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(k) == len(prefix) {
				st.LogBase = bytes.Clone(v)
			} else {
				st.Log = append(st.Log, bytes.Clone(v))
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
			c := tx.Bucket(bucketLogs).Bucket(class).Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				if i := bytes.IndexByte(k, 0); i >= 0 && i == len(k)-1 {
					keys = append(keys, Key{Class: string(class), ID: string(k[:i])})
				}
			}
			return nil
		})
	})
	return keys, err
}
