package persist

import (
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var (
	seedFlag   = flag.Uint64("seed", 0, "seed for TestModel; 0 picks one (printed on failure)")
	modelSteps = flag.Int("model.steps", 3000, "writes per TestModel run")
)

// The model of the store: class -> id -> object. An object exists iff it has
// a meta record, which the store guarantees by refusing a first write without
// Meta.
type modelObj struct {
	meta   ObjectMeta
	fields map[string]string
}

type model map[string]map[string]*modelObj

// failMarker in a write's Deletes makes the failApply failpoint refuse it.
const failMarker = "!fail"

var errInjected = errors.New("injected")

// check mirrors the refusals of Store.apply: the error the store must report
// for w given the model's current state.
func (m model) check(w *Write) error {
	if w.Meta == nil && len(w.Puts) > 0 && (w.Delete || m[w.Class][w.ID] == nil) {
		return ErrInvalid
	}
	if slices.Contains(w.Deletes, failMarker) {
		return errInjected
	}
	return nil
}

// apply changes the model as a committed w changes the store.
func (m model) apply(w *Write) {
	objs := m[w.Class]
	if objs == nil {
		objs = map[string]*modelObj{}
		m[w.Class] = objs
	}
	if w.Delete {
		delete(objs, w.ID)
	}
	o := objs[w.ID]
	if o == nil {
		if w.Meta == nil {
			return
		}
		o = &modelObj{fields: map[string]string{}}
		objs[w.ID] = o
	}
	for _, f := range w.Deletes {
		delete(o.fields, f)
	}
	for _, p := range w.Puts {
		o.fields[p.Name] = string(p.Value)
	}
	if w.Meta != nil {
		o.meta = *w.Meta
	}
}

func (m model) ids(class string) []string {
	return slices.Sorted(maps.Keys(m[class]))
}

var (
	modelClasses = []string{"A", "AB", "B"}
	modelIDs     = []string{"a", "a\x01", "a\x01\x01", "ab", "b", "\xff", "x1", "x2", "x3", "x4"}
	modelFields  = []string{"f", "g", "fg", "h\x00", "\xffz", "long-field-name"}
)

func randomWrite(r *rand.Rand) *Write {
	w := &Write{
		Class:  modelClasses[r.IntN(len(modelClasses))],
		ID:     modelIDs[r.IntN(len(modelIDs))],
		Delete: r.IntN(10) == 0,
	}
	if r.IntN(3) == 0 {
		fields := slices.Clone(modelFields)
		r.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
		w.Meta = &ObjectMeta{ClassVersion: r.IntN(4), Fields: fields[:r.IntN(len(fields)+1)], Epoch: r.Uint64N(3)}
	}
	for range r.IntN(4) {
		v := make([]byte, 1+r.IntN(20))
		if r.IntN(20) == 0 {
			v = make([]byte, 2000) // spans pages
		}
		for i := range v {
			v[i] = byte(r.Uint32())
		}
		w.Puts = append(w.Puts, FieldPut{Name: modelFields[r.IntN(len(modelFields))], Value: v})
	}
	for range r.IntN(3) {
		w.Deletes = append(w.Deletes, modelFields[r.IntN(len(modelFields))])
	}
	if r.IntN(25) == 0 {
		w.Deletes = append(w.Deletes, failMarker)
	}
	return w
}

// TestModel runs random writes against the store and the model, reopening
// the store now and then, and compares everything after each reopen. Some
// writes fail by failpoint, some whole transactions fail (as a failed fsync
// would), so the isolation and one-by-one retry paths are checked too. The
// model follows the done callbacks, which run in commit order, so it sees
// each write in the state the store applied it to.
func TestModel(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay: go test -run TestModel -seed %d ./persist/)", seed, seed)
	r := rand.New(rand.NewPCG(seed, 0x0d1))
	cfg := testConfig(t)
	cfg.MaxBatch = 1 + r.IntN(64)
	m := model{}
	diskErr := errors.New("injected commit failure")

	cfg.Logger = nil // injected failures would flood the log
	var s *Store
	open := func() {
		s = openTestStore(t, cfg)
		s.failApply = func(w *Write) error {
			if slices.Contains(w.Deletes, failMarker) {
				return errInjected
			}
			return nil
		}
		wr := rand.New(rand.NewPCG(seed, 0x0d2)) // the writer goroutine's own
		s.failCommit = func() error {
			if wr.IntN(30) == 0 {
				return diskErr
			}
			return nil
		}
	}
	open()
	var calls, failedCommits int
	var lastStats Stats
	commit := func(step int, w *Write) {
		s.Commit(w, func(err error) {
			calls++
			want := m.check(w)
			switch {
			case errors.Is(err, diskErr):
				failedCommits++
				if want != nil {
					t.Errorf("seed %d step %d: write %+v: commit error %v, but the store must refuse it with %v first", seed, step, *w, err, want)
				}
			case (want == nil) != (err == nil) || !errors.Is(err, want):
				t.Errorf("seed %d step %d: write %+v: done(%v), want %v", seed, step, *w, err, want)
			case err == nil:
				m.apply(w)
			}
		})
	}
	for step := range *modelSteps {
		commit(step, randomWrite(r))
		switch n := r.IntN(400); {
		case n == 0 || step == *modelSteps-1:
			lastStats = s.Stats()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if calls != step+1 {
				t.Fatalf("seed %d: %d dones for %d writes", seed, calls, step+1)
			}
			if t.Failed() {
				t.FailNow()
			}
			open()
			compareModel(t, s, m, r, seed, step)
		case n < 40:
			// Let the queue drain so that batch sizes vary.
			done := make(chan struct{})
			s.Commit(&Write{Class: "A", ID: "x1", Deletes: []string{"none"}}, func(error) { close(done) })
			<-done
		}
	}
	t.Logf("%d writes, %d failed by injected commit failures, last stats %+v", calls, failedCommits, lastStats)
}

