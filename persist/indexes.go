package persist

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/odin-db/odin/objects"
)

// Secondary indexes. Layout:
//
//	indexes  <class> "#state"        -> CBOR []IndexStatus (declared indexes, build progress)
//	                 <index name>    -> bucket: tuple+id -> "" (objects.AppendKey components)
//
// The writer keeps every declared index of a class up to date inside the
// transaction of each commit: for a write that touches an indexed field it
// computes the object's tuple before and after from the stored fields (with
// Config.IndexKey), deletes the old entry and puts the new one. An index
// declared on a class that already has objects is filled by BuildIndexStep,
// a batch at a time, also inside the writer's transactions, so builds and
// commits never race: a commit always maintains the index, and a build step
// always reads the state as committed.
var (
	bucketIndexes = []byte("indexes")
	keyIndexState = []byte("#state")
)

// ErrUnique is wrapped by the refusal of a write that would give a unique
// index a second object with the same values.
var ErrUnique = errors.New("persist: unique index violated")

// IndexStatus is a declared index and the progress of its build.
type IndexStatus struct {
	Index objects.Index `cbor:"1,keyasint"`
	Built bool          `cbor:"2,keyasint,omitempty"`
	// Cursor is the last object id a build step covered.
	Cursor string `cbor:"3,keyasint,omitempty"`
	Done   int    `cbor:"4,keyasint,omitempty"` // objects covered so far
	Total  int    `cbor:"5,keyasint,omitempty"` // objects of the class when the build began
	Err    string `cbor:"6,keyasint,omitempty"` // why the build failed (a unique index with duplicates)
}

// IndexEntry is one object found in an index: its full key (tuple + id)
// and its id.
type IndexEntry struct {
	Key []byte
	ID  string
	// With Query.Select, the object's stored fields (names in field order,
	// values as stored), read in the scan's own transaction, so that the
	// state always matches the key it was found under.
	Names  []string
	Values [][]byte
}

// selectFields fills e's fields from the object's records in tx.
func selectFields(tx *bbolt.Tx, class string, e *IndexEntry) error {
	ob := tx.Bucket(bucketObjects).Bucket([]byte(class))
	if ob == nil {
		return nil
	}
	v := ob.Get(objectKey(e.ID, ""))
	if v == nil {
		return nil
	}
	meta, err := decodeObjectMeta(v)
	if err != nil {
		return corrupt("objects/"+class, objectKey(e.ID, ""), err)
	}
	for _, name := range meta.Fields {
		if fv := ob.Get(objectKey(e.ID, name)); fv != nil {
			e.Names = append(e.Names, name)
			e.Values = append(e.Values, bytes.Clone(fv))
		}
	}
	return nil
}

// classIndexes is the writer's cached view of a class's declared indexes.
type classIndexes struct {
	list []IndexStatus
}

func (s *Store) indexesOf(tx *bbolt.Tx, class string) (*classIndexes, error) {
	if ci, ok := s.w.indexes[class]; ok {
		return ci, nil
	}
	ci := &classIndexes{}
	if b := tx.Bucket(bucketIndexes).Bucket([]byte(class)); b != nil {
		list, err := loadIndexState(b, class)
		if err != nil {
			return nil, err
		}
		ci.list = list
	}
	if s.w.indexes == nil {
		s.w.indexes = map[string]*classIndexes{}
	}
	s.w.indexes[class] = ci
	return ci, nil
}

// fieldValue returns the value field will have after w (nil: absent), given
// the object's bucket b (nil if it has none).
func (s *Store) fieldValue(b *bbolt.Bucket, w *Write, field string, after bool) []byte {
	if after {
		for i := len(w.Puts) - 1; i >= 0; i-- {
			if w.Puts[i].Name == field {
				return w.Puts[i].Value
			}
		}
		if w.Delete || slices.Contains(w.Deletes, field) {
			return nil
		}
	}
	if b == nil {
		return nil
	}
	return b.Get(objectKey(w.ID, field))
}

// touches reports whether w may change the values of ix's fields.
func touches(w *Write, ix *objects.Index) bool {
	if w.Delete {
		return true
	}
	for _, p := range w.Puts {
		if ix.Covers(p.Name) {
			return true
		}
	}
	for _, f := range w.Deletes {
		if ix.Covers(f) {
			return true
		}
	}
	return false
}

