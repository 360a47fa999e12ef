package persist

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.etcd.io/bbolt"
)

func TestObjectRoundTrip(t *testing.T) {
	s := newTestStore(t)
	if _, ok := mustLoad(t, s, "Acct", "a"); ok {
		t.Fatal("Load of a never stored object: ok")
	}
	mustCommit(t, s, &Write{Class: "Acct", ID: "a", Meta: meta(1, "owner", "balance"),
		Puts: []FieldPut{put("owner", "ann"), put("balance", "10")}})
	check := func(wantFields string, want map[string]string) {
		t.Helper()
		st, ok := mustLoad(t, s, "Acct", "a")
		if !ok {
			t.Fatal("object missing")
		}
		if got := strings.Join(st.Meta.Fields, ","); got != wantFields {
			t.Errorf("Meta.Fields = %q, want %q", got, wantFields)
		}
		if len(st.Fields) != len(want) {
			t.Errorf("Fields = %q, want %q", st.Fields, want)
		}
		for k, v := range want {
			if string(st.Fields[k]) != v {
				t.Errorf("field %q = %q, want %q", k, st.Fields[k], v)
			}
		}
	}
	check("owner,balance", map[string]string{"owner": "ann", "balance": "10"})

	// A put without Meta keeps the field list.
	mustCommit(t, s, &Write{Class: "Acct", ID: "a", Puts: []FieldPut{put("balance", "15")}})
	check("owner,balance", map[string]string{"owner": "ann", "balance": "15"})

	// A new field and a new class version come with a new meta record.
	mustCommit(t, s, &Write{Class: "Acct", ID: "a", Meta: &ObjectMeta{ClassVersion: 2, Fields: []string{"owner", "balance", "log"}, Epoch: 3},
		Puts: []FieldPut{put("log", "[]")}})
	check("owner,balance,log", map[string]string{"owner": "ann", "balance": "15", "log": "[]"})
	if st, _ := mustLoad(t, s, "Acct", "a"); st.Meta.ClassVersion != 2 || st.Meta.Epoch != 3 {
		t.Errorf("meta = %+v", st.Meta)
	}

	// Delete a field; a put of the same name in the same write wins (Deletes
	// come before Puts).
	mustCommit(t, s, &Write{Class: "Acct", ID: "a", Meta: meta(2, "balance", "log"), Deletes: []string{"owner", "log"}, Puts: []FieldPut{put("log", "[1]")}})
	check("balance,log", map[string]string{"balance": "15", "log": "[1]"})

	// Values handed back are independent copies that may be appended to.
	st, _ := mustLoad(t, s, "Acct", "a")
	_ = append(st.Fields["balance"], "xx"...)
	if string(st.Fields["log"]) != "[1]" {
		t.Errorf("appending to one field changed another: %q", st.Fields["log"])
	}

	// A listed field with no record is absent, not an error.
	mustCommit(t, s, &Write{Class: "Acct", ID: "a", Meta: meta(2, "balance", "log", "ghost")})
	check("balance,log,ghost", map[string]string{"balance": "15", "log": "[1]"})

	// An object whose id is a prefix of another keeps its own fields.
	mustCommit(t, s, &Write{Class: "Acct", ID: "a\x01", Meta: meta(1, "balance"), Puts: []FieldPut{put("balance", "99")}})
	check("balance,log,ghost", map[string]string{"balance": "15", "log": "[1]"})

	// Whole-object delete removes every key of a, not those of a\x01.
	mustCommit(t, s, &Write{Class: "Acct", ID: "a", Delete: true})
	if _, ok := mustLoad(t, s, "Acct", "a"); ok {
		t.Error("deleted object still loads")
	}
	if st, ok := mustLoad(t, s, "Acct", "a\x01"); !ok || string(st.Fields["balance"]) != "99" {
		t.Errorf("neighbour after delete = %+v, %v", st, ok)
	}
	if ids, _ := s.ListIDs("Acct", "", 0); !slices.Equal(ids, []string{"a\x01"}) {
		t.Errorf("ListIDs after delete = %q", ids)
	}

	// Delete then recreate in one write replaces the object.
	mustCommit(t, s, &Write{Class: "Acct", ID: "a\x01", Delete: true, Meta: meta(5, "z"), Puts: []FieldPut{put("z", "new")}})
	st, _ = mustLoad(t, s, "Acct", "a\x01")
	if st.Meta.ClassVersion != 5 || len(st.Fields) != 1 || string(st.Fields["z"]) != "new" {
		t.Errorf("replaced object = %+v", st)
	}
	if n, err := s.CountObjects("Acct"); n != 1 || err != nil {
		t.Errorf("CountObjects = %d, %v", n, err)
	}
}

