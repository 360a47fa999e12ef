package persist

import (
	"bytes"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// benchStore opens a store with fsync on, as in production.
func benchStore(b *testing.B) *Store {
	cfg := testConfig(b)
	cfg.NoSync = false
	return openTestStore(b, cfg)
}

var benchPayload = bytes.Repeat([]byte("x"), 100)

// BenchmarkGroupCommit64: 64 goroutines, each committing a ~100 byte field put
// and waiting for it; b.N puts in all.
func BenchmarkGroupCommit64(b *testing.B) {
	const callers = 64
	s := benchStore(b)
	for g := range callers {
		mustCommit(b, s, &Write{Class: "C", ID: strconv.Itoa(g), Meta: meta(1, "v"), Puts: []FieldPut{{Name: "v", Value: benchPayload}}})
	}
	before := s.Stats()
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	b.ResetTimer()
	for g := range callers {
		wg.Go(func() {
			id := strconv.Itoa(g)
			for left.Add(-1) >= 0 {
				if err := s.CommitSync(&Write{Class: "C", ID: id, Puts: []FieldPut{{Name: "v", Value: benchPayload}}}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	after := s.Stats()
	b.ReportMetric(float64(after.Writes-before.Writes)/float64(after.Batches-before.Batches), "writes/batch")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
}

// BenchmarkUpdatePerPut: the baseline, one bbolt Update (and fsync) per put.
func BenchmarkUpdatePerPut(b *testing.B) {
	s := benchStore(b)
	key := objectKey("u", "v")
	b.ResetTimer()
	for range b.N {
		err := s.db.Update(func(tx *bbolt.Tx) error {
			bk, err := tx.Bucket(bucketObjects).CreateBucketIfNotExists([]byte("C"))
			if err != nil {
				return err
			}
			return bk.Put(key, benchPayload)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
}

// BenchmarkCommitSync1: one caller through the writer, which must cost about
// what one Update per put costs.
func BenchmarkCommitSync1(b *testing.B) {
	s := benchStore(b)
	mustCommit(b, s, &Write{Class: "C", ID: "u", Meta: meta(1, "v"), Puts: []FieldPut{{Name: "v", Value: benchPayload}}})
	b.ResetTimer()
	for range b.N {
		if err := s.CommitSync(&Write{Class: "C", ID: "u", Puts: []FieldPut{{Name: "v", Value: benchPayload}}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
}

func TestRawRates(t *testing.T) {
	s := newTestStore(t)
	mustCommit(t, s, &Write{Class: "Keep", ID: "k", Meta: meta(1)})
	group, err := RawGroupCommitRate(s, 8, benchPayload, 50*time.Millisecond)
	if err != nil || group <= 0 {
		t.Fatalf("RawGroupCommitRate = %v, %v", group, err)
	}
	update, err := RawUpdateRate(s, benchPayload, 50*time.Millisecond)
	if err != nil || update <= 0 {
		t.Fatalf("RawUpdateRate = %v, %v", update, err)
	}
	t.Logf("group commit %.0f puts/s, update per put %.0f puts/s (no fsync)", group, update)
	if names, _ := s.ClassNames(); !slices.Equal(names, []string{"Keep"}) {
		t.Errorf("bench class left behind: %q", names)
	}
	if _, err := RawGroupCommitRate(s, 0, benchPayload, time.Second); err == nil {
		t.Error("0 callers accepted")
	}
	s.Close()
	if _, err := RawUpdateRate(s, benchPayload, time.Millisecond); err == nil {
		t.Error("RawUpdateRate on a closed store succeeded")
	}
}