// tuple computes the key tuple of fields from get; ok is false if the
// first field is absent, undefined or not indexable (the object is then not
// in the index). A later field of a compound index that is absent or holds
// a value that cannot be indexed counts as undefined, so that a query on
// the leading fields finds the object.
func (s *Store) tuple(fields []string, get func(string) []byte) (t []byte, ok bool) {
	for i, f := range fields {
		start := len(t)
		if v := get(f); v != nil {
			if t, ok = s.cfg.IndexKey(t, v); !ok || len(t) == start {
				t = t[:start]
			}
		}
		switch {
		case len(t) > start && t[start] != objects.UndefinedTag:
		case i == 0:
			return nil, false
		default:
			t = append(t[:start], objects.UndefinedTag)
		}
	}
	return t, true
}

// indexChange is one index entry a write moves.
type indexChange struct {
	name     string
	old, new []byte // tuples; nil = not in the index
	unique   bool
}

// planIndexes computes, before w touches anything, the index entries it
// moves, and refuses it (a soft error) if it would break a unique index.
func (s *Store) planIndexes(tx *bbolt.Tx, w *Write) ([]indexChange, error) {
	if s.cfg.IndexKey == nil {
		return nil, nil
	}
	ci, err := s.indexesOf(tx, w.Class)
	if err != nil || len(ci.list) == 0 {
		return nil, err
	}
	ob := tx.Bucket(bucketObjects).Bucket([]byte(w.Class))
	var changes []indexChange
	for i := range ci.list {
		ix := &ci.list[i].Index
		if !touches(w, ix) {
			continue
		}
		old, _ := s.tuple(ix.Fields, func(f string) []byte { return s.fieldValue(ob, w, f, false) })
		nw, _ := s.tuple(ix.Fields, func(f string) []byte { return s.fieldValue(ob, w, f, true) })
		if bytes.Equal(old, nw) {
			continue
		}
		if ix.Unique && nw != nil && !objects.HasUnset(nw, len(ix.Fields)) {
			if holder := uniqueHolder(tx, w.Class, ix.Name(), nw, len(ix.Fields)); holder != "" && holder != w.ID {
				return nil, fmt.Errorf("%w: %s/%s would hold the same %s as %s/%s", ErrUnique, w.Class, w.ID, ix, w.Class, holder)
			}
		}
		changes = append(changes, indexChange{name: ix.Name(), old: old, new: nw, unique: ix.Unique})
	}
	return changes, nil
}

// uniqueHolder returns the id of an object whose entry in the index has
// the tuple t, or "".
func uniqueHolder(tx *bbolt.Tx, class, name string, t []byte, n int) string {
	b := indexBucket(tx, class, name)
	if b == nil {
		return ""
	}
	k, _ := b.Cursor().Seek(t)
	if k == nil || !bytes.HasPrefix(k, t) {
		return ""
	}
	if _, id, err := objects.SplitKey(k, n); err == nil {
		return id
	}
	return ""
}

func indexBucket(tx *bbolt.Tx, class, name string) *bbolt.Bucket {
	cb := tx.Bucket(bucketIndexes).Bucket([]byte(class))
	if cb == nil {
		return nil
	}
	return cb.Bucket([]byte(name))
}