func TestInvalidWritesDoNotFailNeighbours(t *testing.T) {
	s := newTestStore(t)
	mustCommit(t, s, &Write{Class: "C", ID: "old", Meta: meta(1, "f"), Puts: []FieldPut{put("f", "1")}})
	bad := []*Write{
		nil,
		{Class: "", ID: "x", Meta: meta(1)},
		{Class: "C", ID: "", Meta: meta(1)},
		{Class: "C", ID: "a\x00b", Meta: meta(1)},
		{Class: "C", ID: "x", Meta: meta(1, ""), Puts: []FieldPut{put("", "v")}},
		{Class: "C", ID: "x", Meta: meta(1, "f"), Puts: []FieldPut{{Name: "f"}}},
		{Class: "C", ID: "new", Puts: []FieldPut{put("f", "v")}},               // first write without Meta
		{Class: "Other", ID: "new", Puts: []FieldPut{put("f", "v")}},           // ... in a new class
		{Class: "C", ID: "old", Delete: true, Puts: []FieldPut{put("f", "v")}}, // delete drops the meta
		{Class: "C", ID: "x", Meta: meta(1), Deletes: []string{strings.Repeat("k", bbolt.MaxKeySize)}},
	}
	release := blockWriter(t, s)
	errs := make([]error, len(bad)+1)
	calls := make([]int, len(bad)+1)
	for i, w := range bad {
		s.Commit(w, func(err error) { errs[i] = err; calls[i]++ })
	}
	good := &Write{Class: "C", ID: "good", Meta: meta(1, "f"), Puts: []FieldPut{put("f", "ok")}}
	s.Commit(good, func(err error) { errs[len(bad)] = err; calls[len(bad)]++ })
	release()
	mustCommit(t, s, &Write{Class: "C", ID: "sync", Meta: meta(1)}) // all dones before have run

	for i := range bad {
		if calls[i] != 1 || !errors.Is(errs[i], ErrInvalid) {
			t.Errorf("bad write %d: done called %d times with %v, want once with ErrInvalid", i, calls[i], errs[i])
		}
	}
	if calls[len(bad)] != 1 || errs[len(bad)] != nil {
		t.Errorf("good write: done called %d times with %v", calls[len(bad)], errs[len(bad)])
	}
	if st, ok := mustLoad(t, s, "C", "good"); !ok || string(st.Fields["f"]) != "ok" {
		t.Errorf("good write not stored: %+v", st)
	}
	if st, ok := mustLoad(t, s, "C", "old"); !ok || string(st.Fields["f"]) != "1" {
		t.Errorf("refused delete changed the object: %+v, %v", st, ok)
	}
	if names, _ := s.ClassNames(); !slices.Equal(names, []string{"C"}) {
		t.Errorf("a refused write created a class: %q", names)
	}
	if got := s.Stats().Retries; got != 0 {
		t.Errorf("refusals checked up front cost %d retries", got)
	}
}

