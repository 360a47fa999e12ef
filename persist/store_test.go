package persist

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty path: got %v, want ErrInvalid", err)
	}
	for _, c := range []Config{
		{Path: "x", LockTimeout: -1},
		{Path: "x", MaxBatch: -1},
	} {
		if err := c.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: got %v, want ErrInvalid", c, err)
		}
	}
	if err := (Config{Path: "x"}).Validate(); err != nil {
		t.Errorf("zero fields must mean defaults: %v", err)
	}
	a, b := DefaultConfig(), DefaultConfig()
	a.MaxBatch = 7
	if b.MaxBatch != DefaultMaxBatch {
		t.Error("DefaultConfig must return a fresh value")
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	cfg := testConfig(t)
	cfg.Rand = bytes.NewReader(bytes.Repeat([]byte{0xab}, 16))
	s := openTestStore(t, cfg)
	if got, want := s.NodeID(), strings.Repeat("ab", 16); got != want {
		t.Fatalf("NodeID = %q, want %q from the injected reader", got, want)
	}
	mustCommit(t, s, &Write{Class: "Acct", ID: "a1", Meta: &ObjectMeta{ClassVersion: 2, Fields: []string{"b", "a"}, Epoch: 9}, Puts: []FieldPut{put("a", "1"), put("b", "2")}})
	mustCommit(t, s, &Write{Class: "Room", ID: "r", Meta: meta(1, "h"), Puts: []FieldPut{put("h", "hist")}})
	if err := s.PutClass(ClassRecord{Name: "Acct", Version: 2, Source: "class Acct {}", Deps: []string{"Room"}, Created: time.Unix(100, 5)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutMeta("directory.epoch", []byte{7}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cfg.Path + ".pid"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file after Close: %v", err)
	}

	cfg.Rand = nil
	s2 := openTestStore(t, cfg)
	if s2.NodeID() != s.NodeID() {
		t.Errorf("node id changed across reopen: %q -> %q", s.NodeID(), s2.NodeID())
	}
	st, ok := mustLoad(t, s2, "Acct", "a1")
	if !ok || st.Meta.ClassVersion != 2 || st.Meta.Epoch != 9 || strings.Join(st.Meta.Fields, ",") != "b,a" ||
		string(st.Fields["a"]) != "1" || string(st.Fields["b"]) != "2" {
		t.Errorf("Acct/a1 after reopen = %+v, %v", st, ok)
	}
	if names, err := s2.ClassNames(); err != nil || strings.Join(names, ",") != "Acct,Room" {
		t.Errorf("ClassNames = %v, %v", names, err)
	}
	rec, ok, err := s2.LatestClass("Acct")
	if err != nil || !ok || rec.Source != "class Acct {}" || !rec.Created.Equal(time.Unix(100, 5)) || rec.Deps[0] != "Room" {
		t.Errorf("LatestClass = %+v, %v, %v", rec, ok, err)
	}
	if v, err := s2.GetMeta("directory.epoch"); err != nil || !bytes.Equal(v, []byte{7}) {
		t.Errorf("GetMeta = %v, %v", v, err)
	}
}

func TestFormatRefused(t *testing.T) {
	cfg := testConfig(t)
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	rawUpdate(t, cfg.Path, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyFormat, binary.BigEndian.AppendUint32(nil, 2))
	})
	before, _ := os.ReadFile(cfg.Path)
	_, err = Open(cfg)
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "format version 2") {
		t.Fatalf("Open of a version 2 file: %v, want ErrFormat naming version 2", err)
	}
	if after, _ := os.ReadFile(cfg.Path); !bytes.Equal(before, after) {
		t.Error("a refused file was modified")
	}
	if _, err := os.Stat(cfg.Path + ".pid"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file left by a refused open: %v", err)
	}
}

