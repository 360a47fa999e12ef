package persist

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"go.etcd.io/bbolt"
)

// FieldPut stores one top-level field's encoded value.
type FieldPut struct {
	Name  string `cbor:"1,keyasint"`
	Value []byte `cbor:"2,keyasint"` // owned by the store until done is called; must be non-nil
}

// Write is one object's change from one turn. It is applied as: Delete (drop
// every record of the object), then Deletes, then Puts, then Meta.
type Write struct {
	Class, ID string
	Meta      *ObjectMeta // nil = unchanged; non-nil = replace
	Puts      []FieldPut
	Deletes   []string // field names to delete
	Delete    bool     // delete the whole object before anything else

	// The object's replay log (see logs.go), applied after the state:
	// LogClear, then LogBase, then LogAppend.
	LogClear  bool       // delete the base record and every event
	LogBase   []byte     // non-nil: replace the base record
	LogAppend []LogEntry // events to add
	Dedupe    []byte     // non-nil: replace the dedupe record (empty: delete it)
}

// pending is one queued unit of work: either an object write or, for the rare
// synchronous calls (PutClass, PutMeta), a function run inside the batch.
type pending struct {
	w    *Write
	op   func(tx *bbolt.Tx) error
	done func(error)
}

// writerState is reused from batch to batch so that the writer's bookkeeping
// costs no allocation per batch or per key.
type writerState struct {
	batch []pending
	errs  []error // result of each pending in the current batch
	hard  []error // writes excluded from the batch because they failed
	key   []byte  // scratch key; bbolt copies keys on Put
	// indexes caches each class's declared indexes (indexes.go); dropped
	// whenever a transaction fails, since it may hold a rolled-back declare.
	indexes map[string]*classIndexes
}

// errAbort rolls a transaction back so that it can be rerun without the write
// that failed; it never reaches a caller.
var errAbort = errors.New("persist: abort batch")

// Commit queues w and returns at once (it blocks only while the queue is full).
// done is called exactly once, from the writer goroutine, after the transaction
// holding w is durable, with nil, or with the error that kept w out of it.
// Writes are applied in the order Commit was called. The store owns w and its
// slices until done runs. done may be nil; it must not block or call
// CommitSync, since every later write waits for it. On a closed store
// done(ErrClosed) runs before Commit returns.
func (s *Store) Commit(w *Write, done func(error)) {
	s.enqueue(pending{w: w, done: done})
}

// CommitSync is Commit, then wait for done.
func (s *Store) CommitSync(w *Write) error {
	ch := make(chan error, 1)
	s.Commit(w, func(err error) { ch <- err })
	return <-ch
}

// syncOp runs op in the writer's next batch and waits until it is durable. An
// error from op rolls back only op's changes (the batch reruns without it).
func (s *Store) syncOp(op func(tx *bbolt.Tx) error) error {
	ch := make(chan error, 1)
	s.enqueue(pending{op: op, done: func(err error) { ch <- err }})
	return <-ch
}

func (s *Store) enqueue(p pending) {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		if p.done != nil {
			p.done(ErrClosed)
		}
		return
	}
	s.queue <- p
	s.mu.RUnlock()
}

// run is the writer goroutine: take everything queued (up to MaxBatch) without
// waiting for more, commit it in one transaction, call the dones, repeat.
// Waiting would only add latency: while one batch commits, the next one
// queues up by itself, and that is what makes batches large under load.
func (s *Store) run() {
	defer close(s.writerDone)
	for {
		p, ok := <-s.queue
		if !ok {
			return
		}
		batch := append(s.w.batch[:0], p)
	fill:
		for len(batch) < s.cfg.MaxBatch {
			select {
			case p, ok := <-s.queue:
				if !ok {
					break fill // Close: commit what we have, then the loop exits
				}
				batch = append(batch, p)
			default:
				break fill
			}
		}
		s.commitBatch(batch)
		clear(batch) // drop references to callers' writes and closures
		s.w.batch = batch[:0]
	}
}

func (s *Store) commitBatch(batch []pending) {
	n := len(batch)
	errs := grow(&s.w.errs, n)
	hard := grow(&s.w.hard, n)
	if err := s.commitRange(batch, errs, hard); err != nil {
		// The transaction itself failed (fsync, disk full). One write may be
		// the cause (a huge value that does not fit), so give each write its
		// own chance rather than failing all its neighbours.
		if live(hard) > 1 {
			s.log.Warn("persist: batch commit failed, retrying writes one by one", "writes", live(hard), "err", err)
			for i := range batch {
				if hard[i] != nil {
					continue
				}
				// A refusal (soft error) outranks a failure of the empty
				// transaction that carried it.
				if err := s.commitRange(batch[i:i+1], errs[i:i+1], hard[i:i+1]); err != nil && errs[i] == nil {
					errs[i] = err
				}
			}
		} else {
			for i := range errs {
				if errs[i] == nil {
					errs[i] = err
				}
			}
		}
	}
	for i, p := range batch {
		err := errs[i]
		if hard[i] != nil {
			err = hard[i]
		}
		if p.done != nil {
			p.done(err)
		}
	}
	s.writes.Add(uint64(n))
	clear(errs)
	clear(hard)
}

// commitRange commits batch, leaving out writes that bbolt refuses: each
// refusal is recorded in hard and the transaction rerun without that write. It
// returns an error only if the transaction as a whole failed.
func (s *Store) commitRange(batch []pending, errs, hard []error) error {
	for {
		failed := -1
		var failErr error
		s.batches.Add(1)
		err := s.db.Update(func(tx *bbolt.Tx) error {
			for i := range batch {
				if hard[i] != nil {
					continue
				}
				soft, err := s.apply(tx, &batch[i])
				if err != nil {
					failed, failErr = i, err
					return errAbort
				}
				errs[i] = soft
			}
			if s.failCommit != nil {
				return s.failCommit()
			}
			return nil
		})
		switch {
		case err == nil:
			return nil
		case failed >= 0:
			clear(s.w.indexes)
			hard[failed] = failErr
			s.retries.Add(1)
			if live(hard) == 0 {
				return nil
			}
		default:
			clear(s.w.indexes)
			return fmt.Errorf("persist: commit: %w", err)
		}
	}
}

