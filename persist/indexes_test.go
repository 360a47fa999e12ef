package persist

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/scripting/codec"
)

// ---------------------------------------------------------------- helpers

func indexConfig(t testing.TB) Config {
	cfg := testConfig(t)
	cfg.IndexKey = codec.KeyOf
	return cfg
}

func newIndexStore(t testing.TB) *Store {
	t.Helper()
	return openTestStore(t, indexConfig(t))
}

func enc(t testing.TB, v any) []byte {
	t.Helper()
	b, err := codec.AppendGo(nil, v)
	if err != nil {
		t.Fatalf("AppendGo(%v): %v", v, err)
	}
	return b
}

// gone as a field value in set deletes the field.
type goneT struct{}

var gone goneT

// set builds a write of one object's fields from name, value pairs (gone
// deletes the field). Meta lists the fields put.
func set(t testing.TB, class, id string, kv ...any) *Write {
	t.Helper()
	w := &Write{Class: class, ID: id, Meta: &ObjectMeta{ClassVersion: 1}}
	for i := 0; i < len(kv); i += 2 {
		name := kv[i].(string)
		if kv[i+1] == gone {
			w.Deletes = append(w.Deletes, name)
			continue
		}
		w.Puts = append(w.Puts, FieldPut{Name: name, Value: enc(t, kv[i+1])})
		w.Meta.Fields = append(w.Meta.Fields, name)
	}
	return w
}

// fields is one object's stored fields in a model: name -> codec bytes.
type fields map[string][]byte

// modelApply changes a model of one class as a committed w changes the store.
func modelApply(m map[string]fields, w *Write) {
	if w.Delete {
		delete(m, w.ID)
	}
	o := m[w.ID]
	if o == nil {
		if w.Meta == nil {
			return
		}
		o = fields{}
		m[w.ID] = o
	}
	for _, f := range w.Deletes {
		delete(o, f)
	}
	for _, p := range w.Puts {
		o[p.Name] = p.Value
	}
}

// modelTuple is the tuple an object with fields fs has in ix, or nil: its
// first field must be there and indexable; a later one that is not counts
// as undefined.
func modelTuple(ix objects.Index, fs fields) []byte {
	var t []byte
	for i, f := range ix.Fields {
		start := len(t)
		v, ok := fs[f]
		if ok {
			t, ok = codec.KeyOf(t, v)
		}
		if !ok || t[start] == objects.UndefinedTag {
			if i == 0 {
				return nil
			}
			t = append(t[:start], objects.UndefinedTag)
		}
	}
	return t
}

// modelKeys is the content index ix must have for the objects of m.
func modelKeys(ix objects.Index, m map[string]fields) [][]byte {
	keys := [][]byte{}
	for id, fs := range m {
		if t := modelTuple(ix, fs); t != nil {
			keys = append(keys, append(t, id...))
		}
	}
	slices.SortFunc(keys, bytes.Compare)
	return keys
}

// modelConflict returns the object of m other than id holding tuple t in
// the unique index ix, or "".
func modelConflict(ix objects.Index, m map[string]fields, id string, t []byte) string {
	if t == nil || objects.HasUnset(t, len(ix.Fields)) {
		return ""
	}
	for other, fs := range m {
		if other != id && bytes.Equal(modelTuple(ix, fs), t) {
			return other
		}
	}
	return ""
}