// applyIndexes moves the entries planIndexes computed.
func (s *Store) applyIndexes(tx *bbolt.Tx, w *Write, changes []indexChange) error {
	for _, c := range changes {
		b := indexBucket(tx, w.Class, c.name)
		if b == nil {
			continue // declared but its bucket not made yet: cannot happen; be safe
		}
		if c.old != nil {
			if err := b.Delete(append(bytes.Clone(c.old), w.ID...)); err != nil {
				return err
			}
		}
		if c.new != nil {
			if err := b.Put(append(bytes.Clone(c.new), w.ID...), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// DeclareIndexes makes list the indexes of class: new ones are created empty
// (and built at once if the class has no objects), ones no longer listed
// are dropped. It returns the resulting statuses.
//
// Indexes need Config.IndexKey: without it only an empty list is accepted.
// An index listed twice is declared once.
func (s *Store) DeclareIndexes(class string, list []objects.Index) ([]IndexStatus, error) {
	for _, ix := range list {
		if err := checkIndex(ix); err != nil {
			return nil, fmt.Errorf("%w: declare indexes of %s: %w", ErrInvalid, class, err)
		}
	}
	if len(list) > 0 && s.cfg.IndexKey == nil {
		return nil, fmt.Errorf("%w: declare indexes of %s: the store has no index key function", ErrInvalid, class)
	}
	var out []IndexStatus
	err := s.syncOp(func(tx *bbolt.Tx) error {
		delete(s.w.indexes, class) // reloaded from the transaction below
		ci, err := s.indexesOf(tx, class)
		if err != nil {
			return err
		}
		delete(s.w.indexes, class) // this op may still roll back
		cb, err := tx.Bucket(bucketIndexes).CreateBucketIfNotExists([]byte(class))
		if err != nil {
			return err
		}
		ob := tx.Bucket(bucketObjects).Bucket([]byte(class))
		empty := ob == nil
		if ob != nil {
			k, _ := ob.Cursor().First()
			empty = k == nil
		}
		var next []IndexStatus
		for _, ix := range list {
			name := ix.Name()
			if slices.ContainsFunc(next, func(st IndexStatus) bool { return st.Index.Name() == name }) {
				continue // listed twice
			}
			i := slices.IndexFunc(ci.list, func(st IndexStatus) bool { return st.Index.Name() == name })
			if i >= 0 && ci.list[i].Err == "" {
				next = append(next, ci.list[i])
				continue
			}
			// A failed build (a unique index over duplicates) is retried
			// whenever the index is declared again: at each start, at each
			// define; the duplicates may have gone.
			// A new index starts empty, even if a bucket of that name was
			// left behind (its state lost): the build fills it from scratch.
			if err := cb.DeleteBucket([]byte(name)); err != nil && !errors.Is(err, bbolt.ErrBucketNotFound) {
				return err
			}
			if _, err := cb.CreateBucket([]byte(name)); err != nil {
				return err
			}
			// The objects are counted by the first build step, not here:
			// declaring runs inside the defining turn.
			next = append(next, IndexStatus{Index: ix, Built: empty})
		}
		for _, st := range ci.list {
			if !slices.ContainsFunc(next, func(n IndexStatus) bool { return n.Index.Name() == st.Index.Name() }) {
				if err := cb.DeleteBucket([]byte(st.Index.Name())); err != nil && !errors.Is(err, bbolt.ErrBucketNotFound) {
					return err
				}
			}
		}
		if err := putIndexState(cb, next); err != nil {
			return err
		}
		out = next
		return nil
	})
	return out, err
}

// decodeIndexState decodes a "#state" record. It never panics on arbitrary
// input (FuzzIndexState) and refuses indexes that could not have been
// declared: no fields, an empty field name, a field twice, an index twice.
func decodeIndexState(b []byte) ([]IndexStatus, error) {
	var list []IndexStatus
	if err := decMode.Unmarshal(b, &list); err != nil {
		return nil, err
	}
	names := make(map[string]bool, len(list))
	for _, st := range list {
		if err := checkIndex(st.Index); err != nil {
			return nil, err
		}
		if names[st.Index.Name()] {
			return nil, fmt.Errorf("index %s listed twice", st.Index)
		}
		names[st.Index.Name()] = true
	}
	return list, nil
}

// checkIndex refuses an index with no fields, an empty field name or a
// field named twice.
func checkIndex(ix objects.Index) error {
	if len(ix.Fields) == 0 {
		return errors.New("an index with no fields")
	}
	for i, f := range ix.Fields {
		if f == "" || slices.Contains(ix.Fields[:i], f) {
			return fmt.Errorf("index %s: empty or repeated field name", ix.Name())
		}
	}
	return nil
}

// loadIndexState reads the class bucket cb's declared indexes.
func loadIndexState(cb *bbolt.Bucket, class string) ([]IndexStatus, error) {
	v := cb.Get(keyIndexState)
	if v == nil {
		return nil, nil
	}
	list, err := decodeIndexState(v)
	if err != nil {
		return nil, corrupt("indexes/"+class, keyIndexState, err)
	}
	return list, nil
}

// readIndexState is loadIndexState for queries, which run far more often
// than the record changes: the decoded list is kept while the record's
// bytes stay the same.
func (s *Store) readIndexState(cb *bbolt.Bucket, class string) ([]IndexStatus, error) {
	v := cb.Get(keyIndexState)
	s.stateMu.Lock()
	c, ok := s.stateCache[class]
	s.stateMu.Unlock()
	if ok && bytes.Equal(c.raw, v) {
		return c.list, nil
	}
	list, err := loadIndexState(cb, class)
	if err != nil {
		return nil, err
	}
	s.stateMu.Lock()
	if s.stateCache == nil {
		s.stateCache = map[string]cachedState{}
	}
	s.stateCache[class] = cachedState{raw: bytes.Clone(v), list: list}
	s.stateMu.Unlock()
	return list, nil
}

// cachedState is a decoded "#state" record and the bytes it came from.
type cachedState struct {
	raw  []byte
	list []IndexStatus
}

// EntryKey returns the key (tuple and id) the object id has in the index
// ix of class, computed from its stored state; ok is false if it is not in
// the index.
func (s *Store) EntryKey(class string, ix objects.Index, id string) (key []byte, ok bool, err error) {
	err = s.view(func(tx *bbolt.Tx) error {
		key, ok, err = s.entryKey(tx, class, ix, id)
		return err
	})
	return key, ok, err
}

func putIndexState(cb *bbolt.Bucket, list []IndexStatus) error {
	if len(list) == 0 {
		return cb.Delete(keyIndexState)
	}
	enc, err := encMode.Marshal(list)
	if err != nil {
		return err
	}
	return cb.Put(keyIndexState, enc)
}

func countIDs(b *bbolt.Bucket) int {
	n := 0
	c := b.Cursor()
	var seek []byte
	for {
		k, _ := c.Seek(seek)
		if k == nil {
			return n
		}
		i := bytes.IndexByte(k, 0)
		if i <= 0 {
			return n
		}
		n++
		seek = append(append(seek[:0], k[:i]...), 1)
	}
}

// IndexStates returns the declared indexes of class and their builds.
func (s *Store) IndexStates(class string) ([]IndexStatus, error) {
	var out []IndexStatus
	err := s.view(func(tx *bbolt.Tx) error {
		cb := tx.Bucket(bucketIndexes).Bucket([]byte(class))
		if cb == nil {
			return nil
		}
		var err error
		out, err = loadIndexState(cb, class)
		return err
	})
	return out, err
}

// BuildIndexStep adds up to n objects of class to the index name that is
// being built, continuing from its cursor, in one writer transaction. done
// is true once the index is built (or its build failed: see Err).
func (s *Store) BuildIndexStep(class, name string, n int) (st IndexStatus, done bool, err error) {
	if s.cfg.IndexKey == nil {
		return IndexStatus{}, false, fmt.Errorf("%w: build index %s of %s: the store has no index key function", ErrInvalid, name, class)
	}
	n = max(n, 1)
	err = s.syncOp(func(tx *bbolt.Tx) error {
		delete(s.w.indexes, class)
		cb := tx.Bucket(bucketIndexes).Bucket([]byte(class))
		if cb == nil {
			return fmt.Errorf("persist: class %s has no indexes", class)
		}
		list, err := loadIndexState(cb, class)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(list, func(st IndexStatus) bool { return st.Index.Name() == name })
		if i < 0 {
			return fmt.Errorf("persist: class %s has no index %s", class, name)
		}
		cur := &list[i]
		if cur.Built || cur.Err != "" {
			st, done = *cur, true
			return nil
		}
		ib := cb.Bucket([]byte(name))
		if ib == nil {
			return corrupt("indexes/"+class, []byte(name), errors.New("declared index has no bucket"))
		}
		ob := tx.Bucket(bucketObjects).Bucket([]byte(class))
		nf := len(cur.Index.Fields)
		c := (*bbolt.Cursor)(nil)
		if ob != nil {
			c = ob.Cursor()
		}
		if cur.Cursor == "" && cur.Total == 0 && ob != nil {
			cur.Total = countIDs(ob) // for progress; one seek per object, once per build
		}
		var seek []byte
		if cur.Cursor != "" {
			seek = append([]byte(cur.Cursor), 1)
		}
		for k := 0; k < n; k++ {
			var id []byte
			if c != nil {
				var err error
				if id, err = nextID(c, seek, class); err != nil {
					return err
				}
			}
			if id == nil {
				cur.Built = true
				break
			}
			sid := string(id)
			t, ok := s.tuple(cur.Index.Fields, func(f string) []byte { return ob.Get(objectKey(sid, f)) })
			if ok {
				if cur.Index.Unique && !objects.HasUnset(t, nf) {
					if holder := uniqueHolder(tx, class, name, t, nf); holder != "" && holder != sid {
						cur.Err = fmt.Sprintf("%s/%s and %s/%s hold the same %s", class, holder, class, sid, cur.Index)
						break
					}
				}
				if err := ib.Put(append(t, id...), nil); err != nil {
					return err
				}
			}
			cur.Cursor = sid
			cur.Done++
			seek = append(append(seek[:0], id...), 1)
		}
		if cur.Done > cur.Total {
			cur.Total = cur.Done
		}
		if err := putIndexState(cb, list); err != nil {
			return err
		}
		st, done = *cur, cur.Built || cur.Err != ""
		return nil
	})
	return st, done, err
}

// ScanIndex runs a planned query over the index (or the ids, for q.Index
// ""), returning at most q.Limit+1 entries (the extra one tells the caller
// that more exist).
func (s *Store) ScanIndex(q *objects.Query) ([]IndexEntry, error) {
	var out []IndexEntry
	err := s.view(func(tx *bbolt.Tx) error {
		if q.Index == "" {
			return s.scanIDs(tx, q, &out)
		}
		cb := tx.Bucket(bucketIndexes).Bucket([]byte(q.Class))
		if cb == nil {
			return fmt.Errorf("%w: class %s has no index %s", ErrNoIndex, q.Class, q.Index)
		}
		list, err := s.readIndexState(cb, q.Class)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(list, func(st IndexStatus) bool { return st.Index.Name() == q.Index })
		if i < 0 {
			return fmt.Errorf("%w: class %s has no index %s", ErrNoIndex, q.Class, q.Index)
		}
		st := list[i]
		switch {
		case st.Err != "":
			return fmt.Errorf("%w: the build of index %s of %s failed: %s", ErrNoIndex, st.Index, q.Class, st.Err)
		case !st.Built:
			pct := 0
			if st.Total > 0 {
				pct = 100 * st.Done / st.Total
			}
			return fmt.Errorf("%w: index %s of %s is still being built (%d%%, %d of %d objects); try again when it is done", ErrIndexBuilding, st.Index, q.Class, pct, st.Done, st.Total)
		}
		b := cb.Bucket([]byte(q.Index))
		if b == nil {
			return corrupt("indexes/"+q.Class, []byte(q.Index), errors.New("declared index has no bucket"))
		}
		from, skip := q.Lo, false
		switch {
		case len(q.AfterKey) > 0:
			from, skip = q.AfterKey, true
		case q.After != "":
			key, ok, err := s.entryKey(tx, q.Class, st.Index, q.After)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%w: after: %s/%s is not in index %s", ErrInvalid, q.Class, q.After, st.Index)
			}
			from, skip = key, true
		}
		nf := len(st.Index.Fields) // not q.Fields: a query is data from a message
		return scanRange(b.Cursor(), q, from, skip, func(k []byte) error {
			_, id, err := objects.SplitKey(k, nf)
			if err != nil {
				return corrupt("indexes/"+q.Class+"/"+q.Index, k, err)
			}
			e := IndexEntry{Key: bytes.Clone(k), ID: id}
			if q.Select {
				if err := selectFields(tx, q.Class, &e); err != nil {
					return err
				}
			}
			out = append(out, e)
			return nil
		})
	})
	return out, err
}

// scanRange walks the keys of q's range in its direction, starting at from
// (excluded if skip), calling fn for at most q.Limit+1 keys.
func scanRange(c *bbolt.Cursor, q *objects.Query, from []byte, skip bool, fn func(k []byte) error) error {
	max := q.Limit + 1
	n := 0
	if !q.Desc {
		if bytes.Compare(from, q.Lo) < 0 {
			from, skip = q.Lo, false
		}
		for k, _ := c.Seek(from); k != nil && n < max; k, _ = c.Next() {
			if skip && bytes.Equal(k, from) {
				continue
			}
			if q.Hi != nil && bytes.Compare(k, q.Hi) >= 0 {
				break
			}
			if err := fn(k); err != nil {
				return err
			}
			n++
		}
		return nil
	}
	// Descending: start at the last key below the upper bound (Hi, or the
	// cursor's key), walk back to Lo.
	upper := q.Hi
	if skip && (upper == nil || bytes.Compare(from, upper) < 0) {
		upper = from
	}
	var k []byte
	if upper == nil {
		k, _ = c.Last()
	} else if k, _ = c.Seek(upper); k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	for ; k != nil && n < max && bytes.Compare(k, q.Lo) >= 0; k, _ = c.Prev() {
		if err := fn(k); err != nil {
			return err
		}
		n++
	}
	return nil
}

// scanIDs is a query with no index: every object of the class, in id order.
func (s *Store) scanIDs(tx *bbolt.Tx, q *objects.Query, out *[]IndexEntry) error {
	b := tx.Bucket(bucketObjects).Bucket([]byte(q.Class))
	if b == nil {
		return nil
	}
	max := q.Limit + 1
	// Ids hold no NUL: the ids after "a\x00..." are those after "a", and
	// the ids before it are "a" and those before.
	after, afterNUL := q.After, false
	if i := strings.IndexByte(after, 0); i >= 0 {
		after, afterNUL = after[:i], true
	}
	if !q.Desc {
		var seek []byte
		if after != "" {
			seek = append([]byte(after), 1)
		}
		c := b.Cursor()
		for len(*out) < max {
			id, err := nextID(c, seek, q.Class)
			if err != nil || id == nil {
				return err
			}
			if err := appendID(tx, q, out, id); err != nil {
				return err
			}
			seek = append(append(seek[:0], id...), 1)
		}
		return nil
	}
	// Descending id order: walk meta records backwards (each object's first key).
	c := b.Cursor()
	var k []byte
	if q.After != "" {
		seek := []byte(after)
		if afterNUL {
			seek = append(seek, 1) // past every key of the id after[:i]
		}
		k, _ = c.Seek(seek)
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
	} else {
		k, _ = c.Last()
	}
	for ; k != nil && len(*out) < max; k, _ = c.Prev() {
		i := bytes.IndexByte(k, 0)
		if i < 0 || i != len(k)-1 {
			continue // a field record; the meta record id+"\x00" comes first
		}
		if err := appendID(tx, q, out, k[:i]); err != nil {
			return err
		}
	}
	return nil
}

// appendID adds the object id to a scan in id order.
func appendID(tx *bbolt.Tx, q *objects.Query, out *[]IndexEntry, id []byte) error {
	e := IndexEntry{Key: bytes.Clone(id), ID: string(id)}
	if q.Select {
		if err := selectFields(tx, q.Class, &e); err != nil {
			return err
		}
	}
	*out = append(*out, e)
	return nil
}

// entryKey computes the key an object has in an index, from its stored state.
func (s *Store) entryKey(tx *bbolt.Tx, class string, ix objects.Index, id string) ([]byte, bool, error) {
	if s.cfg.IndexKey == nil {
		return nil, false, fmt.Errorf("%w: the store has no index key function", ErrInvalid)
	}
	ob := tx.Bucket(bucketObjects).Bucket([]byte(class))
	if ob == nil {
		return nil, false, nil
	}
	t, ok := s.tuple(ix.Fields, func(f string) []byte { return ob.Get(objectKey(id, f)) })
	if !ok {
		return nil, false, nil
	}
	return append(t, id...), true, nil
}

// UniqueHolder returns the id of the object whose entry in the unique index
// ix of class has the tuple, or "".
func (s *Store) UniqueHolder(class string, ix objects.Index, tuple []byte) (string, error) {
	var id string
	err := s.view(func(tx *bbolt.Tx) error {
		id = uniqueHolder(tx, class, ix.Name(), tuple, len(ix.Fields))
		return nil
	})
	return id, err
}

// Sync waits until every write committed before it is applied.
func (s *Store) Sync() error { return s.syncOp(func(*bbolt.Tx) error { return nil }) }

// Errors of queries.
var (
	ErrNoIndex       = errors.New("persist: no such index")
	ErrIndexBuilding = errors.New("persist: index not built yet")
)