func compareModel(t *testing.T, s *Store, m model, r *rand.Rand, seed uint64, step int) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d after step %d: %s", seed, step, fmt.Sprintf(format, args...))
	}
	var wantClasses []string
	for _, class := range slices.Sorted(maps.Keys(m)) {
		if len(m[class]) > 0 {
			wantClasses = append(wantClasses, class)
		}
	}
	if got, err := s.ClassNames(); err != nil || !slices.Equal(got, wantClasses) {
		fail("ClassNames = %q, %v; want %q", got, err, wantClasses)
	}
	for _, class := range modelClasses {
		for _, id := range modelIDs {
			st, ok, err := s.Load(class, id)
			o := m[class][id]
			if err != nil || ok != (o != nil) {
				fail("Load %s/%q: ok %v, err %v; model has %v", class, id, ok, err, o != nil)
			}
			if o == nil {
				continue
			}
			if st.Meta.ClassVersion != o.meta.ClassVersion || st.Meta.Epoch != o.meta.Epoch || !slices.Equal(st.Meta.Fields, o.meta.Fields) {
				fail("Load %s/%q: meta %+v, want %+v", class, id, st.Meta, o.meta)
			}
			want := map[string]string{}
			for _, f := range o.meta.Fields {
				if v, ok := o.fields[f]; ok {
					want[f] = v
				}
			}
			if len(st.Fields) != len(want) {
				fail("Load %s/%q: fields %q, want %q", class, id, st.Fields, want)
			}
			for f, v := range want {
				if string(st.Fields[f]) != v {
					fail("Load %s/%q: field %q = %q, want %q", class, id, f, st.Fields[f], v)
				}
			}
		}
		wantIDs := m.ids(class)
		limit := 1 + r.IntN(5)
		var got []string
		for after := ""; ; {
			page, err := s.ListIDs(class, after, limit)
			if err != nil {
				fail("ListIDs: %v", err)
			}
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1]
		}
		if !slices.Equal(got, wantIDs) {
			fail("ListIDs(%s) by %d = %q, want %q", class, limit, got, wantIDs)
		}
		if n, err := s.CountObjects(class); err != nil || n != len(wantIDs) {
			fail("CountObjects(%s) = %d, %v; want %d", class, n, err, len(wantIDs))
		}
	}
}
