package persist

import (
	"fmt"
	"path/filepath"
	"testing"
)

func TestLogAndDedupe(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Path = filepath.Join(dir, "odin.db")
	cfg.NoSync = true
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// A log may exist for an object that has no state yet.
	must(t, s.CommitSync(&Write{Class: "A", ID: "x", LogBase: []byte("base"),
		LogAppend: []LogEntry{{0, []byte("e0")}, {1, []byte("e1")}}, Dedupe: []byte("d1")}))
	must(t, s.CommitSync(&Write{Class: "A", ID: "x", LogAppend: []LogEntry{{2, []byte("e2")}}}))
	must(t, s.CommitSync(&Write{Class: "A", ID: "xy", LogBase: []byte("other")}))
	st, ok, err := s.Load("A", "x")
	must(t, err)
	if ok || string(st.LogBase) != "base" || fmt.Sprintf("%s", st.Log) != "[e0 e1 e2]" || string(st.Dedupe) != "d1" {
		t.Fatalf("load: ok=%v base=%q log=%q dedupe=%q", ok, st.LogBase, st.Log, st.Dedupe)
	}
	keys, err := s.NonQuiescent()
	must(t, err)
	if fmt.Sprint(keys) != "[{A x} {A xy}]" {
		t.Fatalf("NonQuiescent = %v", keys)
	}
	// Clearing with state in the same write: the object becomes quiescent.
	must(t, s.CommitSync(&Write{Class: "A", ID: "x", Meta: &ObjectMeta{Fields: []string{"f"}},
		Puts: []FieldPut{{"f", []byte{1}}}, LogClear: true, Dedupe: []byte("d2")}))
	must(t, s.Close())
	s, err = Open(cfg)
	must(t, err)
	defer s.Close()
	st, ok, err = s.Load("A", "x")
	must(t, err)
	if !ok || st.LogBase != nil || st.Log != nil || string(st.Dedupe) != "d2" {
		t.Fatalf("after clear: ok=%v base=%q log=%q dedupe=%q", ok, st.LogBase, st.Log, st.Dedupe)
	}
	keys, _ = s.NonQuiescent()
	if fmt.Sprint(keys) != "[{A xy}]" {
		t.Fatalf("NonQuiescent after clear = %v", keys)
	}
	// Clear then new base and events in one write (a checkpoint).
	must(t, s.CommitSync(&Write{Class: "A", ID: "xy", LogClear: true, LogBase: []byte("b2"), LogAppend: []LogEntry{{0, []byte("n0")}}}))
	st, _, _ = s.Load("A", "xy")
	if string(st.LogBase) != "b2" || fmt.Sprintf("%s", st.Log) != "[n0]" {
		t.Fatalf("after checkpoint: base=%q log=%q", st.LogBase, st.Log)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
