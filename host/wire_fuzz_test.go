package host

import (
	"bytes"
	"testing"

	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/persist"
	"github.com/odin-db/odin/scripting"
)

// FuzzWire: the decoders of what other nodes and clients send never panic
// (moves included: an object's records cross the wire), and a message
// survives the wire unchanged.
func FuzzWire(f *testing.F) {
	m := &scripting.Message{Kind: scripting.KindCall, To: objects.Ref{Class: "A", ID: "x\xed\xa0\x80"}, Method: "get",
		Args: []byte{0x80}, From: scripting.Address{Node: "n1", VM: 1, Obj: objects.Ref{Class: "$script", ID: "1"}, Seq: 7},
		CallID: "A/x#1.2", Deadline: 99}
	b, err := encodeMessage(m, 2)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	if b, err = encodeWire(&findAnswer{Rows: []findRow{{Key: []byte{0x30, 'a', 0, 1, 'x'}, ID: "x", Names: []string{"a"}, Values: [][]byte{{1}}}}}); err == nil {
		f.Add(b)
	}
	if b, err = encodeWire(&entryKeyReq{Class: "A", Index: objects.Index{Fields: []string{"a"}}, ID: "x"}); err == nil {
		f.Add(b)
	}
	if b, err = encodeWire([]NodeStatus{{Name: "n1", State: "alive", VMs: []VMStatus{{Index: 0, Objects: 3}}}}); err == nil {
		f.Add(b)
	}
	if b, err = encodeWire(&migrateReq{Ref: objects.Ref{Class: "A", ID: "x"}, Node: "n2", VM: -1, Hops: 1}); err == nil {
		f.Add(b)
	}
	in := &moveIn{Ref: objects.Ref{Class: "A", ID: "x"}, Attempt: "0123", From: "n1", Epoch: 3, VM: 1, Records: persist.ObjectRecords{
		Meta: &persist.ObjectMeta{ClassVersion: 1, Fields: []string{"a"}}, Fields: []persist.FieldPut{{Name: "a", Value: []byte{1}}},
		LogBase: []byte{0xa0}, Log: []persist.LogEntry{{Seq: 0, Data: []byte{2}}, {Seq: 1, Data: []byte{3}}}, Dedupe: []byte{0x80}}}
	if b, err = encodeWire(in); err == nil {
		f.Add(b)
	}
	if b, err = encodeWire(&moveEnd{Ref: objects.Ref{Class: "A", ID: "x"}, Attempt: "0123", Done: true, Epoch: 4}); err == nil {
		f.Add(b)
	}
	f.Add([]byte{0xa1, 0x01, 0x19, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, hops, err := decodeMessage(b); err == nil {
			again, err := encodeMessage(m, hops)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			m2, hops2, err := decodeMessage(again)
			if err != nil || hops2 != hops || m2.To != m.To || m2.From != m.From || !bytes.Equal(m2.Args, m.Args) || m2.CallID != m.CallID {
				t.Fatalf("round trip: %+v %v -> %+v %v (%v)", m, hops, m2, hops2, err)
			}
		}
		if r, err := decodeMoveIn(b); err == nil {
			// What the decoder accepts, the store accepts.
			if err := persist.CheckRecords(r.Ref.Class, r.Ref.ID, &r.Records); err != nil {
				t.Fatalf("accepted records the store refuses: %v", err)
			}
		}
		_, _ = decodeMoveEnd(b)
		_, _ = decodeMigrateReq(b)
		_, _ = decodeFindAnswer(b)
		_, _ = decodeEntryKeyReq(b)
		var st NodeStatus
		_ = wireDec.Unmarshal(b, &st)
		var sts []NodeStatus
		_ = wireDec.Unmarshal(b, &sts)
		var recs []persist.ClassRecord
		_ = wireDec.Unmarshal(b, &recs)
	})
}