func TestForeignFilesRefused(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "foreign.db")
	rawUpdate(t, foreign, func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucket([]byte("raft"))
		return err
	})
	if _, err := Open(Config{Path: foreign, NoSync: true}); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "raft") {
		t.Errorf("bbolt file of another program: %v, want ErrFormat", err)
	}
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not a database "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Config{Path: garbage, NoSync: true}); !errors.Is(err, ErrFormat) {
		t.Errorf("garbage file: %v, want ErrFormat", err)
	}
	if _, err := Open(Config{Path: filepath.Join(dir, "no", "such", "dir", "odin.db")}); err == nil || errors.Is(err, ErrFormat) {
		t.Errorf("missing directory: %v, want a plain open error", err)
	}
}

func rawUpdate(t *testing.T, path string, fn func(*bbolt.Tx) error) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// TestHelperProcess is not a test: run by TestInUseByOtherProcess as a second
// process, it holds the store open until its stdin closes.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv("ODIN_PERSIST_HELPER_PATH")
	if path == "" {
		t.Skip("helper process only")
	}
	s, err := Open(Config{Path: path, NoSync: true})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	if err := s.Close(); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func TestInUseByOtherProcess(t *testing.T) {
	cfg := testConfig(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "ODIN_PERSIST_HELPER_PATH="+cfg.Path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}

	start := time.Now()
	_, err = Open(cfg)
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("Open while another process holds the file: %v, want ErrInUse", err)
	}
	if want := "data directory in use by pid " + strconv.Itoa(cmd.Process.Pid); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
	if waited := time.Since(start); waited < cfg.LockTimeout/2 {
		t.Errorf("gave up after %v, before the %v lock timeout", waited, cfg.LockTimeout)
	}

	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	openTestStore(t, cfg) // the lock is free again
}

// Within one process bbolt's flock is per open file, so a second Open blocks
// just as a second process would.
func TestInUseSameProcess(t *testing.T) {
	cfg := testConfig(t)
	openTestStore(t, cfg)
	_, err := Open(cfg)
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "by pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second Open: %v, want ErrInUse naming our pid", err)
	}
	if err := os.Remove(cfg.Path + ".pid"); err != nil {
		t.Fatal(err)
	}
	_, err = Open(cfg)
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "by another process") {
		t.Fatalf("second Open without a pid file: %v, want ErrInUse by another process", err)
	}
}

func TestClosedStore(t *testing.T) {
	s := newTestStore(t)
	mustCommit(t, s, &Write{Class: "C", ID: "x", Meta: meta(1)})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	calls := 0
	s.Commit(&Write{Class: "C", ID: "y", Meta: meta(1)}, func(err error) {
		calls++
		if !errors.Is(err, ErrClosed) {
			t.Errorf("done after Close: %v", err)
		}
	})
	if calls != 1 {
		t.Errorf("done called %d times", calls)
	}
	if _, _, err := s.Load("C", "x"); !errors.Is(err, ErrClosed) {
		t.Errorf("Load after Close: %v", err)
	}
	if _, err := s.ListIDs("C", "", 0); !errors.Is(err, ErrClosed) {
		t.Errorf("ListIDs after Close: %v", err)
	}
	if err := s.PutClass(ClassRecord{Name: "C", Version: 1}); !errors.Is(err, ErrClosed) {
		t.Errorf("PutClass after Close: %v", err)
	}
}

func TestMetaKeys(t *testing.T) {
	s := newTestStore(t)
	for _, k := range []string{"", "format", "format2", "node", "node.name"} {
		if err := s.PutMeta(k, []byte("x")); !errors.Is(err, ErrInvalid) {
			t.Errorf("PutMeta(%q): %v, want ErrInvalid", k, err)
		}
		if _, err := s.GetMeta(k); !errors.Is(err, ErrInvalid) {
			t.Errorf("GetMeta(%q): %v, want ErrInvalid", k, err)
		}
	}
	if v, err := s.GetMeta("absent"); v != nil || err != nil {
		t.Errorf("GetMeta(absent) = %v, %v", v, err)
	}
	if err := s.PutMeta("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutMeta("k", nil); err != nil {
		t.Fatal(err)
	}
	if v, err := s.GetMeta("k"); v != nil || err != nil {
		t.Errorf("GetMeta after delete = %v, %v", v, err)
	}
}