// indexKeys returns the stored keys of index ix of class (nil: no bucket).
func indexKeys(t testing.TB, s *Store, class string, ix objects.Index) [][]byte {
	t.Helper()
	var keys [][]byte
	err := s.view(func(tx *bbolt.Tx) error {
		b := indexBucket(tx, class, ix.Name())
		if b == nil {
			return nil
		}
		keys = [][]byte{}
		return b.ForEach(func(k, v []byte) error {
			if len(v) != 0 {
				t.Errorf("index entry %x has value %x", k, v)
			}
			keys = append(keys, bytes.Clone(k))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// describeKeys renders index keys for failure messages.
func describeKeys(keys [][]byte, n int) string {
	var parts []string
	for _, k := range keys {
		t, id, err := objects.SplitKey(k, n)
		if err != nil {
			parts = append(parts, fmt.Sprintf("bad(%x)", k))
			continue
		}
		var vals []string
		for len(t) > 0 {
			v, l, err := objects.DecodeComponent(t)
			if err != nil {
				break
			}
			vals = append(vals, fmt.Sprintf("%#v", v))
			t = t[l:]
		}
		parts = append(parts, "("+strings.Join(vals, ",")+")"+id)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func checkIndexContents(t testing.TB, s *Store, class string, ix objects.Index, m map[string]fields) {
	t.Helper()
	got, want := indexKeys(t, s, class, ix), modelKeys(ix, m)
	if !slices.EqualFunc(got, want, bytes.Equal) {
		t.Fatalf("index %s of %s:\n got %s\nwant %s", ix, class, describeKeys(got, len(ix.Fields)), describeKeys(want, len(ix.Fields)))
	}
}

func mustDeclare(t testing.TB, s *Store, class string, list ...objects.Index) []IndexStatus {
	t.Helper()
	sts, err := s.DeclareIndexes(class, list)
	if err != nil {
		t.Fatalf("DeclareIndexes(%s, %v): %v", class, list, err)
	}
	return sts
}

func mustState(t testing.TB, s *Store, class string, ix objects.Index) IndexStatus {
	t.Helper()
	sts, err := s.IndexStates(class)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		if st.Index.Name() == ix.Name() {
			return st
		}
	}
	t.Fatalf("class %s has no index %s: %+v", class, ix, sts)
	return IndexStatus{}
}

// buildAll runs build steps of n objects until the index is done.
func buildAll(t testing.TB, s *Store, class string, ix objects.Index, n int) IndexStatus {
	t.Helper()
	for range 100000 {
		st, done, err := s.BuildIndexStep(class, ix.Name(), n)
		if err != nil {
			t.Fatalf("BuildIndexStep: %v", err)
		}
		if done {
			return st
		}
	}
	t.Fatal("the build never ends")
	return IndexStatus{}
}

// commitModel commits w and applies it to m, failing the test on error.
func commitModel(t testing.TB, s *Store, m map[string]fields, w *Write) {
	t.Helper()
	mustCommit(t, s, w)
	modelApply(m, w)
}

func keyOf(t testing.TB, v any) []byte {
	t.Helper()
	k, ok := codec.KeyOf(nil, enc(t, v))
	if !ok {
		t.Fatalf("%v is not indexable", v)
	}
	return k
}

func ids(entries []IndexEntry) []string {
	out := []string{}
	for _, e := range entries {
		out = append(out, e.ID)
	}
	return out
}

var (
	ixOwner    = objects.Index{Fields: []string{"owner"}}
	ixCityAge  = objects.Index{Fields: []string{"city", "age"}}
	ixEmail    = objects.Index{Fields: []string{"email"}, Unique: true}
	ixUniqPair = objects.Index{Fields: []string{"first", "last"}, Unique: true}
)

// ---------------------------------------------------------------- maintenance

func TestIndexMaintainedByCommits(t *testing.T) {
	s := newIndexStore(t)
	sts := mustDeclare(t, s, "User", ixOwner, ixCityAge, ixEmail)
	for _, st := range sts {
		if !st.Built || st.Err != "" || st.Total != 0 {
			t.Errorf("index on an empty class: %+v", st)
		}
	}
	m := map[string]fields{}
	check := func() {
		t.Helper()
		for _, ix := range []objects.Index{ixOwner, ixCityAge, ixEmail} {
			checkIndexContents(t, s, "User", ix, m)
		}
	}
	commitModel(t, s, m, set(t, "User", "u1", "owner", "bob", "city", "Paris", "age", 30, "email", "a@x"))
	commitModel(t, s, m, set(t, "User", "u2", "owner", "bob", "city", "Paris", "age", 25.5, "name", "n"))
	commitModel(t, s, m, set(t, "User", "u3", "owner", "alice", "city", "Oslo"))
	check()
	if got := len(indexKeys(t, s, "User", ixOwner)); got != 3 {
		t.Fatalf("owner index has %d entries", got)
	}
	if got := len(indexKeys(t, s, "User", ixCityAge)); got != 3 {
		t.Fatalf("city,age index has %d entries (u3, with no age, is under (Oslo, undefined))", got)
	}

	// An update moves the entry; a write of other fields leaves it alone.
	commitModel(t, s, m, set(t, "User", "u1", "owner", "carol"))
	commitModel(t, s, m, set(t, "User", "u2", "name", "m"))
	check()
	// Deleting a field drops the entry; putting it back restores it.
	commitModel(t, s, m, &Write{Class: "User", ID: "u1", Deletes: []string{"age"}})
	check()
	commitModel(t, s, m, set(t, "User", "u1", "age", 31))
	check()
	// undefined is absent; null is a value.
	commitModel(t, s, m, set(t, "User", "u2", "owner", codec.Undefined{}, "city", nil))
	check()
	if keys := indexKeys(t, s, "User", ixOwner); len(keys) != 2 {
		t.Errorf("undefined owner indexed: %s", describeKeys(keys, 1))
	}
	// Values that cannot be indexed leave the object out.
	for _, v := range []any{[]any{"bob"}, math.NaN(), codec.InvalidDate{}, map[string]any{"a": 1}, objects.Ref{Class: "User", ID: "u1"}, codec.Bytes("x"),
		new(big.Int).Lsh(big.NewInt(1), 2000)} {
		commitModel(t, s, m, set(t, "User", "u3", "owner", v))
		check()
		if keys := indexKeys(t, s, "User", ixOwner); len(keys) != 1 {
			t.Errorf("owner %v indexed: %s", v, describeKeys(keys, 1))
		}
	}
	// Every kind of indexable value.
	for i, v := range []any{true, false, 0.0, math.Copysign(0, -1), math.Inf(-1), int64(1 << 60), big.NewInt(-7),
		time.UnixMilli(12345).UTC(), "", "a\x00b", codec.UTF16{0x61, 0xD83D, 0xDE00}} {
		commitModel(t, s, m, set(t, "User", fmt.Sprintf("v%02d", i), "owner", v, "city", v, "age", v))
	}
	check()
	// A whole-object delete removes every entry; re-creating it in the same
	// write leaves only the new fields.
	commitModel(t, s, m, &Write{Class: "User", ID: "u1", Delete: true})
	check()
	commitModel(t, s, m, &Write{Class: "User", ID: "u2", Delete: true, Meta: meta(1, "owner"), Puts: []FieldPut{{Name: "owner", Value: enc(t, "dave")}}})
	check()
	// A delete and a put of the same field in one write: the put wins.
	commitModel(t, s, m, &Write{Class: "User", ID: "u3", Deletes: []string{"owner"}, Puts: []FieldPut{{Name: "owner", Value: enc(t, "erin")}}})
	// Two puts of one field: the last wins.
	commitModel(t, s, m, &Write{Class: "User", ID: "u3", Puts: []FieldPut{{Name: "city", Value: enc(t, "X")}, {Name: "city", Value: enc(t, "Y")}}})
	check()
	// Deleting what does not exist changes nothing.
	commitModel(t, s, m, &Write{Class: "User", ID: "nobody", Delete: true})
	commitModel(t, s, m, &Write{Class: "Nothing", ID: "nobody", Delete: true, Deletes: []string{"owner"}})
	check()
	// A refused write (a new object without Meta) leaves the indexes alone.
	if err := s.CommitSync(&Write{Class: "User", ID: "new", Puts: []FieldPut{{Name: "owner", Value: enc(t, "zed")}}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("write without meta: %v", err)
	}
	check()
	// A field that does not decode is not indexed.
	commitModel(t, s, m, &Write{Class: "User", ID: "u3", Puts: []FieldPut{{Name: "owner", Value: []byte{0xff, 0xff}}}})
	check()
	// Other classes are not indexed.
	mustCommit(t, s, set(t, "Other", "o1", "owner", "bob"))
	if keys := indexKeys(t, s, "Other", ixOwner); keys != nil {
		t.Errorf("class without indexes has an index: %s", describeKeys(keys, 1))
	}
	check()
}

func TestIndexSameBatch(t *testing.T) {
	s := newIndexStore(t)
	mustDeclare(t, s, "User", ixOwner, ixEmail)
	m := map[string]fields{}
	ws := []*Write{
		set(t, "User", "a", "owner", "x", "email", "e1"),
		set(t, "User", "a", "owner", "y"),
		set(t, "User", "b", "owner", "y", "email", "e2"),
		{Class: "User", ID: "a", Delete: true},
		set(t, "User", "c", "owner", "z", "email", "e1"), // a released e1 earlier in the batch
		set(t, "User", "d", "email", "e2"),               // refused: b holds e2
		set(t, "User", "a", "owner", "w", "email", "e3"),
	}
	release := blockWriter(t, s)
	errs := make([]chan error, len(ws))
	for i, w := range ws {
		errs[i] = make(chan error, 1)
		s.Commit(w, func(err error) { errs[i] <- err })
	}
	release()
	for i, w := range ws {
		err := <-errs[i]
		if i == 5 {
			if !errors.Is(err, ErrUnique) {
				t.Errorf("write %d: %v, want ErrUnique", i, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		modelApply(m, w)
	}
	checkIndexContents(t, s, "User", ixOwner, m)
	checkIndexContents(t, s, "User", ixEmail, m)
	if _, ok := mustLoad(t, s, "User", "d"); ok {
		t.Error("the refused write stored its object")
	}
}

func TestUniqueIndex(t *testing.T) {
	s := newIndexStore(t)
	mustDeclare(t, s, "User", ixEmail, ixUniqPair, ixOwner)
	m := map[string]fields{}
	commitModel(t, s, m, set(t, "User", "u1", "email", "a@x", "first", "Ada", "last", "L", "owner", "o1"))
	commitModel(t, s, m, set(t, "User", "u2", "email", "b@x", "first", "Ada", "last", "M", "owner", "o2"))

	refuse := func(w *Write, holder string) {
		t.Helper()
		before := maps.Clone(m)
		err := s.CommitSync(w)
		if !errors.Is(err, ErrUnique) {
			t.Fatalf("write %s/%s: %v, want ErrUnique", w.Class, w.ID, err)
		}
		if !strings.Contains(err.Error(), "User/"+w.ID) || !strings.Contains(err.Error(), "User/"+holder) {
			t.Errorf("refusal %q does not name %s and %s", err, w.ID, holder)
		}
		// Nothing of it is applied: not the fields, not other indexes.
		st, ok := mustLoad(t, s, "User", w.ID)
		if ok != (before[w.ID] != nil) {
			t.Errorf("refused write changed whether %s exists", w.ID)
		}
		for name, v := range st.Fields {
			if !bytes.Equal(v, before[w.ID][name]) {
				t.Errorf("refused write changed %s.%s", w.ID, name)
			}
		}
		for _, ix := range []objects.Index{ixEmail, ixUniqPair, ixOwner} {
			checkIndexContents(t, s, "User", ix, m)
		}
	}
	refuse(set(t, "User", "u3", "email", "a@x", "owner", "o3"), "u1")
	if err := s.CommitSync(set(t, "User", "u3", "email", "a@x", "owner", "o3")); !strings.Contains(err.Error(), "unique email") {
		t.Errorf("refusal does not name the index: %v", err)
	}
	refuse(set(t, "User", "u2", "email", "a@x", "owner", "changed"), "u1")
	refuse(set(t, "User", "u2", "last", "L"), "u1")
	refuse(&Write{Class: "User", ID: "u2", Delete: true, Meta: meta(1), Puts: []FieldPut{{Name: "email", Value: enc(t, "a@x")}}}, "u1")
	// The same value of the same type only: "1" and 1 differ, -0 and 0 do not.
	commitModel(t, s, m, set(t, "User", "n1", "email", 1))
	commitModel(t, s, m, set(t, "User", "n2", "email", "1"))
	commitModel(t, s, m, set(t, "User", "n3", "email", 0.0))
	refuse(set(t, "User", "n4", "email", math.Copysign(0, -1)), "n3")
	refuse(set(t, "User", "n4", "email", int64(1)), "n1")
	// Rewriting one's own value is fine.
	commitModel(t, s, m, set(t, "User", "u1", "email", "a@x", "owner", "o1b"))
	// Null never conflicts, nor does a compound tuple holding one.
	commitModel(t, s, m, set(t, "User", "z1", "email", nil, "first", nil, "last", "L"))
	commitModel(t, s, m, set(t, "User", "z2", "email", nil, "first", nil, "last", "L"))
	commitModel(t, s, m, set(t, "User", "z3", "email", nil, "first", "Ada", "last", nil))
	commitModel(t, s, m, set(t, "User", "z4", "email", nil, "first", "Ada", "last", nil))
	// undefined and absent values are not in the index, so never conflict.
	commitModel(t, s, m, set(t, "User", "w1", "email", codec.Undefined{}))
	commitModel(t, s, m, set(t, "User", "w2", "email", codec.Undefined{}))
	commitModel(t, s, m, set(t, "User", "w3", "first", "Ada"))
	commitModel(t, s, m, set(t, "User", "w4", "first", "Ada"))
	// Swapping: once u1 lets go of a value, u2 may take it.
	commitModel(t, s, m, set(t, "User", "u1", "email", "c@x"))
	commitModel(t, s, m, set(t, "User", "u2", "email", "a@x"))
	// Deleting the holder frees its values.
	commitModel(t, s, m, &Write{Class: "User", ID: "u2", Delete: true})
	commitModel(t, s, m, set(t, "User", "u5", "email", "a@x", "first", "Ada", "last", "M"))
	for _, ix := range []objects.Index{ixEmail, ixUniqPair, ixOwner} {
		checkIndexContents(t, s, "User", ix, m)
	}

	// UniqueHolder finds the stored holder, and nobody for other values.
	for _, c := range []struct {
		ix    objects.Index
		tuple []byte
		want  string
	}{
		{ixEmail, keyOf(t, "a@x"), "u5"},
		{ixEmail, keyOf(t, "c@x"), "u1"},
		{ixEmail, keyOf(t, "b@x"), ""},
		{ixEmail, keyOf(t, "a@"), ""},
		{ixUniqPair, append(keyOf(t, "Ada"), keyOf(t, "M")...), "u5"},
		{ixUniqPair, keyOf(t, "Ada"), "*"}, // a prefix: some holder of Ada
		{ixEmail, keyOf(t, 1), "n1"},
	} {
		got, err := s.UniqueHolder("User", c.ix, c.tuple)
		if err != nil || (got != c.want && (c.want != "*" || got == "")) {
			t.Errorf("UniqueHolder(%s, %x) = %q, %v; want %q", c.ix, c.tuple, got, err, c.want)
		}
	}
	if got, err := s.UniqueHolder("Nobody", ixEmail, keyOf(t, "a@x")); got != "" || err != nil {
		t.Errorf("UniqueHolder of an unknown class = %q, %v", got, err)
	}
}

// ---------------------------------------------------------------- declare and build

func TestDeclareIndexes(t *testing.T) {
	s := newIndexStore(t)
	sts := mustDeclare(t, s, "Empty", ixOwner)
	if len(sts) != 1 || !sts[0].Built {
		t.Fatalf("declare on an empty class: %+v", sts)
	}
	m := map[string]fields{}
	for i := range 10 {
		commitModel(t, s, m, set(t, "User", fmt.Sprintf("u%d", i), "owner", fmt.Sprintf("o%d", i%3)))
	}
	sts = mustDeclare(t, s, "User", ixOwner)
	// The objects are counted by the first build step, not by the declaration.
	if len(sts) != 1 || sts[0].Built || sts[0].Total != 0 || sts[0].Done != 0 || sts[0].Cursor != "" {
		t.Fatalf("declare on a class with objects: %+v", sts)
	}
	if got := mustState(t, s, "User", ixOwner); got.Built || got.Total != 0 {
		t.Fatalf("IndexStates: %+v", got)
	}
	// Declaring the same list again keeps the build where it is.
	if st, done, err := s.BuildIndexStep("User", ixOwner.Name(), 4); err != nil || done || st.Done != 4 || st.Cursor != "u3" {
		t.Fatalf("step: %+v, %v, %v", st, done, err)
	}
	sts = mustDeclare(t, s, "User", ixOwner, ixOwner)
	if len(sts) != 1 || sts[0].Done != 4 || sts[0].Built {
		t.Fatalf("re-declared: %+v", sts)
	}
	if st := buildAll(t, s, "User", ixOwner, 4); !st.Built || st.Done != 10 || st.Err != "" {
		t.Fatalf("built: %+v", st)
	}
	checkIndexContents(t, s, "User", ixOwner, m)
	// Adding an index keeps the built one and builds only the new one.
	sts = mustDeclare(t, s, "User", ixEmail, ixOwner)
	if len(sts) != 2 || sts[0].Index.Name() != ixEmail.Name() || sts[0].Built || !sts[1].Built {
		t.Fatalf("added an index: %+v", sts)
	}
	// Dropping an index removes its bucket and its state.
	sts = mustDeclare(t, s, "User", ixEmail)
	if len(sts) != 1 || sts[0].Index.Name() != ixEmail.Name() {
		t.Fatalf("dropped an index: %+v", sts)
	}
	if keys := indexKeys(t, s, "User", ixOwner); keys != nil {
		t.Fatalf("dropped index still has a bucket: %s", describeKeys(keys, 1))
	}
	if _, _, err := s.BuildIndexStep("User", ixOwner.Name(), 10); err == nil {
		t.Fatal("build of a dropped index")
	}
	if _, err := s.ScanIndex(&objects.Query{Class: "User", Index: ixOwner.Name(), Fields: 1, Limit: 10}); !errors.Is(err, ErrNoIndex) {
		t.Fatalf("scan of a dropped index: %v", err)
	}
	// A dropped index no longer constrains or is maintained by commits.
	commitModel(t, s, m, set(t, "User", "u0", "owner", "moved"))
	// Re-declaring it builds it from scratch.
	sts = mustDeclare(t, s, "User", ixEmail, ixOwner)
	if st := sts[1]; st.Built || st.Done != 0 || st.Total != 0 {
		t.Fatalf("re-declared dropped index: %+v", st)
	}
	buildAll(t, s, "User", ixOwner, 3)
	checkIndexContents(t, s, "User", ixOwner, m)
	// Dropping every index leaves no state.
	if sts := mustDeclare(t, s, "User"); len(sts) != 0 {
		t.Fatalf("dropped all: %+v", sts)
	}
	if sts, err := s.IndexStates("User"); err != nil || len(sts) != 0 {
		t.Fatalf("IndexStates after dropping all: %+v, %v", sts, err)
	}
	for _, ix := range []objects.Index{ixOwner, ixEmail} {
		if keys := indexKeys(t, s, "User", ix); keys != nil {
			t.Fatalf("dropped index %s has a bucket", ix)
		}
	}
	// Commits still work with no index declared.
	commitModel(t, s, m, set(t, "User", "u1", "owner", "again"))
	if sts, err := s.IndexStates("Unknown"); err != nil || len(sts) != 0 {
		t.Fatalf("IndexStates of an unknown class: %+v, %v", sts, err)
	}
	if _, _, err := s.BuildIndexStep("Unknown", ixOwner.Name(), 10); err == nil {
		t.Fatal("build on an unknown class")
	}
}

func TestDeclareAfterDeletingEveryObject(t *testing.T) {
	s := newIndexStore(t)
	mustCommit(t, s, set(t, "User", "u1", "owner", "a"))
	mustCommit(t, s, &Write{Class: "User", ID: "u1", Delete: true})
	if sts := mustDeclare(t, s, "User", ixOwner); !sts[0].Built {
		t.Fatalf("declare on a class whose objects are all deleted: %+v", sts)
	}
}

func TestBuildInterleavedWithCommits(t *testing.T) {
	s := newIndexStore(t)
	r := rand.New(rand.NewPCG(1, 2))
	m := map[string]fields{}
	const n = 200
	for i := range n {
		commitModel(t, s, m, set(t, "User", fmt.Sprintf("u%03d", i), "owner", fmt.Sprintf("o%d", r.IntN(20)), "age", r.IntN(50)))
	}
	ix := objects.Index{Fields: []string{"owner", "age"}}
	sts := mustDeclare(t, s, "User", ix, ixOwner)
	if sts[0].Built {
		t.Fatalf("declare: %+v", sts)
	}
	q := &objects.Query{Class: "User", Index: ix.Name(), Fields: 2, Limit: 10}
	_, err := s.ScanIndex(q)
	if !errors.Is(err, ErrIndexBuilding) || !strings.Contains(err.Error(), "0%, 0 of 0 objects") {
		t.Fatalf("scan before the build: %v", err)
	}
	done, steps, prev := false, 0, 0
	for !done {
		var st IndexStatus
		st, done, err = s.BuildIndexStep("User", ix.Name(), 17)
		if err != nil {
			t.Fatal(err)
		}
		steps++
		if !done {
			if st.Done != prev+17 || st.Cursor == "" || st.Built {
				t.Fatalf("step %d: %+v (previous Done %d)", steps, st, prev)
			}
			if _, err := s.ScanIndex(q); !errors.Is(err, ErrIndexBuilding) || !strings.Contains(err.Error(), fmt.Sprintf("%d of ", st.Done)) {
				t.Fatalf("scan during the build: %v", err)
			}
		}
		prev = st.Done
		// Commits between steps: moves on both sides of the cursor, deletes,
		// new objects (before and after the cursor), fields deleted.
		for range 10 {
			id := fmt.Sprintf("u%03d", r.IntN(n+40))
			switch r.IntN(5) {
			case 0:
				commitModel(t, s, m, &Write{Class: "User", ID: id, Delete: true})
			case 1:
				if m[id] != nil {
					commitModel(t, s, m, &Write{Class: "User", ID: id, Deletes: []string{"age"}})
				}
			case 2:
				commitModel(t, s, m, set(t, "User", id, "owner", nil))
			default:
				commitModel(t, s, m, set(t, "User", id, "owner", fmt.Sprintf("o%d", r.IntN(20)), "age", r.IntN(50)))
			}
		}
	}
	st := mustState(t, s, "User", ix)
	if !st.Built || st.Err != "" || st.Done < n/2 || st.Total < st.Done {
		t.Fatalf("after the build: %+v", st)
	}
	if steps < n/17 {
		t.Fatalf("%d steps", steps)
	}
	checkIndexContents(t, s, "User", ix, m)
	// The other index, built after all those commits, agrees too.
	buildAll(t, s, "User", ixOwner, 1000)
	checkIndexContents(t, s, "User", ixOwner, m)
	// A step of a built index reports it done.
	if st, done, err := s.BuildIndexStep("User", ix.Name(), 10); !done || err != nil || !st.Built {
		t.Fatalf("step of a built index: %+v, %v, %v", st, done, err)
	}
	// The scan works now.
	if es, err := s.ScanIndex(&objects.Query{Class: "User", Index: ix.Name(), Fields: 2, Limit: 10000}); err != nil || len(es) != len(modelKeys(ix, m)) {
		t.Fatalf("scan after the build: %d entries, %v", len(es), err)
	}
}

func TestUniqueBuildOverDuplicates(t *testing.T) {
	s := newIndexStore(t)
	m := map[string]fields{}
	for i := range 30 {
		email := fmt.Sprintf("e%d", i)
		switch i {
		case 21:
			email = "e5"
		case 7, 8:
			email = "" // left null below
		}
		if email == "" {
			commitModel(t, s, m, set(t, "User", fmt.Sprintf("u%02d", i), "email", nil))
			continue
		}
		commitModel(t, s, m, set(t, "User", fmt.Sprintf("u%02d", i), "email", email))
	}
	mustDeclare(t, s, "User", ixEmail)
	st := buildAll(t, s, "User", ixEmail, 4)
	if st.Built || st.Err == "" {
		t.Fatalf("build over duplicates: %+v", st)
	}
	if !strings.Contains(st.Err, "User/u05") || !strings.Contains(st.Err, "User/u21") || !strings.Contains(st.Err, "unique email") {
		t.Errorf("build error %q does not name both objects and the index", st.Err)
	}
	if st.Cursor != "u20" {
		t.Errorf("the build stopped at %q", st.Cursor)
	}
	if got := mustState(t, s, "User", ixEmail); got.Err != st.Err {
		t.Errorf("stored state: %+v", got)
	}
	_, err := s.ScanIndex(&objects.Query{Class: "User", Index: ixEmail.Name(), Fields: 1, Limit: 5})
	if !errors.Is(err, ErrNoIndex) || !strings.Contains(err.Error(), "failed") {
		t.Errorf("scan of a failed index: %v", err)
	}
	// A later step reports the failure again, and changes nothing.
	if st2, done, err := s.BuildIndexStep("User", ixEmail.Name(), 4); !done || err != nil || st2.Err != st.Err || st2.Done != st.Done {
		t.Errorf("step after the failure: %+v, %v, %v", st2, done, err)
	}
	// Dropping and re-declaring once the duplicate is gone builds it.
	commitModel(t, s, m, set(t, "User", "u21", "email", "e21"))
	mustDeclare(t, s, "User")
	mustDeclare(t, s, "User", ixEmail)
	if st := buildAll(t, s, "User", ixEmail, 4); !st.Built || st.Err != "" {
		t.Fatalf("rebuild: %+v", st)
	}
	checkIndexContents(t, s, "User", ixEmail, m)
}

// ---------------------------------------------------------------- scans

// scanFixture is a User class with an index on age and one on [city, age].
func scanFixture(t *testing.T) (*Store, map[string]fields) {
	s := newIndexStore(t)
	mustDeclare(t, s, "User", objects.Index{Fields: []string{"age"}}, ixCityAge)
	m := map[string]fields{}
	ages := []any{1, 5, 5, 7, 10, 10, 10, 12, 20, 30, "x", nil, -1.5, math.Inf(1), big.NewInt(3), true}
	cities := []string{"Oslo", "Paris"}
	for i, a := range ages {
		commitModel(t, s, m, set(t, "User", fmt.Sprintf("u%02d", i), "age", a, "city", cities[i%2]))
	}
	return s, m
}

// wantScan computes ScanIndex's answer from the model: the keys of ix in
// q's range, in q's direction, strictly after q.After's key, at most
// q.Limit+1.
func wantScan(ix objects.Index, m map[string]fields, q *objects.Query) []string {
	keys := modelKeys(ix, m)
	if q.Desc {
		slices.Reverse(keys)
	}
	var after []byte
	if q.After != "" {
		after = append(modelTuple(ix, m[q.After]), q.After...)
	}
	out := []string{}
	for _, k := range keys {
		if !q.In(k) {
			continue
		}
		if after != nil && ((!q.Desc && bytes.Compare(k, after) <= 0) || (q.Desc && bytes.Compare(k, after) >= 0)) {
			continue
		}
		if len(out) == q.Limit+1 {
			break
		}
		_, id, _ := objects.SplitKey(k, len(ix.Fields))
		out = append(out, id)
	}
	return out
}

func plan(t *testing.T, indexes []objects.Index, conds []objects.Cond, order string, limit int) *objects.Query {
	t.Helper()
	q, err := objects.Plan("User", indexes, conds, order)
	if err != nil {
		t.Fatal(err)
	}
	q.Limit = limit
	return q
}

func cond(t *testing.T, field string, op objects.Op, v any) objects.Cond {
	if op == objects.OpPrefix {
		return objects.Cond{Field: field, Op: op, Key: objects.AppendStringPrefix(nil, v.(string), false)}
	}
	return objects.Cond{Field: field, Op: op, Key: keyOf(t, v)}
}

func TestScanIndex(t *testing.T) {
	s, m := scanFixture(t)
	ixAge := objects.Index{Fields: []string{"age"}}
	indexes := []objects.Index{ixAge, ixCityAge}
	type tc struct {
		conds []objects.Cond
		order string
		want  []string // ids, for the first limit
	}
	for _, c := range []tc{
		{[]objects.Cond{cond(t, "age", objects.OpEq, 10)}, "", []string{"u04", "u05", "u06"}},
		{[]objects.Cond{cond(t, "age", objects.OpEq, 10)}, "-age", []string{"u06", "u05", "u04"}},
		{[]objects.Cond{cond(t, "age", objects.OpGt, 5), cond(t, "age", objects.OpLte, 12)}, "", []string{"u03", "u04", "u05", "u06", "u07"}},
		{[]objects.Cond{cond(t, "age", objects.OpGte, 5), cond(t, "age", objects.OpLt, 12)}, "-age", []string{"u06", "u05", "u04", "u03", "u02", "u01"}},
		{[]objects.Cond{cond(t, "age", objects.OpLt, 5)}, "", []string{"u12", "u00"}},
		{[]objects.Cond{cond(t, "age", objects.OpGt, 20)}, "-age", []string{"u13", "u09"}},
		{[]objects.Cond{cond(t, "age", objects.OpGte, big.NewInt(0))}, "", []string{"u14"}},
		{[]objects.Cond{cond(t, "age", objects.OpPrefix, "")}, "", []string{"u10"}},
		{[]objects.Cond{cond(t, "age", objects.OpEq, nil)}, "", []string{"u11"}},
		{[]objects.Cond{cond(t, "age", objects.OpEq, 99)}, "", []string{}},
		{[]objects.Cond{cond(t, "city", objects.OpEq, "Oslo"), cond(t, "age", objects.OpGte, 10)}, "-age", []string{"u08", "u06", "u04"}},
		{[]objects.Cond{cond(t, "city", objects.OpEq, "Paris")}, "age", []string{"u11", "u15", "u01", "u03", "u05", "u07", "u09", "u13"}},
		{nil, "-age", []string{"u10", "u14", "u13", "u09", "u08", "u07", "u06", "u05", "u04", "u03", "u02", "u01", "u00", "u12", "u15", "u11"}},
	} {
		for _, limit := range []int{0, 1, 2, 3, 100} {
			q := plan(t, indexes, c.conds, c.order, limit)
			got, err := s.ScanIndex(q)
			if err != nil {
				t.Fatalf("ScanIndex(%v, %q): %v", c.conds, c.order, err)
			}
			want := c.want
			if len(want) > limit+1 {
				want = want[:limit+1]
			}
			if !slices.Equal(ids(got), want) {
				t.Errorf("ScanIndex(%v, %q, limit %d) = %q, want %q", c.conds, c.order, limit, ids(got), want)
			}
			if w := wantScan(objectsIndex(indexes, q.Index), m, q); !slices.Equal(ids(got), w) {
				t.Errorf("ScanIndex(%v, %q, limit %d) = %q, model says %q", c.conds, c.order, limit, ids(got), w)
			}
			for _, e := range got {
				if _, id, err := objects.SplitKey(e.Key, q.Fields); err != nil || id != e.ID || !q.In(e.Key) {
					t.Errorf("entry %x/%s: %v", e.Key, e.ID, err)
				}
			}
			// Paging with After gives the same entries.
			var paged []string
			q2 := *q
			for page := 0; ; page++ {
				if page > 50 {
					t.Fatal("paging never ends")
				}
				es, err := s.ScanIndex(&q2)
				if err != nil {
					t.Fatal(err)
				}
				more := len(es) > q2.Limit
				if more {
					es = es[:q2.Limit]
				}
				paged = append(paged, ids(es)...)
				if !more || len(es) == 0 {
					break
				}
				q2.After = es[len(es)-1].ID
			}
			if limit > 0 && !slices.Equal(paged, c.want) {
				t.Errorf("paging %v, %q by %d: %q, want %q", c.conds, c.order, limit, paged, c.want)
			}
		}
	}
}

func objectsIndex(list []objects.Index, name string) objects.Index {
	for _, ix := range list {
		if ix.Name() == name {
			return ix
		}
	}
	panic("no index " + name)
}

func TestScanIndexAfter(t *testing.T) {
	s, m := scanFixture(t)
	ixAge := objects.Index{Fields: []string{"age"}}
	q := &objects.Query{Class: "User", Index: ixAge.Name(), Fields: 1, Limit: 100,
		Lo: keyOf(t, 5), Hi: objects.PrefixEnd(keyOf(t, 12))}
	for _, desc := range []bool{false, true} {
		for id := range m {
			q.Desc, q.After = desc, id
			got, err := s.ScanIndex(q)
			if modelTuple(ixAge, m[id]) == nil {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("after %s, which is not in the index: %v", id, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("after %s: %v", id, err)
			}
			if want := wantScan(ixAge, m, q); !slices.Equal(ids(got), want) {
				t.Errorf("desc %v after %s (age %s): %q, want %q", desc, id, describeKeys([][]byte{append(modelTuple(ixAge, m[id]), id...)}, 1), ids(got), want)
			}
		}
	}
	// After an object outside the range: nothing, or everything.
	q.Desc, q.After = false, "u09" // age 20
	if got, _ := s.ScanIndex(q); len(got) != 0 {
		t.Errorf("after an object above the range: %q", ids(got))
	}
	q.Desc = true
	if got, _ := s.ScanIndex(q); len(got) != 7 {
		t.Errorf("descending after an object above the range: %q", ids(got))
	}
	q.After = "u00" // age 1
	if got, _ := s.ScanIndex(q); len(got) != 0 {
		t.Errorf("descending after an object below the range: %q", ids(got))
	}
	q.Desc = false
	if got, _ := s.ScanIndex(q); len(got) != 7 {
		t.Errorf("after an object below the range: %q", ids(got))
	}
	// Unknown after, unknown object.
	q.After = "nobody"
	if _, err := s.ScanIndex(q); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "User/nobody") {
		t.Errorf("after an unknown object: %v", err)
	}
}

func TestScanIndexErrors(t *testing.T) {
	s, _ := scanFixture(t)
	for _, q := range []*objects.Query{
		{Class: "Nobody", Index: ixOwner.Name(), Fields: 1},
		{Class: "User", Index: ixOwner.Name(), Fields: 1},
		{Class: "User", Index: "garbage", Fields: 1},
	} {
		if _, err := s.ScanIndex(q); !errors.Is(err, ErrNoIndex) {
			t.Errorf("ScanIndex(%+v): %v", q, err)
		}
	}
	// A query whose Fields disagrees with the index still splits keys by
	// the index's own fields.
	ixAge := objects.Index{Fields: []string{"age"}}
	for _, n := range []int{0, 2, 64} {
		es, err := s.ScanIndex(&objects.Query{Class: "User", Index: ixAge.Name(), Fields: n, Limit: 100})
		if err != nil || len(es) != 16 || es[0].ID != "u11" {
			t.Errorf("Fields %d: %q, %v", n, ids(es), err)
		}
	}
}

func TestScanIDs(t *testing.T) {
	s := newIndexStore(t)
	all := []string{"a", "a\x01", "ab", "b", "b0", "c", "\xff"}
	for _, id := range all {
		mustCommit(t, s, set(t, "User", id, "f1", 1, "f2", 2))
	}
	mustCommit(t, s, &Write{Class: "User", ID: "bare", Meta: meta(1)}) // no fields
	all = append(all, "bare")
	slices.Sort(all)
	rev := slices.Clone(all)
	slices.Reverse(rev)
	for _, desc := range []bool{false, true} {
		order := all
		if desc {
			order = rev
		}
		for limit := 0; limit <= len(all)+1; limit++ {
			q := &objects.Query{Class: "User", Desc: desc, Limit: limit}
			got, err := s.ScanIndex(q)
			if err != nil {
				t.Fatal(err)
			}
			want := order[:min(limit+1, len(order))]
			if !slices.Equal(ids(got), want) {
				t.Errorf("desc %v limit %d: %q, want %q", desc, limit, ids(got), want)
			}
			for _, e := range got {
				if string(e.Key) != e.ID {
					t.Errorf("id entry %q has key %q", e.ID, e.Key)
				}
			}
		}
		for i, after := range order {
			q := &objects.Query{Class: "User", Desc: desc, Limit: 100, After: after}
			got, err := s.ScanIndex(q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), order[i+1:]) && !(len(got) == 0 && i == len(order)-1) {
				t.Errorf("desc %v after %q: %q, want %q", desc, after, ids(got), order[i+1:])
			}
		}
		// After an id that is not stored, or holds a NUL.
		for _, after := range []string{"a\x00", "a\x00z", "aa", "", "zz", "b\x00\x01"} {
			q := &objects.Query{Class: "User", Desc: desc, Limit: 100, After: after}
			got, err := s.ScanIndex(q)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, id := range order {
				if after == "" || (!desc && id > after) || (desc && id < after) {
					want = append(want, id)
				}
			}
			if !slices.Equal(ids(got), want) && !(len(got) == 0 && len(want) == 0) {
				t.Errorf("desc %v after %q: %q, want %q", desc, after, ids(got), want)
			}
		}
	}
	if got, err := s.ScanIndex(&objects.Query{Class: "Nobody", Limit: 10}); err != nil || len(got) != 0 {
		t.Errorf("id scan of an unknown class: %q, %v", ids(got), err)
	}
}

// ---------------------------------------------------------------- reopen, config

func TestIndexesSurviveReopen(t *testing.T) {
	cfg := indexConfig(t)
	s := openTestStore(t, cfg)
	m := map[string]fields{}
	mustDeclare(t, s, "User", ixOwner, ixEmail)
	for i := range 20 {
		commitModel(t, s, m, set(t, "User", fmt.Sprintf("u%02d", i), "owner", fmt.Sprintf("o%d", i%4), "email", fmt.Sprintf("e%d", i)))
	}
	mustDeclare(t, s, "User", ixOwner, ixEmail, ixCityAge)
	commitModel(t, s, m, set(t, "User", "u00", "city", "Oslo", "age", 3))
	if _, _, err := s.BuildIndexStep("User", ixCityAge.Name(), 5); err != nil {
		t.Fatal(err)
	}
	before, err := s.IndexStates("User")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.IndexStates("User"); !errors.Is(err, ErrClosed) {
		t.Errorf("IndexStates on a closed store: %v", err)
	}
	if _, err := s.ScanIndex(&objects.Query{Class: "User"}); !errors.Is(err, ErrClosed) {
		t.Errorf("ScanIndex on a closed store: %v", err)
	}
	if _, _, err := s.BuildIndexStep("User", ixCityAge.Name(), 5); !errors.Is(err, ErrClosed) {
		t.Errorf("BuildIndexStep on a closed store: %v", err)
	}
	if _, err := s.DeclareIndexes("User", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("DeclareIndexes on a closed store: %v", err)
	}
	if err := s.Sync(); !errors.Is(err, ErrClosed) {
		t.Errorf("Sync on a closed store: %v", err)
	}

	s = openTestStore(t, cfg)
	after, err := s.IndexStates("User")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("states changed across reopen:\n%+v\n%+v", before, after)
	}
	// Commits after the reopen maintain the indexes and enforce uniqueness.
	commitModel(t, s, m, set(t, "User", "u01", "owner", "new", "email", "e100"))
	if err := s.CommitSync(set(t, "User", "u02", "email", "e100")); !errors.Is(err, ErrUnique) {
		t.Fatalf("unique after reopen: %v", err)
	}
	buildAll(t, s, "User", ixCityAge, 5)
	for _, ix := range []objects.Index{ixOwner, ixEmail, ixCityAge} {
		checkIndexContents(t, s, "User", ix, m)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
}

func TestNoIndexKeyFunction(t *testing.T) {
	s := newTestStore(t) // no IndexKey: indexes disabled
	mustCommit(t, s, set(t, "User", "u1", "owner", "a"))
	if _, err := s.DeclareIndexes("User", []objects.Index{ixOwner}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("DeclareIndexes without IndexKey: %v", err)
	}
	if _, err := s.DeclareIndexes("User", nil); err != nil {
		t.Fatalf("declaring no indexes without IndexKey: %v", err)
	}
	mustCommit(t, s, set(t, "User", "u1", "owner", "b"))
	if got, err := s.ScanIndex(&objects.Query{Class: "User", Limit: 5}); err != nil || len(got) != 1 {
		t.Fatalf("id scan without IndexKey: %q, %v", ids(got), err)
	}
}

// TestIndexStateCorrupt: a state record that does not decode is reported,
// never a panic, by every reader.
func TestIndexStateCorrupt(t *testing.T) {
	for _, rec := range [][]byte{
		{0xff},
		{0x81, 0xa1, 0x01, 0xa0},                   // an index with no fields
		{0x81, 0xa1, 0x01, 0xa1, 0x01, 0x80},       // an index with an empty field list
		{0x81, 0xa1, 0x01, 0xa1, 0x01, 0x81, 0x60}, // an index on the field ""
	} {
		s := newIndexStore(t)
		mustDeclare(t, s, "User", ixOwner)
		err := s.syncOp(func(tx *bbolt.Tx) error {
			delete(s.w.indexes, "User") // the writer's cache
			return tx.Bucket(bucketIndexes).Bucket([]byte("User")).Put(keyIndexState, rec)
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.IndexStates("User"); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%x: IndexStates: %v", rec, err)
		}
		if _, _, err := s.BuildIndexStep("User", ixOwner.Name(), 1); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%x: BuildIndexStep: %v", rec, err)
		}
		if _, err := s.ScanIndex(&objects.Query{Class: "User", Index: ixOwner.Name(), Fields: 1, Limit: 1}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%x: ScanIndex: %v", rec, err)
		}
		if _, err := s.DeclareIndexes("User", []objects.Index{ixOwner}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%x: DeclareIndexes: %v", rec, err)
		}
		if err := s.CommitSync(set(t, "User", "u1", "owner", "x")); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%x: Commit: %v", rec, err)
		}
	}
}

// ---------------------------------------------------------------- model

// TestIndexModel commits random values of random fields to ~50 objects, in
// batches, with index declarations, builds and a reopen on the way, and
// checks every index against a brute-force computation from a model.
func TestIndexModel(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -seed)", seed)
	r := rand.New(rand.NewPCG(seed, 99))
	cfg := indexConfig(t)
	s := openTestStore(t, cfg)
	m := map[string]fields{}

	values := []any{nil, codec.Undefined{}, true, false, 0, 1, 2, -1, 0.5, math.Copysign(0, -1), math.Inf(1), math.NaN(),
		"", "a", "a\x00", "ab", "b", "日本", big.NewInt(-3), big.NewInt(1), time.UnixMilli(5).UTC(), codec.InvalidDate{},
		[]any{1}, map[string]any{"k": "v"}, codec.UTF16{0x62}}
	uvalues := []any{nil, "u1", "u2", "u3", "u4", 1, codec.Undefined{}} // few: conflicts happen
	allFields := []string{"a", "b", "c", "u", "v", "other"}
	declared := []objects.Index{
		{Fields: []string{"a"}},
		{Fields: []string{"b", "a"}},
		{Fields: []string{"u"}, Unique: true},
		{Fields: []string{"v", "a"}, Unique: true},
	}
	// Built while commits go on. Not unique: while a unique index is being
	// built, whether a commit is refused depends on where the build is.
	later := []objects.Index{{Fields: []string{"c"}}, {Fields: []string{"c", "u"}}}
	mustDeclare(t, s, "M", declared...)

	randWrite := func() *Write {
		id := fmt.Sprintf("o%02d", r.IntN(50))
		w := &Write{Class: "M", ID: id}
		if r.IntN(12) == 0 {
			w.Delete = true
		}
		for _, f := range allFields {
			switch r.IntN(5) {
			case 0:
				w.Deletes = append(w.Deletes, f)
			case 1, 2:
				pool := values
				if f == "u" || f == "v" {
					pool = uvalues
				}
				w.Puts = append(w.Puts, FieldPut{Name: f, Value: enc(t, pool[r.IntN(len(pool))])})
			}
		}
		if m[id] == nil || w.Delete || r.IntN(3) == 0 {
			w.Meta = &ObjectMeta{ClassVersion: 1}
		}
		return w
	}
	// expect is the result of committing w to the model, and applies it.
	// A write both invalid and a duplicate may be refused for either.
	expect := func(w *Write, indexes []objects.Index) error {
		if w.Meta == nil && len(w.Puts) > 0 && (w.Delete || m[w.ID] == nil) {
			return ErrInvalid
		}
		next := map[string]fields{}
		for id, fs := range m {
			next[id] = maps.Clone(fs)
		}
		modelApply(next, w)
		for _, ix := range indexes {
			if !ix.Unique {
				continue
			}
			nt := modelTuple(ix, next[w.ID])
			if bytes.Equal(nt, modelTuple(ix, m[w.ID])) {
				continue
			}
			if modelConflict(ix, m, w.ID, nt) != "" {
				return ErrUnique
			}
		}
		modelApply(m, w)
		return nil
	}
	indexes := slices.Clone(declared)
	refusals := map[error]int{}
	const rounds = 300
	for round := range rounds {
		// A batch of writes in one transaction.
		n := 1 + r.IntN(8)
		ws := make([]*Write, n)
		errs := make([]error, n)
		release := blockWriter(t, s)
		done := make(chan struct{}, n)
		for i := range ws {
			ws[i] = randWrite()
			s.Commit(ws[i], func(err error) { errs[i] = err; done <- struct{}{} })
		}
		release()
		for range n {
			<-done
		}
		for i, w := range ws {
			want := expect(w, indexes)
			if want == ErrInvalid && errors.Is(errs[i], ErrUnique) {
				continue // the unique check comes first in Store.apply
			}
			if !errors.Is(errs[i], want) || (want == nil) != (errs[i] == nil) {
				t.Fatalf("round %d write %d (%+v): %v, want %v", round, i, w, errs[i], want)
			}
			if want != nil {
				refusals[want]++
			}
		}
		switch round {
		case rounds / 3:
			// New indexes over existing objects, built while commits go on.
			indexes = append(indexes, later...)
			mustDeclare(t, s, "M", indexes...)
		case rounds / 2:
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openTestStore(t, cfg)
		}
		if round > rounds/3 {
			for _, ix := range later {
				if _, _, err := s.BuildIndexStep("M", ix.Name(), 3); err != nil {
					t.Fatal(err)
				}
			}
		}
		if round%10 == 0 || round == rounds-1 {
			for _, ix := range declared {
				checkIndexContents(t, s, "M", ix, m)
			}
		}
	}
	t.Logf("%d objects, refusals %v", len(m), refusals)
	if refusals[ErrUnique] == 0 {
		t.Error("no write was refused as a duplicate: the test is too gentle")
	}
	for _, ix := range later {
		if st := buildAll(t, s, "M", ix, 3); !st.Built || st.Err != "" {
			t.Fatalf("build of %s: %+v", ix, st)
		}
		checkIndexContents(t, s, "M", ix, m)
	}
	for _, ix := range declared {
		checkIndexContents(t, s, "M", ix, m)
	}
	// Random scans against the model.
	for range 200 {
		ix := declared[r.IntN(len(declared))]
		var conds []objects.Cond
		if len(ix.Fields) == 2 && r.IntN(2) == 0 {
			conds = append(conds, cond(t, ix.Fields[0], objects.OpEq, uvalues[1+r.IntN(4)]))
		}
		last := ix.Fields[len(conds)]
		switch r.IntN(4) {
		case 0:
			conds = append(conds, cond(t, last, objects.OpGte, []any{0, "a", -1}[r.IntN(3)]))
		case 1:
			conds = append(conds, cond(t, last, objects.OpPrefix, []any{"", "a", "b"}[r.IntN(3)]))
		}
		order := ""
		if r.IntN(2) == 0 {
			order = "-" + last
		} else if len(conds) == 0 {
			order = last // not the id scan
		}
		q, err := objects.Plan("M", []objects.Index{ix}, conds, order)
		if err != nil {
			t.Fatalf("Plan(%v): %v", conds, err)
		}
		q.Limit = r.IntN(20)
		keys := modelKeys(ix, m)
		if len(keys) > 0 && r.IntN(2) == 0 {
			_, q.After, _ = objects.SplitKey(keys[r.IntN(len(keys))], len(ix.Fields))
		}
		got, err := s.ScanIndex(q)
		if err != nil {
			t.Fatalf("ScanIndex(%+v): %v", q, err)
		}
		if want := wantScan(ix, m, q); !slices.Equal(ids(got), want) {
			t.Fatalf("ScanIndex(%s, %v, %q, limit %d, after %q) = %q, want %q", ix, conds, order, q.Limit, q.After, ids(got), want)
		}
	}
}

// TestIndexRollback: declarations and index changes of a transaction that
// rolls back (a write bbolt refuses, a failed commit) leave nothing behind,
// not even in the writer's cache of declared indexes.
func TestIndexRollback(t *testing.T) {
	s := newIndexStore(t)
	boom := errors.New("injected apply failure")
	s.failApply = func(w *Write) error {
		if w.ID[0] == 'x' {
			return boom
		}
		return nil
	}
	var failCommits atomic.Int64
	diskErr := errors.New("injected commit failure")
	s.failCommit = func() error {
		if failCommits.Add(-1) >= 0 {
			return diskErr
		}
		return nil
	}
	m := map[string]fields{}
	// queue runs a batch: the declaration first, then the writes.
	queue := func(decl []objects.Index, ws ...*Write) (declErr error, errs []error) {
		release := blockWriter(t, s)
		declDone := make(chan error, 1)
		go func() {
			_, err := s.DeclareIndexes("User", decl)
			declDone <- err
		}()
		for len(s.queue) == 0 {
			time.Sleep(time.Millisecond)
		}
		errs = make([]error, len(ws))
		done := make(chan struct{}, len(ws))
		for i, w := range ws {
			s.Commit(w, func(err error) { errs[i] = err; done <- struct{}{} })
		}
		release()
		for range ws {
			<-done
		}
		return <-declDone, errs
	}
	a, x, b := set(t, "User", "a", "owner", "p"), set(t, "User", "x1", "owner", "q"), set(t, "User", "b", "owner", "r", "email", "e0")
	declErr, errs := queue([]objects.Index{ixOwner}, a, x, b)
	if declErr != nil || errs[0] != nil || !errors.Is(errs[1], boom) || errs[2] != nil {
		t.Fatalf("batch 1: %v, %v", declErr, errs)
	}
	modelApply(m, a)
	modelApply(m, b)
	checkIndexContents(t, s, "User", ixOwner, m)

	// A failed commit: everything is retried one by one.
	failCommits.Store(1)
	c, d, e := set(t, "User", "c", "owner", "s", "email", "e1"), set(t, "User", "d", "email", "e1"), set(t, "User", "e", "email", "e0")
	declErr, errs = queue([]objects.Index{ixOwner, ixEmail}, c, d, e)
	// e is not refused: while the index is built, commits are checked
	// against the objects it covers so far, and b is not covered yet. The
	// build then finds the duplicate.
	if declErr != nil || errs[0] != nil || !errors.Is(errs[1], ErrUnique) || errs[2] != nil {
		t.Fatalf("batch 2: %v, %v", declErr, errs)
	}
	modelApply(m, c)
	modelApply(m, e)
	if st := mustState(t, s, "User", ixEmail); st.Built {
		t.Fatalf("email index declared over existing objects is built at once: %+v", st)
	}
	if st := buildAll(t, s, "User", ixEmail, 1); !strings.Contains(st.Err, "User/b") || !strings.Contains(st.Err, "User/e") {
		t.Fatalf("build over the duplicate: %+v", st)
	}
	checkIndexContents(t, s, "User", ixOwner, m)

	// Dropping an index in a transaction that fails keeps it maintained.
	failCommits.Store(1 << 30)
	f := set(t, "User", "f", "owner", "t", "email", "e2")
	declErr, errs = queue([]objects.Index{ixEmail}, f)
	if !errors.Is(declErr, diskErr) || !errors.Is(errs[0], diskErr) {
		t.Fatalf("batch 3: %v, %v", declErr, errs)
	}
	failCommits.Store(0)
	g := set(t, "User", "g", "owner", "u", "email", "e3")
	mustCommit(t, s, g)
	modelApply(m, g)
	if sts, _ := s.IndexStates("User"); len(sts) != 2 {
		t.Fatalf("the failed drop changed the declarations: %+v", sts)
	}
	checkIndexContents(t, s, "User", ixOwner, m)
}
