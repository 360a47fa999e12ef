package persist

import (
	"slices"
	"testing"
	"time"

	"github.com/odin-db/odin/objects"
)

// FuzzObjectMeta: decoding a stored meta record from arbitrary bytes returns
// an error or a value, never panics; a value it returns re-encodes to a record
// that decodes to the same value.
func FuzzObjectMeta(f *testing.F) {
	for _, m := range []ObjectMeta{{}, {ClassVersion: 3, Fields: []string{"a", "b\x00", "\xff"}, Epoch: 1 << 60}} {
		b, err := encodeObjectMeta(&m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x9f})                         // unterminated indefinite array
	f.Add([]byte{0xa1, 0x02, 0x9b, 0xff, 0xff}) // huge array length
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeObjectMeta(b)
		if err != nil {
			return
		}
		enc, err := encodeObjectMeta(&m)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", m, err)
		}
		m2, err := decodeObjectMeta(enc)
		if err != nil {
			t.Fatalf("decode of re-encoded %+v: %v", m, err)
		}
		if m.ClassVersion != m2.ClassVersion || m.Epoch != m2.Epoch || !slices.Equal(m.Fields, m2.Fields) {
			t.Fatalf("round trip changed %+v into %+v", m, m2)
		}
	})
}

// FuzzClassRecord: the same for class records, through decodeClass, which
// also checks the record against its key.
func FuzzClassRecord(f *testing.F) {
	r := ClassRecord{Name: "Acct", Version: 2, Source: "class Acct {}", Deps: []string{"Log"}, Created: time.Unix(1, 2)}
	b, err := encodeClassRecord(&r)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte{0xa3, 0x01, 0x64, 'A', 'c', 'c', 't', 0x02, 0x02, 0x05, 0xc1, 0x1b, 0, 0, 1, 0, 0, 0, 0, 0}) // year 36812
	f.Add([]byte{0xa1, 0x05, 0xc1, 0xfb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0})                                       // time tag with +Inf
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeClass([]byte("Acct"), versionKey(2), b)
		if err != nil {
			return
		}
		if y := rec.Created.Year(); y < 0 || y > 9999 {
			return // decodes, but RFC 3339 cannot re-encode it: PutClass refuses such a record
		}
		enc, err := encodeClassRecord(&rec)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", rec, err)
		}
		rec2, err := decodeClassRecord(enc)
		if err != nil {
			t.Fatalf("decode of re-encoded %+v: %v", rec, err)
		}
		if !sameClass(rec, rec2) {
			t.Fatalf("round trip changed %+v into %+v", rec, rec2)
		}
	})
}

// FuzzIndexState: decoding a class's "#state" record (its declared indexes
// and their builds) from arbitrary bytes returns an error or a list of valid
// indexes, never panics; a list it returns re-encodes to a record that
// decodes to the same list.
func FuzzIndexState(f *testing.F) {
	for _, list := range [][]IndexStatus{
		nil,
		{{Index: objects.Index{Fields: []string{"owner"}}, Built: true}},
		{
			{Index: objects.Index{Fields: []string{"city", "age"}}, Cursor: "u17", Done: 17, Total: 40},
			{Index: objects.Index{Fields: []string{"email"}, Unique: true}, Err: "User/a and User/b hold the same unique email"},
			{Index: objects.Index{Fields: []string{"\xff", "a\x00"}}, Built: true},
		},
	} {
		b, err := encMode.Marshal(list)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x81, 0xa1, 0x01, 0xa0})                   // an index with no fields
	f.Add([]byte{0x81, 0xa1, 0x01, 0xa1, 0x01, 0x81, 0x60}) // an index on ""
	f.Add([]byte{0x9f, 0xa1, 0x04, 0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		list, err := decodeIndexState(b)
		if err != nil {
			return
		}
		for _, st := range list {
			if len(st.Index.Fields) == 0 {
				t.Fatalf("decoded an index with no fields: %+v", st)
			}
			_, _ = st.Index.Name(), st.Index.String()
		}
		enc, err := encMode.Marshal(list)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", list, err)
		}
		list2, err := decodeIndexState(enc)
		if err != nil {
			t.Fatalf("decode of re-encoded %+v: %v", list, err)
		}
		if len(list) != len(list2) {
			t.Fatalf("round trip changed %+v into %+v", list, list2)
		}
		for i := range list {
			a, b := list[i], list2[i]
			if a.Index.Name() != b.Index.Name() || !slices.Equal(a.Index.Fields, b.Index.Fields) || a.Built != b.Built ||
				a.Cursor != b.Cursor || a.Done != b.Done || a.Total != b.Total || a.Err != b.Err {
				t.Fatalf("round trip changed %+v into %+v", a, b)
			}
		}
	})
}
