package persist

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/odin-db/odin/objects"
)

// TestExportImport: an object's records move from one store to another
// (state, log, dedupe record), its index entries are made at the target by
// the writer and dropped at the source by the delete, and the unique index
// of the target is checked.
func TestExportImport(t *testing.T) {
	src, dst := newIndexStore(t), newIndexStore(t)
	for _, s := range []*Store{src, dst} {
		mustDeclare(t, s, "User", ixOwner, ixEmail)
	}
	w := set(t, "User", "u1", "owner", "bob", "email", "u1@x", "big", "payload")
	w.LogBase = []byte("base")
	w.LogAppend = []LogEntry{{Seq: 0, Data: []byte("e0")}, {Seq: 1, Data: []byte("e1")}, {Seq: 300, Data: []byte("e300")}}
	w.Dedupe = []byte("dedupe")
	must(t, src.CommitSync(w))
	must(t, src.CommitSync(set(t, "User", "u2", "owner", "bob", "email", "u2@x")))
	// The target holds a stale copy of u1 (other fields, a log): the import
	// replaces it whole.
	stale := set(t, "User", "u1", "owner", "carol", "email", "old@x", "gone", 1)
	stale.LogBase, stale.LogAppend = []byte("old base"), []LogEntry{{Seq: 7, Data: []byte("old")}}
	must(t, dst.CommitSync(stale))

	r, ok, err := src.Export("User", "u1")
	must(t, err)
	if !ok || r.Meta == nil || len(r.Fields) != 3 || string(r.LogBase) != "base" || len(r.Log) != 3 || r.Log[2].Seq != 300 || string(r.Dedupe) != "dedupe" {
		t.Fatalf("export: ok=%v %+v", ok, r)
	}
	// The records survive CBOR (they cross the network so).
	b, err := cbor.Marshal(&r)
	must(t, err)
	var got ObjectRecords
	must(t, cbor.Unmarshal(b, &got))
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("CBOR round trip:\n got %+v\nwant %+v", got, r)
	}
	must(t, CheckRecords("User", "u1", &got))
	must(t, dst.CommitSync(ImportWrite("User", "u1", &got)))

	again, ok, err := dst.Export("User", "u1")
	must(t, err)
	if !ok || !reflect.DeepEqual(again, r) {
		t.Fatalf("target holds\n%+v\nwant\n%+v", again, r)
	}
	st, ok := mustLoad(t, dst, "User", "u1")
	if !ok || string(st.LogBase) != "base" || fmt.Sprintf("%s", st.Log) != "[e0 e1 e300]" || len(st.Fields) != 3 {
		t.Fatalf("target load: %v %+v", ok, st)
	}
	keys, err := dst.NonQuiescent()
	must(t, err)
	if fmt.Sprint(keys) != "[{User u1}]" {
		t.Fatalf("target NonQuiescent = %v", keys)
	}
	wantIDs := func(s *Store, ix objects.Index, v any, want string) {
		t.Helper()
		q := plan(t, []objects.Index{ix}, []objects.Cond{cond(t, ix.Fields[0], objects.OpEq, v)}, "", 100)
		es, err := s.ScanIndex(q)
		must(t, err)
		if fmt.Sprint(ids(es)) != want {
			t.Fatalf("%s = %v: %v, want %s", ix.Fields[0], v, ids(es), want)
		}
	}
	wantIDs(dst, ixOwner, "bob", "[u1]")
	wantIDs(dst, ixOwner, "carol", "[]") // the stale copy's entries went
	wantIDs(dst, ixEmail, "old@x", "[]")
	wantIDs(dst, ixEmail, "u1@x", "[u1]")

	// The source lets go: every record and index entry goes.
	must(t, src.CommitSync(DeleteWrite("User", "u1")))
	if _, ok, err := src.Export("User", "u1"); err != nil || ok {
		t.Fatalf("source after delete: ok=%v err=%v", ok, err)
	}
	wantIDs(src, ixOwner, "bob", "[u2]")
	wantIDs(src, ixEmail, "u1@x", "[]")
	if keys, _ := src.NonQuiescent(); len(keys) != 0 {
		t.Fatalf("source NonQuiescent = %v", keys)
	}

	// A value another object holds at the target refuses the import whole.
	must(t, dst.CommitSync(set(t, "User", "x", "owner", "eve", "email", "u2@x")))
	r2, _, err := src.Export("User", "u2")
	must(t, err)
	if err := dst.CommitSync(ImportWrite("User", "u2", &r2)); !errors.Is(err, ErrUnique) {
		t.Fatalf("import over a held unique value: %v", err)
	}
	if _, ok, _ := dst.Export("User", "u2"); ok {
		t.Fatal("a refused import left records")
	}
	wantIDs(dst, ixOwner, "bob", "[u1]")

	// Nothing stored: nothing exported; a log alone moves too.
	if _, ok, err := src.Export("User", "nobody"); err != nil || ok {
		t.Fatalf("export of nothing: ok=%v err=%v", ok, err)
	}
	must(t, src.CommitSync(&Write{Class: "User", ID: "l", LogBase: []byte("b"), LogAppend: []LogEntry{{Seq: 0, Data: []byte("e")}}}))
	rl, ok, err := src.Export("User", "l")
	must(t, err)
	if !ok || rl.Meta != nil || rl.Fields != nil {
		t.Fatalf("log-only export: %v %+v", ok, rl)
	}
	must(t, dst.CommitSync(ImportWrite("User", "l", &rl)))
	if st, ok := mustLoad(t, dst, "User", "l"); ok || string(st.LogBase) != "b" || len(st.Log) != 1 {
		t.Fatalf("log-only import: %v %+v", ok, st)
	}
}

