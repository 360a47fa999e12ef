package directory

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/persist"
)

// FuzzCommand: a forwarded command or a log entry of arbitrary bytes decodes
// to an error or to ops, never panics, neither in the decoder nor in the state
// machine; what decodes re-encodes stably. The reply decoder holds to the same.
func FuzzCommand(f *testing.F) {
	rec := &persist.ClassRecord{Name: "Acct", Version: 2, Source: "class Acct {}", Deps: []string{"Log"},
		Created: time.Unix(1, 2), Indexes: []objects.Index{{Fields: []string{"email"}, Unique: true}}}
	for _, ops := range [][]op{
		{claimOp("n1", "a")},
		{claimOp("n1", "a", "b\xff", "c/d"), claimOp("", "x")},
		{{Kind: opMove, Refs: []wireRef{{Class: "Acct", ID: "a"}}, Node: "n1", To: "n2", Epoch: 1 << 40}},
		{{Kind: opClaimUnique, Class: "Acct", Index: `u:["email"]`, Tuple: []byte{0, 1, 0xff}, Holder: "a"},
			{Kind: opFreeUnique, Class: "Acct", Index: `u:["email"]`, Holder: "a"}},
		{{Kind: opPutClass, Rec: rec}},
		{{Kind: 77}},
	} {
		cmd, err := encodeCommand(ops)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(cmd)
	}
	reply, _ := encodeReply([]result{{Owners: []string{"a"}, Epochs: []uint64{1}}, {Code: codeConflict, Msg: "m"}})
	f.Add(reply)
	f.Add([]byte{commandV1, 0x9f})                         // unterminated indefinite array
	f.Add([]byte{commandV1, 0x81, 0xa1, 0x02, 0x9b, 0xff}) // huge array length
	f.Add([]byte{commandV1, 0x81, 0xa1, 0x0a, 0xa1, 0x05, 0xc1, 0x1b, 0xff, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeReply(b, 2)
		s := newState(func(persist.ClassRecord) {})
		_ = s.Apply(&raft.Log{Type: raft.LogCommand, Data: b})
		ops, err := decodeCommand(b)
		if err != nil {
			return
		}
		valid := true
		for i := range ops {
			valid = valid && ops[i].validate() == nil
		}
		enc, err := encodeCommand(ops)
		if !valid {
			return // ApplyForwarded refuses it; the state machine fails its ops alone
		}
		if err != nil {
			t.Fatalf("re-encode %+v: %v", ops, err)
		}
		ops2, err := decodeCommand(enc)
		if err != nil {
			t.Fatalf("decode of re-encoded %+v: %v", ops, err)
		}
		enc2, err := encodeCommand(ops2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("unstable encoding of %+v: %x then %x (%v)", ops, enc, enc2, err)
		}
	})
}

// FuzzSnapshot: restoring arbitrary bytes fails or succeeds, never panics.
func FuzzSnapshot(f *testing.F) {
	s := newState(nil)
	s.objects[objects.Ref{Class: "A", ID: "1"}] = location{Node: "n", Epoch: 3}
	s.uniques[uniqueKey{"A", "u:x", "t"}] = "h"
	s.classes[classKey{"A", 1}] = persist.ClassRecord{Name: "A", Version: 1, Source: "class A {}"}
	snap, _ := s.Snapshot()
	var buf bytes.Buffer
	if err := snap.(*snapshot).write(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte{snapshotV1, 0xa1, 0x01, 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = newState(func(persist.ClassRecord) {}).Restore(io.NopCloser(bytes.NewReader(b)))
	})
}
