package scripting

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"github.com/odin-db/odin/objects"
)

// sameQuery compares two queries field by field (nil and empty bounds are
// the same: the encoding omits both).
func sameQuery(a, b *objects.Query) bool {
	return a.Class == b.Class && a.Index == b.Index && a.Fields == b.Fields && bytes.Equal(a.Lo, b.Lo) &&
		bytes.Equal(a.Hi, b.Hi) && a.Desc == b.Desc && a.After == b.After && a.Limit == b.Limit &&
		a.Select == b.Select && a.Strict == b.Strict && a.Partial == b.Partial
}

// FuzzDecodeQuery: a KindFind message's arguments come from another node;
// DecodeQuery must return an error or a query within its limits, never
// panic, and what it returns must encode and decode to the same query. A
// query built from fuzzed fields that passes the limits survives
// EncodeQuery then DecodeQuery.
func FuzzDecodeQuery(f *testing.F) {
	ix := objects.Index{Fields: []string{"city", "age"}}
	lo, _ := objects.AppendKey(nil, objects.Node(nil))
	for _, q := range []*objects.Query{
		{Class: "User"},
		{Class: "User", Index: ix.Name(), Fields: 2, Lo: lo, Hi: objects.PrefixEnd(lo), Desc: true, After: "u1",
			Limit: objects.MaxFindLimit, Select: true, Strict: true, Partial: true},
	} {
		b, err := EncodeQuery(q)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, q.Class, q.Index, q.Lo, q.Hi, q.After, q.Limit, q.Fields, uint8(0))
	}
	f.Add([]byte{0xa1, 0x08, 0x3a, 0x7f, 0xff, 0xff, 0xff}, "C", "", []byte{}, []byte{0xff}, "", -1, 65, uint8(0xff)) // limit -2^31
	f.Add([]byte{0xa1, 0x01, 0x9f, 0x9f, 0x9f, 0x9f, 0x9f}, "", "x", []byte(nil), []byte(nil), "\x00", 1<<40, -1, uint8(1))
	f.Add([]byte{0xbf, 0x01, 0x61, 'C', 0x08, 0x1b, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0xff}, "\xff", "i:[\"a\"]", []byte("lo"), []byte("hi"), "a", 5, 1, uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, class, index string, lo, hi []byte, after string, limit, fields int, flags uint8) {
		q, err := DecodeQuery(b)
		if err == nil {
			if q.Class == "" || q.Limit < 0 || q.Limit > objects.MaxFindLimit || q.Fields < 0 || q.Fields > 64 {
				t.Fatalf("DecodeQuery(%x) = %+v, outside the limits", b, q)
			}
			enc, err := EncodeQuery(q)
			if err != nil {
				t.Fatalf("EncodeQuery(%+v): %v", q, err)
			}
			q2, err := DecodeQuery(enc)
			if err != nil || !sameQuery(q, q2) {
				t.Fatalf("round trip of %+v: %+v, %v", q, q2, err)
			}
		}

		// A query built from the fuzzed fields.
		q = &objects.Query{Class: class, Index: index, Fields: fields, Lo: lo, Hi: hi, After: after, Limit: limit,
			Desc: flags&1 != 0, Select: flags&2 != 0, Strict: flags&4 != 0, Partial: flags&8 != 0}
		enc, err := EncodeQuery(q)
		if err != nil {
			t.Fatalf("EncodeQuery(%+v): %v", q, err)
		}
		q2, err := DecodeQuery(enc)
		valid := class != "" && limit >= 0 && limit <= objects.MaxFindLimit && fields >= 0 && fields <= 64
		if !valid {
			if err == nil {
				t.Fatalf("DecodeQuery accepted %+v", q2)
			}
			return
		}
		if !utf8.ValidString(class) || !utf8.ValidString(index) || !utf8.ValidString(after) {
			return // DecodeQuery refuses text that is not UTF-8 (cbor.UTF8RejectInvalid)
		}
		if err != nil || !sameQuery(q, q2) {
			t.Fatalf("round trip of %+v: %+v, %v", q, q2, err)
		}
	})
}
