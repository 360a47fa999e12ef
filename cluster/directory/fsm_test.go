package directory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/odin-db/odin/objects"
	"github.com/odin-db/odin/persist"
)

// applyOps runs a command through the state machine as raft would.
func applyOps(t *testing.T, s *state, ops ...op) []result {
	t.Helper()
	cmd, err := encodeCommand(ops)
	if err != nil {
		t.Fatal(err)
	}
	ar := s.Apply(&raft.Log{Type: raft.LogCommand, Data: cmd}).(*applyResult)
	if ar.err != nil {
		t.Fatal(ar.err)
	}
	return ar.results
}

func claimOp(node string, ids ...string) op {
	o := op{Kind: opClaim, Node: node}
	for _, id := range ids {
		o.Refs = append(o.Refs, wireRef{Class: "Acct", ID: id})
	}
	return o
}

func TestStateOps(t *testing.T) {
	var heard []persist.ClassRecord
	s := newState(func(r persist.ClassRecord) { heard = append(heard, r) })

	// Claims in one command apply in order: the first claimer wins.
	rs := applyOps(t, s, claimOp("a", "x", "y"), claimOp("b", "y", "z"))
	if got := fmt.Sprint(rs[0].Owners, rs[1].Owners, rs[1].Epochs); got != "[a a] [a b] [1 1]" {
		t.Fatalf("claims: %s", got)
	}

	move := func(id, from, to string, epoch uint64) result {
		return applyOps(t, s, op{Kind: opMove, Refs: []wireRef{{Class: "Acct", ID: id}}, Node: from, To: to, Epoch: epoch})[0]
	}
	if r := move("x", "a", "b", 1); r.Code != codeOK || r.Epoch != 2 {
		t.Fatalf("move: %+v", r)
	}
	if r := move("x", "a", "b", 1); r.Code != codeOK || r.Epoch != 2 {
		t.Fatalf("the same move again: %+v", r)
	}
	if r := move("x", "a", "c", 1); r.Code != codeConflict || r.Owner != "b" || r.Epoch != 2 || !errors.Is(r.err(), ErrConflict) {
		t.Fatalf("stale move: %+v", r)
	}
	if r := move("x", "b", "b", 2); r.Code != codeOK || r.Epoch != 3 {
		t.Fatalf("move to itself: %+v", r)
	}
	if r := move("new", "", "c", 0); r.Code != codeOK || r.Epoch != 1 {
		t.Fatalf("move of an unowned object: %+v", r)
	}
	if r := move("other", "a", "c", 0); r.Code != codeConflict {
		t.Fatalf("move of an unowned object from a: %+v", r)
	}

	uniq := func(kind opKind, tuple, holder string) result {
		return applyOps(t, s, op{Kind: kind, Class: "Acct", Index: "u:k", Tuple: []byte(tuple), Holder: holder})[0]
	}
	if r := uniq(opClaimUnique, "t", "h1"); r.Owner != "h1" {
		t.Fatalf("claim unique: %+v", r)
	}
	if r := uniq(opClaimUnique, "t", "h2"); r.Owner != "h1" {
		t.Fatalf("claim a held unique: %+v", r)
	}
	uniq(opFreeUnique, "t", "h2")
	if h, _ := s.uniqueHolder("Acct", "u:k", []byte("t")); h != "h1" {
		t.Fatalf("freed by a stranger: holder %q", h)
	}
	uniq(opFreeUnique, "t", "h1")
	if _, ok := s.uniqueHolder("Acct", "u:k", []byte("t")); ok {
		t.Fatal("still held after the holder's free")
	}
	if r := uniq(opClaimUnique, "t", "h2"); r.Owner != "h2" {
		t.Fatalf("claim a freed unique: %+v", r)
	}

	rec := persist.ClassRecord{Name: "Acct", Version: 1, Source: "class Acct {}"}
	put := func(r persist.ClassRecord) result { return applyOps(t, s, op{Kind: opPutClass, Rec: &r})[0] }
	if r := put(rec); r.Code != codeOK || len(heard) != 1 {
		t.Fatalf("put class: %+v, heard %d", r, len(heard))
	}
	if r := put(rec); r.Code != codeOK || len(heard) != 1 {
		t.Fatalf("put the same class: %+v, heard %d", r, len(heard))
	}
	rec.Source = "class Acct { m() {} }"
	if r := put(rec); r.Code != codeConflict {
		t.Fatalf("put another source: %+v", r)
	}

	// An invalid op fails alone.
	rs = applyOps(t, s, claimOp("", "q"), claimOp("a", "q"))
	if rs[0].Code != codeInvalid || !errors.Is(rs[0].err(), ErrBadCommand) || rs[1].Owners[0] != "a" {
		t.Fatalf("invalid op: %+v", rs)
	}
	// A command that does not decode fails as a whole, and changes nothing.
	if ar := s.Apply(&raft.Log{Type: raft.LogCommand, Data: []byte{commandV1, 0xff}}).(*applyResult); !errors.Is(ar.err, ErrBadCommand) {
		t.Fatalf("garbage entry: %+v", ar)
	}
	if r := s.Apply(&raft.Log{Type: raft.LogNoop}); r != nil {
		t.Fatalf("noop entry: %v", r)
	}
}