func live(hard []error) int {
	n := 0
	for _, e := range hard {
		if e == nil {
			n++
		}
	}
	return n
}

func grow(buf *[]error, n int) []error {
	if cap(*buf) < n {
		*buf = make([]error, n)
	}
	return (*buf)[:n]
}

// apply runs one pending in tx. A soft error means p was refused before it
// touched anything, so the rest of the batch can go on; a hard error means tx
// may hold part of p and has to be rolled back.
func (s *Store) apply(tx *bbolt.Tx, p *pending) (soft, hard error) {
	if p.op != nil {
		if err := p.op(tx); err != nil {
			return nil, err
		}
		return nil, nil
	}
	w := p.w
	if err := checkWrite(w); err != nil {
		return err, nil
	}
	ixChanges, err := s.planIndexes(tx, w)
	if err != nil {
		if errors.Is(err, ErrUnique) {
			return err, nil
		}
		return nil, err
	}
	objects := tx.Bucket(bucketObjects)
	b := objects.Bucket([]byte(w.Class))
	metaKey := s.key(w.ID, "")
	// Keep the invariant that every stored object has a meta record, so that
	// Load never finds fields it cannot order. Checked before anything is
	// touched so that a refusal needs no rollback.
	if w.Meta == nil && len(w.Puts) > 0 && (w.Delete || b == nil || !has(b, metaKey)) {
		return fmt.Errorf("%w: write %s/%q: a new object's first write must carry Meta", ErrInvalid, w.Class, w.ID), nil
	}
	if s.failApply != nil {
		if err := s.failApply(w); err != nil {
			return nil, err
		}
	}
	if err := s.applyLog(tx, w); err != nil {
		return nil, err
	}
	if b == nil {
		if w.Meta == nil {
			return nil, nil // deleting what was never stored
		}
		var err error
		if b, err = objects.CreateBucket([]byte(w.Class)); err != nil {
			return nil, err
		}
	}
	if w.Delete {
		if err := deletePrefix(b, metaKey); err != nil {
			return nil, err
		}
	}
	for _, f := range w.Deletes {
		if err := b.Delete(s.key(w.ID, f)); err != nil {
			return nil, err
		}
	}
	for _, f := range w.Puts {
		if err := b.Put(s.key(w.ID, f.Name), f.Value); err != nil {
			return nil, fmt.Errorf("persist: write %s/%q field %q: %w", w.Class, w.ID, f.Name, err)
		}
	}
	if w.Meta != nil {
		enc, err := encodeObjectMeta(w.Meta)
		if err != nil {
			return fmt.Errorf("%w: write %s/%q: meta: %w", ErrInvalid, w.Class, w.ID, err), nil
		}
		if err := b.Put(s.key(w.ID, ""), enc); err != nil {
			return nil, err
		}
	}
	if err := s.applyIndexes(tx, w, ixChanges); err != nil {
		return nil, err
	}
	return nil, nil
}

// checkWrite refuses what would break the key layout or what bbolt would
// refuse halfway through a write.
func checkWrite(w *Write) error {
	switch {
	case w == nil:
		return fmt.Errorf("%w: nil write", ErrInvalid)
	case w.Class == "" || w.ID == "":
		return fmt.Errorf("%w: write %q/%q: empty class or id", ErrInvalid, w.Class, w.ID)
	case len(w.Class) > bbolt.MaxKeySize:
		return fmt.Errorf("%w: write: class name of %d bytes", ErrInvalid, len(w.Class))
	case strings.IndexByte(w.ID, 0) >= 0:
		return fmt.Errorf("%w: write %s/%q: id contains NUL", ErrInvalid, w.Class, w.ID)
	}
	for _, f := range w.Deletes {
		if err := checkField(w, f); err != nil {
			return err
		}
	}
	for _, f := range w.Puts {
		if err := checkField(w, f.Name); err != nil {
			return err
		}
		if f.Value == nil || int64(len(f.Value)) > bbolt.MaxValueSize {
			return fmt.Errorf("%w: write %s/%q field %q: nil value or %d bytes", ErrInvalid, w.Class, w.ID, f.Name, len(f.Value))
		}
	}
	return nil
}

func checkField(w *Write, name string) error {
	// The empty name is the meta record's key.
	if name == "" || len(w.ID)+1+len(name) > bbolt.MaxKeySize {
		return fmt.Errorf("%w: write %s/%q: field name %q is empty or too long", ErrInvalid, w.Class, w.ID, name)
	}
	return nil
}

// key builds id+"\x00"+field in the writer's scratch buffer; bbolt copies
// keys it stores, so the buffer is reused for the next key at once.
func (s *Store) key(id, field string) []byte {
	k := append(s.w.key[:0], id...)
	k = append(k, 0)
	k = append(k, field...)
	s.w.key = k
	return k
}

// has reports whether key exists; unlike Get it is not fooled by an empty value.
func has(b *bbolt.Bucket, key []byte) bool {
	k, _ := b.Cursor().Seek(key)
	return bytes.Equal(k, key)
}

// deletePrefix deletes every key starting with prefix. It seeks afresh after
// each delete because a bbolt cursor skips entries when the key under it is
// deleted.
func deletePrefix(b *bbolt.Bucket, prefix []byte) error {
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}