func TestListIDsPaging(t *testing.T) {
	s := newTestStore(t)
	ids := []string{"a", "a\x01", "a\x01\x01", "ab", "abc", "b", "\xff", "\x01", "a\xff"}
	for i := range 200 {
		ids = append(ids, fmt.Sprintf("obj-%03d", i))
	}
	fields := []string{"f", "g", "h\x00i", "\xff\xff"}
	for _, id := range ids {
		w := &Write{Class: "C", ID: id, Meta: meta(1, fields...)}
		for _, f := range fields {
			w.Puts = append(w.Puts, put(f, id+"/"+f))
		}
		s.Commit(w, func(err error) {
			if err != nil {
				t.Errorf("commit %q: %v", id, err)
			}
		})
	}
	mustCommit(t, s, &Write{Class: "Other", ID: "zzz", Meta: meta(1)})
	sort.Strings(ids)

	for _, limit := range []int{1, 3, 7, 100, 1000} {
		var got []string
		after := ""
		for {
			page, err := s.ListIDs("C", after, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(page))
			}
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1]
		}
		if !slices.Equal(got, ids) {
			t.Errorf("limit %d: paged ids = %q\nwant %q", limit, got, ids)
		}
	}
	if page, _ := s.ListIDs("C", "", 0); len(page) != DefaultListLimit || page[0] != ids[0] {
		t.Errorf("limit 0 gave %d ids", len(page))
	}
	// after need not be a stored id.
	if page, _ := s.ListIDs("C", "a\x00", 2); !slices.Equal(page, []string{"a\x01", "a\x01\x01"}) {
		t.Errorf("after a\\x00: %q", page)
	}
	if page, _ := s.ListIDs("C", "aa", 2); !slices.Equal(page, []string{"ab", "abc"}) {
		t.Errorf("after aa: %q", page)
	}
	if page, _ := s.ListIDs("C", "\xff", 5); len(page) != 0 {
		t.Errorf("after the last id: %q", page)
	}
	if page, _ := s.ListIDs("Nope", "", 5); len(page) != 0 {
		t.Errorf("unknown class: %q", page)
	}
	if n, _ := s.CountObjects("C"); n != len(ids) {
		t.Errorf("CountObjects = %d, want %d", n, len(ids))
	}
	if st, _ := mustLoad(t, s, "C", "a\x01"); string(st.Fields["h\x00i"]) != "a\x01/h\x00i" {
		t.Errorf("field with NUL in its name = %q", st.Fields["h\x00i"])
	}
	for _, id := range ids {
		s.Commit(&Write{Class: "C", ID: id, Delete: true}, nil)
	}
	mustCommit(t, s, &Write{Class: "Other", ID: "sync", Meta: meta(1)})
	if names, _ := s.ClassNames(); !slices.Equal(names, []string{"Other"}) {
		t.Errorf("ClassNames after emptying C = %q", names)
	}
}

func TestCorruptRecords(t *testing.T) {
	cfg := testConfig(t)
	s := openTestStore(t, cfg)
	mustCommit(t, s, &Write{Class: "C", ID: "ok", Meta: meta(1, "f"), Puts: []FieldPut{put("f", "v")}})
	s.Close()
	rawUpdate(t, cfg.Path, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketObjects).Bucket([]byte("C"))
		if err := b.Put([]byte("bad\x00"), []byte{0xff, 0x00}); err != nil {
			return err
		}
		if err := b.Put([]byte("orphan\x00f"), []byte("v")); err != nil {
			return err
		}
		if err := b.Put([]byte("nonul"), []byte("v")); err != nil {
			return err
		}
		cb, err := tx.Bucket(bucketClasses).CreateBucket([]byte("K"))
		if err != nil {
			return err
		}
		return cb.Put(versionKey(1), []byte{0x9f})
	})
	s = openTestStore(t, cfg)
	for _, id := range []string{"bad", "orphan"} {
		_, _, err := s.Load("C", id)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `key "`+id) {
			t.Errorf("Load(%q): %v, want ErrCorrupt naming the key", id, err)
		}
	}
	if _, err := s.ListIDs("C", "", 0); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ListIDs over a key without NUL: %v", err)
	}
	if _, err := s.Classes(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Classes with a bad record: %v", err)
	}
	if _, _, err := s.LatestClass("K"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("LatestClass with a bad record: %v", err)
	}
	if st, ok := mustLoad(t, s, "C", "ok"); !ok || string(st.Fields["f"]) != "v" {
		t.Errorf("healthy neighbour: %+v", st)
	}
}
