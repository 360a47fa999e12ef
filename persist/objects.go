package persist

import (
	"bytes"
	"errors"
	"strings"

	"go.etcd.io/bbolt"
)

// DefaultListLimit is the page size of ListIDs when the caller passes limit <= 0.
const DefaultListLimit = 100

// ObjectState is an object as stored: its meta record and its fields.
type ObjectState struct {
	Meta ObjectMeta
	// Fields holds the stored value of each name in Meta.Fields; a listed name
	// with no record is absent. Records of fields not listed are ignored.
	Fields map[string][]byte

	// The replay log (nil when the object is quiescent) and the dedupe
	// record; they are loaded even when the object has no stored state.
	LogBase []byte
	Log     [][]byte
	Dedupe  []byte
}

// Load reads the committed state of an object; ok is false if it was never
// stored (or was deleted). A Commit is visible to Load once its done has run.
func (s *Store) Load(class, id string) (st ObjectState, ok bool, err error) {
	prefix := objectKey(id, "")
	err = s.view(func(tx *bbolt.Tx) error {
		loadLog(tx, class, id, &st)
		b := tx.Bucket(bucketObjects).Bucket([]byte(class))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		k, v := c.Seek(prefix)
		if !bytes.Equal(k, prefix) {
			if k != nil && bytes.HasPrefix(k, prefix) {
				return corrupt("objects/"+class, k, errors.New("field record without meta record"))
			}
			return nil
		}
		meta, err := decodeObjectMeta(v)
		if err != nil {
			return corrupt("objects/"+class, k, err)
		}
		// Fields are stored in key order right after the meta record, so
		// seeking each listed name walks forward through the same pages.
		// Values are copied into one allocation because they live in the
		// mmap only until the transaction ends.
		vals := make([][]byte, len(meta.Fields))
		total := 0
		for i, name := range meta.Fields {
			key := objectKey(id, name)
			if k, v := c.Seek(key); bytes.Equal(k, key) {
				vals[i] = v
				total += len(v)
			}
		}
		arena := make([]byte, 0, total)
		st.Fields = make(map[string][]byte, len(meta.Fields))
		for i, name := range meta.Fields {
			if v := vals[i]; v != nil {
				start := len(arena)
				arena = append(arena, v...)
				st.Fields[name] = arena[start:len(arena):len(arena)]
			}
		}
		st.Meta, ok = meta, true
		return nil
	})
	if err != nil {
		return ObjectState{}, false, err
	}
	if !ok {
		st.Meta, st.Fields = ObjectMeta{}, nil
	}
	return st, ok, nil
}

func objectKey(id, field string) []byte {
	k := make([]byte, 0, len(id)+1+len(field))
	k = append(k, id...)
	k = append(k, 0)
	return append(k, field...)
}

// nextID returns the first object id in b whose keys are at or after seek,
// and positions nothing: the caller seeks again from id+"\x01", which is past
// every key of id (they continue with "\x00") and before the next id (ids
// hold no NUL, so a longer id continues with a byte >= 0x01).
func nextID(c *bbolt.Cursor, seek []byte, class string) ([]byte, error) {
	k, _ := c.Seek(seek)
	if k == nil {
		return nil, nil
	}
	i := bytes.IndexByte(k, 0)
	if i <= 0 {
		return nil, corrupt("objects/"+class, k, errors.New("key is not id+NUL+field"))
	}
	return k[:i], nil
}

// forEachID calls fn with each object id of class, in byte order, strictly
// after after, until fn returns false. It costs one seek per object however
// many fields the objects have.
func (s *Store) forEachID(class, after string, fn func(id []byte) bool) error {
	return s.view(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketObjects).Bucket([]byte(class))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		// Ids hold no NUL, so the ids after "a\x00..." are those after "a".
		if i := strings.IndexByte(after, 0); i >= 0 {
			after = after[:i]
		}
		var seek []byte
		if after != "" {
			seek = append([]byte(after), 1)
		}
		for {
			id, err := nextID(c, seek, class)
			if err != nil || id == nil {
				return err
			}
			if !fn(id) {
				return nil
			}
			seek = append(append(seek[:0], id...), 1)
		}
	})
}

// ListIDs returns up to limit ids of stored objects of class, in byte order,
// strictly after after ("" starts at the beginning; after need not be a
// stored id). limit <= 0 means
// DefaultListLimit. Pass the last id returned as after to get the next page.
func (s *Store) ListIDs(class, after string, limit int) ([]string, error) {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	var ids []string
	err := s.forEachID(class, after, func(id []byte) bool {
		ids = append(ids, string(id))
		return len(ids) < limit
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// CountObjects returns the number of stored objects of class. It walks the
// ids, so it costs one seek per object: meant for status and tests, not for
// the hot path.
func (s *Store) CountObjects(class string) (int, error) {
	n := 0
	err := s.forEachID(class, "", func([]byte) bool { n++; return true })
	return n, err
}

// ClassNames returns, in byte order, the names of the classes that have at
// least one stored object.
func (s *Store) ClassNames() ([]string, error) {
	var names []string
	err := s.view(func(tx *bbolt.Tx) error {
		objects := tx.Bucket(bucketObjects)
		return objects.ForEachBucket(func(name []byte) error {
			if k, _ := objects.Bucket(name).Cursor().First(); k != nil {
				names = append(names, string(name))
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return names, nil
}
