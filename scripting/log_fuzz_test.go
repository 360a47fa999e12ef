package scripting

import (
	"testing"
)

// FuzzLogRecords: the replay log's records and dedupe tables are read back
// from the store; bytes that do not decode must give an error, never a
// panic, and what decodes must encode and decode again to the same value.
func FuzzLogRecords(f *testing.F) {
	ev := &logEvent{Kind: logCall, Time: 1, Seed: [2]uint64{2, 3}, Method: "m", Payload: []byte{0x80},
		From: Address{Node: "n", VM: 1, Seq: 4}, CallID: "A/a#x.4", Deadline: 5}
	f.Add(ev.encode())
	base := &logBase{Order: []string{"a"}, Values: [][]byte{{1}}, Seq: 3, NextTask: 1,
		Tasklets: []checkpointed{{ID: 1, Method: "loop", Args: []byte{0x80}, Seq: 2, Then: 3}}, Exists: true, Nonce: 9}
	f.Add(base.encode())
	var d dedupeTable
	d.add(dedupeEntry{CallID: "A/a#x.1", Payload: []byte{0xf6}})
	f.Add(d.encode())
	f.Add([]byte{0xa1, 0x01, 0x19, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if e, err := decodeLogEvent(b); err == nil {
			if _, err := decodeLogEvent(e.encode()); err != nil {
				t.Fatalf("a decoded event does not decode again: %v", err)
			}
		}
		if lb, err := decodeLogBase(b); err == nil {
			if _, err := decodeLogBase(lb.encode()); err != nil {
				t.Fatalf("a decoded base does not decode again: %v", err)
			}
		}
		if dt, err := decodeDedupe(b); err == nil {
			if _, err := decodeDedupe(dt.encode()); err != nil {
				t.Fatalf("a decoded dedupe table does not decode again: %v", err)
			}
		}
	})
}