func TestValidate(t *testing.T) {
	long := strings.Repeat("n", maxNameLen+1)
	for _, o := range []op{
		{},
		{Kind: 99},
		{Kind: opClaim, Node: "a"},
		{Kind: opClaim, Node: "a", Refs: []wireRef{{Class: "1x", ID: "i"}}},
		{Kind: opClaim, Node: "a", Refs: []wireRef{{Class: "A", ID: ""}}},
		{Kind: opClaim, Node: "a", Refs: []wireRef{{Class: "A", ID: "a\x00b"}}},
		{Kind: opClaim, Node: long, Refs: []wireRef{{Class: "A", ID: "i"}}},
		{Kind: opClaim, Node: "a", Refs: make([]wireRef, maxOpRefs+1)},
		{Kind: opMove, Node: "a", To: "b", Refs: []wireRef{{Class: "A", ID: "i"}, {Class: "A", ID: "j"}}},
		{Kind: opMove, Node: "a", Refs: []wireRef{{Class: "A", ID: "i"}}},
		{Kind: opMove, Node: "a", To: "b", Epoch: 1<<64 - 1, Refs: []wireRef{{Class: "A", ID: "i"}}},
		{Kind: opClaimUnique, Class: "A", Index: "u:k", Holder: ""},
		{Kind: opClaimUnique, Class: "A", Index: "", Holder: "h"},
		{Kind: opFreeUnique, Class: "", Index: "u:k", Holder: "h"},
		{Kind: opFreeUnique, Class: "A", Index: "u:k", Holder: "h", Tuple: make([]byte, maxTupleLen+1)},
		{Kind: opPutClass},
		{Kind: opPutClass, Rec: &persist.ClassRecord{Name: "A"}},
		{Kind: opPutClass, Rec: &persist.ClassRecord{Name: "a-b", Version: 1}},
		{Kind: opPutClass, Rec: &persist.ClassRecord{Name: "A", Version: 1 << 32}},
	} {
		if err := o.validate(); !errors.Is(err, ErrBadCommand) {
			t.Errorf("validate(%+v) = %v, want ErrBadCommand", o, err)
		}
	}
	for _, o := range []op{
		{Kind: opClaimUnique, Class: "A", Index: "u:k", Holder: "h"}, // an empty tuple is a value
		{Kind: opMove, To: "b", Refs: []wireRef{{Class: "A", ID: "i"}}},
		{Kind: opPutClass, Rec: &persist.ClassRecord{Name: "A", Version: 1}},
	} {
		if err := o.validate(); err != nil {
			t.Errorf("validate(%+v) = %v", o, err)
		}
	}
	if _, err := decodeCommand(nil); !errors.Is(err, ErrBadCommand) {
		t.Errorf("empty command: %v", err)
	}
	cmd, _ := encodeCommand(make([]op, maxBatchOps+1))
	if _, err := decodeCommand(cmd); !errors.Is(err, ErrBadCommand) {
		t.Errorf("too many ops: %v", err)
	}
}

// TestSnapshotRoundTrip writes a state of several chunks and reads it back.
func TestSnapshotRoundTrip(t *testing.T) {
	s := newState(nil)
	for i := range 3*snapChunkLen + 5 {
		s.objects[objects.Ref{Class: "A", ID: fmt.Sprint(i)}] = location{Node: fmt.Sprint("n", i%3), Epoch: uint64(i)}
	}
	s.uniques[uniqueKey{"A", "u:x", "\x00\xff"}] = "h"
	s.uniques[uniqueKey{"A", "u:x", ""}] = "h2"
	rec := persist.ClassRecord{Name: "A", Version: 2, Source: "class A {}", Deps: []string{"B"},
		Created: time.Date(2025, 6, 7, 8, 9, 10, 11, time.FixedZone("x", 3600)), Indexes: []objects.Index{{Fields: []string{"f"}}}}
	s.classes[classKey{"A", 2}] = rec

	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := snap.(*snapshot).write(&buf); err != nil {
		t.Fatal(err)
	}
	var heard []persist.ClassRecord
	s2 := newState(func(r persist.ClassRecord) { heard = append(heard, r) })
	s2.objects[objects.Ref{Class: "Gone", ID: "1"}] = location{Node: "x", Epoch: 1}
	data := buf.Bytes()
	if err := s2.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	if d := stateDiff(s, s2); d != "" {
		t.Fatal(d)
	}
	if len(heard) != 1 || !classEqual(heard[0], rec) {
		t.Fatalf("heard %+v", heard)
	}
	// Truncated or corrupt snapshots fail, and leave the state alone.
	for _, bad := range [][]byte{nil, {2}, data[:1], data[:len(data)/2], data[:len(data)-1]} {
		if err := s2.Restore(io.NopCloser(bytes.NewReader(bad))); err == nil {
			t.Errorf("restore of %d bytes succeeded", len(bad))
		}
	}
	if d := stateDiff(s, s2); d != "" {
		t.Fatal(d)
	}
}
