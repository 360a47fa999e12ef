package persist

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// BenchClass is the scratch class the raw benchmarks write into; they delete
// it when they finish.
const BenchClass = "$bench"

// RawGroupCommitRate runs callers goroutines, each committing puts of payload
// bytes (one field of its own object, overwritten) through s and waiting for
// each, for d, and returns puts/s. It is the baseline of `odin bench commit`:
// the same group commit without any JavaScript.
func RawGroupCommitRate(s *Store, callers int, payload []byte, d time.Duration) (float64, error) {
	if callers < 1 || payload == nil || d <= 0 {
		return 0, fmt.Errorf("%w: bench: need callers >= 1, a payload and d > 0", ErrInvalid)
	}
	defer s.dropBench()
	var (
		stop  atomic.Bool
		total atomic.Int64
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	start := time.Now()
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	for g := range callers {
		wg.Go(func() {
			id := "g" + strconv.Itoa(g)
			meta := &ObjectMeta{ClassVersion: 1, Fields: []string{"v"}}
			n := int64(0)
			for !stop.Load() {
				w := &Write{Class: BenchClass, ID: id, Meta: meta, Puts: []FieldPut{{Name: "v", Value: payload}}}
				meta = nil // only the first write of an object carries meta
				if err := s.CommitSync(w); err != nil {
					errMu.Lock()
					first = cmp.Or(first, err)
					errMu.Unlock()
					stop.Store(true)
					break
				}
				n++
			}
			total.Add(n)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if first != nil {
		return 0, first
	}
	return float64(total.Load()) / elapsed.Seconds(), nil
}

// RawUpdateRate does one bbolt Update per put (the same key, overwritten) from
// one goroutine for d and returns puts/s: the baseline of `odin bench
// commit-1`, and what group commit is measured against.
func RawUpdateRate(s *Store, payload []byte, d time.Duration) (float64, error) {
	if payload == nil || d <= 0 {
		return 0, fmt.Errorf("%w: bench: need a payload and d > 0", ErrInvalid)
	}
	if s.isClosed.Load() {
		return 0, ErrClosed
	}
	defer s.dropBench()
	key := objectKey("u", "v")
	n := 0
	start := time.Now()
	deadline := start.Add(d)
	for time.Now().Before(deadline) {
		err := s.db.Update(func(tx *bbolt.Tx) error {
			b, err := tx.Bucket(bucketObjects).CreateBucketIfNotExists([]byte(BenchClass))
			if err != nil {
				return err
			}
			return b.Put(key, payload)
		})
		if err != nil {
			return 0, fmt.Errorf("persist: bench update: %w", err)
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

func (s *Store) dropBench() {
	err := s.syncOp(func(tx *bbolt.Tx) error {
		err := tx.Bucket(bucketObjects).DeleteBucket([]byte(BenchClass))
		if errors.Is(err, berrors.ErrBucketNotFound) {
			return nil
		}
		return err
	})
	if err != nil && !errors.Is(err, ErrClosed) {
		s.log.Warn("persist: cannot drop bench bucket", "err", err)
	}
}