func TestCheckRecords(t *testing.T) {
	meta := &ObjectMeta{ClassVersion: 1, Fields: []string{"a"}}
	for _, c := range []struct {
		name string
		r    ObjectRecords
	}{
		{"fields without meta", ObjectRecords{Fields: []FieldPut{{Name: "a", Value: []byte{1}}}}},
		{"empty field name", ObjectRecords{Meta: meta, Fields: []FieldPut{{Name: "", Value: []byte{1}}}}},
		{"nil value", ObjectRecords{Meta: meta, Fields: []FieldPut{{Name: "a"}}}},
		{"field twice", ObjectRecords{Meta: meta, Fields: []FieldPut{{Name: "a", Value: []byte{1}}, {Name: "a", Value: []byte{2}}}}},
		{"events out of order", ObjectRecords{LogBase: []byte("b"), Log: []LogEntry{{Seq: 2, Data: []byte{1}}, {Seq: 1, Data: []byte{1}}}}},
		{"events without base", ObjectRecords{Log: []LogEntry{{Seq: 0, Data: []byte{1}}}}},
	} {
		if err := CheckRecords("A", "x", &c.r); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", c.name, err)
		}
	}
	if err := CheckRecords("A", "x\x00y", &ObjectRecords{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("id with NUL: %v", err)
	}
	ok := ObjectRecords{Meta: meta, Fields: []FieldPut{{Name: "a", Value: []byte{1}}}, LogBase: []byte("b"), Log: []LogEntry{{Seq: 0, Data: []byte{1}}}}
	if err := CheckRecords("A", "x", &ok); err != nil {
		t.Errorf("good records refused: %v", err)
	}
}

// FuzzImport: records decoded from arbitrary bytes that CheckRecords
// accepts are stored by ImportWrite (or refused as a unique conflict or as
// invalid, never a failed transaction), and Export gives them back.
func FuzzImport(f *testing.F) {
	r := ObjectRecords{Meta: &ObjectMeta{ClassVersion: 2, Fields: []string{"owner", "email"}},
		Fields:  []FieldPut{{Name: "email", Value: []byte{0x63, 'a', '@', 'x'}}, {Name: "owner", Value: []byte{0x63, 'b', 'o', 'b'}}},
		LogBase: []byte{0xa0}, Log: []LogEntry{{Seq: 0, Data: []byte{1}}, {Seq: 9, Data: []byte{2}}}, Dedupe: []byte{0x80}}
	b, err := encMode.Marshal(&r)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte{0xa1, 0x04, 0x81, 0xa2, 0x01, 0x00, 0x02, 0x40}) // a log event without a base
	s := openTestStore(f, indexConfig(f))
	if _, err := s.DeclareIndexes("User", []objects.Index{ixOwner, ixEmail}); err != nil {
		f.Fatal(err)
	}
	if err := s.CommitSync(set(f, "User", "holder", "email", "taken@x")); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r ObjectRecords
		if err := decMode.Unmarshal(b, &r); err != nil || CheckRecords("User", "x", &r) != nil {
			return
		}
		in := r // the store owns what it is given
		if err := s.CommitSync(ImportWrite("User", "x", &in)); err != nil {
			if !errors.Is(err, ErrUnique) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("import of %+v: %v", r, err)
			}
			return
		}
		got, ok, err := s.Export("User", "x")
		if err != nil || ok != !r.Empty() {
			t.Fatalf("export after importing %+v: %v %v", r, ok, err)
		}
		want := map[string]string{}
		for _, f := range r.Fields {
			want[f.Name] = string(f.Value)
		}
		have := map[string]string{}
		for _, f := range got.Fields {
			have[f.Name] = string(f.Value)
		}
		if !reflect.DeepEqual(want, have) || len(got.Log) != len(r.Log) || string(got.LogBase) != string(r.LogBase) || string(got.Dedupe) != string(r.Dedupe) {
			t.Fatalf("imported %+v, exported %+v", r, got)
		}
	})
}
