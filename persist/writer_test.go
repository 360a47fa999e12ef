package persist

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// TestCommitOrderConcurrent64 checks that done runs exactly once per write,
// in the order the writes were committed, and that the last write of each
// object wins, with 64 goroutines committing at once.
func TestCommitOrderConcurrent64(t *testing.T) {
	const callers, perCaller = 64, 50
	cfg := testConfig(t)
	cfg.MaxBatch = 16 // several batches in flight, not one giant one
	s := openTestStore(t, cfg)

	var (
		orderMu sync.Mutex
		seq     int
		doneSeq []int // written only by the writer goroutine
		calls   [callers * perCaller]atomic.Int32
		wg      sync.WaitGroup
	)
	for g := range callers {
		wg.Go(func() {
			id := "obj" + strconv.Itoa(g)
			for i := range perCaller {
				w := &Write{Class: "C", ID: id, Puts: []FieldPut{put("n", strconv.Itoa(i))}}
				if i == 0 {
					w.Meta = meta(1, "n")
				}
				idx := g*perCaller + i
				ch := make(chan struct{})
				// The lock makes "commit order" observable: the sequence
				// number is taken in the same critical section as Commit.
				orderMu.Lock()
				n := seq
				seq++
				s.Commit(w, func(err error) {
					if err != nil {
						t.Errorf("write %d: %v", idx, err)
					}
					calls[idx].Add(1)
					doneSeq = append(doneSeq, n)
					close(ch)
				})
				orderMu.Unlock()
				if i%5 == 0 {
					<-ch // mix waiting and fire-and-forget callers
				}
			}
		})
	}
	wg.Wait()
	mustCommit(t, s, &Write{Class: "C", ID: "last", Meta: meta(1)}) // all dones have run

	for i := range calls {
		if n := calls[i].Load(); n != 1 {
			t.Fatalf("write %d: done called %d times", i, n)
		}
	}
	for i, n := range doneSeq {
		if n != i {
			t.Fatalf("done #%d was for write #%d: out of commit order", i, n)
		}
	}
	for g := range callers {
		st, ok := mustLoad(t, s, "C", "obj"+strconv.Itoa(g))
		if want := strconv.Itoa(perCaller - 1); !ok || string(st.Fields["n"]) != want {
			t.Errorf("obj%d: n = %q, want %q", g, st.Fields["n"], want)
		}
	}
	st := s.Stats()
	t.Logf("stats: %+v (%.1f writes per batch)", st, float64(st.Writes)/float64(st.Batches))
}

// TestBatchingAndMaxBatch parks the writer so that writes pile up, and checks
// that they are then taken MaxBatch at a time.
func TestBatchingAndMaxBatch(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxBatch = 4
	s := openTestStore(t, cfg)
	release := blockWriter(t, s)
	before := s.Stats()
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		s.Commit(&Write{Class: "C", ID: strconv.Itoa(i), Meta: meta(1)}, func(err error) {
			if err != nil {
				t.Error(err)
			}
			wg.Done()
		})
	}
	release()
	wg.Wait()
	after := s.Stats()
	// The blocker's batch was counted before `before`; then 4+4+2.
	if got := after.Batches - before.Batches; got != 3 {
		t.Errorf("%d batches for 10 writes with MaxBatch 4, want 3", got)
	}
}

// TestHardFailureIsolated makes bbolt-level failures (failpoint) of some
// writes in a batch and checks that only those writes fail.
func TestHardFailureIsolated(t *testing.T) {
	s := newTestStore(t)
	boom := errors.New("injected apply failure")
	s.failApply = func(w *Write) error {
		if w.ID[0] == 'x' {
			return boom
		}
		return nil
	}
	release := blockWriter(t, s)
	ids := []string{"a", "x1", "b", "x2", "c"}
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		s.Commit(&Write{Class: "C", ID: id, Meta: meta(1, "f"), Puts: []FieldPut{put("f", id)}}, func(err error) {
			errs[i] = err
			wg.Done()
		})
	}
	release()
	wg.Wait()
	for i, id := range ids {
		_, ok := mustLoad(t, s, "C", id)
		if id[0] == 'x' {
			if !errors.Is(errs[i], boom) || ok {
				t.Errorf("%s: err %v, stored %v; want the injected error and nothing stored", id, errs[i], ok)
			}
		} else if errs[i] != nil || !ok {
			t.Errorf("%s: err %v, stored %v; want success", id, errs[i], ok)
		}
	}
	if got := s.Stats().Retries; got != 2 {
		t.Errorf("Retries = %d, want 2 (one rerun per failing write)", got)
	}
}

// TestCommitFailureRetriesOneByOne fails whole transactions (as a failed
// fsync would) and checks the fallback to one write per transaction.
func TestCommitFailureRetriesOneByOne(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failures int64 // transactions to fail, the writer blocker's included
		wantErr  bool
	}{
		{"transient", 2, false},
		{"persistent", 1 << 30, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t)
			var armed atomic.Bool
			var left atomic.Int64
			left.Store(tc.failures)
			diskErr := errors.New("injected commit failure")
			s.failCommit = func() error {
				if armed.Load() && left.Add(-1) >= 0 {
					return diskErr
				}
				return nil
			}
			release := blockWriter(t, s)
			armed.Store(true)
			errs := make([]error, 3)
			var wg sync.WaitGroup
			for i := range errs {
				wg.Add(1)
				s.Commit(&Write{Class: "C", ID: fmt.Sprint(i), Meta: meta(1)}, func(err error) {
					errs[i] = err
					wg.Done()
				})
			}
			before := s.Stats().Batches
			release()
			wg.Wait()
			if got := s.Stats().Batches - before; got != 4 {
				t.Errorf("%d transactions, want 4: the batch, then one per write", got)
			}
			for i, err := range errs {
				_, ok := mustLoad(t, s, "C", fmt.Sprint(i))
				if tc.wantErr != (err != nil) || tc.wantErr == ok || (err != nil && !errors.Is(err, diskErr)) {
					t.Errorf("write %d: err %v, stored %v", i, err, ok)
				}
			}
			armed.Store(false)
		})
	}
}

// TestCloseDrains checks that Close commits everything queued before it and
// calls every done.
func TestCloseDrains(t *testing.T) {
	cfg := testConfig(t)
	s := openTestStore(t, cfg)
	release := blockWriter(t, s)
	var calls atomic.Int32
	const n = 500
	for i := range n {
		s.Commit(&Write{Class: "C", ID: strconv.Itoa(i), Meta: meta(1)}, func(err error) {
			if err != nil {
				t.Error(err)
			}
			calls.Add(1)
		})
	}
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if got := calls.Load(); got != n {
		t.Fatalf("%d dones after Close, want %d", got, n)
	}
	s2 := openTestStore(t, cfg)
	if got, err := s2.CountObjects("C"); got != n || err != nil {
		t.Errorf("CountObjects after reopen = %d, %v", got, err)
	}
}
