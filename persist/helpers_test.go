package persist

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// testLogger sends warnings and errors to t.Log, prefixed with the test name.
func testLogger(t testing.TB) *slog.Logger {
	h := slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})
	return slog.New(h).With("test", t.Name())
}

type tbWriter struct{ t testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// testConfig is the fast test config: a fresh file, no fsync, short lock wait.
func testConfig(t testing.TB) Config {
	c := DefaultConfig()
	c.Path = filepath.Join(t.TempDir(), "odin.db")
	c.NoSync = true
	c.LockTimeout = 200 * time.Millisecond
	c.Logger = testLogger(t)
	return c
}

// newTestStore opens a store on a fresh file; on cleanup it closes the store
// and checks the file's consistency.
func newTestStore(t testing.TB) *Store {
	t.Helper()
	return openTestStore(t, testConfig(t))
}

// openTestStore opens cfg and registers the close-and-check cleanup. Opening
// the same path again after Close (a reopen) is fine: the extra cleanup only
// closes an already closed store and checks the file once more.
func openTestStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		checkFile(t, cfg.Path)
	})
	return s
}

// checkFile runs bbolt's consistency check on a closed data file.
func checkFile(t testing.TB, path string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Errorf("check %s: open: %v", path, err)
		return
	}
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("check %s: %v", path, err)
		}
		return nil
	})
	if err != nil {
		t.Errorf("check %s: %v", path, err)
	}
}

// blockWriter parks the writer inside a transaction until release is called,
// so that the writes queued meanwhile are committed as one batch.
func blockWriter(t testing.TB, s *Store) (release func()) {
	t.Helper()
	entered, gate := make(chan struct{}), make(chan struct{})
	go func() {
		_ = s.syncOp(func(*bbolt.Tx) error {
			close(entered)
			<-gate
			return nil
		})
	}()
	<-entered
	return func() { close(gate) }
}

// mustCommit commits w synchronously and fails the test on error.
func mustCommit(t testing.TB, s *Store, w *Write) {
	t.Helper()
	if err := s.CommitSync(w); err != nil {
		t.Fatalf("commit %s/%q: %v", w.Class, w.ID, err)
	}
}

func mustLoad(t testing.TB, s *Store, class, id string) (ObjectState, bool) {
	t.Helper()
	st, ok, err := s.Load(class, id)
	if err != nil {
		t.Fatalf("Load %s/%q: %v", class, id, err)
	}
	return st, ok
}

func meta(v int, fields ...string) *ObjectMeta {
	return &ObjectMeta{ClassVersion: v, Fields: fields}
}

func put(name, val string) FieldPut { return FieldPut{Name: name, Value: []byte(val)} }
