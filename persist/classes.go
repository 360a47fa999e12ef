package persist

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"go.etcd.io/bbolt"
)

// versionKey orders versions numerically under bbolt's byte order.
func versionKey(v int) []byte {
	var k [4]byte
	binary.BigEndian.PutUint32(k[:], uint32(v))
	return k[:]
}

// PutClass durably stores one version of a class. Storing the same record
// again is a no-op; storing different content under an existing version fails
// with ErrClassExists, because objects name the version that wrote them.
func (s *Store) PutClass(rec ClassRecord) error {
	if rec.Name == "" || len(rec.Name) > bbolt.MaxKeySize || rec.Version < 1 || int64(rec.Version) > math.MaxUint32 {
		return fmt.Errorf("%w: class %q version %d: need a name and a version in 1..2^32-1", ErrInvalid, rec.Name, rec.Version)
	}
	enc, err := encodeClassRecord(&rec)
	if err != nil {
		return fmt.Errorf("%w: class %q: %w", ErrInvalid, rec.Name, err)
	}
	return s.syncOp(func(tx *bbolt.Tx) error {
		b, err := tx.Bucket(bucketClasses).CreateBucketIfNotExists([]byte(rec.Name))
		if err != nil {
			return err
		}
		key := versionKey(rec.Version)
		if old := b.Get(key); old != nil {
			if bytes.Equal(old, enc) {
				return nil
			}
			// Compare decoded records so that an encoder change alone (or a
			// time zone) does not turn a retry into a conflict.
			if prev, err := decodeClassRecord(old); err == nil && sameClass(prev, rec) {
				return nil
			}
			return fmt.Errorf("%w: %s version %d", ErrClassExists, rec.Name, rec.Version)
		}
		return b.Put(key, enc)
	})
}

func sameClass(a, b ClassRecord) bool {
	return a.Name == b.Name && a.Version == b.Version && a.Source == b.Source &&
		slices.Equal(a.Deps, b.Deps) && a.Created.Equal(b.Created)
}

// Classes returns every stored version of every class, ordered by name then
// version.
func (s *Store) Classes() ([]ClassRecord, error) {
	var out []ClassRecord
	err := s.view(func(tx *bbolt.Tx) error {
		classes := tx.Bucket(bucketClasses)
		return classes.ForEachBucket(func(name []byte) error {
			return classes.Bucket(name).ForEach(func(k, v []byte) error {
				rec, err := decodeClass(name, k, v)
				if err != nil {
					return err
				}
				out = append(out, rec)
				return nil
			})
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// LatestClass returns the highest stored version of the class name.
func (s *Store) LatestClass(name string) (ClassRecord, bool, error) {
	var rec ClassRecord
	var ok bool
	err := s.view(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketClasses).Bucket([]byte(name))
		if b == nil {
			return nil
		}
		k, v := b.Cursor().Last()
		if k == nil {
			return nil
		}
		var err error
		rec, err = decodeClass([]byte(name), k, v)
		ok = err == nil
		return err
	})
	if err != nil {
		return ClassRecord{}, false, err
	}
	return rec, ok, nil
}

// decodeClass decodes a class record and checks it against its own key, so a
// record filed under the wrong name or version is reported, not trusted.
func decodeClass(name, k, v []byte) (ClassRecord, error) {
	where := "classes/" + string(name)
	if len(k) != 4 || v == nil {
		return ClassRecord{}, corrupt(where, k, fmt.Errorf("not a version record"))
	}
	rec, err := decodeClassRecord(v)
	if err != nil {
		return ClassRecord{}, corrupt(where, k, err)
	}
	if rec.Name != string(name) || uint32(rec.Version) != binary.BigEndian.Uint32(k) || rec.Version < 1 {
		return ClassRecord{}, corrupt(where, k, fmt.Errorf("record says %q version %d", rec.Name, rec.Version))
	}
	return rec, nil
}
